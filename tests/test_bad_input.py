"""Bad input: exit code 2, one clear message naming the file and key, no traceback, nothing written."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from abm.cli import main
from abm.experiment import load_experiment
from tests.bad_input_sweep import CASES as SWEEP_CASES
from tests.bad_input_sweep import GOOD, WITH_CSV, problems, write_case, written
from tests.bad_input_sweep import HEADER as CSV_HEADER
from tests.test_regional import ROUTE, TWO

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
    "product_mip_covering_a_non_club_region": (
        GOOD + '\n[[regions]]\nname = "China"\n\n[policy.floor]\nmechanism = "mip"\n'
        'level = 80.0\ncovers = ["China"]\n', "policy.floor.covers",
        "'China' is not in the club (allowed in covers: US)"),
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
    # separate markets and trade costs (issue 16 part 4; tests/test_regional.py)
    "trade_cost_unknown_region": (TWO + ROUTE.format(a="EU", b="Mars", c=2.0),
                                  "trade_costs.0.to", "unknown region 'Mars'; allowed: EU, US"),
    "trade_cost_negative": (TWO + ROUTE.format(a="EU", b="US", c=-1.0), "trade_costs.0.cost",
                            "greater than or equal to 0"),
    "trade_cost_duplicate_route": (TWO + ROUTE.format(a="EU", b="US", c=2.0)
                                   + ROUTE.format(a="EU", b="US", c=3.0), "trade_costs.1.to",
                                   "duplicate route 'EU' -> 'US' (also trade_costs.0"),
    "trade_cost_without_separate_end": (
        GOOD.replace('club = true\n', 'club = true\n\n[[regions]]\nname = "EU"\n', 1)
        + ROUTE.format(a="EU", b="US", c=2.0), "trade_costs",
        "need a region with separate_market = true"),
    "every_region_separate": (TWO.replace('club = true\n', 'separate_market = true\n', 1),
                              "regions", "at least one region left in the world market"),
    "separate_club_region_behind_a_tariff": (
        TWO.replace('name = "EU"\n', 'name = "EU"\nclub = true\n')
        + "\n[policy.trade]\ntariff = 0.2\n", "regions.1.separate_market",
        "cannot be a separate market while the club has a border"),
    # the route's keys are from, to, cost: `origin` is the field's Python name (finding 5)
    "trade_cost_extra_key": (TWO + ROUTE.format(a="EU", b="US", c=2.0) + 'via = "X"\n',
                             "trade_costs.0.via", "unknown key; allowed: from, to, cost"),
    "trade_cost_origin_key": (TWO + ROUTE.format(a="EU", b="US", c=2.0).replace(
        "from =", "origin ="), "trade_costs.0.origin", "unknown key (did you mean 'from'?)"),
    "trade_cost_from_a_region_to_itself": (TWO + ROUTE.format(a="EU", b="EU", c=2.0),
                                           "trade_costs.0.to", "starts and ends in the same"),
    # an empty covers is the club's regions, EU among them (review finding 4)
    "open_market_buffer_stock_covering_the_clubs_separate_market": (
        TWO.replace('name = "EU"\n', 'name = "EU"\nclub = true\n')
        + '\n[policy.floor]\nmechanism = "purchase"\nlevel = 90.0\nbuy_from = "any"\n',
        "policy.floor.covers", "cannot cover 'EU', a separate market"),
    "concentrate_control_by_a_region_without_mines": (
        GOOD + '\n[[shocks]]\nkind = "export_control"\nregion = "US"\nstart = 2\nduration = 3\n'
        'cut = 0.5\nstage = "concentrate"\n', "shocks.0.region", "'US' has no mines"),
    "front_run_on_a_concentrate_control": (
        GOOD + '\n[[shocks]]\nkind = "export_control"\nregion = "US"\nstart = 2\nduration = 3\n'
        'cut = 0.5\nstage = "concentrate"\nannounce = 1\nfront_run = 0.5\n',
        "shocks.0.front_run", "allows front_run = 0"),
    "concentrate_control_with_rules_of_origin": (
        GOOD + '\n[[producers]]\nname = "M"\nregion = "US"\nstage = "mine"\ncapacity = 900\n'
        'unit_cost = 5.0\n[policy.trade]\nrules_of_origin = 0.5\n[[shocks]]\n'
        'kind = "export_control"\nregion = "US"\nstart = 2\nduration = 3\ncut = 0.5\n'
        'stage = "concentrate"\n', "shocks.0.stage", "not modelled with rules of origin"),
    # two controls by one region at one stage in force together (review 15e finding 6)
    "overlapping_export_controls_of_one_region": (
        GOOD + '\n[[shocks]]\nkind = "export_control"\nregion = "US"\nstart = 2\nduration = 3\n'
        'cut = 0.9\n[[shocks]]\nkind = "export_control"\nregion = "US"\nstart = 4\n'
        'duration = 3\ncut = 0.1\n', "shocks.1.start", "overlaps shocks[0]"),
    # foresight "uncertain" and its lift_hazard ([storage]; tests/test_stockholders.py)
    "lift_hazard_above_one": (GOOD + '\n[storage]\nenabled = true\ninterest = 0.01\n'
                              'foresight = "uncertain"\nlift_hazard = 1.5\n',
                              "storage.lift_hazard", "less than or equal to 1"),
    "lift_hazard_negative": (GOOD + '\n[storage]\nenabled = true\ninterest = 0.01\n'
                             'foresight = "uncertain"\nlift_hazard = -0.1\n',
                             "storage.lift_hazard", "greater than or equal to 0"),
    "lift_hazard_without_uncertain_foresight": (
        GOOD + '\n[storage]\nenabled = true\ninterest = 0.01\nforesight = "full"\n'
        'lift_hazard = 0.1\n', "storage.lift_hazard",
        "lift_hazard is read only under foresight = 'uncertain' (this is foresight = 'full')"),
    "unknown_foresight": (GOOD + '\n[storage]\nenabled = true\ninterest = 0.01\n'
                          'foresight = "sure"\n', "storage.foresight",
                          "'exit', 'full' or 'uncertain'"),
    "stage_on_a_supply_outage": (
        GOOD + '\n[[shocks]]\nkind = "supply_outage"\nregion = "US"\nstart = 2\nduration = 3\n'
        'cut = 0.5\nstage = "concentrate"\n', "shocks.0.stage", "applies to an export_control"),
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


# --------------------------------------------------------------------------------------------------
# issue 18, items 9-16: the sweep of bad inputs (tests/bad_input_sweep.py) and one test per item
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SWEEP_CASES))
def test_every_bad_input_of_the_sweep_meets_the_contract(name, tmp_path, monkeypatch, capsys):
    """Exit 2, one line naming the file, the key and what is allowed, no traceback, nothing
    written (the FIFO cases would hang a reader that opened them: they are refused first)."""
    case = SWEEP_CASES[name]
    write_case(case, tmp_path)
    monkeypatch.chdir(tmp_path)
    code = main(list(case.argv))
    err = capsys.readouterr().err
    assert problems(case, code, err, written(case, tmp_path)) == [], err


def test_the_sweep_covers_every_item_with_at_least_40_cases():
    assert len(SWEEP_CASES) >= 40
    assert {c.item for c in SWEEP_CASES.values()} == set(range(9, 17))


def test_a_thousands_separator_in_a_producers_csv_names_the_csv_line_and_column_count(
        tmp_path, capsys):
    """`35,000` unquoted is two fields: the row has 6 fields under a 5-column header. Before,
    polars' message named the experiment file, neither the CSV line nor the counts (and the
    issue saw a CSV whose columns shifted into a run with a wrong price)."""
    (tmp_path / "exp.toml").write_text(WITH_CSV)
    (tmp_path / "p.csv").write_text(CSV_HEADER + "C,US,refinery,10,40\nD,US,refinery,35,000,45\n")
    out = tmp_path / "out"
    assert main(["run", str(tmp_path / "exp.toml"), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'p.csv'}, line 3: row has 6 fields but the header has 5 columns" in err
    assert "exp.toml" not in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_a_producers_csv_with_a_byte_order_mark_reads_like_one_without(tmp_path):
    """Excel's "CSV UTF-8" starts with EF BB BF: the first column is still `name`."""
    (tmp_path / "exp.toml").write_text(WITH_CSV)
    rows = CSV_HEADER + "C,US,refinery,35000,45\n"
    configs = []
    for data in (rows.encode(), b"\xef\xbb\xbf" + rows.encode()):
        (tmp_path / "p.csv").write_bytes(data)
        configs.append(load_experiment(tmp_path / "exp.toml").config.producers)
    assert configs[0] == configs[1]
    assert (configs[1][1].name, configs[1][1].capacity, configs[1][1].unit_cost) == (
        "C", 35000.0, 45.0)


