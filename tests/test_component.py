"""The component stage (issue 16 part 1): component makers, buyers demanding components, the
product price from the makers' derived demand, and a component MIP: hand-computed cases."""

import copy

import numpy as np
import pytest
from helpers import run

from abm.component import product_equilibrium
from abm.errors import ConfigError
from abm.experiment import experiment_from_dict
from abm.model import MineralMarket

# Three stages, monthly steps (capacities / 12 per step), no shocks, elasticity -1:
#   mine M (China) 500 t concentrate/step at 10, market.intensity 2 t concentrate/t product;
#   refineries R1 (US) 50 t/step at 20, R2 (China) 100 t/step at 36;
#   component makers C1 (US, club) 100 t/step at conversion cost 30, C2 (China) 100 t/step at 50,
#   market.component_intensity 0.5 t product/t component;
#   buyers (half US, half China) D(Pc) = 12,480 / Pc t/step (160 t/step at 78: 1,920 t/yr).
THREE = {
    "experiment": {"name": "three", "steps": 3, "seed": 1},
    "market": {"intensity": 2.0, "component_intensity": 0.5,
               "demand": {"reference_price": 78.0, "reference_quantity": 1920.0,
                          "elasticity": -1.0}},
    "regions": [{"name": "US", "club": True}, {"name": "China", "market_economy": False}],
    "producers": [
        {"name": "M", "region": "China", "stage": "mine", "capacity": 6000.0, "unit_cost": 10.0},
        {"name": "R1", "region": "US", "stage": "refinery", "capacity": 600.0,
         "unit_cost": 20.0},
        {"name": "R2", "region": "China", "stage": "refinery", "capacity": 1200.0,
         "unit_cost": 36.0},
        {"name": "C1", "region": "US", "stage": "component", "capacity": 1200.0,
         "unit_cost": 30.0},
        {"name": "C2", "region": "China", "stage": "component", "capacity": 1200.0,
         "unit_cost": 50.0},
    ],
    "buyers": [{"name": "US buyers", "region": "US", "share": 0.5},
               {"name": "China buyers", "region": "China", "share": 0.5}],
}


def three(**changes) -> dict:
    raw = copy.deepcopy(THREE)
    for key, value in changes.items():
        raw[key] = value
    return raw


def test_three_stage_equilibrium_is_the_hand_computed_one():
    """Product chain: R1 + 2 x 10 = 40 for 50 t, R2 + 2 x 10 = 56 for 100 t (the mine has room).
    Makers ask 30 + 0.5 P and 50 + 0.5 P. At P = 40: asks 50 and 70; demand at 70 is
    12,480 / 70 = 178.3 t, C1 100 t and C2 78.3 t, derived product demand 0.5 x 178.3 = 89.1 >
    50 t on offer at 40, so P is higher. At P = 56: asks 58 and 78; demand at 78 is 160 t: C1
    100 t, C2 the marginal 60 t, Pc = 78; derived demand 0.5 x 160 = 80 t, between 50 (below 56)
    and 150 (at 56): P = 56, R1 50 t, R2 30 t. Concentrate: clip((56 - 36) / 2, 10, 10) = 10,
    the mine sells 2 x 80 = 160 t. Money per step (USD/kg x 1,000): buyers pay 78 x 160 =
    12,480k to makers; makers pay 56 x 80 = 4,480k to refiners."""
    m = run(THREE)
    s = m.series(accounts=True)
    assert s["price"].to_list() == [56.0] * 3
    assert s["component_price"].to_list() == [78.0] * 3
    assert s["club_component_price"].to_list() == [78.0] * 3
    assert s["concentrate_price"].to_list() == [10.0] * 3
    np.testing.assert_allclose(m.components.output, [100.0, 60.0], rtol=1e-12)
    np.testing.assert_allclose(m.book.output, [160.0, 50.0, 30.0], rtol=1e-12)   # M, R1, R2
    assert s["consumption"][0] == pytest.approx(160.0, rel=1e-12)
    assert s["buyer_payments"][0] == pytest.approx(12_480e3, rel=1e-12)
    assert s["component_product_payments"][0] == pytest.approx(4_480e3, rel=1e-12)
    assert s["producer_revenue"][0] == pytest.approx(4_480e3, rel=1e-12)
    # C1 makes 100 of 160 t: the club's share of component output is 0.625
    assert m.metrics()["club_component_share"] == pytest.approx(0.625, rel=1e-12)


def test_derived_product_demand_is_intensity_times_component_output():
    """With two intensities (C1 0.5 t/t, C2 0.25 t/t), the product sold is sum_i k_i q_i. In
    the base case with C2's intensity 0.25: at P = 40 C1 asks 50, C2 60; demand at 60 is 208 t
    > 200 t of room, so both sell all, derived 50 + 25 = 75 > 50 on offer at 40. At P = 56 C1
    asks 58, C2 64; demand at 64 is 195 t: C1 100, C2 the marginal 95, Pc = 64; derived
    0.5 x 100 + 0.25 x 95 = 73.75 t, between 50 and 150: P = 56. Then with demand shocks and
    growth, every step: product sold = product used = sum_i k_i q_i; components = consumption."""
    raw = three()
    raw["producers"][4]["intensity"] = 0.25
    m = run(raw)
    assert m.series()["component_price"][0] == 64.0
    np.testing.assert_allclose(m.components.output, [100.0, 95.0], rtol=1e-12)
    assert float(m.book.output[1:].sum()) == pytest.approx(73.75, rel=1e-12)
    raw["market"]["demand"].update(shock_sd=0.2, shock_persistence=0.5, growth=0.1)
    raw["experiment"]["steps"] = 24
    m = run(raw, seed=7)
    s = m.series(accounts=True)
    np.testing.assert_allclose(s["product_used"], s["production"], rtol=1e-12)
    np.testing.assert_allclose(s["component_output"], s["consumption"], rtol=1e-12)
    assert len(set(s["component_price"].to_list())) > 1     # (the shocks moved the price)


def test_a_component_mip_raises_the_club_component_price_to_the_floor():
    """C1 (club) 40 t/step, C2 200 t/step; a club component MIP at 90. Club buyers want
    6,240 / 90 = 69.33 t at 90: C1 sells its 40 t, 29.33 t are imported at the MIP. At P = 56 C2
    asks 78; world demand 6,240 / 78 = 80 t + 29.33 t of club imports = 109.33 t < 200: Pc = 78.
    Derived product demand 0.5 x (40 + 109.33) = 74.67 t, between 50 and 150: P = 56 holds (at
    P = 40: C2 asks 70, 89.14 + 29.33 = 118.5 t, derived 79.2 > 50). Duty (90 - 78) x 29.33 =
    352 (x 1,000 USD). Club share of component output 40 / 149.33 = 0.268 (0.25 without it:
    C1 40 of 160 t)."""
    raw = three()
    raw["producers"][3]["capacity"] = 480.0
    raw["producers"][4]["capacity"] = 2400.0
    base = run(raw).metrics()["club_component_share"]
    raw["policy"] = {"component_floor": {"mechanism": "mip", "level": 90.0,
                                         "stage": "component", "covers": ["US"]}}
    m = run(raw)
    s = m.series(accounts=True)
    assert s["club_component_price"].to_list() == [90.0] * 3
    assert s["component_price"].to_list() == [78.0] * 3
    assert s["price"].to_list() == [56.0] * 3
    np.testing.assert_allclose(m.components.output, [40.0, 109.0 + 1 / 3], rtol=1e-12)
    assert s["duties"][0] == pytest.approx(352e3, rel=1e-12)
    assert s["buyer_payments"][0] == pytest.approx(
        s["component_revenue"][0] + s["duties"][0], rel=1e-12)
    assert base == pytest.approx(0.25, rel=1e-12)
    assert m.metrics()["club_component_share"] == pytest.approx(40 / (149 + 1 / 3), rel=1e-12)


