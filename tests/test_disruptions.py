"""Disruptions at realistic magnitudes (issue 15), against hand-computed answers.

Two regions as in tests/test_policies.py: demand per monthly step D(P) = q (P / 60)^-0.5, so the
price at which buyers of scale q take Q is P = 60 (Q / q)^-2.
"""

import numpy as np
import pytest
from helpers import run
from test_policies import config


def controlled(cut: float, licence_flow: float, licence_delay: int = 1):
    # World 120 t @ 30 (non-market), Club 20 t @ 60, club and world buyers q = 50 each. Free
    # trade at step 0: P = 60 (120/100)^-2 = 41.67 and World exports 60 t (tests of issue 13).
    raw = config([("World", 120.0, 30.0), ("Club", 20.0, 60.0)], club_q=50.0, world_q=50.0,
                 steps=3)
    raw["regions"][1]["market_economy"] = False
    raw["shocks"] = [{"kind": "export_control", "region": "World", "start": 0, "duration": 3,
                      "cut": cut, "licence_delay": licence_delay, "licence_flow": licence_flow}]
    return run(raw).series()


@pytest.mark.parametrize("licence_flow, first", [
    (0.0, 60.0 * (20.0 / 50.0) ** -2),            # no licences yet: the club has its own 20 t
    (0.5, 60.0 * ((20.0 + 12.0) / 50.0) ** -2),   # half of the allowed 0.4 x 60 = 24 t flows
    (1.0, 60.0 * ((20.0 + 24.0) / 50.0) ** -2),   # every allowed tonne flows: as after the delay
])
def test_licence_flow_lets_a_share_of_the_allowed_exports_through_the_licence_delay(
        licence_flow, first):
    s = controlled(cut=0.6, licence_flow=licence_flow)
    # after the delay: exports capped at 24 t, P = 60 (44/50)^-2 = 77.48
    np.testing.assert_allclose(s["price"], [first, 77.48, 77.48], rtol=1e-3)


def test_licensing_months_scale_with_the_cut():
    # licence_flow 0.5: cut 0.2 lets 0.5 x 0.8 x 60 = 24 t through (P = 77.48), cut 0.6 lets
    # 12 t (P = 146.5): a milder control is milder in its licensing months too
    mild, harsh = (controlled(cut, 0.5)["price"].to_numpy()[0] for cut in (0.2, 0.6))
    np.testing.assert_allclose([mild, harsh], [60.0 * (44 / 50) ** -2, 60.0 * (32 / 50) ** -2],
                               rtol=1e-9)


def test_a_cut_of_0_with_every_licence_flowing_withholds_nothing():
    plain = run(config([("World", 120.0, 30.0), ("Club", 20.0, 60.0)], club_q=50.0,
                       world_q=50.0, steps=3)).series()
    s = controlled(cut=0.0, licence_flow=1.0)
    np.testing.assert_allclose(s["price"], plain["price"], rtol=1e-12)


# -- demand that adjusts and substitutes (item 1) ------------------------------------------------

def flat_price_market(steps: int = 8, **demand):
    # one producer with ample capacity at 120 sets the price every step (a horizontal segment);
    # q = 100 a step at the reference price 60, short-run elasticity -0.5
    raw = config([("Club", 1e4, 120.0)], club_q=50.0, world_q=50.0, steps=steps)
    raw["market"]["demand"].update(demand)
    return run(raw).series()


def test_demand_moves_toward_the_long_run_curve_by_partial_adjustment():
    # log m_t moves lambda = 0.25 of the way to (eps_L - eps_S) log(P / P_ref) each step, from
    # m_0 = 1 (step 0 answers the reference price): log m_t = g (1 - 0.75^t), g = -0.5 log 2
    s = flat_price_market(long_run_elasticity=-1.0, adjustment_speed=0.25)
    t = np.arange(8)
    gap = (-1.0 + 0.5) * np.log(120.0 / 60.0)
    expected = 100.0 * 2.0 ** -0.5 * np.exp(gap * (1 - 0.75 ** t))
    np.testing.assert_allclose(s["consumption"], expected, rtol=1e-12)
    # toward the long-run demand 100 x 2^-1 = 50
    long = flat_price_market(steps=200, long_run_elasticity=-1.0, adjustment_speed=0.25)
    assert long["consumption"][-1] == pytest.approx(50.0, rel=1e-9)


def test_above_the_backstop_price_a_share_of_demand_switches_away_over_months():
    # backstop 80, share 0.3, elasticity 2, ramp 4 steps: at 120 the share switched tends to
    # 0.3 (1 - (80/120)^2) = 0.1667, closing a quarter of the gap a step from 0 at step 0
    s = flat_price_market(backstop_price=80.0, backstop_share=0.3, backstop_elasticity=2.0,
                          backstop_ramp=4.0)
    t = np.arange(8)
    switched = 0.3 * (1 - (80.0 / 120.0) ** 2) * (1 - 0.75 ** t)
    np.testing.assert_allclose(s["consumption"], 100.0 * 2.0 ** -0.5 * (1 - switched),
                               rtol=1e-12)
    np.testing.assert_allclose(s["demand"], s["consumption"], rtol=1e-12)


