"""Each floor mechanism, the stockpile, offtake and export controls against hand-computed answers.

Two regions: Club (club member, market economy) and World (non-club). Demand per monthly step is
D(P) = q (P / 60)^-0.5 with q = share x Q_ref / 12.
"""

import numpy as np
import pytest
from helpers import run


def config(producers, club_q=30.0, world_q=40.0, steps=6, **policy):
    total = club_q + world_q
    raw = {
        "experiment": {"name": "p", "steps": steps, "seed": 1},
        "market": {"demand": {"reference_price": 60.0, "reference_quantity": total * 12,
                              "elasticity": -0.5}},
        "regions": [{"name": "Club", "club": True}, {"name": "World", "club": False}],
        "producers": [{"name": f"P{i}", "region": r, "stage": "refinery", "capacity": q * 12,
                       "unit_cost": c} for i, (r, q, c) in enumerate(producers)],
        "buyers": [{"name": "club buyers", "region": "Club", "share": club_q / total},
                   {"name": "world buyers", "region": "World", "share": world_q / total}],
    }
    if policy:
        raw["policy"] = policy
    return raw


def D(q, p):
    return q * (p / 60.0) ** -0.5


# -- minimum import price ---------------------------------------------------------------------

def test_mip_club_price_is_max_of_world_price_and_min_of_floor_and_club_autarky():
    # club: 10 t @ 70; world: 200 t @ 30. World price p* = 30. Club autarky: 60 (10/30)^-2 = 540.
    # MIP 65 -> club price = max(30, min(65, 540)) = 65; club imports D_c(65) - 0 (70 > 65).
    raw = config([("Club", 10.0, 70.0), ("World", 200.0, 30.0)],
                 floor={"mechanism": "mip", "level": 65.0})
    model = run(raw, steps=1)
    s = model.series(accounts=True)
    assert s["club_price"][0] == pytest.approx(65.0, abs=1e-9)
    assert s["price"][0] == pytest.approx(30.0, abs=1e-9)
    imports = D(30.0, 65.0)
    assert s["club_imports"][0] == pytest.approx(imports, rel=1e-9)
    duty = (65.0 - 30.0) * imports * 1000
    assert s["duties"][0] == pytest.approx(duty, rel=1e-9)
    assert s["fiscal_flow"][0] == pytest.approx(-duty, rel=1e-9)


def test_mip_club_price_stops_at_club_autarky_when_that_is_below_the_floor():
    # club: 25 t @ 20 -> autarky price 60 (25/30)^-2 = 86.4 < MIP 100 -> club price 86.4, no imports
    raw = config([("Club", 25.0, 20.0), ("World", 200.0, 30.0)],
                 floor={"mechanism": "mip", "level": 100.0})
    s = run(raw, steps=1).series()
    assert s["club_price"][0] == pytest.approx(60.0 * (25.0 / 30.0) ** -2, rel=1e-12)
    assert s["club_imports"][0] == pytest.approx(0.0, abs=1e-9)
    # the world market clears without the club: 200 t @ 30 vs D_w(30) = 56.6 -> 30
    assert s["price"][0] == pytest.approx(30.0, abs=1e-12)


def test_mip_below_the_world_price_changes_nothing():
    base = config([("Club", 10.0, 70.0), ("World", 60.0, 50.0)])
    mip = config([("Club", 10.0, 70.0), ("World", 60.0, 50.0)],
                 floor={"mechanism": "mip", "level": 20.0})
    a, b = run(base, steps=1).series(), run(mip, steps=1).series()
    assert a["price"][0] == pytest.approx(b["price"][0], rel=1e-12)
    assert b["club_price"][0] == pytest.approx(b["price"][0], rel=1e-12)