def test_a_component_tariff_lifts_the_club_component_price_by_the_duty():
    """As the MIP case (C1 40 t/step in the club, C2 200 t/step), a 25% club tariff on
    components: with the club importing, the club price is 1.25 x 78 = 97.5; club buyers want
    6,240 / 97.5 = 64 t, C1 sells 40, 24 t are imported; the world sells 80 + 24 = 104 t < 200
    at 78 (C2 marginal), derived product demand 0.5 x 144 = 72 t in [50, 150]: P = 56. Duty
    (97.5 - 78) x 24 = 468 (x 1,000 USD), booked by the club's government."""
    raw = three()
    raw["producers"][3]["capacity"] = 480.0
    raw["producers"][4]["capacity"] = 2400.0
    raw["policy"] = {"trade": {"stage": "component", "tariff": 0.25}}
    m = run(raw)
    s = m.series(accounts=True)
    assert s["club_component_price"][0] == pytest.approx(97.5, rel=1e-12)
    assert s["component_price"][0] == 78.0 and s["price"][0] == 56.0
    np.testing.assert_allclose(m.components.output, [40.0, 104.0], rtol=1e-12)
    assert s["duties"][0] == pytest.approx(468e3, rel=1e-12)
    assert s["fiscal_flow"][0] == pytest.approx(-468e3, rel=1e-12)


def test_scarce_product_sets_the_product_price_on_a_vertical_segment():
    """Only R1 (50 t at 40) refines, and at 40 makers want 89 t (above): product is scarce,
    P is beyond the last ask where 0.5 x q = 50, q = 100 t of components. Below P = 149.6 C2
    (ask 50 + 0.5 P < 124.8) sells too and q > 100; from 149.6 C1 alone sells its 100 t at
    Pc = 12,480 / 100 = 124.8, and goes on doing so up to P = (124.8 - 30) / 0.5 = 189.6, where
    its ask reaches Pc. Both product and C1's capacity are scarce over [149.6, 189.6]: the
    upstream stage earns the rent (as concentrate does, abm.market.concentrate_price), P = 189.6
    with C1 breaking even."""
    raw = three()
    raw["producers"] = [p for p in raw["producers"] if p["name"] != "R2"]
    m = run(raw)
    s = m.series()
    assert s["price"][0] == pytest.approx(189.6, rel=1e-12)
    assert s["component_price"][0] == pytest.approx(124.8, rel=1e-12)
    assert float(m.book.output[1]) == pytest.approx(50.0, rel=1e-12)
    np.testing.assert_allclose(m.components.output, [100.0, 0.0], atol=1e-9)


def test_a_vertical_product_segment_with_a_marginal_maker_is_the_root():
    """R1 80 t/step (chain ask 40), R2 at 60 + 2 x 10 = 80. At P = 40 makers ask 50 and 70,
    demand at 70 is 178.3 t, derived 89.1 > 80 on offer. At P = 80 they ask 70 and 90, demand
    at 90 is 138.7 t (C2 38.7 t), derived 69.3 < 80: P lies strictly between 40 and 80, where
    0.5 x 12,480 / (50 + 0.5 P) = 80 with C2 marginal: 50 + 0.5 P = 78, P = 56, Pc = 78,
    C1 100 t, C2 60 t, R1 its 80 t, R2 none."""
    raw = three()
    raw["producers"][1]["capacity"] = 960.0
    raw["producers"][2]["unit_cost"] = 60.0
    m = run(raw)
    s = m.series()
    assert s["price"][0] == pytest.approx(56.0, rel=1e-12)
    assert s["component_price"][0] == pytest.approx(78.0, rel=1e-12)
    np.testing.assert_allclose(m.components.output, [100.0, 60.0], rtol=1e-12)
    np.testing.assert_allclose(m.book.output[1:], [80.0, 0.0], rtol=1e-12, atol=1e-9)


def test_product_equilibrium_horizontal_and_beyond_the_last_ask():
    """Derived demand D(P) = 100 - P. Offers 30 t at 10 and 30 t at 50: at 10, D = 90 > 30; at
    50, D = 50 between 30 and 60: P = 50, the second offer sells 20 t. With only the first
    offer, D(P) = 30 at P = 70 (beyond the last ask)."""
    out = product_equilibrium(np.array([50.0, 10.0]), np.array([30.0, 30.0]),
                              lambda p: max(100.0 - p, 0.0))
    assert out.price == 50.0
    np.testing.assert_allclose(out.dispatched, [20.0, 30.0], rtol=1e-15)
    out = product_equilibrium(np.array([10.0]), np.array([30.0]), lambda p: max(100.0 - p, 0.0))
    assert out.price == pytest.approx(70.0, rel=1e-12)
    assert out.demand == pytest.approx(30.0, rel=1e-12)


def test_configs_without_component_makers_record_no_component_stage():
    raw = three()
    raw["producers"] = [p for p in raw["producers"] if p["stage"] != "component"]
    del raw["market"]["component_intensity"]
    m = run(raw)
    s = m.series(accounts=True)
    assert s["component_price"].null_count() == 3
    assert s["component_output"].to_list() == [0.0] * 3
    assert np.isnan(m.metrics()["club_component_share"])


@pytest.mark.parametrize("change, key", [
    ({"recyclers": [{"name": "R", "region": "US", "capacity": 10.0, "unit_cost": 1.0,
                     "scrap": 5.0}]}, "recyclers"),
    ({"policy": {"floor": {"mechanism": "purchase", "level": 50.0}}}, "policy.floor.mechanism"),
    ({"policy": {"trade": {"tariff": 0.1, "rules_of_origin": 0.5}}},
     "policy.trade.rules_of_origin"),
    ({"policy": {"trade": {"tariff": 0.1, "transshipment_cost": 2.0}}},
     "policy.trade.transshipment_cost"),
    ({"policy": {"floor": {"mechanism": "mip", "level": 50.0, "volume_cap": 100.0}}},
     "policy.floor.volume_cap"),
    ({"market": {"price_cap": 100.0, "demand": THREE["market"]["demand"]}}, "market.price_cap"),
    ({"shocks": [{"kind": "export_control", "region": "China", "start": 1, "duration": 1,
                  "cut": 0.5}]}, "shocks.0.kind"),
    ({"storage": {"enabled": True, "cost": 0.1, "rule": "rational"}}, "storage.enabled"),
    ({"regions": [{"name": "US", "club": True, "separate_market": True},
                  {"name": "China", "market_economy": False}]}, "regions"),
])
def test_what_the_component_stage_does_not_model_is_refused(change, key):
    raw = three(**change)
    with pytest.raises(ConfigError) as err:
        experiment_from_dict(raw)
    assert key in str(err.value) and "not modelled with component producers" in str(err.value)


