"""abm: an agent-based model of critical-mineral markets under price floors.

Public API (DESIGN section 4): ``load_experiment``, ``MineralMarket``, ``run_experiment``.
Heavy modules (mesa, polars) are imported lazily so that ``abm --help`` stays fast.
"""

from __future__ import annotations

from typing import Any


def _version() -> str:
    """The version, written once in pyproject.toml: from the installed package's metadata, else
    (a source tree on sys.path, never installed) from the pyproject.toml beside the package."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("abm")
    except PackageNotFoundError:
        import tomllib
        from pathlib import Path

        try:
            with (Path(__file__).resolve().parent.parent / "pyproject.toml").open("rb") as f:
                return str(tomllib.load(f)["project"]["version"])
        except (OSError, KeyError, tomllib.TOMLDecodeError):
            return "0+unknown"


__version__ = _version()

__all__ = ["load_experiment", "MineralMarket", "run_experiment", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "load_experiment":
        from abm.experiment import load_experiment

        return load_experiment
    if name == "MineralMarket":
        from abm.model import MineralMarket

        return MineralMarket
    if name == "run_experiment":
        from abm.batch import run_experiment

        return run_experiment
    raise AttributeError(f"module 'abm' has no attribute {name!r}")
