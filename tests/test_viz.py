"""The SolaraViz app (abm.viz, `abm viz`): its model reproduces MineralMarket, its parameters set
the config keys they name, its plots read the recorder, the page steps and resets without a
browser (skipped without the extra abm[viz]), `abm viz` reports a missing extra, and the model
core never imports the app."""

from __future__ import annotations

import ast
import copy
import math
from pathlib import Path

import pytest
from helpers import raw
from test_layout import CORE, NOT_CORE, module_name

from abm.cli import main
from abm.errors import ConfigError
from abm.experiment import experiment_from_dict, run_seed
from abm.model import MineralMarket
from abm.viz.model import VizMarket, controls_of, viz_config

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = {
    "baseline": {},
    "cfd": {"policy.floor.mechanism": "cfd", "policy.floor.rule": "cost_percentile",
            "policy.floor.upside_share": 0.3},
    "stockpile": {"policy.stockpile.buy_below": 55.0, "policy.stockpile.release_above": 70.0,
                  "policy.stockpile.target_cover": 30.0},
}


def viz_experiment(steps: int = 12):
    """tests/helpers.BASE (one US refiner at 40 USD/kg, one Chinese at 50) with three
    scenarios: no policy, a CFD at the 75th cost percentile, a stockpile."""
    data = raw(**{"experiment.steps": steps})
    data["scenarios"] = copy.deepcopy(SCENARIOS)
    return experiment_from_dict(data)


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_the_apps_model_reproduces_mineral_market_for_the_same_config_and_seed(scenario):
    exp = viz_experiment()
    viz = VizMarket(experiment=exp, scenario=scenario)
    viz.run_model()
    assert not viz.running and viz.steps == 12
    # the default seed is replication 0's, as `abm run` gives run <scenario>/p0000/r0000
    reference = MineralMarket(exp.scenario(scenario), rng=run_seed(1, 0)).run()
    assert viz.series()["price"].to_list() == reference.series()["price"].to_list()
    assert viz.series(accounts=True).equals(reference.series(accounts=True))
    got, want = viz.metrics(), reference.metrics()
    assert got.keys() == want.keys()
    # (NaN where a metric is undefined, e.g. the cost per t/yr of a run adding no capacity)
    assert all(got[k] == want[k] or (math.isnan(got[k]) and math.isnan(want[k])) for k in got)

    other = VizMarket(experiment=exp, scenario=scenario, seed="5").run()
    assert other.series().equals(MineralMarket(exp.scenario(scenario), rng=5).run().series())


def test_the_default_scenario_is_the_experiments_baseline():
    assert VizMarket(experiment=viz_experiment()).scenario == "baseline"


def test_parameters_at_the_scenarios_values_leave_the_config_as_written():
    exp = viz_experiment()
    now = controls_of(exp, "cfd")
    # the market-economy cost curve is the US refiner alone (China is non-market): its 75th
    # percentile is its unit cost, 40 USD/kg
    assert now.floor_level == 40.0 and now.mechanism == "cfd"
    assert (now.tariff, now.stockpile_size, now.demand_growth) == (0.0, None, 0.0)
    config, notes = viz_config(exp, "cfd", floor_level=now.floor_level, mechanism=now.mechanism,
                               tariff=now.tariff, demand_growth=now.demand_growth)
    assert config == exp.scenario("cfd") and notes == []
    assert config.policy.floor.rule == "cost_percentile"     # not turned into a fixed floor