@pytest.mark.parametrize("floor, key, words", [
    ({"mechanism": "cfd", "level": 50.0, "stage": "component"}, "policy.floor.mechanism",
     "stage = 'component' takes mechanism 'mip'"),
    ({"mechanism": "mip", "level": 50.0, "stage": "concentrate"}, "policy.floor.mechanism",
     "stage = 'concentrate' takes mechanism 'cfd'"),
    ({"mechanism": "mip", "rule": "indexed", "level": 50.0, "stage": "component"},
     "policy.floor.rule", "rule = 'fixed'"),
])
def test_floor_stage_and_mechanism_pairs_outside_the_matrix_are_refused(floor, key, words):
    with pytest.raises(ConfigError) as err:
        experiment_from_dict(three(policy={"floor": floor}))
    assert key in str(err.value) and words in str(err.value)


def test_component_trade_measures_take_a_tariff_only():
    with pytest.raises(ConfigError, match="policy.trade.rules_of_origin"):
        experiment_from_dict(three(policy={"trade": {"stage": "component", "tariff": 0.1,
                                                     "rules_of_origin": 0.5}}))
    raw = three()
    raw["producers"] = [p for p in raw["producers"] if p["stage"] != "component"]
    raw["policy"] = {"trade": {"stage": "component", "tariff": 0.1}}
    with pytest.raises(ConfigError, match="needs component producers"):
        experiment_from_dict(raw)


def test_a_component_floor_needs_component_makers_and_its_stage():
    raw = three()
    raw["producers"] = [p for p in raw["producers"] if p["stage"] != "component"]
    raw["policy"] = {"floor": {"mechanism": "mip", "level": 50.0, "stage": "component"}}
    with pytest.raises(ConfigError, match="needs component producers"):
        experiment_from_dict(raw)
    with pytest.raises(ConfigError, match="policy.component_floor.stage"):
        experiment_from_dict(three(policy={"component_floor": {"mechanism": "cfd",
                                                               "level": 50.0}}))


def test_the_composed_clearing_equals_the_derived_demand_search():
    """With one intensity and no component measure the step clears in one composed merit order
    (abm.component.composed); the derived-demand search (abm.component.product_equilibrium)
    must give the same prices and tonnes, here over 24 steps of shocked demand, outages and a
    scarce product stage in some steps."""
    raw = three()
    raw["experiment"]["steps"] = 24
    raw["market"]["demand"].update(shock_sd=0.3, shock_persistence=0.5)
    raw["outages"] = {"probability": 0.3, "duration": 2.0, "severity": 0.9}
    composed = run(raw, seed=3)
    from abm.model import MineralMarket
    searched = MineralMarket(experiment_from_dict(raw).scenario(), rng=3)
    searched.components.uniform = False          # (forces the search)
    searched.run()
    a, b = composed.series(accounts=True), searched.series(accounts=True)
    for column in ("price", "component_price", "production", "consumption", "product_used",
                   "buyer_payments", "producer_revenue", "concentrate_price"):
        np.testing.assert_allclose(a[column], b[column], rtol=1e-9, err_msg=column)
    assert len(set(a["price"].to_list())) > 1


def test_deferred_recording_of_a_three_stage_run_equals_step_by_step_recording():
    """Without mines, instruments or inventories the recorder defers its sums (abm.recorder);
    buyers then paid the component price, which the deferred sums must use."""
    raw = three()
    raw["producers"] = [p for p in raw["producers"] if p["stage"] != "mine"]
    raw["experiment"]["steps"] = 12
    raw["market"]["demand"].update(shock_sd=0.2)
    from abm.model import MineralMarket
    deferred = MineralMarket(experiment_from_dict(raw).scenario(), rng=2)
    assert deferred.recorder.defer
    stepwise = MineralMarket(experiment_from_dict(raw).scenario(), rng=2)
    stepwise.recorder.defer = False
    a, b = deferred.run().series(accounts=True), stepwise.run().series(accounts=True)
    for column in ("consumer_spend", "buyer_payments", "demand", "club_consumption"):
        np.testing.assert_allclose(a[column], b[column], rtol=1e-12, err_msg=column)


def test_downstream_floor_experiment_answers_its_question():
    """experiments/downstream_floor.toml (36 steps, seed 5): an oxide CFD leaves club magnet
    makers paying the world oxide price, so the club's share of magnet output does not move
    (0.0965 both); a club oxide MIP at 110 raises what they pay (the club oxide price) and
    moves magnet making out of the club (0.039); a club magnet MIP beside it brings most of it
    back (0.089)."""
    import abm

    exp = abm.load_experiment("experiments/downstream_floor.toml",
                              overrides={"experiment.steps": 36})
    share = {name: abm.MineralMarket(exp.scenario(name), rng=5).run().metrics()[
        "club_component_share"] for name in exp.scenario_names}
    assert abs(share["oxide_cfd"] - share["no_policy"]) < 0.005
    assert share["oxide_mip"] < share["no_policy"] - 0.03
    assert share["oxide_mip_magnet_mip"] > share["oxide_mip"] + 0.03


# Base B (findings of the issue-16c review): 2 monthly steps, component_intensity 0.5, buyers
# D(Pc) = 1,200 / 12 x 100 / Pc = 10,000 / Pc t/step; capacities below in t/yr (12 x t/step).
def base_b(producers, buyers=(("US", 0.5), ("China", 0.5)), **changes) -> dict:
    raw = {
        "experiment": {"name": "b", "steps": 2, "seed": 1},
        "market": {"component_intensity": 0.5,
                   "demand": {"reference_price": 100.0, "reference_quantity": 1200.0,
                              "elasticity": -1.0}},
        "regions": [{"name": "US", "club": True}, {"name": "China", "market_economy": False}],
        "producers": [{"name": n, "region": r, "stage": st, "capacity": 12.0 * q, "unit_cost": c}
                      for n, r, st, q, c in producers],
        "buyers": [{"name": f"{r} buyers", "region": r, "share": s} for r, s in buyers],
    }
    raw.update(changes)
    return raw


@pytest.mark.parametrize("maker_region, reliance", [("US", 0.0), ("China", 1.0)])
def test_import_reliance_with_component_makers_is_on_components(maker_region, reliance):
    """Buyers all in the US (club); R (US) 1,000 t/step at 20, C1 1,000 t/step at 30. Pc =
    30 + 0.5 x 20 = 40, buyers take 10,000 / 40 = 250 t of components, R sells 125 t of product.
    With C1 in the US the club makes all 250 t it buys: reliance (250 - 250) / 250 = 0; with C1
    in China it makes none: (250 - 0) / 250 = 1. (Product against components gave
    (250 - 125) / 250 = 0.5 in both.)"""
    m = run(base_b([("R", "US", "refinery", 1000.0, 20.0),
                    ("C1", maker_region, "component", 1000.0, 30.0)], buyers=(("US", 1.0),)))
    assert m.series()["component_price"][0] == pytest.approx(40.0, rel=1e-12)
    assert m.metrics()["import_reliance"] == pytest.approx(reliance, abs=1e-12)


