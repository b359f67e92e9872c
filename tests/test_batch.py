"""The Monte Carlo engine (abm.batch / abm.engine) with fake runners: parallel results equal
serial ones, resume, failures, lost workers, manifest checks, compaction, bad input."""

from __future__ import annotations

import _thread
import copy
import io
import json
import os
import sys
import threading
import time
import types
from concurrent.futures import Executor, Future

import polars as pl
import pytest
import test_batch_fakes as fakes
from helpers import engine_raw

from abm.batch import print_summary, run_experiment
from abm.engine import runner as engine_runner
from abm.engine import store, worker
from abm.errors import ConfigError
from abm.experiment import experiment_from_dict
from abm.summary import load_runs, load_series

RAW = engine_raw("enginetest", replications=6, seed=7)
METRICS = ["price_mean", "price_volatility", "capacity_added_market", "fiscal_cost"]


def experiment(**overrides):
    return experiment_from_dict(copy.deepcopy(RAW), overrides)


@pytest.fixture
def use(monkeypatch):
    """use("ok") makes the engine call test_batch_fakes.ok for each run."""
    def set_runner(name: str) -> None:
        monkeypatch.setattr(worker, "RUNNER", f"{fakes.MODULE}:{name}")
    set_runner("ok")
    return set_runner


def table(out) -> pl.DataFrame:
    return load_runs(out).sort("run_id").select("run_id", "seed", "status", *METRICS)


def test_one_and_two_workers_give_identical_runs_and_series(tmp_path, use):
    exp = experiment()
    one = run_experiment(exp, tmp_path / "one", workers=1, quiet=True, report=False)
    two = run_experiment(exp, tmp_path / "two", workers=2, quiet=True, report=False)
    assert one.planned == two.planned == 12
    assert one.computed == two.computed == 12 and one.failed == two.failed == 0
    assert table(tmp_path / "one").equals(table(tmp_path / "two"))
    series = [load_series(tmp_path / d).collect().sort("scenario", "replication", "step")
              for d in ("one", "two")]
    assert series[0].height == 12 * 12 and series[0].equals(series[1])
    # common random numbers: replication r has the same seed in every scenario
    runs = load_runs(tmp_path / "one")
    assert runs.group_by("replication").agg(pl.col("seed").n_unique())["seed"].max() == 1


def test_dask_executor_gives_identical_runs_and_survives_a_killed_worker(tmp_path, use):
    pytest.importorskip("dask.distributed")
    exp = experiment(**{"experiment.title": str(tmp_path / "marker")})
    use("exit_once")        # the first run kills its dask worker; dask reschedules it
    got = run_experiment(exp, tmp_path / "dask", workers=2, executor="dask", quiet=True,
                         report=False)
    assert (tmp_path / "marker").exists()
    assert got.computed == 12 and got.failed == 0
    use("ok")
    run_experiment(exp, tmp_path / "inline", workers=1, quiet=True, report=False)
    assert table(tmp_path / "dask").equals(table(tmp_path / "inline"))
    manifest = json.loads((tmp_path / "dask" / "manifest.json").read_text())
    assert manifest["executor"]["kind"] == "dask"


def test_a_dask_local_cluster_forks_its_workers_with_the_model_imported_and_quiet_settings():
    """abm's LocalCluster forks its worker processes from the fork server, which has imported
    the model (a spawned worker is this process's own child and imports the model at its first
    run, ~2-3 s of CPU each), runs them with LOCAL_CLUSTER_CONFIG (no profiler), and gives the
    caller's dask config back when it is shut down."""
    pytest.importorskip("dask.distributed")
    import multiprocessing

    import dask.config

    from abm.engine import executors

    if not sys.platform.startswith("linux") or (
            "forkserver" not in multiprocessing.get_all_start_methods()):
        pytest.skip("no fork server on this platform: dask's own spawn is used")
    method = "distributed.worker.multiprocessing-method"
    before = (dask.config.get("distributed.worker.profile.enabled"), dask.config.get(method))
    pool = executors.Pool("dask", 1, worker.RUNNER)
    try:
        facts = pool.executor.submit(fakes.process_facts).result(timeout=120)
        assert dask.config.get(method) == "forkserver"
    finally:
        pool.shutdown()
    assert facts["parent"] != os.getpid() and facts["model_imported"]
    assert facts["profile"] is False
    assert (dask.config.get("distributed.worker.profile.enabled"),
            dask.config.get(method)) == before


