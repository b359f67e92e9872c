"""Runs in chunks (issue 17): the same results whatever the chunk size, executor or resume; a
failed run is still its own row; a chunk lost or interrupted mid-way reruns exactly its
unfinished runs; series stored as all, bands or none."""

from __future__ import annotations

import copy
import json
import shutil

import numpy as np
import polars as pl
import pytest
import test_batch_fakes as fakes
from helpers import engine_raw

from abm.batch import run_experiment
from abm.engine import runner as engine_runner
from abm.engine import store, worker
from abm.errors import ConfigError
from abm.experiment import experiment_from_dict
from abm.summary import load_runs, load_series

RAW = engine_raw("chunks", replications=10, seed=11)
N_RUNS = 20
METRICS = ["price_mean", "price_volatility", "capacity_added_market", "fiscal_cost"]


def experiment(**overrides):
    return experiment_from_dict(copy.deepcopy(RAW), overrides)


@pytest.fixture(autouse=True)
def fake_runner(monkeypatch):
    monkeypatch.setattr(worker, "RUNNER", f"{fakes.MODULE}:ok")


def run(out, **kwargs):
    kwargs.setdefault("workers", 1)
    return run_experiment(kwargs.pop("exp", None) or experiment(), out, quiet=True,
                          report=kwargs.pop("report", False), **kwargs)


def runs_table(out) -> pl.DataFrame:
    return load_runs(out).sort("run_id").drop("duration_s")


def series_table(out) -> pl.DataFrame:
    return load_series(out).collect().sort("scenario", "point", "replication", "step")


@pytest.mark.parametrize("chunk, workers", [(1, 2), (3, 1), (7, 2), (None, 2)])
def test_results_are_identical_whatever_the_chunk_size_and_workers(tmp_path, monkeypatch,
                                                                   chunk, workers):
    run(tmp_path / "ref")                               # 1 worker, sized chunks
    monkeypatch.setattr(engine_runner, "CHUNK_RUNS", chunk)
    got = run(tmp_path / "got", workers=workers)
    assert (got.computed, got.failed) == (N_RUNS, 0)
    assert runs_table(tmp_path / "got").equals(runs_table(tmp_path / "ref"))
    assert series_table(tmp_path / "got").equals(series_table(tmp_path / "ref"))
    runs_parts = [p.name for p in store.parts(tmp_path / "got" / "runs")]
    assert runs_parts == [p.name for p in store.parts(tmp_path / "got" / "series")]
    assert store.singles(tmp_path / "got" / "runs") == []


def test_chunk_size_follows_the_run_time_and_keeps_every_worker_busy(monkeypatch):
    monkeypatch.setattr(engine_runner, "CHUNK_RUNS", None)
    size = engine_runner.chunk_size
    assert size(None, 1000, 2) == 1                     # not timed yet
    assert size(0.01, 10_000, 2) == 100                 # ~CHUNK_SECONDS of work
    assert size(0.01, 40, 2) == 10                      # 2 tasks per worker left
    assert size(5.0, 1000, 2) == 1
    assert size(1e-7, 10**7, 2) == engine_runner.MAX_CHUNK


def test_a_failed_run_in_a_chunk_is_its_own_row_with_its_error(tmp_path, monkeypatch):
    monkeypatch.setattr(engine_runner, "CHUNK_RUNS", 4)
    monkeypatch.setattr(worker, "RUNNER", f"{fakes.MODULE}:fail_odd")
    out = tmp_path / "r"
    got = run(out, workers=2)
    runs = load_runs(out)
    failed = runs.filter(pl.col("status") == "failed")
    assert got.failed == failed.height > 0 and runs.height == N_RUNS
    assert failed["error"].str.starts_with("ValueError: model blew up").all()
    assert (failed["seed"] % 2 == 1).all()
    # ok runs are in parts, failed ones in their own files; the retry keeps every ok run
    monkeypatch.setattr(worker, "RUNNER", f"{fakes.MODULE}:ok")
    again = run(out, workers=2)
    assert (again.reused, again.computed) == (N_RUNS - failed.height, failed.height)
    run(tmp_path / "ref")
    assert runs_table(out).equals(runs_table(tmp_path / "ref"))
    assert store.singles(out / "runs") == []            # stale failed rows deleted


def test_ctrl_c_in_process_mid_chunk_keeps_the_finished_runs_of_the_chunk(tmp_path,
                                                                         monkeypatch):
    monkeypatch.setattr(engine_runner, "CHUNK_RUNS", N_RUNS)   # one chunk for everything
    monkeypatch.setattr(worker, "RUNNER", f"{fakes.MODULE}:interrupt_fifth")
    fakes.CALLS["n"] = 0
    out = tmp_path / "r"
    with pytest.raises(KeyboardInterrupt):
        run(out)
    assert len(store.finished(out)) == 4
    monkeypatch.setattr(worker, "RUNNER", f"{fakes.MODULE}:ok")
    again = run(out, workers=2)
    assert (again.reused, again.computed) == (4, N_RUNS - 4)
    run(tmp_path / "ref")
    assert runs_table(out).equals(runs_table(tmp_path / "ref"))
    assert series_table(out).equals(series_table(tmp_path / "ref"))


