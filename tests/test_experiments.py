"""Every shipped experiment (experiments/*.toml) runs end to end through the command line, with
short runs and few replications: `abm validate` ok, `abm run` exits 0, every run of the design
ok, the summary and the result pages built (~10 s for all of them)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from abm.cli import main
from abm.experiment import load_experiment

EXPERIMENTS = sorted((Path(__file__).resolve().parents[1] / "experiments").glob("*.toml"))
# the pages are built for these (~0.2 s each; the rest would run with --no-report)
WITH_REPORT = {p.stem for p in EXPERIMENTS}
REPLICATIONS, STEPS = 2, 24


def test_the_shipped_experiments_are_found():
    assert len(EXPERIMENTS) >= 8
    assert "floor_levels.toml" in {p.name for p in EXPERIMENTS}


@pytest.mark.parametrize("path", EXPERIMENTS, ids=[p.stem for p in EXPERIMENTS])
def test_shipped_experiment_runs_end_to_end(path, tmp_path, capsys):
    out = tmp_path / path.stem
    report = path.stem in WITH_REPORT
    assert main(["validate", str(path)]) == 0
    args = ["run", str(path), "--out", str(out), "--replications", str(REPLICATIONS),
            "--steps", str(STEPS), "--workers", "1", "--quiet"]
    code = main(args + ([] if report else ["--no-report"]))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    exp = load_experiment(path, {"experiment.replications": REPLICATIONS,
                                 "experiment.steps": STEPS})
    runs = pl.read_parquet(out / "runs" / "*.parquet")
    assert runs.height == len(exp.design())
    assert runs["status"].to_list() == ["ok"] * runs.height, runs["error"].to_list()
    assert (out / "summary" / "summary.parquet").exists()
    assert json.loads((out / "manifest.json").read_text())["status"] == "complete"
    if report:
        assert (out / "report" / "index.html").stat().st_size > 0
        if exp.config.sweep is not None:
            assert (out / "report" / "sweep.html").exists()