def test_exporter_rent_under_a_component_undertaking_is_recorded():
    """R (China) 1,000 t/step at 20; C1 (US) 40 t/step at 30 asks 40, C2 (China) 1,000 t/step at
    50 asks 60: the world component price is 60 (C2 marginal). A club component MIP at 80 with
    rent = 'undertaking': club buyers want 5,000 / 80 = 62.5 t, C1 sells 40, 22.5 t are imported
    at 80; exporters keep (80 - 60) x 22.5 = 450 (x 1,000 USD) a step and no duty is collected.
    C2's revenue (5,000 / 60 x 60 + 22.5 x 80) x 1,000 = 6,800k a step."""
    m = run(base_b([("R", "China", "refinery", 1000.0, 20.0),
                    ("C1", "US", "component", 40.0, 30.0),
                    ("C2", "China", "component", 1000.0, 50.0)],
                   policy={"component_floor": {"mechanism": "mip", "level": 80.0,
                                               "stage": "component", "rent": "undertaking"}}))
    s = m.series(accounts=True)
    assert s["exporter_rent"].to_list() == pytest.approx([450e3] * 2, rel=1e-12)
    assert s["duties"].to_list() == [0.0, 0.0]
    assert float(m.components.revenue[1]) == pytest.approx(6_800e3, rel=1e-12)
    assert m.metrics()["exporter_rent"] == pytest.approx(900e3, rel=1e-12)


def test_random_outages_hit_component_makers():
    """[outages] probability 1 (every maker starts one in the first step), severity 0.9: C1
    (40 t/step at 30, asks 40 against Pc 60 set by C2) makes 40 x (1 - 0.9) = 4 t in step 0,
    not its 40 t."""
    m = _first_step(base_b([("R", "China", "refinery", 1000.0, 20.0),
                            ("C1", "US", "component", 40.0, 30.0),
                            ("C2", "China", "component", 1000.0, 50.0)],
                           outages={"probability": 1.0, "duration": 50.0, "severity": 0.9}))
    assert float(m.components.output[0]) == pytest.approx(4.0, rel=1e-12)


def _first_step(raw):
    from abm.model import MineralMarket
    m = MineralMarket(experiment_from_dict(raw).scenario(), rng=1)
    m.step()
    return m


@pytest.mark.parametrize("uniform", [True, False])
def test_both_stages_binding_exactly_gives_the_upstream_the_rent(uniform):
    """R (China) 50 t/step at 20, C1 (US) 100 t/step at 30 (0.5 t/t: 50 t of product). At P = 20
    C1 asks 40, buyers want 250 t, C1 makes its 100 t and buys exactly R's 50 t: both stages
    bind at once. Pc = 10,000 / 100 = 100; the scarce upstream earns the rent (docs/ODD.md
    7.18): P = (100 - 30) / 0.5 = 140, the same by the composed clearing and by the search."""
    from abm.model import MineralMarket
    raw = base_b([("R", "China", "refinery", 50.0, 20.0), ("C1", "US", "component", 100.0, 30.0)])
    m = MineralMarket(experiment_from_dict(raw).scenario(), rng=1)
    m.components.uniform = uniform
    m.step()
    assert m.price == pytest.approx(140.0, rel=1e-12)
    assert m.component_price == pytest.approx(100.0, rel=1e-12)
    assert float(m.book.output[0]) == pytest.approx(50.0, rel=1e-12)


def test_component_intensity_without_component_makers_is_refused():
    raw = three()
    raw["producers"] = [p for p in raw["producers"] if p["stage"] != "component"]
    raw["market"]["component_intensity"] = 7.0
    with pytest.raises(ConfigError) as err:
        experiment_from_dict(raw)
    assert "market.component_intensity" in str(err.value) and "has none" in str(err.value)


def test_a_component_mip_covering_a_region_outside_the_club_is_refused():
    with pytest.raises(ConfigError) as err:
        experiment_from_dict(three(policy={"component_floor": {
            "mechanism": "mip", "level": 80.0, "stage": "component", "covers": ["China"]}}))
    assert "policy.component_floor.covers" in str(err.value)
    assert "'China' is not in the club" in str(err.value) and "US" in str(err.value)


# The club's product market (abm.club_product): no mines, monthly steps, component_intensity
# 0.5 t product/t component;
#   refineries R1 (US, club) 20 t/step at 20, R2 (China) 200 t/step at 40;
#   makers C1 (US, club) 100 t/step at 30, C2 (China) 100 t/step at 50;
#   buyers (half US, half China) D(Pc) = 11,100 / Pc t/step (150 t/step at 74: 1,800 t/yr).
# Without a product measure (one market): at P = 20 the makers ask 40 and 60, buyers want
# 185 t, the makers 0.5 x 185 = 92.5 t of product > R1's 20; at P = 40 they ask 50 and 70,
# buyers want 11,100 / 70 = 158.57 t: C1 100, C2 58.57, derived demand 79.29 t in [20, 220]:
# P = 40, Pc = 70, and the club imports 0.5 x 100 - 20 = 30 t of product.
CLUB = base_b([("R1", "US", "refinery", 20.0, 20.0), ("R2", "China", "refinery", 200.0, 40.0),
               ("C1", "US", "component", 100.0, 30.0), ("C2", "China", "component", 100.0, 50.0)],
              experiment={"name": "club_product", "steps": 3, "seed": 1},
              market={"component_intensity": 0.5,
                      "demand": {"reference_price": 74.0, "reference_quantity": 1800.0,
                                 "elasticity": -1.0}})


def club(policy=None, **changes) -> dict:
    raw = copy.deepcopy(CLUB)
    raw["policy"] = policy or {}
    raw.update(changes)
    return raw


def test_without_a_product_measure_the_club_imports_product_at_the_world_price():
    m = run(club())
    s = m.series()
    assert s["price"][0] == 40.0 and s["club_price"][0] == 40.0
    assert s["component_price"][0] == 70.0
    np.testing.assert_allclose(m.components.output, [100.0, 11_100 / 70 - 100], rtol=1e-12)
    assert s["club_imports"][0] == pytest.approx(30.0, rel=1e-12)


@pytest.mark.parametrize("rent", ["duty", "undertaking"])
def test_a_product_mip_prices_club_makers_product_at_the_floor(rent):
    """A club product MIP at 88: imports into the club cost max(P_w, 88) = 88. Club market:
    R1's 20 t at 20, imports at 88. C1 asks 30 + 0.5 x 88 = 74, C2 50 + 0.5 x 40 = 70: buyers
    want 11,100 / 74 = 150 t at 74, C2 sells its 100 t, C1 the marginal 50 t (100 t without the
    MIP): Pc = 74. Club makers' derived demand 0.5 x 50 = 25 t > R1's 20 t: P_c = 88 (the import
    tranche), imports 5 t. World market: C2's 0.5 x 100 = 50 t + 5 t of imports = 55 t in
    [0, 200] at R2's ask: P_w = 40. Duty (88 - 40) x 5 = 240 (x 1,000 USD: prices in USD/kg).
    Money per step: makers pay 0.5 x 50 x 88 + 0.5 x 100 x 40 = 2,200 + 2,000 = 4,200 = R1's
    20 x 88 = 1,760 + R2's 55 x 40 = 2,200 + the duty 240. Under a price undertaking R2 keeps
    the 240 (exporter_rent; R2's revenue 2,440) and the duty is 0. Club share of magnets
    50 / 150 (100 / 158.57 without the MIP): the oxide floor moved magnet making out."""
    m = run(club({"floor": {"mechanism": "mip", "level": 88.0, "rent": rent}}))
    s = m.series(accounts=True)
    assert s["price"].to_list() == [40.0] * 3
    assert s["club_price"].to_list() == [88.0] * 3
    assert s["component_price"][0] == pytest.approx(74.0, rel=1e-12)
    np.testing.assert_allclose(m.components.output, [50.0, 100.0], rtol=1e-12)
    np.testing.assert_allclose(m.book.output, [20.0, 55.0], rtol=1e-12)
    assert s["club_imports"][0] == pytest.approx(5.0, rel=1e-12)
    assert s["component_product_payments"][0] == pytest.approx(4_200e3, rel=1e-12)
    duty, kept = (240e3, 0.0) if rent == "duty" else (0.0, 240e3)
    assert s["duties"][0] == pytest.approx(duty, rel=1e-12, abs=1e-6)
    assert s["exporter_rent"][0] == pytest.approx(kept, rel=1e-12, abs=1e-6)
    np.testing.assert_allclose(m.book.revenue, [1_760e3, 2_200e3 + kept], rtol=1e-12)
    assert s["fiscal_flow"][0] == pytest.approx(-duty, rel=1e-12, abs=1e-6)
    assert m.metrics()["club_component_share"] == pytest.approx(50 / 150, rel=1e-12)