def _float_fields() -> list[tuple[type, str]]:
    """Every float field of every table of the schema."""
    import typing

    from pydantic import BaseModel

    from abm.config import ExperimentConfig
    from abm.schema import model_in

    seen, todo, found = set(), [ExperimentConfig], []
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, info in model.model_fields.items():
            inner = model_in(info.annotation)
            if inner is not None and issubclass(inner, BaseModel):
                todo.append(inner)
            if float in typing.get_args(info.annotation) or info.annotation is float:
                found.append((model, name))
    return found


def test_infinite_and_nan_values_are_refused_in_every_float_of_the_schema():
    """No float field allows inf or nan (none says why infinity would mean something): each
    one, given inf or nan, gives pydantic's finite_number error at that key."""
    from pydantic import ValidationError

    fields = _float_fields()
    assert len(fields) > 60   # the walk reaches every table (demand, producers, policies, ...)
    for model, name in fields:
        for value in (float("inf"), float("-inf"), float("nan")):
            with pytest.raises(ValidationError) as caught:
                model.model_validate({name: value})
            kinds = {e["type"] for e in caught.value.errors() if e["loc"] == (name,)}
            assert kinds == {"finite_number"}, (model.__name__, name, value)


def test_toml_values_are_strict_and_set_values_are_parsed_as_toml(tmp_path, capsys):
    """In the file, "30000" is text and "yes" no boolean; from --set, 30000 and true are TOML
    values (an integer where a float is expected is fine)."""
    config = tmp_path / "exp.toml"
    config.write_text(GOOD)
    assert main(["validate", str(config), "--set", "producers.0.capacity=30000", "--set",
                 "regions.0.club=false"]) == 0
    exp = load_experiment(config, {"producers.0.capacity": 30000, "regions.0.club": False})
    assert exp.config.producers[0].capacity == 30000.0 and not exp.config.regions[0].club
    config.write_text(GOOD.replace("capacity = 2000", 'capacity = "30000"'))
    assert main(["validate", str(config)]) == 2
    assert "key 'producers.0.capacity': Input should be a valid number (got '30000': text in " \
           "quotes; write the number without quotes)" in capsys.readouterr().err