def test_mip_first_come_annual_volume_cap_raises_the_club_price_once_it_is_used_up():
    # imports of D_c(65) = 28.82 t per step fill the 120 t/yr cap in step 4 (4.71 t left); then
    # the club clears on its own 10 t @ 70 plus what the cap admits:
    # step 4: P = 60 ((10 + 4.71) / 30)^-2; step 5: no imports, P = 60 (10 / 30)^-2 = 540.
    raw = config([("Club", 10.0, 70.0), ("World", 200.0, 30.0)], steps=14,
                 floor={"mechanism": "mip", "level": 65.0, "volume_cap": 120.0,
                        "quota": "first_come"})
    s = run(raw).series()
    per_step = D(30.0, 65.0)
    np.testing.assert_allclose(s["club_imports"][:4], per_step, rtol=1e-9)
    left = 120.0 - 4 * per_step
    assert s["club_imports"][4] == pytest.approx(left, rel=1e-9)
    assert s["club_price"][4] == pytest.approx(60.0 * ((10.0 + left) / 30.0) ** -2, rel=1e-9)
    assert s["club_price"][5] == pytest.approx(540.0, rel=1e-9)
    assert s["club_imports"][5] == pytest.approx(0.0, abs=1e-9)
    # a new year opens a new quota
    assert s["club_price"][12] == pytest.approx(65.0, rel=1e-9)


def test_mip_imports_beyond_the_cap_pay_the_excess_duty_instead_of_being_barred():
    # as above with a 150% duty beyond the cap (duty-paid price 30 x 2.5 = 75 > MIP 65): steps
    # 0-3 import D_c(65) at 65; from step 4 the cap-limited price (249 with 4.71 t left) would
    # exceed 75, so imports enter at 75: D_c(75) - 10 t of own supply (70 < 75) = 16.83 t, with
    # duties (75 - 30) per tonne; a new year opens a new quota at 65
    raw = config([("Club", 10.0, 70.0), ("World", 200.0, 30.0)], steps=14,
                 floor={"mechanism": "mip", "level": 65.0, "volume_cap": 120.0,
                        "excess_duty": 1.5, "quota": "first_come"})
    s = run(raw).series(accounts=True)
    np.testing.assert_allclose(s["price"], 30.0, rtol=1e-12)
    np.testing.assert_allclose(s["club_price"][:4], 65.0, rtol=1e-12)
    np.testing.assert_allclose(s["club_price"][4:12], 75.0, rtol=1e-12)
    beyond = D(30.0, 75.0) - 10.0
    np.testing.assert_allclose(s["club_imports"][4:12], beyond, rtol=1e-9)
    assert s["duties"][5] == pytest.approx((75.0 - 30.0) * beyond * 1000.0, rel=1e-9)
    assert s["club_price"][12] == pytest.approx(65.0, rel=1e-12)


def test_a_club_without_supply_or_quota_imports_at_the_duty_paid_price_however_high():
    # no club producers, a zero quota, a 900% excess duty on a world price of 200: imports enter
    # at 2,000 (above the no-supply marker price the clearing uses internally, 1,000: found by
    # the property search), D_c(2000) of them
    raw = config([("World", 200.0, 200.0)], steps=2,
                 floor={"mechanism": "mip", "level": 20.0, "volume_cap": 0.0,
                        "excess_duty": 9.0})
    s = run(raw).series()
    np.testing.assert_allclose(s["price"], 200.0, rtol=1e-12)
    np.testing.assert_allclose(s["club_price"], 2000.0, rtol=1e-12)
    np.testing.assert_allclose(s["club_imports"], D(30.0, 2000.0), rtol=1e-9)


def test_a_duty_below_the_mip_wedge_makes_duty_paid_imports_set_the_club_price():
    # duty 50%: duty-paid imports at 45 undercut the MIP's 65 from the start, without limit
    raw = config([("Club", 10.0, 70.0), ("World", 200.0, 30.0)], steps=3,
                 floor={"mechanism": "mip", "level": 65.0, "volume_cap": 120.0,
                        "excess_duty": 0.5})
    s = run(raw).series()
    np.testing.assert_allclose(s["club_price"], 45.0, rtol=1e-12)
    np.testing.assert_allclose(s["club_imports"], D(30.0, 45.0), rtol=1e-9)