def test_a_product_mip_the_club_no_longer_imports_under_leaves_it_in_autarky():
    """At a product MIP of 100 C1 would ask 80 with imports: buyers want 138.75 t, C1 38.75 t,
    0.5 x 38.75 = 19.4 t < R1's 20: the club imports nothing and its price is where club makers'
    derived demand takes R1's 20 t: C1 makes 40 t, buyers take 140 t at Pc = 11,100 / 140 =
    79.29 = 30 + 0.5 P_c, so P_c = 98.57 < 100, no duty; the world's P_w = 40 (50 t)."""
    m = run(club({"floor": {"mechanism": "mip", "level": 100.0}}))
    s = m.series(accounts=True)
    assert s["club_price"][0] == pytest.approx((11_100 / 140 - 30) / 0.5, rel=1e-12)
    assert s["price"][0] == 40.0 and s["duties"][0] == 0.0
    np.testing.assert_allclose(m.components.output, [40.0, 100.0], rtol=1e-12)


def test_a_product_tariff_lifts_the_club_product_price_by_the_duty():
    """A 50% club tariff on product: imports cost 1.5 x P_w = 60 at P_w = 40. C1 asks
    30 + 0.5 x 60 = 60 < C2's 70: C1 still makes its 100 t, C2 the marginal 58.57 t at Pc = 70
    (as without the tariff). Club makers want 50 t > R1's 20: P_c = 60, imports 30 t; the world
    sells 0.5 x 58.57 + 30 = 59.29 t at 40. Duty (60 - 40) x 30 = 600 (x 1,000 USD), booked by
    the club's government: no magnet making moves, the tariff is a transfer from club makers."""
    m = run(club({"trade": {"tariff": 0.5}}))
    s = m.series(accounts=True)
    assert s["price"][0] == 40.0 and s["club_price"][0] == pytest.approx(60.0, rel=1e-12)
    assert s["component_price"][0] == 70.0
    np.testing.assert_allclose(m.components.output, [100.0, 11_100 / 70 - 100], rtol=1e-12)
    np.testing.assert_allclose(m.book.output, [20.0, 0.5 * (11_100 / 70 - 100) + 30],
                               rtol=1e-12)
    assert s["duties"][0] == pytest.approx(600e3, rel=1e-12)
    assert s["fiscal_flow"][0] == pytest.approx(-600e3, rel=1e-12)


SHOCKED = {"reference_price": 74.0, "reference_quantity": 1800.0, "elasticity": -1.0,
           "shock_sd": 0.2, "shock_persistence": 0.5}


@pytest.mark.parametrize("raw", [
    club(),
    club(market={"component_intensity": 0.5, "demand": SHOCKED},
         experiment={"name": "c", "steps": 24, "seed": 3}),
    club(outages={"probability": 0.3, "duration": 2.0, "severity": 0.8},
         experiment={"name": "c", "steps": 24, "seed": 4}),
    club({"component_floor": {"mechanism": "mip", "level": 75.0, "stage": "component"}}),
    three(experiment={"name": "t", "steps": 12, "seed": 2}),
], ids=["club", "shocked", "outages", "component_mip", "three"])
def test_a_product_mip_below_the_world_price_changes_nothing(raw):
    """A product MIP at or below the world price adds nothing at the border (max(P_w, F) =
    P_w): every series but the recorded floor level is the one without it, bit for bit."""
    plain = run(raw)
    base = plain.series(accounts=True)
    level = 0.99 * float(base["price"].min())
    floored = copy.deepcopy(raw)
    floored["policy"] = {**raw.get("policy", {}),
                         "floor": {"mechanism": "mip", "level": level}}
    s = run(floored).series(accounts=True)
    assert s.drop("floor").equals(base.drop("floor"))
    # (and one just above the world price binds somewhere while the club imports)
    if float(base["club_imports"].max()) > 0:
        floored["policy"]["floor"]["level"] = 1.5 * float(base["price"].max())
        assert run(floored).series()["club_price"].max() > base["club_price"].max()


@pytest.mark.parametrize("demand", [CLUB["market"]["demand"], SHOCKED])
def test_raising_the_product_mip_never_raises_club_component_output(demand):
    """Leakage is monotone: a higher oxide MIP raises what club makers pay for product and
    never raises their output (step by step, levels 0 (none) to 300); in the unshocked case C1
    makes 100 t up to the level where its ask 30 + 0.5 F meets C2's 70 (F = 80), 50 t at 88,
    and 40 t from 98.57 on (the club in autarky, tests above)."""
    levels = [None, 30.0, 50.0, 70.0, 80.0, 85.0, 88.0, 95.0, 100.0, 150.0, 300.0]
    outputs = []
    for level in levels:
        policy = {"floor": {"mechanism": "mip", "level": level}} if level else {}
        raw = club(policy, market={"component_intensity": 0.5, "demand": demand},
                   experiment={"name": "c", "steps": 12, "seed": 5})
        outputs.append(run(raw).series()["club_component_output"].to_numpy())
    for lower, higher in zip(outputs, outputs[1:], strict=False):
        assert (higher <= lower * (1 + 1e-12) + 1e-9).all()
    assert outputs[-1].sum() < outputs[0].sum()
    if demand is CLUB["market"]["demand"]:
        assert outputs[0][0] == pytest.approx(100.0, rel=1e-12)
        assert outputs[levels.index(88.0)][0] == pytest.approx(50.0, rel=1e-12)
        assert outputs[-1][0] == pytest.approx(40.0, rel=1e-12)


def club_b(producers, policy, intensities=None) -> dict:
    """`producers` (name, region, stage, t/step, cost) in CLUB's market (D = 11,100 / Pc t/step,
    k 0.5); `intensities`: {maker name: k} for makers with their own."""
    raw = base_b(producers, market=copy.deepcopy(CLUB["market"]), policy=policy)
    for p in raw["producers"]:
        if intensities and p["name"] in intensities:
            p["intensity"] = intensities[p["name"]]
    return raw