def test_each_parameter_sets_the_config_key_it_names():
    exp = viz_experiment()
    fixed, _ = viz_config(exp, "cfd", floor_level=55.0)
    assert (fixed.policy.floor.rule, fixed.policy.floor.level) == ("fixed", 55.0)
    assert fixed.policy.floor.upside_share == 0.3             # the CFD's own terms stay

    mip, _ = viz_config(exp, "cfd", mechanism="mip")
    assert (mip.policy.floor.mechanism, mip.policy.floor.rule) == ("mip", "cost_percentile")
    assert mip.policy.floor.upside_share == 0.0               # a CFD term, left behind

    assert viz_config(exp, "cfd", mechanism="none")[0].policy.floor is None
    added, _ = viz_config(exp, "baseline", mechanism="purchase", floor_level=50.0)
    assert (added.policy.floor.mechanism, added.policy.floor.level) == ("purchase", 50.0)

    assert viz_config(exp, "baseline", tariff=0.25)[0].policy.trade.tariff == 0.25
    assert viz_config(exp, "stockpile", stockpile_size=90.0)[0].policy.stockpile.target_cover \
        == 90.0
    assert viz_config(exp, "baseline", demand_growth=0.06)[0].market.demand.growth == 0.06
    assert VizMarket(experiment=exp, seed=" 42 ").seed == 42


@pytest.mark.parametrize(("changes", "message"), [
    ({"mechanism": "cfd"}, "has no floor: a cfd floor needs a floor_level"),
    ({"mechanism": "auction"}, "unknown mechanism 'auction'; allowed: none, mip, purchase, cfd"),
    ({"seed": "seven"}, "must be a whole number"),
    ({"demand_growth": 3.0}, "market.demand.growth"),
])
def test_bad_parameters_are_config_errors_naming_the_key(changes, message):
    with pytest.raises(ConfigError, match=message):
        VizMarket(experiment=viz_experiment(), scenario="baseline", **changes)


def test_parameters_that_do_not_apply_to_the_scenario_are_noted():
    exp = viz_experiment()
    model = VizMarket(experiment=exp, scenario="cfd", stockpile_size=90.0)
    assert model.notes == ["stockpile size: scenario 'cfd' has no stockpile"]
    assert model.config == exp.scenario("cfd")
    level = VizMarket(experiment=exp, scenario="baseline", floor_level=50.0)
    assert level.notes == ["floor level: scenario 'baseline' has no floor (choose a mechanism)"]


def test_the_plots_read_the_recorder_not_a_datacollector():
    import mesa

    model = VizMarket(experiment=viz_experiment(), scenario="cfd")
    for _ in range(5):
        model.step()
    assert not isinstance(model.datacollector, mesa.DataCollector)
    frame = model.datacollector.get_model_vars_dataframe()
    series = model.series()
    assert list(frame.index) == [0, 1, 2, 3, 4]
    for column in ("price", "club_price", "fiscal_flow", "capacity_region__US"):
        assert frame[column].tolist() == series[column].to_list(), column
    assert model.datacollector.region_columns == {"capacity_region__US": "US",
                                                  "capacity_region__China": "China"}


# ---------------------------------------------------------------------------------------------
# the page, without a browser (the extra abm[viz])
# ---------------------------------------------------------------------------------------------


def test_the_page_steps_and_reset_rebuilds_the_model_with_the_changed_inputs():
    solara = pytest.importorskip("solara")
    v = pytest.importorskip("ipyvuetify")
    pytest.importorskip("mesa.visualization")
    from abm.viz.app import make_page

    shown, exp = solara.reactive(None), viz_experiment(steps=3)

    @solara.component
    def App():
        with solara.AppLayout():      # the sidebar (controls, inputs) needs the app layout
            make_page(exp, "cfd", model=shown)

    def texts(widget) -> list[str]:   # text in a widget tree (the plots' grid keeps `items`)
        parts = [c for c in getattr(widget, "children", ()) if isinstance(c, str)]
        for child in (*getattr(widget, "children", ()), *getattr(widget, "items", ())):
            if not isinstance(child, str):
                parts += texts(child)
        return parts

    def notes() -> str:               # the Notes component's line
        return " ".join(t for t in texts(rc.find(v.VuetifyTemplate).widget)
                        if t.startswith("Scenario"))

    _, rc = solara.render(App(), handle_error=False)
    first = shown.value
    assert isinstance(first, VizMarket) and first.steps == 0

    step = rc.find(v.Btn, children=["Step"])
    step.widget.click()
    assert shown.value is first and first.steps == 1
    assert "step 1 of 3" in notes()

    rc.find(v.Slider, label="Floor level (USD/kg)").widget.v_model = 60.0
    rc.find(v.Select, label="Floor mechanism").widget.v_model = "mip"
    rc.find(v.Slider, label="Demand growth (per year)").widget.v_model = 0.05
    rc.find(v.Btn, children=["Reset"]).widget.click()
    rebuilt = shown.value
    assert rebuilt is not first and rebuilt.steps == 0
    floor = rebuilt.config.policy.floor
    assert (floor.mechanism, floor.rule, floor.level) == ("mip", "fixed", 60.0)
    assert rebuilt.config.market.demand.growth == 0.05

    for _ in range(3):
        step.widget.click()
    assert rebuilt.steps == 3 and not rebuilt.running and "step 3 of 3 (finished)" in notes()
    assert step.widget.disabled                      # nothing left to step


