"""abm: an agent-based model of critical-mineral markets under price floors.

Public API (DESIGN section 4): ``load_experiment``, ``MineralMarket``, ``run_experiment``.
Heavy modules (mesa, polars) are imported lazily so that ``abm --help`` stays fast.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

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