def test_cfd_minimum_ebitda_guarantee_tops_up_a_covered_producers_year_to_the_minimum():
    # covered Club producer 60 t @ 50 with fixed cost 1.2 m USD/yr; an uncovered World producer
    # sets the price at 40. CFD floor 45 (no upside share): the covered producer asks
    # 45 + (50 - 45) = 50 > 40 and sells nothing, so its EBITDA is -1.2 m USD a year; a 2 m USD/yr
    # minimum EBITDA pays 3.2 m USD at each year end (steps 11 and 23)
    raw = config([("Club", 60.0, 50.0), ("World", 200.0, 40.0)], steps=24,
                 floor={"mechanism": "cfd", "level": 45.0, "covers": ["Club"],
                        "min_ebitda": 2e6})
    raw["producers"][0]["fixed_cost"] = 1.2e6
    model = run(raw)
    s = model.series(accounts=True)
    np.testing.assert_allclose(s["price"], 40.0, rtol=1e-12)
    government = model.governments[0]
    assert government.ledger["guarantee"] == pytest.approx(2 * 3.2e6, rel=1e-9)
    assert government.ledger["topup"] == pytest.approx(0.0, abs=1e-9)
    flow = s["fiscal_flow"].to_numpy()
    np.testing.assert_allclose(flow[[11, 23]], 3.2e6, rtol=1e-9)
    assert np.abs(np.delete(flow, [11, 23])).max() <= 1e-6
    assert model.book.cash[0] == pytest.approx(2 * 2e6, rel=1e-9)   # two years at the minimum


# -- purchase floor (buffer stock) --------------------------------------------------------------

def test_purchase_floor_holds_the_price_and_stocks_supply_minus_demand_until_money_runs_out():
    # all producers covered: 150 t @ 40 in Club; D(P) = 100 (P/60)^-0.5. Undefended price 40.
    # Floor 60: stock grows by S(60) - D(60) = 150 - 100 = 50 t per step at 60 USD/kg = 3 m USD.
    # Budget 7.5 m USD: two full steps (6 m), a third step buys 25 t, then the price falls to 40.
    raw = config([("Club", 150.0, 40.0)], club_q=100.0, world_q=0.0001,
                 floor={"mechanism": "purchase", "level": 60.0, "budget": 7.5e6})
    s = run(raw, steps=5).series(accounts=True)
    np.testing.assert_allclose(s["price"][:2], 60.0, rtol=1e-9)
    # (the World region's 1e-4 t of demand shifts tonnes by about 1e-4)
    np.testing.assert_allclose(s["gov_purchases"][:2], 150.0 - D(100.0, 60.0), atol=1e-3)
    assert s["gov_purchases"][2] == pytest.approx(25.0, abs=1e-3)
    assert s["price"][2] == pytest.approx(40.0, rel=1e-9)   # the defence failed mid-step
    assert s["price"][3] == pytest.approx(40.0, rel=1e-9)
    assert s["government_stock"][4] == pytest.approx(125.0, rel=1e-9)
    assert s["fiscal_flow"].sum() == pytest.approx(7.5e6, rel=1e-6)


def test_purchase_floor_with_stock_capacity_stops_when_full():
    raw = config([("Club", 150.0, 40.0)], club_q=100.0, world_q=0.0001,
                 floor={"mechanism": "purchase", "level": 60.0, "capacity": 80.0})
    s = run(raw, steps=4).series()
    assert s["government_stock"].max() == pytest.approx(80.0, rel=1e-9)
    assert s["price"][3] == pytest.approx(40.0, rel=1e-9)


def defended_floor_with_stockpile(buy_below: float):
    """150 t @ 40 in Club, all covered by a purchase floor at 60 (D(P) = 100 (P/60)^-0.5); a
    stockpile bidding up to `buy_below` for 20 t (its capacity). Two steps; the price is held."""
    raw = config([("Club", 150.0, 40.0)], club_q=100.0, world_q=0.0001,
                 floor={"mechanism": "purchase", "level": 60.0},
                 stockpile={"buy_below": buy_below, "release_above": 500.0,
                            "target_cover": 3650.0, "capacity": 20.0, "max_rate": 1.0})
    model = run(raw, steps=2)
    s = model.series(accounts=True)
    np.testing.assert_allclose(s["price"], 60.0, rtol=1e-9)
    return model, s


