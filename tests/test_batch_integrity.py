"""Integrity of a results folder (issue 18, items 1-8): damaged parts are quarantined and their
runs rerun, a run is done only with its series, --force deletes only our own folders, names
that would escape or collide are refused, no write or delete through a link, the stored config
is checked under the lock, workers die with their parent, report builds are locked, and a full
disk is one message with the manifest marked interrupted."""

from __future__ import annotations

import copy
import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import polars as pl
import pytest
import test_batch_fakes as fakes
from helpers import engine_raw

from abm.batch import CannotWrite, run_experiment
from abm.cli import main
from abm.engine import files, store, worker
from abm.engine import runner as engine_runner
from abm.errors import ConfigError
from abm.experiment import experiment_from_dict
from abm.summary import load_runs, load_series

RAW = engine_raw("integrity", replications=3, seed=7)
N_RUNS = 6


def experiment(**overrides):
    return experiment_from_dict(copy.deepcopy(RAW), overrides)


@pytest.fixture(autouse=True)
def fake_runner(monkeypatch):
    monkeypatch.setattr(worker, "RUNNER", f"{fakes.MODULE}:ok")


def run(out, **kwargs):
    kwargs.setdefault("workers", 1)
    return run_experiment(kwargs.pop("exp", None) or experiment(), out, quiet=True,
                          report=kwargs.pop("report", False), **kwargs)


def reference(tmp_path) -> pl.DataFrame:
    run(tmp_path / "ref")
    return load_runs(tmp_path / "ref").sort("run_id").drop("duration_s")


# ---- 1. damaged parts ----------------------------------------------------------------------------

def damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "zero_length":
        path.write_bytes(b"")
    else:
        path.write_bytes(os.urandom(len(data)))


@pytest.mark.parametrize("folder", ["runs", "series"])
@pytest.mark.parametrize("how", ["truncated", "zero_length", "random_bytes"])
def test_a_damaged_part_is_quarantined_and_its_runs_rerun(tmp_path, capsys, folder, how):
    want = reference(tmp_path)
    out = tmp_path / "r"
    run(out)
    part = store.parts(out / folder)[0]
    in_part = pl.read_parquet(out / "runs" / part.name).height   # runs are chunked into parts
    damage(part, how)
    got = run(out, report=True)
    err = capsys.readouterr().err
    assert got.computed == in_part and got.reused == N_RUNS - in_part
    assert str(part) in err and "quarantine" in err and len(err.strip().splitlines()) == 2
    assert (out / "quarantine" / folder / part.name).exists()
    assert (out / "quarantine" / ("series" if folder == "runs" else "runs") / part.name).exists()
    assert load_runs(out).sort("run_id").drop("duration_s").equals(want)
    assert load_series(out).collect().height == N_RUNS * 12
    assert (out / "report" / "index.html").exists()


@pytest.mark.parametrize("folder", ["runs", "series"])
def test_a_damaged_single_file_is_quarantined_and_its_run_rerun(tmp_path, folder, monkeypatch):
    monkeypatch.setattr(store, "compact", lambda out, min_runs=2: 0)   # keep single files
    out = tmp_path / "r"
    run(out)
    single = sorted((out / folder).glob("*.parquet"))[0]
    damage(single, "truncated")
    got = run(out)
    assert got.computed == 1 and got.reused == N_RUNS - 1
    assert (out / "quarantine" / folder / single.name).exists()
    assert sorted(load_runs(out)["status"]) == ["ok"] * N_RUNS


def test_a_run_without_its_series_is_not_done(tmp_path, monkeypatch):
    monkeypatch.setattr(store, "compact", lambda out, min_runs=2: 0)
    out = tmp_path / "r"
    run(out)
    gone = sorted((out / "series").glob("*.parquet"))[0]
    gone.unlink()
    got = run(out)
    assert got.computed == 1 and gone.exists()


def test_a_runs_part_whose_series_part_was_deleted_is_rerun(tmp_path):
    out = tmp_path / "r"
    run(out)
    gone = store.parts(out / "series")[0]
    in_part = pl.read_parquet(out / "runs" / gone.name).height
    gone.unlink()
    got = run(out)
    assert got.computed == in_part and got.reused == N_RUNS - in_part
    assert load_series(out).collect().height == N_RUNS * 12


def test_abm_report_names_a_damaged_file_instead_of_a_traceback(tmp_path, capsys):
    out = tmp_path / "r"
    run(out)
    part = store.parts(out / "runs")[0]
    damage(part, "random_bytes")
    assert main(["report", str(out)]) == 2
    err = capsys.readouterr().err
    assert str(part) in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


# ---- 2. folders that are not ours; '.' and '..' --------------------------------------------------