def test_resume_after_interrupt_gives_exactly_the_planned_runs(tmp_path, use):
    exp = experiment()
    out = tmp_path / "r"
    use("interrupt_fifth")
    fakes.CALLS["n"] = 0
    with pytest.raises(KeyboardInterrupt):
        run_experiment(exp, out, workers=1, quiet=True, report=False)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "interrupted"
    assert len(store.finished(out)) == 4
    use("ok")
    again = run_experiment(exp, out, workers=2, quiet=True, report=False)
    assert (again.reused, again.computed, again.failed) == (4, 8, 0)
    runs = load_runs(out)
    assert sorted(runs["run_id"]) == sorted(s.run_id for s in exp.design())
    assert runs["run_id"].is_unique().all()
    series = load_series(out).collect()
    assert series.select("scenario", "replication", "step").is_unique().all()
    assert series.height == 12 * 12
    assert json.loads((out / "manifest.json").read_text())["status"] == "complete"


def test_ctrl_c_during_a_process_pool_run_keeps_finished_runs(tmp_path, use):
    # 200 runs of 20 ms on 2 workers: about 2 s of work, far longer than it takes the
    # interrupt to land once 6 runs are on disk
    exp = experiment(**{"experiment.replications": 100})
    out = tmp_path / "r"
    use("slow")

    def interrupt_when_some_done() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if len(list((out / "runs").glob("*.parquet"))) >= 6:
                _thread.interrupt_main()
                return
            time.sleep(0.01)

    watcher = threading.Thread(target=interrupt_when_some_done, daemon=True)
    watcher.start()
    with pytest.raises(KeyboardInterrupt):
        run_experiment(exp, out, workers=2, quiet=True, report=False)
    watcher.join()
    kept = store.finished(out)
    assert 6 <= len(kept) < 200
    assert not list(out.rglob(".*.tmp"))
    use("ok")
    again = run_experiment(exp, out, workers=2, quiet=True, report=False)
    assert again.reused == len(kept) and again.reused + again.computed == 200
    assert load_runs(out)["run_id"].is_unique().all() and load_runs(out).height == 200


def test_a_run_that_raises_is_recorded_and_the_others_finish(tmp_path, use):
    exp = experiment()
    out = tmp_path / "r"
    use("fail_odd")
    got = run_experiment(exp, out, workers=2, quiet=True, report=False)
    odd = {s.run_id for s in exp.design() if s.seed % 2}
    assert 0 < len(odd) < 12
    assert got.computed == 12 and got.failed == len(odd)
    runs = load_runs(out)
    failed = runs.filter(pl.col("status") == "failed")
    assert set(failed["run_id"]) == odd
    assert failed["error"].str.contains("ValueError: model blew up").all()
    assert failed["traceback"].str.contains("fail_odd").all()
    assert failed["price_mean"].is_null().all()
    assert runs.filter(pl.col("status") == "ok")["price_mean"].is_not_null().all()
    assert load_series(out).collect()["replication"].n_unique() <= 6
    # failed runs are retried by the next invocation; ok runs are reused
    use("ok")
    again = run_experiment(exp, out, workers=2, quiet=True, report=False)
    assert (again.reused, again.computed, again.failed) == (12 - len(odd), len(odd), 0)
    assert (load_runs(out)["status"] == "ok").all() and load_runs(out).height == 12


def test_a_runner_breaking_the_result_contract_is_a_failed_run(tmp_path, use):
    use("bad_series")
    got = run_experiment(experiment(), tmp_path / "r", workers=1, quiet=True, report=False)
    assert got.failed == 12
    assert load_runs(tmp_path / "r")["error"].str.contains("polars.DataFrame").all()


