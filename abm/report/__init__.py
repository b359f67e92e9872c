"""Result pages for policy staff: ``build_report(out)`` writes ``out/report/*.html``.

Pages: index (what each policy does, how sure we are, what it costs), sweep (responses and
sensitivity indices), runs (a few single runs) and config (resolved config and provenance).
See docs/report.md for how to read them.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["build_locked", "build_report"]


def build_report(out: Path | str) -> Path:
    """Build the pages of results folder `out`; return the path of report/index.html."""
    from abm.report.build import build_report as build

    return build(out)


def build_locked(out: Path | str) -> Path:
    """`build_report` for a caller that already holds the folder lock (the engine)."""
    from abm.report.build import build_locked as build

    return build(out)