def test_a_worker_killed_mid_chunk_reruns_its_runs_and_isolates_the_killer(tmp_path,
                                                                          monkeypatch):
    monkeypatch.setattr(engine_runner, "CHUNK_RUNS", 5)
    monkeypatch.setattr(worker, "RUNNER", f"{fakes.MODULE}:exit_once")
    exp = experiment(**{"experiment.title": str(tmp_path / "marker")})
    out = tmp_path / "r"
    got = run(out, exp=exp, workers=2)
    assert (got.computed, got.failed) == (N_RUNS, 0)
    assert any("restarted" in n for n in got.notes)
    monkeypatch.setattr(worker, "RUNNER", f"{fakes.MODULE}:ok")
    run(tmp_path / "ref", exp=exp)
    assert runs_table(out).equals(runs_table(tmp_path / "ref"))
    assert series_table(out).equals(series_table(tmp_path / "ref"))


def test_an_orphan_series_part_is_removed_and_a_duplicate_part_quarantined(tmp_path,
                                                                          monkeypatch,
                                                                          capsys):
    monkeypatch.setattr(engine_runner, "CHUNK_RUNS", 5)
    out = tmp_path / "r"
    run(out)
    want_runs, want_series = runs_table(out), series_table(out)
    first = store.parts(out / "runs")[0]
    # a worker killed between its two writes: a series part without its runs part
    shutil.copy(out / "series" / first.name, out / "series" / "part-00777.parquet")
    # a task given up on that finished later (a dask worker): the same runs in a second part
    shutil.copy(first, out / "runs" / "part-00999.parquet")
    shutil.copy(out / "series" / first.name, out / "series" / "part-00999.parquet")
    got = run(out)
    assert (got.reused, got.computed) == (N_RUNS, 0)
    assert not (out / "series" / "part-00777.parquet").exists()
    assert (out / "quarantine" / "runs" / "part-00999.parquet").exists()
    assert "duplicates run" in capsys.readouterr().err
    assert runs_table(out).equals(want_runs) and series_table(out).equals(want_series)


def test_parts_of_a_new_call_are_numbered_from_a_new_block(tmp_path, monkeypatch):
    monkeypatch.setattr(engine_runner, "CHUNK_RUNS", 5)
    out = tmp_path / "r"
    run(out, exp=experiment(**{"experiment.replications": 5}))
    run(out)
    numbers = sorted(int(store.PART.match(p.name).group(1)) for p in store.parts(out / "runs"))
    assert numbers[0] < store.PART_BLOCK <= numbers[-1]
    assert load_runs(out)["run_id"].is_unique().all() and load_runs(out).height == N_RUNS


# ---- series modes ---------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["bands", "none"])
def test_series_modes_keep_the_runs_and_build_the_report(tmp_path, monkeypatch, mode):
    monkeypatch.setattr(engine_runner, "CHUNK_RUNS", 4)
    run(tmp_path / "all")
    out = tmp_path / mode
    got = run(out, series=mode, report=True)
    assert got.report is not None and got.report.exists()
    assert runs_table(out).equals(runs_table(tmp_path / "all"))
    assert json.loads((out / "manifest.json").read_text())["series"] == mode
    series = series_table(out)
    if mode == "none":
        assert series.height == 0
        assert "no per-step series" in (out / "report" / "runs.html").read_text()
    else:
        full = series_table(tmp_path / "all")
        assert series.height == full.height and "price" in series.columns
        assert series.equals(full.select(series.columns))
        bands = pl.read_parquet(out / "summary" / "bands.parquet")
        full_bands = pl.read_parquet(tmp_path / "all" / "summary" / "bands.parquet")
        assert bands.equals(full_bands.filter(pl.col("column").is_in(series.columns)))
        # every run is in the sample: the pages say nothing of one
        assert "are drawn from" not in (out / "report" / "index.html").read_text()
    # resume in the same mode reuses everything; another mode is refused
    assert run(out, series=mode).reused == N_RUNS
    with pytest.raises(ConfigError, match=f"--series {mode}"):
        run(out, series="all")
    forced = run(out, series="all", force=True)       # --force discards and recomputes
    assert (forced.reused, forced.computed) == (0, N_RUNS)
    assert series_table(out).equals(series_table(tmp_path / "all"))


def test_an_unknown_series_mode_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(ConfigError, match="series"):
        run(tmp_path / "r", series="some")
    assert not (tmp_path / "r").exists()


def test_dask_with_chunks_gives_identical_results(tmp_path, monkeypatch):
    pytest.importorskip("dask.distributed")
    run(tmp_path / "ref")
    monkeypatch.setattr(engine_runner, "CHUNK_RUNS", 4)
    got = run(tmp_path / "dask", workers=2, executor="dask")
    assert (got.computed, got.failed) == (N_RUNS, 0)
    assert runs_table(tmp_path / "dask").equals(runs_table(tmp_path / "ref"))
    assert series_table(tmp_path / "dask").equals(series_table(tmp_path / "ref"))


