"""Summaries of a results folder (abm.summary), on hand-made runs and series tables."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
from scipy import stats

from abm.config import Sweep
from abm.summary import (
    bands,
    load_runs,
    load_series,
    metric_columns,
    paired_differences,
    summarize,
    write_summaries,
)
from abm.sweep import design_matrix


def make_runs(n_reps: int = 12, seed: int = 0) -> pl.DataFrame:
    """Two scenarios with common random numbers: 'policy' = 'baseline' + 2 + small noise."""
    rng = np.random.default_rng(seed)
    base = rng.normal(100.0, 10.0, n_reps)
    policy = base + 2.0 + rng.normal(0.0, 0.5, n_reps)
    rows = []
    for scenario, values in (("baseline", base), ("policy", policy)):
        for r, v in enumerate(values):
            rows.append({"run_id": f"{scenario}/p0000/r{r:04d}", "scenario": scenario, "point": 0,
                         "replication": r, "seed": 1000 + r, "status": "ok", "error": None,
                         "traceback": None, "duration_s": 0.1, "price_mean": float(v),
                         "fiscal_cost": float(v) * 0.0})
    return pl.DataFrame(rows)


def test_summarize_matches_numpy_and_ignores_failed_runs():
    runs = make_runs()
    runs = runs.with_columns(
        pl.when(pl.col("run_id") == "policy/p0000/r0003").then(pl.lit("failed"))
        .otherwise(pl.col("status")).alias("status"),
        pl.when(pl.col("run_id") == "policy/p0000/r0003").then(None)
        .otherwise(pl.col("price_mean")).alias("price_mean"))
    got = summarize(runs, ["price_mean", "fiscal_cost"])
    assert got.columns == ["scenario", "point", "metric", "mean", "median", "p05", "p95", "n"]
    assert got.select("scenario", "metric").rows() == [
        ("baseline", "price_mean"), ("baseline", "fiscal_cost"),
        ("policy", "price_mean"), ("policy", "fiscal_cost")]
    row = got.filter(scenario="policy", metric="price_mean").row(0, named=True)
    values = runs.filter(scenario="policy", status="ok")["price_mean"].to_numpy()
    assert row["n"] == 11 == len(values)
    assert row["mean"] == pytest.approx(values.mean())
    assert row["median"] == pytest.approx(np.median(values))
    assert row["p05"] == pytest.approx(np.percentile(values, 5))
    assert row["p95"] == pytest.approx(np.percentile(values, 95))


def test_paired_differences_equal_mean_of_per_replication_differences():
    runs = make_runs(n_reps=15)
    got = paired_differences(runs, ["price_mean"], baseline="baseline", level=0.9)
    assert got["scenario"].to_list() == ["policy"]          # the baseline itself is omitted
    row = got.row(0, named=True)
    base = runs.filter(scenario="baseline").sort("replication")["price_mean"].to_numpy()
    pol = runs.filter(scenario="policy").sort("replication")["price_mean"].to_numpy()
    diff = pol - base
    half = stats.t.ppf(0.95, len(diff) - 1) * diff.std(ddof=1) / np.sqrt(len(diff))
    assert row["n_pairs"] == 15
    assert row["diff_mean"] == pytest.approx(diff.mean())
    assert row["diff_ci_low"] == pytest.approx(diff.mean() - half)
    assert row["diff_ci_high"] == pytest.approx(diff.mean() + half)
    assert row["baseline_mean"] == pytest.approx(base.mean())
    assert row["scenario_mean"] == pytest.approx(pol.mean())
    assert row["rel_diff"] == pytest.approx(diff.mean() / abs(base.mean()))
    assert row["rel_ci_low"] == pytest.approx((diff.mean() - half) / abs(base.mean()))
    # common random numbers: the paired interval is much narrower than the spread of runs
    assert half < 0.1 * base.std()


def test_paired_differences_pair_on_replication_not_row_order():
    runs = make_runs(n_reps=6)
    shuffled = runs.sample(fraction=1.0, shuffle=True, seed=3)
    a = paired_differences(runs, ["price_mean"], "baseline")
    b = paired_differences(shuffled, ["price_mean"], "baseline")
    assert a["diff_mean"][0] == pytest.approx(b["diff_mean"][0])
    assert a["diff_ci_high"][0] == pytest.approx(b["diff_ci_high"][0])


def test_paired_differences_drop_pairs_with_a_failed_run():
    runs = make_runs(n_reps=8).with_columns(
        pl.when(pl.col("run_id") == "baseline/p0000/r0002").then(pl.lit("failed"))
        .otherwise(pl.col("status")).alias("status"))
    row = paired_differences(runs, ["price_mean"], "baseline").row(0, named=True)
    assert row["n_pairs"] == 7


def test_relative_difference_is_null_when_baseline_mean_is_zero():
    got = paired_differences(make_runs(), ["fiscal_cost"], "baseline")
    row = got.row(0, named=True)
    assert row["diff_mean"] == 0.0
    assert row["rel_diff"] is None and row["rel_ci_low"] is None


def test_paired_differences_with_unknown_baseline_is_an_error():
    with pytest.raises(ValueError, match="baseline scenario 'nope'"):
        paired_differences(make_runs(), ["price_mean"], "nope")


def make_series(n_reps: int = 20, steps: int = 5) -> pl.DataFrame:
    rng = np.random.default_rng(1)
    return pl.DataFrame({
        "scenario": ["s"] * (n_reps * steps),
        "point": [0] * (n_reps * steps),
        "replication": np.repeat(np.arange(n_reps), steps),
        "step": np.tile(np.arange(steps), n_reps),
        "price": rng.normal(50, 5, n_reps * steps),
        "floor": [None] * (n_reps * steps),
    }, schema_overrides={"floor": pl.Float64})


def test_bands_give_percentiles_across_replications_per_step():
    series = make_series()
    got = bands(series.lazy(), ["price", "floor", "not_a_column"])
    assert set(got["column"]) == {"price", "floor"}
    step2 = got.filter(column="price", step=2).row(0, named=True)
    values = series.filter(step=2)["price"].to_numpy()
    for key, q in (("p05", 5), ("p25", 25), ("p50", 50), ("p75", 75), ("p95", 95)):
        assert step2[key] == pytest.approx(np.percentile(values, q))
    assert step2["mean"] == pytest.approx(values.mean())
    assert got.filter(column="floor")["p50"].is_null().all()
    assert got.filter(column="price")["step"].to_list() == list(range(5))


def write_folder(tmp_path, runs: pl.DataFrame, series: pl.DataFrame | None = None,
                 manifest: dict | None = None) -> None:
    (tmp_path / "runs").mkdir()
    half = runs.height // 2
    runs.head(half).write_parquet(tmp_path / "runs" / "part-0000.parquet")
    for row in runs.tail(runs.height - half).iter_slices(1):
        row.write_parquet(tmp_path / "runs" / f"{row['run_id'][0].replace('/', '__')}.parquet")
    if series is not None:
        (tmp_path / "series").mkdir()
        series.write_parquet(tmp_path / "series" / "part-0000.parquet")
    if manifest is not None:
        (tmp_path / "manifest.json").write_text(json.dumps(manifest))


def design_of(runs: pl.DataFrame) -> list[dict]:
    return runs.select("run_id", "scenario", "point", "replication", "seed").to_dicts()


def test_load_runs_reads_parts_and_single_files_and_keeps_only_the_design(tmp_path):
    runs = make_runs(n_reps=4)
    design = [d for d in design_of(runs) if d["replication"] < 3]
    write_folder(tmp_path, runs, manifest={"design": design, "scenarios": ["policy", "baseline"]})
    got = load_runs(tmp_path)
    assert got.height == 6
    assert got["scenario"].to_list()[:3] == ["policy"] * 3      # manifest's scenario order
    assert got["run_id"].is_unique().all()


def test_load_runs_prefers_the_ok_row_of_a_run_stored_twice(tmp_path):
    runs = make_runs(n_reps=2)
    write_folder(tmp_path, runs)
    dup = runs.head(1).with_columns(pl.lit("failed").alias("status"),
                                    pl.lit(None, pl.Float64).alias("price_mean"))
    dup.write_parquet(tmp_path / "runs" / "part-0001.parquet")
    got = load_runs(tmp_path)
    assert got.height == 4
    assert got.filter(run_id=runs["run_id"][0])["status"].to_list() == ["ok"]


def test_load_runs_and_series_of_an_empty_folder(tmp_path):
    assert load_runs(tmp_path).is_empty()
    assert load_series(tmp_path).collect().is_empty()


def test_metric_columns_skip_keys_and_dotted_sweep_parameters():
    runs = make_runs(2).with_columns(pl.lit(1.0).alias("policy.floor.level"),
                                     pl.lit(3).alias("custom_metric"))
    assert metric_columns(runs) == ["price_mean", "fiscal_cost", "custom_metric"]


def test_write_summaries_writes_every_table_and_sobol_for_a_sobol_design(tmp_path):
    sweep = Sweep(design="sobol", samples=32,
                  parameters={"a.x": {"low": 0.0, "high": 1.0}, "b.y": {"low": 0.0, "high": 1.0}})
    x = design_matrix(sweep, seed=5)
    rows = []
    for p, (a, b) in enumerate(x):
        for r in range(2):
            rows.append({"run_id": f"base/p{p:04d}/r{r:04d}", "scenario": "base", "point": p,
                         "replication": r, "seed": r, "status": "ok", "error": None,
                         "traceback": None, "duration_s": 0.0, "a.x": a, "b.y": b,
                         "price_mean": 4.0 * a + b + 0.01 * r, "fiscal_cost": a - 3.0 * b,
                         "unmet_demand": a * b})
    runs = pl.DataFrame(rows)
    series = pl.DataFrame({"scenario": "base", "point": 0, "replication": [0, 1], "step": 0,
                           "price": [1.0, 2.0], "capacity_region__US": [5.0, 7.0]})
    manifest = {"design": design_of(runs), "scenarios": ["base"], "design_kind": "sobol",
                "sweep": {"design": "sobol", "samples": 32, "parameters": ["a.x", "b.y"]},
                "root_seed": 1}
    write_folder(tmp_path, runs, series, manifest)
    write_summaries(tmp_path, "base")
    summary = pl.read_parquet(tmp_path / "summary" / "summary.parquet")
    assert summary["metric"].to_list() == ["price_mean", "fiscal_cost",
                                           "unmet_demand"] * x.shape[0]
    assert pl.read_parquet(tmp_path / "summary" / "paired.parquet").is_empty()
    band = pl.read_parquet(tmp_path / "summary" / "bands.parquet")
    assert set(band["column"]) == {"price", "capacity_region__US"}
    sobol = pl.read_parquet(tmp_path / "summary" / "sobol.parquet")
    assert sobol.columns == ["scenario", "parameter", "metric", "S1", "S1_conf", "ST", "ST_conf"]
    # parameters in design order within each metric, metrics in abm.names order
    assert sobol.select("metric", "parameter").rows() == [
        (m, p) for m in ("price_mean", "fiscal_cost", "unmet_demand") for p in ("a.x", "b.y")]
    sobol = sobol.filter(metric="price_mean")
    s1 = dict(zip(sobol["parameter"], sobol["S1"], strict=True))
    assert s1["a.x"] == pytest.approx(16 / 17, abs=0.1)
    assert s1["b.y"] == pytest.approx(1 / 17, abs=0.05)
    assert not list((tmp_path / "summary").glob(".*"))        # no temporary files left