def test_force_never_deletes_in_a_folder_with_a_foreign_manifest(tmp_path):
    out = tmp_path / "webapp"
    for name in ("runs", "series", "summary", "report"):
        (out / name).mkdir(parents=True)
        (out / name / "keep.txt").write_text("precious")
    (out / "manifest.json").write_text(json.dumps({"name": "my-web-app", "icons": []}))
    with pytest.raises(ConfigError, match="not the manifest of an abm results folder"):
        run(out, force=True)
    assert all((out / n / "keep.txt").exists() for n in ("runs", "series", "summary", "report"))


def test_force_deletes_only_what_our_manifest_says_we_wrote(tmp_path):
    out = tmp_path / "r"
    run(out)
    (out / "notes").mkdir()
    (out / "notes" / "mine.txt").write_text("kept")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kind"] == "abm results" and "runs" in manifest["wrote"]
    manifest["wrote"] = ["runs", "series", "../..", "notes"]   # tampered: only ours count
    (out / "manifest.json").write_text(json.dumps(manifest))
    (out / "report").mkdir()
    (out / "report" / "x.html").write_text("not listed: kept")
    got = run(out, exp=experiment(**{"experiment.seed": 8}), force=True)
    assert got.computed == N_RUNS
    assert (out / "notes" / "mine.txt").exists() and (out / "report" / "x.html").exists()


@pytest.mark.parametrize("name", [".", ".."])
def test_experiment_names_dot_and_dotdot_are_refused(tmp_path, name):
    with pytest.raises(ConfigError, match="experiment.name"):
        experiment(**{"experiment.name": name})


# ---- 3. symbolic links ---------------------------------------------------------------------------

def test_abm_report_never_writes_through_a_link(tmp_path, capsys):
    out = tmp_path / "r"
    run(out, report=True)
    victim = tmp_path / "victim.js"
    victim.write_text("do not touch")
    js = out / "report" / "plotly.min.js"
    js.unlink()
    js.symlink_to(victim)
    assert main(["report", str(out)]) == 2
    assert "symbolic link" in capsys.readouterr().err
    assert victim.read_text() == "do not touch"