def test_stockpile_bidding_above_a_defended_floor_buys_at_the_floor_beside_the_defence():
    # 150 t @ 40 in Club, all covered; D(P) = 100 (P/60)^-0.5; purchase floor 60; a stockpile
    # willing to pay up to 70 for 20 t (its capacity). Step 0: the price is held at 60, the
    # stockpile buys its 20 t there and the defence the rest of the surplus, 150 - 100 - 20 = 30 t.
    # Step 1: the stockpile is full, the defence buys 50 t.
    model, s = defended_floor_with_stockpile(buy_below=70.0)
    np.testing.assert_allclose(s["gov_purchases"], [50.0, 50.0], atol=1e-3)
    ledger = model.governments[0].ledger
    assert ledger["stockpile_purchase"] == pytest.approx(20.0 * 60.0 * 1000.0, rel=1e-4)
    assert ledger["purchase"] == pytest.approx((30.0 + 50.0) * 60.0 * 1000.0, rel=1e-4)


def test_stockpile_bidding_below_a_defended_floor_does_not_buy_while_it_holds():
    model, s = defended_floor_with_stockpile(buy_below=50.0)
    assert model.governments[0].ledger["stockpile_purchase"] == 0.0
    np.testing.assert_allclose(s["gov_purchases"], 50.0, atol=1e-3)


# -- CFD ----------------------------------------------------------------------------------------

def test_cfd_covered_capacity_sells_at_any_price_and_the_top_up_is_floor_minus_price():
    # covered Club producer 60 t @ 50; uncovered World producer 100 t @ 40; D = 100 (P/60)^-.5.
    # Without CFD: merit 100 @ 40, 60 @ 50; D(50) = 109.5 -> P = 50.
    # CFD 80: the Club producer offers at any price: 60 @ 0, 100 @ 40; D(40) = 122.5 -> P = 40.
    producers = [("Club", 60.0, 50.0), ("World", 100.0, 40.0)]
    before = run(config(producers, club_q=50.0, world_q=50.0), steps=1).series()
    assert before["price"][0] == pytest.approx(50.0)
    raw = config(producers, club_q=50.0, world_q=50.0,
                 floor={"mechanism": "cfd", "level": 80.0, "covers": ["Club"]})
    s = run(raw, steps=1).series(accounts=True)
    assert s["price"][0] == pytest.approx(40.0, abs=1e-12)
    assert s["gov_payments_to_producers"][0] == pytest.approx((80.0 - 40.0) * 60.0 * 1000)
    assert s["production_market"][0] == pytest.approx(60.0 + D(100.0, 40.0) - 60.0)


def test_cfd_upside_share_is_paid_to_the_government_above_the_floor():
    # scarce market: 30 t @ 20 (covered) -> P = 60 (30/100)^-2 = 666.7; floor 100, upside 0.3
    raw = config([("Club", 30.0, 20.0)], club_q=50.0, world_q=50.0,
                 floor={"mechanism": "cfd", "level": 100.0, "upside_share": 0.3,
                        "covers": ["Club"]})
    s = run(raw, steps=1).series(accounts=True)
    p = 60.0 * (30.0 / 100.0) ** -2
    assert s["price"][0] == pytest.approx(p)
    assert s["gov_receipts_from_producers"][0] == pytest.approx(0.3 * (p - 100.0) * 30 * 1000)
    assert s["fiscal_flow"][0] == pytest.approx(-0.3 * (p - 100.0) * 30 * 1000)


def test_cfd_quarterly_settlement_pays_against_the_period_mean_price():
    raw = config([("Club", 60.0, 50.0), ("World", 100.0, 40.0)], club_q=50.0, world_q=50.0,
                 steps=6, floor={"mechanism": "cfd", "level": 80.0, "covers": ["Club"],
                                 "settlement": 3})
    s = run(raw).series(accounts=True)
    paid = s["gov_payments_to_producers"].to_numpy()
    assert paid[0] == 0 and paid[1] == 0
    assert paid[2] == pytest.approx(3 * (80.0 - 40.0) * 60.0 * 1000)
    assert paid[5] == pytest.approx(paid[2])


def test_cfd_pays_nothing_when_the_price_is_above_the_floor_without_upside_share():
    raw = config([("Club", 30.0, 20.0)], club_q=50.0, world_q=50.0,
                 floor={"mechanism": "cfd", "level": 100.0, "covers": ["Club"]})
    s = run(raw).series()
    assert (s["fiscal_flow"] == 0).all()