def test_runs_of_a_killed_worker_are_requeued_on_a_new_pool(tmp_path, use):
    exp = experiment(**{"experiment.title": str(tmp_path / "marker")})
    use("exit_once")
    got = run_experiment(exp, tmp_path / "r", workers=2, quiet=True, report=False)
    assert (tmp_path / "marker").exists()          # a worker really died
    assert got.computed == 12 and got.failed == 0
    assert any("restarted" in note for note in got.notes)
    assert load_runs(tmp_path / "r")["run_id"].is_unique().all()
    use("ok")
    run_experiment(exp, tmp_path / "ref", workers=1, quiet=True, report=False)
    assert table(tmp_path / "r").equals(table(tmp_path / "ref"))


def test_a_run_whose_worker_always_dies_is_recorded_as_failed(tmp_path, use):
    class LosingExecutor(Executor):
        """Every task is lost, as with a cluster whose worker keeps crashing."""

        def submit(self, fn, /, *args, **kwargs):
            future = Future()
            future.set_exception(OSError("connection to worker lost"))
            return future

    got = run_experiment(experiment(**{"experiment.replications": 1}), tmp_path / "r",
                         executor_instance=LosingExecutor(), quiet=True, report=False)
    assert got.failed == 2
    errors = load_runs(tmp_path / "r")["error"]
    assert errors.str.contains(f"died {engine_runner.MAX_ATTEMPTS} times").all()


def test_changed_config_is_refused_without_force_and_discarded_with_force(tmp_path, use):
    out = tmp_path / "r"
    run_experiment(experiment(), out, workers=1, quiet=True, report=False)
    before = (out / "manifest.json").read_text()
    changed = experiment(**{"market.demand.elasticity": -0.9})
    with pytest.raises(ConfigError, match="different experiment config"):
        run_experiment(changed, out, workers=1, quiet=True, report=False)
    assert (out / "manifest.json").read_text() == before
    got = run_experiment(changed, out, workers=1, quiet=True, force=True, report=False)
    assert (got.reused, got.computed) == (0, 12)
    assert json.loads((out / "manifest.json").read_text())["config_hash"] == \
        changed.config_hash()
    assert load_runs(out).height == 12


def test_more_replications_reuse_the_finished_ones(tmp_path, use):
    out = tmp_path / "r"
    run_experiment(experiment(), out, workers=1, quiet=True, report=False)
    got = run_experiment(experiment(**{"experiment.replications": 8}), out, workers=2,
                         quiet=True, report=False)
    assert (got.planned, got.reused, got.computed) == (16, 12, 4)
    # fewer replications: the extra stored runs stay on disk but out of the analysis
    fewer = run_experiment(experiment(**{"experiment.replications": 3}), out, workers=1,
                           quiet=True, report=False)
    assert (fewer.planned, fewer.reused, fewer.computed) == (6, 6, 0)
    assert load_runs(out).height == 6
    assert load_series(out).collect()["replication"].max() == 2


def test_manifest_records_the_design_and_counts(tmp_path, use):
    exp = experiment()
    got = run_experiment(exp, tmp_path / "r", workers=1, quiet=True, report=False)
    manifest = json.loads((tmp_path / "r" / "manifest.json").read_text())
    assert manifest["config_hash"] == exp.config_hash()
    assert manifest["root_seed"] == 7 and manifest["baseline"] == "baseline"
    assert manifest["design_kind"] == "none" and manifest["status"] == "complete"
    assert [d["run_id"] for d in manifest["design"]] == [s.run_id for s in exp.design()]
    assert manifest["design"][0]["seed"] == exp.design()[0].seed
    assert manifest["counts"] == {"planned": 12, "computed": 12, "reused": 0, "failed": 0}
    assert manifest["version"] and manifest["created"] and manifest["updated"]
    assert got.out == tmp_path / "r"