@pytest.mark.parametrize("tariff", [0.1, 0.2])
def test_a_tariff_tie_at_the_club_refiners_ask_ships_what_the_world_has_left(tariff):
    """R1 (US) 50 t/step at 30, R2 (China) 60 t at 20; C1 (US) 200 t at 40, C2 (China) 60 t at
    30. Without the tariff P = 30: C1 asks 40 + 15 = 55, C2 45; buyers take 11,100 / 55 =
    201.82 t (C2 60, C1 141.82), 0.5 x 201.82 = 100.91 t of product in [60, 110]: R1 marginal,
    R2 sold out, the club imports 60 - 30 = 30 t. With a tariff t the club's price stays R1's
    30 and the world's rises to where the border price ties it, P_w = 30 / (1 + t) (below it
    the club would import all 70.91 t it uses, > the 30 t C2 leaves; above it R1's 50 t first,
    and R2 unsold). The tie is split by what the world can ship: imports 60 - 0.5 x 60 = 30 t,
    R1 70.91 - 30 = 40.91 t, R2 60 t; the duty (30 - P_w) x 30: 2.727 x 30 = 81.8 (t 0.1),
    5 x 30 = 150 (t 0.2), x 1,000 USD. C2 asks 30 + 0.5 P_w < 55: makers' output unchanged."""
    m = run(club_b([("R1", "US", "refinery", 50.0, 30.0), ("R2", "China", "refinery", 60.0, 20.0),
                    ("C1", "US", "component", 200.0, 40.0),
                    ("C2", "China", "component", 60.0, 30.0)], {"trade": {"tariff": tariff}}))
    s = m.series(accounts=True)
    p_w = 30.0 / (1.0 + tariff)
    assert s["price"][0] == pytest.approx(p_w, rel=1e-9)
    assert s["club_price"][0] == pytest.approx(30.0, rel=1e-12)
    np.testing.assert_allclose(m.components.output, [11_100 / 55 - 60, 60.0], rtol=1e-9)
    np.testing.assert_allclose(m.book.output, [0.5 * (11_100 / 55 - 60) - 30, 60.0], rtol=1e-9)
    assert s["club_imports"][0] == pytest.approx(30.0, rel=1e-9)
    assert s["duties"][0] == pytest.approx((30.0 - p_w) * 30 * 1e3, rel=1e-9)


def test_a_tariff_tie_never_sells_more_product_than_the_world_offers():
    """The reviewer's random case (tariff 0.4131): R1 (US) 38.12 t at 31.27, R2 (China)
    74.48 t at 21.28, R3 (China) 10.30 t at 79.47; makers C0, C1 (US), C2, C3 (China). The
    club's price stays R1's ask 31.27 and P_w = 31.27 / 1.4131 = 22.13 (< R3's ask: R3 out);
    C2 (37.93 + 0.5 x 22.13) sells its 95.42 t, so the world has 74.48 - 47.71 = 26.77 t left
    for the club, and R1 sells the rest of the club's 0.5 x (73.51 + 12.16) = 42.83 t:
    16.06 t. R2 sells its 74.48 t, not more."""
    t = 0.4130672771915438
    m = run(club_b([("R1", "US", "refinery", 38.12422100770687, 31.271130790167096),
                    ("R2", "China", "refinery", 74.47883410993639, 21.27571179416617),
                    ("R3", "China", "refinery", 10.304410102955803, 79.46745268832683),
                    ("C0", "US", "component", 83.22358519312459, 45.66241091876323),
                    ("C1", "US", "component", 12.158313689227981, 22.826288123832352),
                    ("C2", "China", "component", 95.41613464279057, 37.92961905837965),
                    ("C3", "China", "component", 48.70101632196746, 58.5660100463705)],
                   {"trade": {"tariff": t}}))
    s = m.series(accounts=True)
    q = m.components.output
    assert s["club_price"][0] == pytest.approx(31.271130790167096, rel=1e-12)
    assert s["price"][0] == pytest.approx(31.271130790167096 / (1 + t), rel=1e-9)
    assert q[2] == pytest.approx(95.41613464279057, rel=1e-12) and q[3] == 0.0
    imports = 74.47883410993639 - 0.5 * q[2]
    assert s["club_imports"][0] == pytest.approx(imports, rel=1e-9)          # 26.77 t
    np.testing.assert_allclose(m.book.output, [0.5 * (q[0] + q[1]) - imports,
                                               74.47883410993639, 0.0], rtol=1e-9, atol=1e-9)
    assert m.book.output[0] == pytest.approx(16.06, abs=0.01)


@pytest.mark.parametrize("tariff", [0.1, 0.2])
def test_a_tariff_on_all_the_worlds_product_sets_the_world_price_at_the_borders_pre_image(
        tariff):
    """R1 (US) 4 t/step at 20, R2 (China) 40 t at 40; C1 (US) 100 t at 30, C2 (China) 100 t at
    50. One market: the 44 t of product make 88 t of components at 11,100 / 88 = 126.14, C1
    alone (C2 would ask more from P > 152.27), and the scarce product earns the rent up to C1's
    break-even, P = (126.14 - 30) / 0.5 = 192.27. With a tariff the club imports all 40 t of
    world product and no outside maker buys: the club's price stays 192.27 and the world's is
    the border price's pre-image 192.27 / (1 + t) (174.79 at t 0.1, 160.23 at 0.2; C2 would
    ask 50 + 0.5 P_w > 126.14), the duty (192.27 - P_w) x 40: 699.2 and 1,281.8 (x 1,000 USD)."""
    m = run(club_b([("R1", "US", "refinery", 4.0, 20.0), ("R2", "China", "refinery", 40.0, 40.0),
                    ("C1", "US", "component", 100.0, 30.0),
                    ("C2", "China", "component", 100.0, 50.0)], {"trade": {"tariff": tariff}}))
    s = m.series(accounts=True)
    p_c = (11_100 / 88 - 30) / 0.5
    p_w = p_c / (1 + tariff)
    assert s["club_price"][0] == pytest.approx(p_c, rel=1e-9)
    assert s["price"][0] == pytest.approx(p_w, rel=1e-9)
    assert s["club_imports"][0] == pytest.approx(40.0, rel=1e-12)
    assert s["duties"][0] == pytest.approx((p_c - p_w) * 40 * 1e3, rel=1e-9)
    assert s["duties"][0] == pytest.approx({0.1: 699.2e3, 0.2: 1_281.8e3}[tariff], rel=1e-4)