def test_bands_of_a_design_with_many_points_are_pooled_over_points(tmp_path, monkeypatch):
    import abm.summary

    run(tmp_path / "per_point")
    monkeypatch.setattr(abm.summary, "BAND_POINTS_MAX", 0)
    got = run(tmp_path / "pooled", report=True)
    assert got.report is not None and got.report.exists()
    pooled = pl.read_parquet(tmp_path / "pooled" / "summary" / "bands.parquet")
    per_point = pl.read_parquet(tmp_path / "per_point" / "summary" / "bands.parquet")
    assert pooled["point"].is_null().all() and pooled.height == per_point.height
    assert pooled.drop("point").equals(per_point.drop("point"))   # one point: the same numbers


# ---- the band sample of --series bands -------------------------------------------------------------

@pytest.mark.parametrize("chunk, workers", [(3, 1), (4, 2)])
def test_bands_of_a_large_scenario_come_from_an_evenly_spread_sample_of_its_runs(
        tmp_path, monkeypatch, chunk, workers):
    """With at most 4 runs' series kept per scenario of 10 replications, the kept runs are
    i = floor(j x 10 / 4), j = 0..3: replications 0, 2, 5 and 7, in both scenarios; their
    series and the bands are exactly those of `all` over these runs, whatever the chunks and
    workers; every run keeps its row."""
    import abm.summary

    monkeypatch.setattr(engine_runner, "CHUNK_RUNS", chunk)
    run(tmp_path / "all")
    monkeypatch.setattr(worker, "BAND_RUNS", 4)
    out = tmp_path / "bands"
    got = run(out, series="bands", workers=workers, report=True)
    assert got.report is not None and got.report.exists()
    assert runs_table(out).equals(runs_table(tmp_path / "all"))
    assert json.loads((out / "manifest.json").read_text())["band_runs"] == 4
    series = series_table(out)
    kept = series.select("scenario", "replication").unique().sort("scenario", "replication")
    assert kept.to_dict(as_series=False) == {"scenario": ["baseline"] * 4 + ["floor"] * 4,
                                             "replication": [0, 2, 5, 7] * 2}
    full = series_table(tmp_path / "all").filter(pl.col("replication").is_in([0, 2, 5, 7]))
    assert series.equals(full.select(series.columns))
    want = abm.summary.bands(full.lazy(), abm.summary.band_columns(series.lazy()))
    assert pl.read_parquet(out / "summary" / "bands.parquet").equals(want)
    assert ("fan charts of a scenario are drawn from 4 of its 10 runs"
            in (out / "report" / "index.html").read_text())
    assert run(out, series="bands").reused == N_RUNS        # resume: the same sample


def test_the_band_sample_is_a_fixed_number_of_runs_spread_over_the_design():
    """1,000 runs (10 points x 100 replications) sampled to 64: exactly 64, the first run
    among them, at most ceil(1000 / 64) = 16 apart in design order; a scenario of at most 64
    runs keeps them all."""
    from abm.experiment import RunSpec

    specs = [RunSpec(f"s/p{p}/r{r}", "s", p, r, 0) for p in range(10) for r in range(100)]
    kept = [i for i, s in enumerate(specs) if worker.in_band_sample(s, 10, 100, 64)]
    assert len(kept) == 64 and kept[0] == 0
    assert max(b - a for a, b in zip(kept, kept[1:], strict=False)) <= 16
    assert all(worker.in_band_sample(s, 8, 8, 64) for s in specs[:64])


def test_band_sample_quantiles_are_within_the_dkw_bound_of_all_runs():
    """Bands from the sample against all runs, at the shipped sample size K = 2,000 of 20,000
    runs. Independent replications (lognormal values, as prices): each sample quantile q lies
    where the full distribution function is within q +- 0.030 (DKW, 95%: sqrt(ln(40) / 4000)).
    A sweep whose value rises along the design (runs in design order, point-major): the evenly
    spread sample stays within the bound too, where the first 2,000 runs (the lowest values)
    would put the median at the full p05."""
    from abm.experiment import RunSpec
    from abm.summary import QUANTILES

    n, k = 20_000, worker.BAND_RUNS
    assert k == 2000
    eps = np.sqrt(np.log(2 / 0.05) / (2 * k))
    assert abs(eps - 0.0304) < 1e-3
    rng = np.random.default_rng(17)
    iid = rng.lognormal(np.log(60.0), 0.3, n)
    trend = np.sort(iid)                                  # value rising with the design index
    points, reps = 200, 100
    specs = [RunSpec("", "s", p, r, 0) for p in range(points) for r in range(reps)]
    keep = np.array([worker.in_band_sample(s, points, reps, k) for s in specs])
    assert keep.sum() == k
    for values in (iid, trend):
        full = np.sort(values)
        for q in QUANTILES.values():
            got = np.quantile(values[keep], q)
            position = np.searchsorted(full, got) / n        # F_full at the sample quantile
            assert abs(position - q) <= eps, (q, position)
    first = np.searchsorted(trend, np.quantile(trend[:k], 0.5)) / n
    assert abs(first - 0.05) < 1e-3 and abs(first - 0.5) > eps     # (the bound can fail)