def test_sweep_parameters_become_columns_and_summaries_are_written(tmp_path, use):
    exp = experiment(**{"sweep.design": "grid",
                        "sweep.parameters": {"market.demand.elasticity": [-0.5, -1.0]},
                        "experiment.replications": 3})
    out = tmp_path / "r"
    got = run_experiment(exp, out, workers=2, quiet=True, report=False)
    assert got.planned == 2 * 2 * 3
    runs = load_runs(out)
    assert runs.columns[:10] == ["run_id", "scenario", "point", "replication", "seed", "status",
                                 "error", "traceback", "duration_s", "market.demand.elasticity"]
    assert dict(zip(runs["point"], runs["market.demand.elasticity"], strict=True)) == \
        {0: -0.5, 1: -1.0}
    paired = pl.read_parquet(out / "summary" / "paired.parquet")
    assert set(paired["scenario"]) == {"floor"} and set(paired["point"]) == {0, 1}
    assert (pl.read_parquet(out / "summary" / "summary.parquet")["n"] == 3).all()
    assert "capacity_region__US" in set(pl.read_parquet(out / "summary" / "bands.parquet")
                                        ["column"])


def test_runs_travel_in_chunks_written_as_paired_parts_and_resume_still_works(tmp_path, use,
                                                                              monkeypatch):
    monkeypatch.setattr(engine_runner, "CHUNK_RUNS", 5)
    exp = experiment(**{"experiment.replications": 20})
    out = tmp_path / "r"
    run_experiment(exp, out, workers=2, quiet=True, report=False)
    assert store.singles(out / "runs") == [] and store.singles(out / "series") == []
    parts = store.parts(out / "runs")
    assert len(parts) >= 2 and [p.name for p in parts] == \
        [p.name for p in store.parts(out / "series")]
    assert load_runs(out).height == 40 and load_runs(out)["run_id"].is_unique().all()
    again = run_experiment(exp, out, workers=1, quiet=True, report=False)
    assert (again.reused, again.computed) == (40, 0)


def test_compaction_cleans_up_after_a_compaction_killed_before_deleting(tmp_path, use):
    out = tmp_path / "r"
    run_experiment(experiment(), out, workers=1, quiet=True, report=False)
    part = store.parts(out / "runs")[0]
    # a compaction that died after writing its part: the merged single files are still there
    for row in pl.read_parquet(part).head(3).iter_slices(1):
        row.write_parquet(out / "runs" / f"{store.file_id(row['run_id'][0])}.parquet")
    assert load_runs(out).height == 12            # readers ignore the duplicates meanwhile
    assert store.compact(out) == 0
    assert store.singles(out / "runs") == []
    assert load_runs(out).height == 12


@pytest.mark.parametrize("kwargs, key", [
    ({"executor": "slurm"}, "executor"),
    ({"workers": 0}, "workers"),
    ({"scheduler": "tcp://x:8786"}, "scheduler"),
])
def test_bad_options_are_refused_before_anything_is_written(tmp_path, use, kwargs, key):
    with pytest.raises(ConfigError) as err:
        run_experiment(experiment(), tmp_path / "r", quiet=True, report=False, **kwargs)
    assert err.value.key == key
    assert not (tmp_path / "r").exists()


def test_a_bad_sweep_value_is_refused_before_anything_is_written(tmp_path, use):
    exp = experiment(**{"sweep.design": "grid",
                        "sweep.parameters": {"market.demand.elasticity": [-0.5, 3.0]}})
    with pytest.raises(ConfigError, match="elasticity"):
        run_experiment(exp, tmp_path / "r", quiet=True, report=False)
    assert not (tmp_path / "r").exists()