def test_duplicate_names_of_plants_and_buyers_are_refused(tmp_path, capsys):
    """A recycler named like a producer shares its name in the one book of plants."""
    config = tmp_path / "exp.toml"
    config.write_text(GOOD + '\n[[recyclers]]\nname = "A"\nregion = "US"\ncapacity = 100\n'
                      'unit_cost = 30.0\nscrap = 50\n')
    assert main(["run", str(config), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "key 'recyclers.0.name': duplicate name 'A' (also producers.0); producer, recycler " \
           "and project names must be unique" in err
    assert not (tmp_path / "o").exists()


def test_a_preset_is_named_never_a_path(tmp_path, capsys):
    """An absolute path joined to the preset folder is that path: before, any TOML file there
    loaded as a preset; now only the names in abm/data/minerals are allowed."""
    (tmp_path / "evil.toml").write_text(GOOD.split("[[regions]]")[1].join(["[[regions]]", ""]))
    config = tmp_path / "exp.toml"
    config.write_text(GOOD.replace("steps = 12", f'steps = 12\nmineral = "{tmp_path / "evil"}"'))
    assert main(["validate", str(config)]) == 2
    err = capsys.readouterr().err
    assert "key 'experiment.mineral': unknown mineral preset" in err
    assert "allowed: cobalt, gallium, graphite, lithium, ndpr" in err


def test_a_fifo_is_refused_before_it_is_opened(tmp_path):
    """Opening a FIFO blocks until a writer comes: the command must end at once (the timeout
    fails the test instead of hanging the suite)."""
    os.mkfifo(tmp_path / "exp.toml")
    here = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}   # this checkout's abm
    proc = subprocess.run([sys.executable, "-m", "abm", "validate", "exp.toml"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, env=here)
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("abm validate: error: exp.toml: is not a regular file (a "
                                   "pipe, socket or device), expected a TOML file")


def test_a_misspelt_column_of_a_csv_is_named_first_with_the_closest(tmp_path, capsys):
    (tmp_path / "exp.toml").write_text(WITH_CSV)
    (tmp_path / "p.csv").write_text("name,region,stage,capcity,unit_cost\nC,US,refinery,5,4\n")
    assert main(["validate", str(tmp_path / "exp.toml")]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'p.csv'}, line 2: key 'capcity': unknown key (did you mean " \
           "'capacity'?)" in err
    assert err.index("capcity") < err.index("also missing: required key 'capacity'")