@pytest.mark.parametrize("mip", [120.0, 110.0])
def test_a_tie_between_a_club_and_an_outside_maker_is_split_so_both_markets_clear(mip):
    """Intensities differ: R1 (US) 20 t/step at 20, R2 (China) 40 t at 40; C1 (US) 60 t at 30
    (k 0.3), C3 (US) 60 t at 25 (k 0.6), C2 (China) 100 t at 40 (k 0.8); a club product MIP F.
    The club imports at F, so P_c = F; C1 asks 30 + 0.3 F < the component price and makes its
    60 t; C3 (25 + 0.6 F) and C2 (40 + 0.8 P_w) tie at the component price Pc = 25 + 0.6 F, so
    P_w = (Pc - 40) / 0.8 (below it C2 takes the whole tie and the world is short, above it C3
    does and R2 is left unsold). The split q2 + q3 = 11,100 / Pc - 60 clears the world: R2's
    40 t = 0.8 q2 + imports, imports = 0.3 x 60 + 0.6 q3 - R1's 20.
    F 120: Pc 97, P_w 71.25, q2 + q3 = 54.43, 0.8 q2 + 0.6 q3 = 42: q2 46.70, q3 7.73,
    imports 2.64 t, duty (120 - 71.25) x 2.64 = 128.6 (x 1,000 USD).
    F 110: Pc 91, P_w 63.75, q2 + q3 = 61.98: q2 24.07, q3 37.91, imports 20.75 t,
    duty 46.25 x 20.75 = 959.6."""
    m = run(club_b([("R1", "US", "refinery", 20.0, 20.0), ("R2", "China", "refinery", 40.0, 40.0),
                    ("C1", "US", "component", 60.0, 30.0), ("C3", "US", "component", 60.0, 25.0),
                    ("C2", "China", "component", 100.0, 40.0)],
                   {"floor": {"mechanism": "mip", "level": mip}},
                   intensities={"C1": 0.3, "C3": 0.6, "C2": 0.8}))
    s = m.series(accounts=True)
    pc = 25 + 0.6 * mip
    p_w = (pc - 40) / 0.8
    tie = 11_100 / pc - 60
    q2 = (42 - 0.6 * tie) / 0.2
    imports = 0.3 * 60 + 0.6 * (tie - q2) - 20
    assert s["club_price"][0] == pytest.approx(mip, rel=1e-12)
    assert s["component_price"][0] == pytest.approx(pc, rel=1e-9)
    assert s["price"][0] == pytest.approx(p_w, rel=1e-9)
    np.testing.assert_allclose(m.components.output, [60.0, tie - q2, q2], rtol=1e-6)
    assert q2 == pytest.approx({120.0: 46.70, 110.0: 24.07}[mip], abs=0.01)
    np.testing.assert_allclose(m.book.output, [20.0, 40.0], rtol=1e-6)
    assert s["club_imports"][0] == pytest.approx(imports, rel=1e-6)
    assert s["duties"][0] == pytest.approx((mip - p_w) * imports * 1e3, rel=1e-6)
    assert s["duties"][0] == pytest.approx({120.0: 128.6e3, 110.0: 959.6e3}[mip], rel=1e-3)
    # tonnes and money: product sold = product used; makers' product bill = refiners + duty
    used = float((m.components.intensity * m.components.output).sum())
    assert float(m.book.output.sum()) == pytest.approx(used, rel=1e-9)
    assert s["component_product_payments"][0] == pytest.approx(
        s["producer_revenue"][0] + s["duties"][0], rel=1e-9)


@pytest.mark.parametrize("r1_ask, c2_capacity", [(20.0, 300.0), (40.0, 100.0)],
                         ids=["below_the_ask", "on_the_ask"])
def test_makers_of_different_intensities_tied_in_one_market_split_so_product_clears(
        r1_ask, c2_capacity):
    """No product measure, one market: R1 (US) 100 t/step at 20, R2 (China) 200 t at 60;
    C1 (US) 300 t at 30 (k 0.3), C2 (China) 300 t at 10 (k 0.8). Their asks cross at
    30 + 0.3 P = 10 + 0.8 P, P = 40 (ask 42): below it C2 takes the buyers' 11,100 / 42 =
    264.29 t and buys 0.8 x 264.29 = 211.4 t of product (> R1's 100), above it C1 does and
    buys 79.3 t (< 100): P = 40, and the tie is split so the makers buy R1's 100 t:
    q1 + q2 = 264.29, 0.3 q1 + 0.8 q2 = 100: q2 = (100 - 79.29) / 0.5 = 41.43, q1 = 222.86.
    On the ask: R1 at 40, C2 100 t. The tie is at R1's ask; below 40 C2 takes it up to its
    100 t, C1 the other 164.29 t: 80 + 49.29 = 129.29 t of product (> R1's 100); above 40 C1
    takes it all: 79.29 t, R1 unsold above its ask. So P = 40 again, and the component
    market's own split of the exact tie (C1 198.21, C2 66.07: 112.32 t of product, where the
    model sold R1's 100: tonnes made from nothing) is mixed so the makers buy R1's 100 t:
    the same q2 = 41.43, q1 = 222.86."""
    m = run(club_b([("R1", "US", "refinery", 100.0, r1_ask),
                    ("R2", "China", "refinery", 200.0, 60.0),
                    ("C1", "US", "component", 300.0, 30.0),
                    ("C2", "China", "component", c2_capacity, 10.0)], {},
                   intensities={"C1": 0.3, "C2": 0.8}))
    s = m.series(accounts=True)
    total = 11_100 / 42
    q2 = (100 - 0.3 * total) / 0.5
    assert s["price"][0] == pytest.approx(40.0, rel=1e-9)
    assert s["component_price"][0] == pytest.approx(42.0, rel=1e-9)
    np.testing.assert_allclose(m.components.output, [total - q2, q2], rtol=1e-6)
    assert q2 == pytest.approx(41.43, abs=0.01)
    np.testing.assert_allclose(m.book.output, [100.0, 0.0], rtol=1e-9, atol=1e-9)
    used = float((m.components.intensity * m.components.output).sum())
    assert used == pytest.approx(100.0, rel=1e-9)
    assert s["component_product_payments"][0] == pytest.approx(s["producer_revenue"][0],
                                                               rel=1e-9)


@pytest.mark.parametrize("with_makers", [True, False])
def test_a_product_mip_covering_a_region_outside_the_club_is_refused(with_makers):
    """As the component MIP: a product MIP acts at the club's border (review 16e finding 4:
    covers = ["China"] ran, at the club's border, its duty booked to a 'floor' government)."""
    raw = club({"floor": {"mechanism": "mip", "level": 84.0, "covers": ["China"]}})
    if not with_makers:
        raw["producers"] = [p for p in raw["producers"] if p["stage"] != "component"]
        del raw["market"]["component_intensity"]
    with pytest.raises(ConfigError) as err:
        experiment_from_dict(raw)
    assert "policy.floor.covers" in str(err.value)
    assert "'China' is not in the club (allowed in covers: US)" in str(err.value)


def test_a_tie_across_the_club_import_tranche_with_all_product_sold_is_split_so_product_clears():
    """A 6.25% product tariff, all product sold (the random case of the mixed-intensity
    property): R0 (US) 5 t/step at 0, R1 (China) 10 t at 20, R2 (China) 25 t at 40 (40 t);
    C3 (US) 10 t at 10 (k 0.3), C4 (US) 90 t at 10 (k 0.5), C5 (China) 10 t at 10 (k 0.8),
    C6 (China) 34 t at 60 (k 0.3). The club imports, so P_c = 1.0625 P_w; C4 (10 + 0.5 P_c)
    and C6 (60 + 0.3 P_w) tie at the component price: 0.23125 P_w = 50, P_w = 216.22,
    P_c = 229.73, Pc = 124.86; buyers take 11,100 / 124.86 = 88.90 t. C3 asks
    10 + 0.3 x 229.73 = 78.92 and makes its 10 t, C5 asks 10 + 0.8 x 216.22 = 182.97 and makes
    none. Below P_w C4 takes the whole tie, 78.90 t, and the makers want 3 + 39.45 = 42.45 t of
    the 40 t (the model sold that: tonnes made from nothing, the club's tie fell on its import
    tranche's ask); above it C6 takes 34 t and they want 3 + 22.45 + 10.2 = 35.65 t (product
    unsold above its ask). The split q4 + q6 = 78.90, 3 + 0.5 q4 + 0.3 q6 = 40: q4 =
    (37 - 0.3 x 78.90) / 0.2 = 66.66, q6 = 12.24; the club uses 3 + 33.33 = 36.33 t and imports
    31.33 t, the world's makers 3.67 t = 35 - 31.33; duty (229.73 - 216.22) x 31.33 = 423.35
    (x 1,000 USD)."""
    m = run(club_b([("R0", "US", "refinery", 5.0, 0.0), ("R1", "China", "refinery", 10.0, 20.0),
                    ("R2", "China", "refinery", 25.0, 40.0),
                    ("C3", "US", "component", 10.0, 10.0), ("C4", "US", "component", 90.0, 10.0),
                    ("C5", "China", "component", 10.0, 10.0),
                    ("C6", "China", "component", 34.0, 60.0)], {"trade": {"tariff": 0.0625}},
                   intensities={"C3": 0.3, "C4": 0.5, "C5": 0.8, "C6": 0.3}))
    s = m.series(accounts=True)
    p_w = 50 / 0.23125
    p_c = 1.0625 * p_w
    tie = 11_100 / (10 + 0.5 * p_c) - 10
    q4 = (37 - 0.3 * tie) / 0.2
    imports = 3 + 0.5 * q4 - 5
    assert s["price"][0] == pytest.approx(p_w, rel=1e-9)
    assert s["club_price"][0] == pytest.approx(p_c, rel=1e-9)
    assert s["component_price"][0] == pytest.approx(10 + 0.5 * p_c, rel=1e-9)
    np.testing.assert_allclose(m.components.output, [10.0, q4, 0.0, tie - q4], rtol=1e-6,
                               atol=1e-9)
    assert q4 == pytest.approx(66.66, abs=0.01) and tie - q4 == pytest.approx(12.24, abs=0.01)
    np.testing.assert_allclose(m.book.output, [5.0, 10.0, 25.0], rtol=1e-9)
    assert s["club_imports"][0] == pytest.approx(imports, rel=1e-6)
    assert s["duties"][0] == pytest.approx((p_c - p_w) * imports * 1e3, rel=1e-6)
    assert s["duties"][0] == pytest.approx(423.35e3, rel=1e-4)
    used = float((m.components.intensity * m.components.output).sum())
    assert float(m.book.output.sum()) == pytest.approx(used, rel=1e-9)
    assert s["component_product_payments"][0] == pytest.approx(
        s["producer_revenue"][0] + s["duties"][0], rel=1e-9)