def test_the_served_page_without_an_experiment_says_how_to_start_it(monkeypatch):
    solara = pytest.importorskip("solara")
    v = pytest.importorskip("ipyvuetify")
    pytest.importorskip("mesa.visualization")
    from abm.viz.app import ENV_EXPERIMENT, Page

    monkeypatch.delenv(ENV_EXPERIMENT, raising=False)
    _, rc = solara.render(Page(), handle_error=False)
    assert "abm viz EXPERIMENT.toml" in str(rc.find(v.Alert).widget.children)


# ---------------------------------------------------------------------------------------------
# `abm viz` and the layout
# ---------------------------------------------------------------------------------------------


def test_abm_viz_without_the_extra_exits_2_naming_it_and_the_pip_command(monkeypatch, capsys):
    import abm.viz.command as command

    monkeypatch.setattr(command, "missing_packages", lambda: ["solara", "ipyvuetify<3"])
    assert main(["viz", str(ROOT / "experiments" / "floor_levels.toml")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("abm viz: error: the app needs the optional extra abm[viz] "
                          "(missing: solara, ipyvuetify<3)")
    assert 'pip install "abm[viz]"' in err and "Traceback" not in err


def test_an_ipyvuetify_3_counts_as_missing(monkeypatch):
    import abm.viz.command as command

    monkeypatch.setattr(command.importlib.util, "find_spec", lambda name: object())
    monkeypatch.setattr(command, "version", lambda name: "3.1.0")
    assert command.missing_packages() == ["ipyvuetify<3 (3.x is installed)"]


@pytest.mark.parametrize(("args", "message"), [
    (["nope.toml"], "nope.toml: file not found"),
    ([str(ROOT / "experiments" / "floor_levels.toml"), "--scenario", "x"],
     "unknown scenario 'x'; allowed: base, baseline, cfd"),
])
def test_abm_viz_with_bad_input_exits_2_with_one_message(args, message, monkeypatch, capsys):
    import abm.viz.command as command

    monkeypatch.setattr(command, "missing_packages", lambda: [])
    monkeypatch.setattr(command.subprocess, "call", lambda *a, **k: pytest.fail("served"))
    assert main(["viz", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


APP_MODULES = ("abm.viz", "solara", "mesa.visualization", "ipyvuetify", "reacton")


def test_the_model_core_and_the_apps_model_never_import_the_app():
    """Nor does the CLI (tests/test_cli.py: `abm --help` imports no solara)."""
    found = []
    paths = sorted({p for pattern in CORE for p in ROOT.glob(pattern)})
    core = [p for p in paths if module_name(p) not in NOT_CORE]
    assert len(core) > 20
    for path in [*core, ROOT / "abm/viz/model.py", ROOT / "abm/viz/command.py"]:
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            found += [f"{path.name}: {n}" for n in names if n.startswith(APP_MODULES)]
    assert found == []

