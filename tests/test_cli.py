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


def test_help_is_fast_and_imports_no_heavy_module():
    code = ("import sys, time; t = time.perf_counter(); from abm.cli import build_parser; "
            "build_parser().format_help(); print(time.perf_counter() - t); "
            "print(sorted(m for m in ('numpy', 'polars', 'pydantic', 'mesa', 'abm.validation."
            "claims', 'abm.model', 'solara') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=60).stdout.splitlines()
    assert out[1] == "[]", out
    assert float(out[0]) < 0.3  # seconds to import the CLI and build its parser
    proc = subprocess.run([*ABM, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "validate-model" in proc.stdout