def test_an_undertakings_rent_is_paid_once_when_a_club_maker_ties_at_the_component_mip():
    """A product MIP (100, duty) and a component MIP (24, covers US, undertaking), one monthly
    step, k = 0.5, buyers D(P) = 1,440 / P t/step each (US, China). Product: R1 (US) 12 t at
    20, R2 (China) 1,200 t at 2, so P_w = 2 and the club's border price is 100. Makers: C1 (US)
    100 t at 0, C2 (China) 300 t at 9, who asks 9 + 0.5 x 2 = 10: the world component price,
    China buyers take 144 t. Club buyers pay the MIP, 24, and take 60 t. C1 asks 0.5 P_c: below
    P_c = 48 it makes all 60 t (30 t product, more than R1's 12), above it none, so P_c = 48
    and the tie is split so C1 buys R1's 12 t: C1 makes 24 t, the club imports 36 t from C2,
    who makes 144 + 36 = 180 t. The undertaking's rent (24 - 10) x 36 = 504 is C2's, spread on
    its 180 t: 10 + 504 / 180 = 12.8 (the model spread the rent of the tie's side where the
    club imports all 60 t, 840 / 204 per t, on the 180 t: 2,541.18 for C2 where buyers paid
    2,304, and the money was 237.18 out). Money (x 1,000 USD): buyers 60 x 24 + 144 x 10 =
    2,880 = makers 24 x 24 + 180 x 12.8 = 576 + 2,304; makers pay 12 x 48 + 90 x 2 = 756 =
    refiners'; no duty (all the wedge is rent, no product imported)."""
    raw = {"experiment": {"name": "tie", "steps": 1, "seed": 1},
           "market": {"component_intensity": 0.5,
                      "demand": {"reference_price": 24.0, "reference_quantity": 1440.0,
                                 "elasticity": -1.0}},
           "regions": [{"name": "US", "club": True}, {"name": "China", "market_economy": False}],
           "producers": [
               {"name": "R1", "region": "US", "stage": "refinery", "capacity": 144.0,
                "unit_cost": 20.0},
               {"name": "R2", "region": "China", "stage": "refinery", "capacity": 14400.0,
                "unit_cost": 2.0},
               {"name": "C1", "region": "US", "stage": "component", "capacity": 1200.0,
                "unit_cost": 0.0},
               {"name": "C2", "region": "China", "stage": "component", "capacity": 3600.0,
                "unit_cost": 9.0}],
           "buyers": [{"name": "US buyers", "region": "US", "share": 0.5},
                      {"name": "China buyers", "region": "China", "share": 0.5}],
           "policy": {"floor": {"mechanism": "mip", "level": 100.0, "rent": "duty"},
                      "component_floor": {"mechanism": "mip", "stage": "component",
                                          "covers": ["US"], "level": 24.0,
                                          "rent": "undertaking"}}}
    m = run(raw)
    s = m.series(accounts=True)
    assert s["price"][0] == pytest.approx(2.0, rel=1e-9)
    assert s["club_price"][0] == pytest.approx(48.0, rel=1e-6)
    assert s["component_price"][0] == pytest.approx(10.0, rel=1e-9)
    assert s["club_component_price"][0] == pytest.approx(24.0, rel=1e-9)
    np.testing.assert_allclose(m.components.output, [24.0, 180.0], rtol=1e-6)
    np.testing.assert_allclose(m.component_outcome.offer_price, [24.0, 12.8], rtol=1e-6)
    np.testing.assert_allclose(m.components.revenue, [576e3, 2304e3], rtol=1e-6)
    assert s["exporter_rent"][0] == pytest.approx(504e3, rel=1e-6)
    assert s["duties"][0] == pytest.approx(0.0, abs=1e-6)
    assert s["buyer_payments"][0] == pytest.approx(2880e3, rel=1e-6)
    assert s["producer_revenue"][0] == pytest.approx(756e3, rel=1e-6)
    gap = float((s["buyer_payments"] + s["component_product_payments"] - s["component_revenue"]
                 - s["producer_revenue"] - s["duties"])[0])
    assert abs(gap) <= 1e-3


@pytest.mark.parametrize("rent", ["duty", "undertaking"])
def test_who_keeps_a_component_mips_wedge_does_not_move_the_product_price(rent):
    # Review rv13 G3: R (China) 50 t/step at 20, C2 (China) 100 t/step at 30, k = 0.5; buyers
    # 5,000 / Pc in the US (club, MIP 150) and China. US buyers take 5,000 / 150 = 33.33 t,
    # China's 66.67 at Pc_w = 5,000 / 66.67 = 75: C2 makes its 100 t on all of R's 50, both
    # stages bind. An extra component sells at 75, so R's product earns up to (75 - 30) / 0.5
    # = 90, whoever keeps the (150 - 75) x 33.33 = 2,500 wedge. With the undertaking's rent read
    # as C2's marginal price, (100 - 30) / 0.5 = 140 left C2 short of sales and P fell to 20.
    raw = base_b([("R", "China", "refinery", 50.0, 20.0), ("C2", "China", "component", 100.0, 30.0)],
                 policy={"component_floor": {"mechanism": "mip", "level": 150.0,
                                             "stage": "component", "rent": rent}})
    m = MineralMarket(experiment_from_dict(raw).scenario(), rng=1)
    m.step()
    assert m.price == pytest.approx(90.0, rel=1e-9)
    assert m.component_price == pytest.approx(75.0, rel=1e-9)
    wedge = m.component_outcome.exporter_rent + m.component_outcome.duties
    assert wedge == pytest.approx(2500.0, rel=1e-9)
