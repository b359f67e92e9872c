"""The `abm` command line: one argparse parser for every subcommand, a fast --help, and a closed
pipe (`abm run ... | head`) that ends quietly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from abm.cli import build_parser, main

ROOT = Path(__file__).parent.parent
ABM = [sys.executable, "-m", "abm.cli"]


@pytest.mark.parametrize("reader", ["head -1", "true"])  # true: the pipe is closed at once
def test_run_into_a_closed_pipe_ends_without_a_traceback(tmp_path, reader):
    command = (f"{sys.executable} -m abm.cli run experiments/baseline.toml --replications 2 "
               f"--steps 12 --no-report --out {tmp_path / 'x'} | {reader}")
    proc = subprocess.run(command, shell=True, cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert "Traceback" not in proc.stderr and "BrokenPipeError" not in proc.stderr, proc.stderr
    assert (tmp_path / "x" / "manifest.json").is_file()  # the runs themselves finished


@pytest.mark.parametrize("command, expected", [("calibrate", "PRODUCERS.csv"),
                                               ("validate-model", "--only CLAIM")])
def test_calibrate_and_validate_model_are_subcommands_with_their_own_help(command, expected):
    proc = subprocess.run([*ABM, command, "--help"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"usage: abm {command}") and expected in proc.stdout


def test_subcommand_arguments_are_checked_by_the_one_parser(capsys):
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["calibrate", "x.csv", "--group", "nowhere"])
    assert exit_.value.code == 2
    assert "abm calibrate: error: argument --group" in capsys.readouterr().err


def test_calibrate_through_abm_reports_bad_input_with_exit_code_2(tmp_path, capsys):
    assert main(["calibrate", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "o")]) == 2
    assert "file not found" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_help_imports_no_heavy_module():
    # (its time, < 0.3 s, is measured by benchmarks/bench_report.py help, not here)
    code = ("import sys; from abm.cli import build_parser; build_parser().format_help(); "
            "print(sorted(m for m in ('numpy', 'polars', 'pydantic', 'mesa', 'abm.validation."
            "claims', 'abm.model', 'solara') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=60).stdout.splitlines()
    assert out[0] == "[]", out
    proc = subprocess.run([*ABM, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "validate-model" in proc.stdout


def _namespace(**given):
    import argparse

    return argparse.Namespace(**{"workers": None, "oversubscribe": False, "scheduler": None,
                                 **given})


def test_workers_beyond_the_cores_are_capped_with_one_warning_unless_oversubscribed(
        monkeypatch, capsys):
    from abm import cli

    monkeypatch.setattr(cli, "_cores", lambda: 2)
    assert cli._capped_workers(_namespace(workers=12)) == 2
    assert capsys.readouterr().err == ("abm run: warning: --workers 12 capped at the 2 cores of "
                                       "this machine (add --oversubscribe to start 12)\n")
    assert cli._capped_workers(_namespace(workers=12, oversubscribe=True)) == 12
    assert cli._capped_workers(_namespace(workers=2)) == 2
    assert cli._capped_workers(_namespace()) is None      # the default: all cores
    # a remote dask cluster's workers are not this machine's cores
    assert cli._capped_workers(_namespace(workers=12, scheduler="tcp://h:8786")) == 12
    assert capsys.readouterr().err == ""


def test_a_run_with_more_workers_than_cores_starts_only_the_cores(tmp_path, capsys):
    """The manifest records the pool the run used: at most the cores of this machine."""
    import json

    from abm import cli

    out = tmp_path / "o"
    code = main(["run", str(ROOT / "experiments" / "baseline.toml"), "--replications", "1",
                 "--steps", "6", "--no-report", "--quiet", "--out", str(out), "--workers",
                 str(cli._cores() + 10)])
    assert code == 0
    err = capsys.readouterr().err
    assert err.count("warning") == 1 and f"capped at the {cli._cores()} cores" in err
    used = json.loads((out / "manifest.json").read_text())["executor"]["workers"]
    assert used <= cli._cores()


def test_the_design_size_is_printed_and_a_design_above_max_runs_refused(tmp_path, capsys):
    """baseline.toml: 1 scenario x 1 point x 100 replications; 2 x 3 points x 4 replications =
    24 runs with a 3-value sweep over two scenarios."""
    config = tmp_path / "exp.toml"
    base = (ROOT / "experiments" / "baseline.toml").read_text()
    config.write_text(base.replace('name = "baseline"', 'name = "sized"') + (
        '\n[scenarios.a]\n[scenarios.b]\n[sweep]\nscenarios = ["a"]\n[sweep.parameters]\n'
        '"market.demand.elasticity" = [-0.3, -0.4, -0.5]\n'))
    assert main(["validate", str(config), "--set", "experiment.replications=4"]) == 0
    assert "design: 2 scenarios x 3 sweep points x 4 replications = 24 runs" in \
        capsys.readouterr().out
    out = tmp_path / "o"
    assert main(["run", str(config), "--replications", "4", "--max-runs", "23", "--out",
                 str(out)]) == 2
    err = capsys.readouterr().err
    assert "key 'sweep': the design has 2 scenarios x 3 sweep points x 4 replications = 24 " \
           "runs, above the limit of 23 runs" in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_new_run_flags_are_in_the_help_with_the_default_limit():
    from abm.experiment import MAX_RUNS

    text = build_parser()._subparsers._group_actions[0].choices["run"].format_help()
    assert "--oversubscribe" in text and "--max-runs N" in text
    assert f"(default {MAX_RUNS:,})" in " ".join(text.split())


def test_run_starts_the_fork_server_before_loading_the_experiment(tmp_path, monkeypatch):
    """`abm run --workers 2` starts the local pool's fork server first, so its imports overlap
    the loading of the experiment; bad input still exits 2 with nothing written; so does a
    dask LocalCluster (its workers are forked from it), a cluster at --scheduler starts none
    (and `warm_up` itself does nothing for a single, in-process worker)."""
    import abm.engine.forkserver
    import abm.experiment

    calls = []
    monkeypatch.setattr(abm.engine.forkserver, "warm_up",
                        lambda kind, workers: calls.append(("warm_up", kind, workers)))

    def load(path, overrides=None):
        calls.append(("load", Path(path).name))
        return real_load(path, overrides)

    real_load = abm.experiment.load_experiment
    monkeypatch.setattr(abm.experiment, "load_experiment", load)
    out = tmp_path / "o"
    assert main(["run", str(tmp_path / "missing.toml"), "--workers", "2", "--out",
                 str(out)]) == 2
    assert calls == [("warm_up", "local", 2), ("load", "missing.toml")]
    assert not out.exists()
    calls.clear()
    assert main(["run", str(tmp_path / "missing.toml"), "--executor", "dask", "--out",
                 str(out)]) == 2
    assert calls == [("warm_up", "dask", None), ("load", "missing.toml")]
    calls.clear()
    assert main(["run", str(tmp_path / "missing.toml"), "--executor", "dask", "--scheduler",
                 "tcp://127.0.0.1:8786", "--out", str(out)]) == 2
    assert calls == [("load", "missing.toml")]
