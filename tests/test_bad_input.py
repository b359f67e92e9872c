"""Bad input: exit code 2, one clear message naming the file and key, no traceback, nothing written."""

import subprocess
import sys
from pathlib import Path

import pytest

from abm.cli import main

GOOD = """\
[experiment]
name = "bad"
steps = 12

[market.demand]
reference_price = 60.0
reference_quantity = 1200
elasticity = -0.4

[[regions]]
name = "US"
club = true

[[producers]]
name = "A"
region = "US"
stage = "refinery"
capacity = 2000
unit_cost = 45.0

[[buyers]]
name = "B"
region = "US"
share = 1.0
"""

CASES = {
    "malformed_toml": (GOOD.replace('name = "A"', 'name = "A'), None, "malformed TOML"),
    "unknown_key": (GOOD.replace("elasticity = -0.4", "elasticity = -0.4\nelastcity = 1"),
                    "market.demand.elastcity", "unknown key"),
    "wrong_type": (GOOD.replace("capacity = 2000", 'capacity = "lots"'), "producers.0.capacity",
                   "number"),
    "negative_capacity": (GOOD.replace("capacity = 2000", "capacity = -5"),
                          "producers.0.capacity", "greater than or equal to 0"),
    "elasticity_not_negative": (GOOD.replace("elasticity = -0.4", "elasticity = 0.2"),
                                "market.demand.elasticity", "less than 0"),
    "unknown_region_on_producer": (GOOD.replace('region = "US"\nstage', 'region = "Mars"\nstage'),
                                   "producers.0.region", "unknown region 'Mars'"),
    "unknown_region_on_buyer": (GOOD.replace('region = "US"\nshare', 'region = "Mars"\nshare'),
                                "buyers.0.region", "unknown region 'Mars'"),
    "unknown_region_on_recycler": (GOOD + '\n[[recyclers]]\nname = "R"\nregion = "Mars"\n'
                                   'capacity = 100\nunit_cost = 30.0\nscrap = 50\n',
                                   "recyclers.0.region", "unknown region 'Mars'"),
    "recycler_lag_zero": (GOOD + '\n[[recyclers]]\nname = "R"\nregion = "US"\ncapacity = 100\n'
                          'unit_cost = 30.0\nscrap = 50\ncollection_lag = 0\n',
                          "recyclers.0.collection_lag", "greater than or equal to 1"),
    "inventory_adjust_zero": (GOOD.replace("share = 1.0", "share = 1.0\ninventory_cover = 30\n"
                                           "inventory_adjust = 0"),
                              "buyers.0.inventory_adjust", "greater than 0"),
    "excess_duty_without_mip_cap": (GOOD + '\n[policy.floor]\nmechanism = "cfd"\nlevel = 80.0\n'
                                    'excess_duty = 0.5\n', "policy.floor",
                                    "needs mechanism = 'mip' and a volume_cap"),
    "min_ebitda_without_cfd": (GOOD + '\n[policy.floor]\nmechanism = "purchase"\nlevel = 80.0\n'
                               'min_ebitda = 1e6\n', "policy.floor", "needs mechanism = 'cfd'"),
    "unknown_region_in_covers": (GOOD + '\n[policy.floor]\nmechanism = "cfd"\nlevel = 80.0\n'
                                 'covers = ["Mars"]\n', "policy.floor.covers", "unknown region"),
    "unknown_scenario": (GOOD.replace('steps = 12', 'steps = 12\nbaseline = "nope"'),
                         "experiment.baseline", "unknown scenario 'nope'"),
    "missing_producers_file": (GOOD.replace('[experiment]', 'producers_file = "nope.csv"\n'
                                            '[experiment]'), "producers_file", "file not found"),
    "zero_steps": (GOOD.replace("steps = 12", "steps = 0"), "experiment.steps",
                   "greater than or equal to 1"),
    "bad_scenario_override": (GOOD + '\n[scenarios.x]\n"market.demand.elasticity" = 3.0\n',
                              "scenarios.x -> market.demand.elasticity", "less than 0"),
    "misspelt_required_key": (GOOD.replace("elasticity = -0.4", "elastcity = -0.4"),
                              "market.demand.elastcity", "did you mean 'elasticity'?"),
    "bad_sweep_point": (GOOD + '\n[sweep]\n[sweep.parameters]\n'
                        '"market.demand.elasticity" = [-0.5, 3.0]\n',
                        "[sweep] point 1 (market.demand.elasticity = 3) in scenario base -> "
                        "market.demand.elasticity", "less than 0"),
    "sweep_forced_on_a_scenario_without_its_table": (
        GOOD + '\n[scenarios.plain]\n[scenarios.cfd]\n"policy.floor.mechanism" = "cfd"\n'
        '"policy.floor.rule" = "cost_percentile"\n[sweep]\nscenarios = ["plain", "cfd"]\n'
        '[sweep.parameters]\n"policy.floor.percentile" = [50.0, 90.0]\n',
        "[sweep] point 0 (policy.floor.percentile = 50) in scenario plain -> "
        "policy.floor.mechanism", "required key is missing"),
    "sweep_table_in_no_scenario": (
        GOOD + '\n[sweep]\n[sweep.parameters]\n"policy.floor.percentile" = [50.0, 90.0]\n',
        "sweep.parameters.policy.floor.percentile", "applies to no scenario"),
    "unknown_headline_outcome": (GOOD + '\n[report]\nheadline = ["recycled_share", '
                                 '"price_p59"]\n', "report.headline.1",
                                 "unknown metric 'price_p59' (did you mean 'price_p95'?)"),
    "empty_headline_outcomes": (GOOD + '\n[report]\nheadline = []\n', "report.headline",
                                "at least 1 item"),
    "sweep_unknown_scenario": (
        GOOD + '\n[sweep]\nscenarios = ["nope"]\n[sweep.parameters]\n'
        '"market.demand.elasticity" = [-0.5]\n', "sweep.scenarios", "unknown scenario 'nope'"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_exits_2_names_the_key_and_writes_nothing(case, tmp_path, capsys):
    text, key, phrase = CASES[case]
    config = tmp_path / "exp.toml"
    config.write_text(text)
    out = tmp_path / "out"
    code = main(["run", str(config), "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert str(config) in err
    if key:
        assert f"'{key}'" in err
    assert phrase in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()
    assert not (tmp_path / "results").exists()


def test_malformed_toml_message_gives_the_line(tmp_path, capsys):
    config = tmp_path / "exp.toml"
    config.write_text(CASES["malformed_toml"][0])
    assert main(["validate", str(config)]) == 2
    assert "line 15" in capsys.readouterr().err


def test_unknown_key_message_lists_the_allowed_keys(tmp_path, capsys):
    config = tmp_path / "exp.toml"
    config.write_text(CASES["unknown_key"][0])
    assert main(["validate", str(config)]) == 2
    assert "allowed: reference_price" in capsys.readouterr().err


def test_missing_experiment_file_exits_2(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "nope.toml")]) == 2
    assert "file not found" in capsys.readouterr().err


def test_bad_set_override_exits_2(tmp_path, capsys):
    config = tmp_path / "exp.toml"
    config.write_text(GOOD)
    code = main(["run", str(config), "--out", str(tmp_path / "o"), "--set",
                 "market.demand.elasticity=0.5"])
    assert code == 2
    err = capsys.readouterr().err
    assert "'market.demand.elasticity'" in err
    # the bad value is the --set one: the message says so and points at no line of the file
    assert "--set" in err and "line" not in err
    assert not (tmp_path / "o").exists()


def test_validate_accepts_a_good_config(tmp_path, capsys):
    config = tmp_path / "exp.toml"
    config.write_text(GOOD)
    assert main(["validate", str(config)]) == 0
    assert "ok" in capsys.readouterr().out


def test_console_script_prints_no_traceback(tmp_path):
    config = tmp_path / "exp.toml"
    config.write_text(CASES["negative_capacity"][0])
    proc = subprocess.run([sys.executable, "-m", "abm.cli", "run", str(config), "--out",
                           str(tmp_path / "o")], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "producers.0.capacity" in proc.stderr
    assert not Path(tmp_path / "o").exists()


def test_a_misspelt_required_key_is_named_first_then_what_is_missing(tmp_path, capsys):
    config = tmp_path / "exp.toml"
    config.write_text(CASES["misspelt_required_key"][0])
    assert main(["validate", str(config)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert f"{config}, line 8: key 'market.demand.elastcity': unknown key (did you mean " \
           "'elasticity'?)" in err
    assert err.index("elastcity") < err.index("missing: required key 'market.demand.elasticity'")


@pytest.mark.parametrize("case", ["bad_sweep_point", "sweep_forced_on_a_scenario_without_its_table"])
def test_validate_checks_every_scenario_x_sweep_point(case, tmp_path, capsys):
    """`abm validate` finds what `abm run` would refuse, and the message names [sweep], the
    point and the line of the swept parameter, not the scenario's table."""
    text, key, phrase = CASES[case]
    config = tmp_path / "exp.toml"
    config.write_text(text)
    assert main(["validate", str(config)]) == 2
    err = capsys.readouterr().err
    assert f"'{key}'" in err and phrase in err and "scenarios." not in err
    line = next(i for i, t in enumerate(text.splitlines(), 1) if t.startswith('"market.demand'
                                                                             '.elasticity" = [')
                or t.startswith('"policy.floor.percentile"'))
    assert f"line {line}:" in err
