"""The engine with the real model (abm.simulate) on short experiments: parallel and Dask runs
give the same numbers as a serial run, and a sweep runs end to end."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

import abm
from abm.batch import run_experiment
from abm.summary import load_runs, load_series

BASELINE = Path(__file__).resolve().parents[1] / "experiments" / "baseline.toml"
FLOOR = {"policy.floor.mechanism": "cfd", "policy.floor.level": 80.0,
         "policy.floor.covers": ["US"]}

pytestmark = pytest.mark.skipif(not BASELINE.exists(), reason="experiments/baseline.toml missing")


def short(**overrides):
    return abm.load_experiment(BASELINE, {"experiment.steps": 24, "experiment.replications": 3,
                                          "scenarios.baseline": {}, "scenarios.cfd": FLOOR,
                                          **overrides})


def numbers(out: Path) -> pl.DataFrame:
    runs = load_runs(out).sort("run_id")
    return runs.drop("duration_s", "traceback")


def test_real_model_gives_identical_runs_serially_in_parallel_and_on_dask(tmp_path):
    pytest.importorskip("dask.distributed")
    exp = short()
    for name, kwargs in (("one", {"workers": 1}), ("two", {"workers": 2}),
                         ("dask", {"workers": 2, "executor": "dask"})):
        got = run_experiment(exp, tmp_path / name, quiet=True, report=False, **kwargs)
        assert (got.computed, got.failed) == (6, 0), load_runs(tmp_path / name)["error"]
    reference = numbers(tmp_path / "one")
    assert reference["price_mean"].is_not_null().all()
    assert numbers(tmp_path / "two").equals(reference)
    assert numbers(tmp_path / "dask").equals(reference)
    series = [load_series(tmp_path / n).collect().sort("scenario", "replication", "step")
              for n in ("one", "dask")]
    assert series[0].height == 6 * 24 and series[0].equals(series[1])


def test_real_model_lhs_sweep_runs_end_to_end_with_summaries(tmp_path):
    exp = short(**{"experiment.replications": 2, "sweep.design": "lhs", "sweep.samples": 2,
                   "sweep.parameters": {"market.demand.elasticity": {"low": -0.8,
                                                                     "high": -0.2}}})
    got = run_experiment(exp, tmp_path / "r", workers=2, quiet=True, report=False)
    assert (got.planned, got.failed) == (2 * 2 * 2, 0)
    runs = load_runs(tmp_path / "r")
    assert runs["market.demand.elasticity"].is_between(-0.8, -0.2).all()
    paired = pl.read_parquet(tmp_path / "r" / "summary" / "paired.parquet")
    assert set(paired["scenario"]) == {"cfd"} and paired["n_pairs"].max() == 2