@pytest.mark.parametrize("name", ["report", "runs", "series", "summary"])
def test_a_linked_folder_is_refused_by_run_and_force_deletes_nothing_through_it(tmp_path, name):
    out = tmp_path / "r"
    run(out, report=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep.txt").write_text("precious")
    import shutil

    shutil.rmtree(out / name)
    (out / name).symlink_to(elsewhere, target_is_directory=True)
    for kwargs in ({}, {"force": True, "exp": experiment(**{"experiment.seed": 8})}):
        with pytest.raises(ConfigError, match="symbolic link"):
            run(out, report=True, **kwargs)
    with pytest.raises(ConfigError, match="symbolic link"):
        run_report(out)
    assert [p.name for p in elsewhere.iterdir()] == ["keep.txt"]


def run_report(out):
    from abm.report import build_report

    return build_report(out)


# ---- 4. scenario names ---------------------------------------------------------------------------

@pytest.mark.parametrize("names", [["a/b", "a__b"], ["x" * 300], ["nul\x00byte"], [".."],
                                   ["Base", "base"]])
def test_scenario_names_that_would_collide_or_break_file_names_are_refused(tmp_path, names):
    raw = copy.deepcopy(RAW)
    raw["scenarios"] = {n: {} for n in names}
    with pytest.raises(ConfigError, match="scenario"):
        experiment_from_dict(raw)


def test_colliding_scenario_names_exit_2_and_write_nothing(tmp_path, capsys):
    config = tmp_path / "exp.toml"
    config.write_text(textwrap.dedent("""\
        [experiment]
        name = "collide"
        steps = 12
        [market.demand]
        reference_price = 50.0
        reference_quantity = 1000
        elasticity = -0.5
        [[regions]]
        name = "US"
        [[producers]]
        name = "R"
        region = "US"
        stage = "refinery"
        capacity = 1200
        unit_cost = 30.0
        [[buyers]]
        name = "B"
        region = "US"
        share = 1.0
        [scenarios."a/b"]
        [scenarios.a__b]
        """))
    assert main(["run", str(config), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "scenarios.'a/b'" in err and "line 20" in err and not (tmp_path / "o").exists()


# ---- 5. the stored config is checked under the lock ----------------------------------------------

def test_the_stored_config_is_checked_again_under_the_lock(tmp_path, monkeypatch):
    out = tmp_path / "r"
    first, second = experiment(), experiment(**{"experiment.seed": 99})
    original = engine_runner.FolderLock.acquire

    def acquire(self, timeout=0):
        # between the first check and the lock, another run with another config finishes
        monkeypatch.setattr(engine_runner.FolderLock, "acquire", original)
        run(out, exp=first)
        return original(self, timeout)

    monkeypatch.setattr(engine_runner.FolderLock, "acquire", acquire)
    with pytest.raises(ConfigError, match="different experiment config"):
        run(out, exp=second)
    assert load_runs(out).height == N_RUNS                               # first's runs intact
    assert json.loads((out / "manifest.json").read_text())["config_hash"] == first.config_hash()


# ---- 6. workers die with their parent ------------------------------------------------------------

SCRIPT = """
import copy, sys
sys.path.insert(0, {tests!r})
import test_batch_integrity as t
from abm.engine import worker
worker.RUNNER = "test_batch_fakes:slow"
if __name__ == "__main__":
    exp = t.experiment(**{{"experiment.replications": 50}})
    from abm.batch import run_experiment
    run_experiment(exp, {out!r}, workers=2, quiet=True, report=False)
"""


def children(pid: int) -> set[int]:
    found = set()
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                stat = (proc / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(proc.name))
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_exit_when_the_parent_is_killed(tmp_path):
    script = tmp_path / "parent.py"
    script.write_text(SCRIPT.format(tests=str(Path(__file__).parent), out=str(tmp_path / "r")))
    proc = subprocess.Popen([sys.executable, str(script)], cwd=tmp_path)
    try:
        deadline = time.time() + 30
        while not list((tmp_path / "r" / "runs").glob("*.parquet")) and time.time() < deadline:
            time.sleep(0.1)
        family = children(proc.pid)
        family |= {c for p in family for c in children(p)}   # fork server -> workers
        assert family
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    deadline = time.time() + 10
    while time.time() < deadline and any(Path(f"/proc/{p}").exists() and
                                         "Z" not in Path(f"/proc/{p}/stat").read_text().split()[2]
                                         for p in family if Path(f"/proc/{p}").exists()):
        time.sleep(0.2)
    alive = [p for p in family if Path(f"/proc/{p}").exists()
             and Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"]
    assert not alive


# ---- 7. report builds are locked -----------------------------------------------------------------

def test_concurrent_report_builds_both_succeed(tmp_path):
    out = tmp_path / "r"
    run(out)
    results, errors = [], []

    def build():
        try:
            results.append(run_report(out))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=build) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(results) == 3
    assert not list((out / "report").glob(".*.tmp"))


def test_a_report_waits_for_the_lock_and_then_gives_up_with_a_message(tmp_path, monkeypatch):
    from abm.report import build as build_module

    out = tmp_path / "r"
    run(out)
    lock = files.FolderLock(out)
    assert lock.acquire()
    monkeypatch.setattr(build_module, "LOCK_WAIT", 0.3)
    try:
        with pytest.raises(ConfigError, match="locked by another abm process"):
            run_report(out)
    finally:
        lock.release()


# ---- 8. a full or read-only disk ------------------------------------------------------------------

@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS])
def test_a_full_disk_is_one_message_exit_1_and_the_manifest_says_interrupted(tmp_path, capsys,
                                                                             monkeypatch, code):
    monkeypatch.setattr(engine_runner, "CHUNK_RUNS", 1)     # one run per task: 2 writes a run
    out = tmp_path / "r"
    calls = {"n": 0}
    real = worker.write_parquet_atomic

    def write(frame, path, compression="zstd"):
        calls["n"] += 1
        if calls["n"] > 4:          # two runs written, then the disk is full
            with files.atomic_path(path) as tmp:
                tmp.write_bytes(b"half")
                raise OSError(code, os.strerror(code))
        real(frame, path, compression)

    monkeypatch.setattr(worker, "write_parquet_atomic", write)
    config = tmp_path / "exp.toml"
    import tomli_w

    config.write_text(tomli_w.dumps(RAW))
    monkeypatch.setattr(worker, "RUNNER", f"{fakes.MODULE}:ok")
    code_ = main(["run", str(config), "--out", str(out), "--workers", "1", "--quiet"])
    err = capsys.readouterr().err
    assert code_ == 1
    assert err.strip() == f"abm run: error: cannot write to {out}: {os.strerror(code).lower()}"
    assert json.loads((out / "manifest.json").read_text())["status"] == "interrupted"
    assert not list(out.rglob("*.tmp"))
    monkeypatch.setattr(worker, "write_parquet_atomic", real)
    got = run(out)                  # space again: the rerun resumes
    assert got.reused == 2 and got.computed == N_RUNS - 2


def test_cannot_write_reads_well():
    assert str(CannotWrite("/x", OSError(errno.ENOSPC, "boom"))) == \
        "cannot write to /x: no space left on device"
