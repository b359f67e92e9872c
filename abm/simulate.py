"""One run: build the model from a validated config and a seed, run it, return its results."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from abm.config import ExperimentConfig


@dataclass
class RunResult:
    metrics: dict[str, float]
    series: pl.DataFrame


def simulate(config: ExperimentConfig, seed: int) -> RunResult:
    """Run every step of `config` with `seed`; raises on model errors (the engine records them)."""
    from abm.model import MineralMarket

    model = MineralMarket(config, rng=seed)
    model.run()
    return RunResult(model.metrics(), model.series())