def test_a_backstop_above_every_price_reached_changes_nothing():
    plain = flat_price_market()
    s = flat_price_market(backstop_price=500.0, backstop_share=0.5)
    np.testing.assert_allclose(s["consumption"], plain["consumption"], rtol=0)
    np.testing.assert_allclose(s["price"], plain["price"], rtol=0)


# -- a state producer that responds (item 3) ----------------------------------------------------

def test_a_production_quota_cuts_state_output_when_the_home_price_is_below_its_level():
    # World (state-directed) 200 t @ 30, club buyers and world buyers q = 50 each. Step 0:
    # D(100, 30) = 141.4 < 200 -> P = 30. Quota at 50, elasticity 1: step 1 produces
    # (30/50) x 200 = 120 t < 141.4 -> P = 60 (120/100)^-2 = 41.67; step 2: (41.67/50) x 200 =
    # 166.7 t > 141.4 -> P = 30 again (the quota answers last step's price: a cobweb)
    raw = config([("World", 200.0, 30.0), ("Club", 0.0, 90.0)], club_q=50.0, world_q=50.0,
                 steps=4)
    raw["regions"][1]["market_economy"] = False
    raw["nonmarket"] = {"quota_price": 50.0, "quota_elasticity": 1.0, "quota_min_share": 0.2}
    s = run(raw).series()
    high = 60.0 * (120.0 / 100.0) ** -2
    np.testing.assert_allclose(s["price"], [30.0, high, 30.0, high], rtol=1e-12)
    # the least share binds: min share 0.7 keeps 140 t, P = 60 (140/100)^-2 = 30.61
    raw["nonmarket"]["quota_min_share"] = 0.7
    s = run(raw).series()
    assert s["price"][1] == pytest.approx(60.0 * 1.4 ** -2, rel=1e-12)


def test_a_quota_adjusting_part_of_the_way_each_step_damps_the_cobweb():
    # as above with quota_adjustment 0.5: step 1 the target is 30/50 = 0.6, the quota moves half
    # way from 1 to 0.8 -> 160 t > 141.4 -> P = 30; step 2 target 0.6 again -> 0.7 -> 140 t <
    # 141.4 -> P = 60 (140/100)^-2 = 30.61; step 3 target 30.61/50 = 0.612 -> quota
    # (0.7 + 0.612) / 2 = 0.656 -> 131.2 t -> P = 60 (1.312)^-2 = 34.86: the price settles
    # instead of jumping between 30 and 41.67
    raw = config([("World", 200.0, 30.0), ("Club", 0.0, 90.0)], club_q=50.0, world_q=50.0,
                 steps=4)
    raw["regions"][1]["market_economy"] = False
    raw["nonmarket"] = {"quota_price": 50.0, "quota_elasticity": 1.0, "quota_min_share": 0.2,
                        "quota_adjustment": 0.5}
    s = run(raw).series()
    p2 = 60.0 * 1.4 ** -2
    q3 = (0.7 + p2 / 50.0) / 2
    np.testing.assert_allclose(s["price"], [30.0, 30.0, p2, 60.0 * (2 * q3) ** -2], rtol=1e-12)


def test_a_quota_level_below_every_price_changes_nothing():
    raw = config([("World", 200.0, 30.0), ("Club", 0.0, 90.0)], club_q=50.0, world_q=50.0,
                 steps=4)
    raw["regions"][1]["market_economy"] = False
    plain = run(raw).series()
    raw["nonmarket"] = {"quota_price": 10.0}
    np.testing.assert_allclose(run(raw).series()["price"], plain["price"], rtol=0)


def test_importers_use_the_stock_they_bought_ahead_in_place_of_the_withheld_exports():
    # World (state) 120 t @ 30 exports 60 t a step at P = 41.67 (step 0). Announced at step 1,
    # in force from step 2 with cut 0.5: normal exports 60 t, so 30 t are withheld a step.
    # Step 1: importers buy front_run 0.5 x their 60 t ahead: demand 100 (P/60)^-0.5 + 30 meets
    # 120 t at 30 and the club's 20 t at 60 -> P = 60 (130 t < 140 t). Step 2: 30 t of exports
    # and the 30 t bought ahead: the club again has 60 t, P = 60 (60/50)^-2 = 41.67. Step 3: the
    # stock is used up: 30 t of imports and the club's 20 t at 60 -> P = 60 (50 t at 60).
    raw = config([("World", 120.0, 30.0), ("Club", 20.0, 60.0)], club_q=50.0, world_q=50.0,
                 steps=5)
    raw["regions"][1]["market_economy"] = False
    raw["shocks"] = [{"kind": "export_control", "region": "World", "announce": 1, "start": 2,
                      "duration": 4, "cut": 0.5, "front_run": 0.5}]
    s = run(raw).series()
    np.testing.assert_allclose(s["price"][:4], [60.0 * 1.2 ** -2, 60.0, 60.0 * 1.2 ** -2, 60.0],
                               rtol=1e-9)
