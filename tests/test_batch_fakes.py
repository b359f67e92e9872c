"""Fake runners for the engine tests (imported by worker processes by "module:function").

They follow the contract of abm.simulate.simulate(config, seed) -> (metrics, series) and are
deterministic in (config, seed). Their side channels (marker files) travel in the experiment's
title, because worker processes do not see environment changes made after they started.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

MODULE = "test_batch_fakes"


@dataclass
class Result:
    metrics: dict[str, float]
    series: pl.DataFrame


def ok(config, seed: int) -> Result:
    """Metrics and series drawn from the seed, shifted by the floor level (scenarios differ)."""
    rng = np.random.default_rng(seed)
    floor = config.policy.floor.level if config.policy.floor is not None else 0.0
    steps = config.experiment.steps
    price = config.market.demand.reference_price * np.exp(np.cumsum(rng.normal(0, 0.05, steps)))
    price = np.maximum(price, floor or 0.0)
    elasticity = config.market.demand.elasticity
    metrics = {"price_mean": float(price.mean()),
               "price_volatility": float(np.std(np.diff(np.log(price))) * np.sqrt(12)),
               "capacity_added_market": float(rng.integers(0, 5) * 1000 * -elasticity),
               "fiscal_cost": float(max(floor - price.mean(), 0) * 1e6)}
    series = pl.DataFrame({"step": np.arange(steps), "price": price,
                           "floor": [floor or None] * steps,
                           "capacity_region__US": np.full(steps, 1000.0)},
                          schema_overrides={"floor": pl.Float64})
    return Result(metrics, series)


def slow(config, seed: int) -> Result:
    """`ok` after 20 ms, so an interrupt can land mid-experiment."""
    time.sleep(0.02)
    return ok(config, seed)


def fail_odd(config, seed: int) -> Result:
    """Raises for odd seeds."""
    if seed % 2:
        raise ValueError(f"model blew up for seed {seed}")
    return ok(config, seed)


def exit_once(config, seed: int) -> Result:
    """Kills its worker process the first time it runs (marker file named by the title)."""
    marker = Path(config.experiment.title)
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return ok(config, seed)
    os.close(fd)
    os._exit(17)


CALLS = {"n": 0}


def interrupt_fifth(config, seed: int) -> Result:
    """In-process only: Ctrl-C arrives during the fifth call."""
    CALLS["n"] += 1
    if CALLS["n"] == 5:
        raise KeyboardInterrupt
    return ok(config, seed)


def bad_series(config, seed: int) -> Result:
    return Result({"price_mean": 1.0}, "not a frame")  # type: ignore[arg-type]


def process_facts() -> dict:
    """A task (not a runner) telling how its worker process was started: its parent's pid,
    whether the model and dask were imported before the task arrived, a dask setting."""
    import sys

    import dask.config

    return {"parent": os.getppid(), "model_imported": "abm.model" in sys.modules,
            "profile": dask.config.get("distributed.worker.profile.enabled")}