# -- stockpile ------------------------------------------------------------------------------------

def stochastic(raw, **changes):
    raw["market"]["demand"].update({"shock_sd": 0.15, "shock_persistence": 0.7})
    raw["experiment"]["steps"] = 120
    raw.update(changes)
    return raw


def test_stockpile_respects_capacity_budget_and_triggers():
    raw = stochastic(config([("Club", 60.0, 45.0), ("World", 60.0, 55.0)], club_q=50.0,
                            world_q=50.0,
                            stockpile={"buy_below": 60.0, "release_above": 75.0,
                                       "target_cover": 90.0, "capacity": 120.0, "budget": 6e6,
                                       "max_rate": 0.2}))
    model = run(raw, seed=4)
    s = model.series(accounts=True)
    stock = s["government_stock"].to_numpy()
    assert (stock >= -1e-9).all()
    assert stock.max() <= 120.0 + 1e-9
    g = model.governments[0]
    assert g.ledger["stockpile_purchase"] <= 6e6 * (1 + 1e-9)
    bought = s["gov_purchases"].to_numpy() > 0
    sold = s["gov_sales"].to_numpy() > 0
    assert bought.any() and sold.any()
    # buys only when the market clears at or below its trigger (its reservation price)
    assert (s["club_price"].to_numpy()[bought] <= 60.0 + 1e-9).all()
    # sells only at or above the release price (no disruption in this run)
    assert (s["club_price"].to_numpy()[sold] >= 75.0 - 1e-9).all()


# -- export control -------------------------------------------------------------------------------

def export_control_config() -> dict:
    """World (non-market, 120 t @ 30) halves its exports from step 12 to 23; Club 20 t @ 60."""
    raw = config([("World", 120.0, 30.0), ("Club", 20.0, 60.0)], club_q=50.0, world_q=50.0,
                 steps=24)
    raw["regions"][1]["market_economy"] = False
    raw["shocks"] = [{"kind": "export_control", "region": "World", "start": 12, "duration": 12,
                      "cut": 0.5}]
    return raw


def test_export_control_lowers_the_restricting_regions_price_and_raises_the_club_price():
    s = run(export_control_config()).series()
    before, during = s.row(11, named=True), s.row(12, named=True)
    assert during["export_region_price"] < before["price"]
    assert during["club_price"] > before["club_price"]
    assert during["club_price"] - during["export_region_price"] > 0


def test_ledger_balances_fiscal_cost_equals_the_sum_of_booked_flows():
    raw = stochastic(config([("Club", 60.0, 45.0), ("World", 100.0, 35.0)], club_q=50.0,
                            world_q=50.0,
                            floor={"mechanism": "cfd", "level": 60.0, "upside_share": 0.3,
                                   "covers": ["Club"], "settlement": 3},
                            stockpile={"buy_below": 50.0, "release_above": 70.0,
                                       "holding_cost": 500.0}))
    model = run(raw, seed=2)
    m = model.metrics()
    assert m["fiscal_cost"] == pytest.approx(float(model.series()["fiscal_flow"].sum()), rel=1e-9)
    ledger = sum(g.fiscal_cost for g in model.governments)
    assert m["fiscal_cost"] == pytest.approx(ledger, rel=1e-12)


def test_purchase_floor_above_the_no_supply_price_still_holds_with_every_producer_covered():
    # tin-like: the floor (10,582 per t) is far above any ask; the market must pay the floor
    raw = config([("Club", 30000.0, 2500.0)], club_q=0.0001, world_q=20000.0, steps=2,
                 floor={"mechanism": "purchase", "level": 10582.0, "covers": ["Club"]})
    raw["market"]["demand"]["reference_price"] = 10582.0
    raw["market"]["price_unit"] = "USD/t"
    s = run(raw).series(accounts=True)
    assert s["price"][0] == pytest.approx(10582.0)
    assert s["consumption"][0] == pytest.approx(20000.0 + 0.0001, rel=1e-9)
    assert s["gov_purchases"][0] == pytest.approx(30000.0 - 20000.0001, rel=1e-9)
