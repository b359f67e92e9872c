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


@pytest.mark.parametrize("path", EXPERIMENTS, ids=[p.stem for p in EXPERIMENTS])
def test_saved_resolved_config_reruns_to_the_same_hash(path, tmp_path):
    """The config a report saves (abm.experiment.standalone of the resolved config) reads on its
    own from another folder, with no `extends` and no CSV file, and has the run's config hash."""
    from abm.experiment import standalone
    from abm.report import tomlout

    exp = load_experiment(path)
    saved = tmp_path / "elsewhere" / "experiment.toml"
    saved.parent.mkdir()
    saved.write_text(tomlout.dumps(standalone(exp.resolved())), encoding="utf-8")
    text = saved.read_text(encoding="utf-8")
    assert "extends" not in text and "producers_file" not in text
    again = load_experiment(saved)
    assert again.config_hash() == exp.config_hash()
    assert again.scenario_names == exp.scenario_names


def test_rerun_command_on_the_config_page_reproduces_the_hash(tmp_path, capsys):
    """floor_mechanisms.toml extends baseline.toml. The command printed under "How to rerun" on
    config.html, executed as printed (plus short-run options), writes a results folder with the
    first run's config hash (replications are not part of the hash, the steps are the same)."""
    import re
    import shlex
    from html import unescape

    out = tmp_path / "first"
    path = next(p for p in EXPERIMENTS if p.stem == "floor_mechanisms")
    assert "extends" in path.read_text(encoding="utf-8")
    assert main(["run", str(path), "--out", str(out), "--replications", "1", "--steps", "12",
                 "--workers", "1", "--quiet"]) == 0
    page = (out / "report" / "config.html").read_text(encoding="utf-8")
    command = unescape(re.search(r'<section id="rerun">.*?<pre>(abm run [^<]*)</pre>', page,
                                 re.S).group(1))
    argv = shlex.split(command)
    assert argv[:2] == ["abm", "run"]
    assert main(argv[1:] + ["--replications", "1", "--workers", "1", "--quiet",
                            "--no-report"]) == 0, capsys.readouterr().err
    first = json.loads((out / "manifest.json").read_text())["config_hash"]
    rerun = Path(argv[argv.index("--out") + 1])
    assert json.loads((rerun / "manifest.json").read_text())["config_hash"] == first


def test_results_folder_of_an_extends_experiment_from_before_keeps_its_runs(tmp_path, capsys):
    """Folders written when `extends = "baseline.toml"` was part of the config hash are still
    resumed: the legacy hash is accepted and every run is reused."""
    path = next(p for p in EXPERIMENTS if p.stem == "offtake")
    out = tmp_path / "old"
    args = ["run", str(path), "--out", str(out), "--replications", "1", "--steps", "6",
            "--workers", "1", "--quiet", "--no-report"]
    assert main(args) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    exp = load_experiment(path, {"experiment.replications": 1, "experiment.steps": 6})
    assert exp.config_hash(legacy=True) != exp.config_hash()
    manifest["config_hash"] = exp.config_hash(legacy=True)
    (out / "manifest.json").write_text(json.dumps(manifest))
    assert main(args) == 0, capsys.readouterr().err
    assert json.loads((out / "manifest.json").read_text())["counts"]["reused"] == len(
        exp.design())


def test_a_cost_percentile_floor_is_stated_in_price_units(tmp_path):
    """floor_mechanisms.toml sets each floor at the 75th cost percentile: the index page states
    its level as the mean of the floor series over the steps it was in force and over runs
    (every run has the floor at every step here, so the mean of the bands' per-step means is the
    plain mean of all floor values)."""
    import re
    from html import unescape

    from abm import summary
    from abm.report.format import fmt

    out = tmp_path / "fm"
    path = next(p for p in EXPERIMENTS if p.stem == "floor_mechanisms")
    assert main(["run", str(path), "--out", str(out), "--replications", "2", "--steps", "12",
                 "--workers", "1", "--quiet"]) == 0
    page = unescape(re.sub(r"<[^>]+>", "", (out / "report" / "index.html").read_text(
        encoding="utf-8")))
    series = summary.load_series(out).collect()
    for scenario in ("mip", "purchase", "cfd"):
        level = series.filter(pl.col("scenario") == scenario)["floor"].drop_nulls().mean()
        assert level is not None and level > 0
        sentence = (f"The floor (the 75th percentile of capacity costs) averaged "
                    f"{fmt(level, 'price', 'USD/kg')} over the steps it was in force")
        assert sentence in page, scenario


def test_saved_config_of_an_experiment_with_a_producers_csv_inlines_its_rows(tmp_path):
    """A base file with producers_file = "producers.csv" (relative to it) and an experiment
    extending it: the saved config holds the CSV's rows and no file name, and rereads from
    another folder to the same hash and the same producers."""
    from abm.experiment import standalone
    from abm.report import tomlout

    base = next(p for p in EXPERIMENTS if p.stem == "baseline").read_text(encoding="utf-8")
    cut = base.index("[[producers]]")
    rest = base[cut:]
    after = rest.index("# Buyers")
    folder = tmp_path / "study"
    folder.mkdir()
    (folder / "producers.csv").write_text(
        "name,region,stage,capacity,unit_cost\nChina bulk,China,refinery,85000,30.0\n"
        "US plant,US,refinery,2000,55.0\n", encoding="utf-8")
    (folder / "base.toml").write_text('producers_file = "producers.csv"\n' + base[:cut]
                                      + rest[after:], encoding="utf-8")
    (folder / "exp.toml").write_text('extends = "base.toml"\n[experiment]\nname = "csv"\n'
                                     'steps = 12\n', encoding="utf-8")
    exp = load_experiment(folder / "exp.toml")
    assert [p.name for p in exp.config.producers] == ["China bulk", "US plant"]
    saved = tmp_path / "elsewhere.toml"
    saved.write_text(tomlout.dumps(standalone(exp.resolved())), encoding="utf-8")
    text = saved.read_text(encoding="utf-8")
    assert "producers_file" not in text and "extends" not in text and "US plant" in text
    again = load_experiment(saved)
    assert again.config_hash() == exp.config_hash()
    assert again.config.producers == exp.config.producers
