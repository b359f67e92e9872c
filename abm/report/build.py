"""Build the pages of a results folder: ``build_report(out) -> out/report/index.html``."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from abm.engine.files import write_bytes_atomic, write_text_atomic
from abm.report import pages
from abm.report.data import load
from abm.report.html import PLOTLY_JS

TOML_NAME = "experiment.toml"


def plotly_js() -> bytes:
    """plotly.min.js as shipped with the plotly package (no download, no CDN)."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs().encode("utf-8")


def build_report(out: Path | str) -> Path:
    """Write index.html, sweep.html (with a sweep), runs.html and config.html into out/report/.

    Raises abm.errors.ConfigError when `out` has no manifest or no runs.
    """
    out = Path(out)
    data = load(out)
    folder = out / "report"
    folder.mkdir(parents=True, exist_ok=True)

    source, target = plotly_js(), folder / PLOTLY_JS
    if not target.is_file() or target.stat().st_size != len(source):
        write_bytes_atomic(source, target)     # written once per plotly version, not per build

    names = ["index.html"] + (["sweep.html"] if data.sweep_parameters else []) + [
        "runs.html", "config.html"]
    version = data.manifest.get("version") or ""
    built = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    footer = f"abm {version} · experiment {data.name} · pages built {built}"  # plain text
    built_pages = [pages.index_page(data, names, footer)]
    if data.sweep_parameters:
        built_pages.append(pages.sweep_page(data, names, footer))
    else:
        (folder / "sweep.html").unlink(missing_ok=True)  # left over from an earlier build
    built_pages += [pages.runs_page(data, names, footer),
                    pages.config_page(data, names, footer, TOML_NAME)]
    for page in built_pages:
        write_text_atomic(page.render(), folder / page.filename)
    write_text_atomic(pages.config_toml(data), folder / TOML_NAME)
    return folder / "index.html"