def test_a_folder_that_is_not_a_results_folder_is_refused(tmp_path, use):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not an abm results folder"):
        run_experiment(experiment(), tmp_path, quiet=True, report=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_missing_dask_is_a_clear_config_error(tmp_path, use, monkeypatch):
    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    with pytest.raises(ConfigError, match=r"pip install 'abm\[dask\]'"):
        run_experiment(experiment(), tmp_path / "r", executor="dask", quiet=True)
    assert not (tmp_path / "r").exists()


def test_report_is_built_when_available_and_skipped_with_a_note_when_not(tmp_path, use,
                                                                         monkeypatch):
    monkeypatch.setitem(sys.modules, "abm.report", None)      # import abm.report fails
    got = run_experiment(experiment(), tmp_path / "r", workers=1, quiet=True)
    assert got.report is None and any("report not built" in n for n in got.notes)

    def build_report(out):
        (out / "report").mkdir(exist_ok=True)
        (out / "report" / "index.html").write_text("<html></html>")
        return out / "report" / "index.html"

    monkeypatch.setitem(sys.modules, "abm.report",
                        types.SimpleNamespace(build_report=build_report))
    got = run_experiment(experiment(), tmp_path / "r", workers=1, quiet=True)
    assert got.report == tmp_path / "r" / "report" / "index.html" and got.report.exists()
    text = io.StringIO()
    print_summary(got, file=text)
    printed = text.getvalue()
    assert "12 runs planned, 0 computed, 12 reused, 0 failed" in printed
    assert "Mean price (USD/kg)" in printed and "Fiscal cost (USD)" in printed
    assert printed.count("\n  baseline") == 1 and "\n  floor" in printed
    assert f"report: {got.report}" in printed


def test_errors_of_the_report_builder_are_not_swallowed(tmp_path, use, monkeypatch):
    def build_report(out):
        raise RuntimeError("plotly broke")

    monkeypatch.setitem(sys.modules, "abm.report",
                        types.SimpleNamespace(build_report=build_report))
    with pytest.raises(RuntimeError, match="plotly broke"):
        run_experiment(experiment(), tmp_path / "r", workers=1, quiet=True)


def test_reusing_runs_of_other_code_is_reported(tmp_path, use):
    out = tmp_path / "r"
    run_experiment(experiment(), out, workers=1, quiet=True, report=False)
    same = run_experiment(experiment(), out, workers=1, quiet=True, report=False)
    assert same.reused == 12 and not any("computed by" in n for n in same.notes)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["history"][0]["git_commit"] = "0000000"     # the runs were made by other code
    (out / "manifest.json").write_text(json.dumps(manifest))
    for _ in range(2):      # said on every call while those runs are kept
        got = run_experiment(experiment(), out, workers=1, quiet=True, report=False)
        assert got.reused == 12
        assert any("computed by abm" in n and "commit 0000000" in n for n in got.notes)
    history = json.loads((out / "manifest.json").read_text())["history"]
    assert [h["computed"] for h in history] == [12, 0, 0, 0]
    assert [h["status"] for h in history] == ["complete"] * 4


def test_a_dask_cluster_starts_beside_the_design_and_bad_input_still_stops_it(tmp_path, use,
                                                                              monkeypatch):
    """The LocalCluster starts in a background thread while the design is built and checked;
    input refused after that (a bad sweep value) still raises the clear error, with the started
    cluster shut down and nothing written. Input the folder's checks refuse (a folder holding
    another series mode), which need no design, is refused before the cluster starts."""
    from abm.engine import executors

    threads, pools, original = [], [], executors.Pool

    class Recorded(original):
        def __init__(self, *args, **kwargs):
            threads.append(threading.current_thread().name)
            super().__init__("local", 1, *args[2:])     # (an inline pool stands in for dask)
            pools.append(self)

        def shutdown(self, abandon: bool = False) -> None:
            self.abandoned = abandon
            super().shutdown(abandon)

    monkeypatch.setattr(executors, "Pool", Recorded)
    monkeypatch.setattr(engine_runner, "require_dask", lambda: None)
    run_experiment(experiment(), tmp_path / "r", workers=1, quiet=True, report=False)
    before = sorted(p.name for p in (tmp_path / "r").rglob("*"))
    bad_sweep = experiment(**{"sweep.design": "grid",
                              "sweep.parameters": {"market.demand.elasticity": [-0.5, 3.0]}})
    with pytest.raises(ConfigError, match="elasticity"):
        run_experiment(bad_sweep, tmp_path / "new", executor="dask", quiet=True, report=False)
    assert threads == ["abm-dask-start"] and pools[0].abandoned
    assert not (tmp_path / "new").exists()
    with pytest.raises(ConfigError, match="holds runs stored with --series all"):
        run_experiment(experiment(), tmp_path / "r", executor="dask", series="bands",
                       quiet=True, report=False)
    assert len(pools) == 1            # no second cluster was started
    assert sorted(p.name for p in (tmp_path / "r").rglob("*")) == before
    # what starting raised is raised in the caller's thread
    monkeypatch.setattr(executors, "Pool", original)
    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    with pytest.raises(ImportError):
        executors.Starting("dask", 2, worker.RUNNER).pool()
