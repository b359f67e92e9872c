"""Export controls at the concentrate stage (`[[shocks]] stage = "concentrate"`, issue 15),
against hand-computed cases.

MINELAND: intensity k = 1, monthly steps, no shocks. Demand 12,000 t/yr at 60 (1,000 t/step),
elasticity -0.5, all of it in the EU: P = 60 (Q / 1000)^-2. Mines: DRC 10 (9,600 t/yr = 800
t/step; the DRC has no refinery), EU 40 (2,400 t/yr = 200 t/step); refinery: EU 10 (1e6 t/yr).
Free trade: the chain offers 800 t at 10 + 10 = 20 and 200 t at 10 + 40 = 50; at 50 buyers want
1000 (50/60)^-0.5 = 1,095 t > 1,000, so the market clears on the vertical at Q = 1,000, P = 60,
and the DRC ships all its 800 t of concentrate to the EU refinery.
"""

import copy

import numpy as np
import pytest
from helpers import run

MINELAND = {
    "experiment": {"name": "cc", "steps": 6, "seed": 1},
    "market": {"intensity": 1.0, "demand": {"reference_price": 60.0,
                                            "reference_quantity": 12000.0, "elasticity": -0.5}},
    "regions": [{"name": "EU", "club": True}, {"name": "DRC"}],
    "producers": [
        {"name": "Mine DRC", "region": "DRC", "stage": "mine", "capacity": 9600.0,
         "unit_cost": 10.0},
        {"name": "Mine EU", "region": "EU", "stage": "mine", "capacity": 2400.0,
         "unit_cost": 40.0},
        {"name": "Ref EU", "region": "EU", "stage": "refinery", "capacity": 1e6,
         "unit_cost": 10.0},
    ],
    "buyers": [{"name": "EU buyers", "region": "EU", "share": 1.0}],
}
MINE_DRC = 0


def controlled(cut: float | None, stage: str = "concentrate", **changes) -> dict:
    """MINELAND with the DRC's control in force in steps 2..4 (normal exports: the mean of steps
    0 and 1, 800 t/step), or none (cut None)."""
    raw = copy.deepcopy(MINELAND)
    if cut is not None:
        raw["shocks"] = [{"kind": "export_control", "region": "DRC", "start": 2,
                          "duration": 3, "cut": cut, "stage": stage}]
    for key, value in changes.items():
        raw["market"][key] = value
    return raw


def test_a_mine_only_regions_concentrate_ban_raises_the_product_price_by_hand():
    """Cut 0.5: the DRC ships 0.5 x 800 = 400 t/step; the chain offers 400 t at 20 and 200 t at
    50, buyers want 1,095 t at 50, so P = 60 (600 / 1000)^-2 = 166.67 on the vertical. The
    concentrate price is (P - c_r) / k = 156.67 (no spare concentrate: the DRC's quota and the
    EU mine are used up); the DRC's other 400 t go unsold (not mined): its revenue is 400 x
    156.67 against 800 x 50 under free trade (p_c = (60 - 10) / 1 = 50)."""
    model = run(controlled(0.5))
    s = model.series()
    high = 60.0 * (600.0 / 1000.0) ** -2
    np.testing.assert_allclose(s["price"], [60.0, 60.0, high, high, high, 60.0], rtol=1e-9)
    np.testing.assert_allclose(s["concentrate_price"],
                               [50.0, 50.0, high - 10, high - 10, high - 10, 50.0], rtol=1e-9)
    control = next(p for p in model.policies if p.name == "export_control")
    np.testing.assert_allclose(control.shipped, [800, 800, 400, 400, 400, 800], rtol=1e-12)
    assert model.book.output[MINE_DRC] == pytest.approx(800.0)   # step 5: the control is over
    ctl = run(controlled(0.5), steps=3)
    assert ctl.book.output[MINE_DRC] == pytest.approx(400.0)
    assert ctl.book.revenue[MINE_DRC] == pytest.approx(
        400.0 * (high - 10) * ctl.money_per_price_tonne, rel=1e-9)


def test_the_same_cut_on_product_changes_nothing_for_a_region_without_refineries():
    """A product control by the DRC caps net exports of product, of which it has none (no
    refinery): every price is the free-trade one (the mechanism is the concentrate stage)."""
    s = run(controlled(0.5, stage="product")).series()
    np.testing.assert_allclose(s["price"], np.full(6, 60.0), rtol=1e-12)


def test_withheld_concentrate_feeds_home_refiners_first_at_the_home_concentrate_price():
    """With a DRC refinery at 15 (3,600 t/yr = 300 t/step): under free trade it is idle (15 + 10
    = 25 > the EU refinery's 20 on DRC feed), so exports are 800 t. Cut 0.5: 400 t go to the
    world chain (400 t at 20, 200 t at 50), the 400 t withheld feed the DRC refinery's 300 t
    at 25 (home pool); 900 t in all, P = 60 (900 / 1000)^-2 = 74.07. World concentrate:
    (74.07 - 10) / 1 = 64.07; home concentrate: 100 t of it are spare at 10, so
    clip(74.07 - 15, 10, 10) = 10. The DRC mine sells 700 t: 400 x 64.07 + 300 x 10."""
    raw = controlled(0.5)
    raw["producers"].append({"name": "Ref DRC", "region": "DRC", "stage": "refinery",
                             "capacity": 3600.0, "unit_cost": 15.0})
    model = run(raw, steps=3)
    price = 60.0 * 0.9 ** -2
    assert model.price == pytest.approx(price, rel=1e-9)
    assert model.concentrate_price == pytest.approx(price - 10.0, rel=1e-9)
    assert model.producers.home_pools[0].price == pytest.approx(10.0)
    mf = model.money_per_price_tonne
    assert model.book.output[MINE_DRC] == pytest.approx(700.0)
    assert model.book.revenue[MINE_DRC] == pytest.approx(
        (400.0 * (price - 10.0) + 300.0 * 10.0) * mf, rel=1e-9)
    # the DRC refinery: sells 300 t at P, pays 300 x 10 for its feed
    assert model.book.revenue[3] == pytest.approx(300.0 * (price - 10.0) * mf, rel=1e-9)
    control = next(p for p in model.policies if p.name == "export_control")
    assert control.shipped[-1] == pytest.approx(400.0)


def test_a_concentrate_control_with_a_cut_of_0_changes_nothing():
    plain = run(controlled(None)).series()
    for s in (run(controlled(0.0)).series(), run(controlled(0.0, stage="product")).series()):
        assert s.columns == plain.columns
        assert s.equals(plain)      # every series, bit for bit


def test_the_outside_price_rises_with_the_concentrate_cut_on_paired_seeds():
    """Demand shocks (sd 0.1, the same draws on the same seed): the mean price over the
    control's steps rises with the cut, seed by seed; the control is the only difference."""
    cuts = (0.1, 0.3, 0.5, 0.7)
    for seed in (1, 2, 3):
        means = []
        for cut in cuts:
            raw = controlled(cut)
            raw["market"]["demand"]["shock_sd"] = 0.1
            s = run(raw, seed=seed).series()
            means.append(float(s["price"][2:5].mean()))
        assert all(a < b for a, b in zip(means, means[1:], strict=False)), (seed, means)


def test_a_licence_delay_ships_licence_flow_of_the_allowed_concentrate():
    """Cut 0.5, licence_delay 1, licence_flow 0.5: step 2 ships 0.5 x 400 = 200 t (P = 60 x
    (400 / 1000)^-2 = 375), steps 3 and 4 ship 400 t (P = 166.67)."""
    raw = controlled(0.5)
    raw["shocks"][0].update(licence_delay=1, licence_flow=0.5)
    s = run(raw).series()
    np.testing.assert_allclose(s["price"][2:5], [375.0, 60 / 0.36, 60 / 0.36], rtol=1e-9)


def idle_tranche(cut: float | None) -> dict:
    """MINELAND with the DRC's mines as 7,200 t/yr at 10 (600 t/step) and 7,200 t/yr at 1,000,
    idle under free trade (review 15e finding 1)."""
    raw = controlled(cut)
    raw["producers"][MINE_DRC]["capacity"] = 7200.0
    raw["producers"].append({"name": "Mine DRC dear", "region": "DRC", "stage": "mine",
                             "capacity": 7200.0, "unit_cost": 1000.0})
    return raw


@pytest.mark.parametrize(("cut", "price"), [
    (1e-6, 60.0 * (800.0 - 600e-6) ** -2 * 1e6), (0.1, 60.0 / 0.74 ** 2), (0.5, 60.0 / 0.5 ** 2),
    (0.7, 60.0 / 0.38 ** 2)])
def test_licences_go_to_the_mines_that_would_export_not_to_idle_capacity(cut, price):
    """Free trade: the chain offers 600 t at 10 + 10 = 20 (cheap DRC), 200 t at 50 (EU mine),
    600 t at 1,010 (dear DRC); at 50 buyers want 1,095 t > 800, at 1,010 only 1000 (60 /
    1010)^0.5 = 244 t < 800, so Q = 800 on the vertical, P = 60 x 0.8^-2 = 93.75, and the DRC
    ships 600 t (the dear mine idle). A cut c caps exports at 600 (1 - c), all of it the cheap
    mine's licence: Q = 200 + 600 (1 - c), P = 60 (Q / 1000)^-2: cut 1e-6 93.75 (+0.0001%),
    0.1 Q = 740, 109.57; 0.5 Q = 500, 240; 0.7 Q = 380, 415.51. (Licences pro rata to
    available capacity gave the idle mine half: a cut of 1e-6 halved exports, P = 240.)"""
    model = run(idle_tranche(cut))
    s = model.series()
    assert s["price"][0] == pytest.approx(93.75, rel=1e-12)
    np.testing.assert_allclose(s["price"][2:5], np.full(3, price), rtol=1e-9)
    control = next(p for p in model.policies if p.name == "export_control")
    np.testing.assert_allclose(control.shipped[2:5], np.full(3, 600.0 * (1 - cut)), rtol=1e-9)


def test_the_price_rises_continuously_with_the_cut_from_zero():
    """The idle-tranche case: the control's price is 60 (0.8 - 0.6 c)^-2, continuous at c = 0
    (93.75) and rising in c: each step of 0.05 in the cut raises it."""
    cuts = np.linspace(0.0, 0.95, 20)
    prices = np.array([run(idle_tranche(c), steps=3).price for c in cuts])
    np.testing.assert_allclose(prices, 60.0 / (0.8 - 0.6 * cuts) ** 2, rtol=1e-9)
    assert (np.diff(prices) > 0).all()


def refining_drc(cut: float, ref_cost: float) -> dict:
    """`controlled(cut)` with a DRC mine of 12,000 t/yr at 10 (1,000 t/step), a DRC refinery of
    6,000 t/yr (500 t/step) at `ref_cost`, the EU refinery at 10 and no EU mine."""
    raw = controlled(cut)
    raw["producers"] = [
        {"name": "Mine DRC", "region": "DRC", "stage": "mine", "capacity": 12000.0,
         "unit_cost": 10.0},
        {"name": "Ref DRC", "region": "DRC", "stage": "refinery", "capacity": 6000.0,
         "unit_cost": ref_cost},
        {"name": "Ref EU", "region": "EU", "stage": "refinery", "capacity": 1e6,
         "unit_cost": 10.0}]
    return raw


def test_a_control_whose_withheld_concentrate_is_refined_at_home_is_no_disruption():
    """Review 15e finding 2 (a): DRC mine 12,000 t/yr at 10 (1,000 t/step), DRC refinery 6,000
    t/yr at 15 (500 t/step), the EU refinery at 10, no EU mine; EU buyers hold 30 days' cover.
    Free trade: 1,000 t at 20 via the EU refinery, P = 60 (Q = 1,000 on the vertical). Cut 0.5:
    500 t shipped, the other 500 t refined in the DRC (500 t at 25): production 1,000 t, P = 60
    throughout. Nothing is taken off the market, so it is no disruption: buyers keep their
    safety stock (30 days x 1,000 x 12 / 365 = 986.3 t) and the price stays 60 (as a
    disruption, with stocks drawn, the price fell to 34.06 and rose to 81.26 after)."""
    raw = refining_drc(0.5, 15.0)
    raw["experiment"]["steps"] = 8
    raw["buyers"][0]["inventory_cover"] = 30.0
    model = run(raw)
    s = model.series(accounts=True)
    np.testing.assert_allclose(s["price"], np.full(8, 60.0), rtol=1e-9)
    np.testing.assert_allclose(s["production"], np.full(8, 1000.0), rtol=1e-9)
    np.testing.assert_allclose(s["buyer_stock"], np.full(8, 30 * 12000.0 / 365), rtol=1e-9)
    control = next(p for p in model.policies if p.name == "export_control")
    np.testing.assert_allclose(control.shipped[2:5], np.full(3, 500.0), rtol=1e-9)
    np.testing.assert_allclose(control.home[2:5], np.full(3, 500.0), rtol=1e-9)


def test_a_control_on_a_region_that_exports_nothing_is_no_disruption(stage="concentrate"):
    """Review 15e finding 2 (b): the DRC has only a mine project that is never built (capex
    1e12); the EU mine 12,000 t/yr at 10 and refinery serve the EU buyers (30 days' cover):
    P = 60 on the vertical. A control by the DRC withholds nothing (normal exports 0), so it is
    no disruption: P stays 60 (it fell to 34.06 as one; a product control in force is still
    one, as the stockpile's property tests assume)."""
    raw = controlled(0.5, stage=stage)
    raw["experiment"]["steps"] = 8
    raw["producers"] = [
        {"name": "Mine EU", "region": "EU", "stage": "mine", "capacity": 12000.0,
         "unit_cost": 10.0},
        {"name": "Ref EU", "region": "EU", "stage": "refinery", "capacity": 1e6,
         "unit_cost": 10.0}]
    raw["investment"] = {"projects": [{"name": "DRC project", "region": "DRC", "stage": "mine",
                                       "capacity": 1000.0, "unit_cost": 10.0, "capex": 1e12,
                                       "lead_time": 100}]}
    raw["buyers"][0]["inventory_cover"] = 30.0
    s = run(raw).series()
    np.testing.assert_allclose(s["price"], np.full(8, 60.0), rtol=1e-9)


def test_a_quota_after_a_ban_is_a_share_of_exports_before_the_ban():
    """Review 15e finding 5: a ban (cut 1, steps 2-4) then a quota (cut 0.5, steps 5-7,
    announced at its start). The quota's normal exports leave out the ban's steps: the mean of
    steps 0 and 1, 800 t, so the cap is 400 t and P = 60 (600 / 1000)^-2 = 166.67 (averaging
    over the ban, (800 + 800 + 0 + 0 + 0) / 5 = 320, capped it at 160 t: P = 462.96)."""
    raw = controlled(1.0)
    raw["experiment"]["steps"] = 9
    raw["shocks"].append({"kind": "export_control", "region": "DRC", "start": 5,
                          "duration": 3, "cut": 0.5, "stage": "concentrate"})
    model = run(raw)
    s = model.series()
    np.testing.assert_allclose(s["price"][2:5], np.full(3, 1500.0), rtol=1e-9)
    np.testing.assert_allclose(s["price"][5:8], np.full(3, 60.0 / 0.36), rtol=1e-9)
    quota = [p for p in model.policies if p.name == "export_control"][1]
    assert quota.reference_exports == pytest.approx(800.0)
    np.testing.assert_allclose(quota.shipped[5:8], np.full(3, 400.0), rtol=1e-9)


def test_with_nothing_exported_the_concentrate_price_is_the_home_pools_not_a_stale_one():
    """Review 15e finding 7: DRC mine 12,000 t/yr at 10 (1,000 t/step), DRC refinery 6,000 t/yr
    at 5 (500 t/step), the EU refinery at 10, no EU mine. Free trade: 500 t at 15 (home), 500 t
    at 20 (EU), Q = 1,000, P = 60, p_c = (60 - 10) / 1 = 50; the DRC ships 500 t. A ban: only
    the DRC refinery's 500 t, P = 60 x 0.5^-2 = 240; the only concentrate traded is the home
    pool's, with 500 t spare at 10: clip(240 - 5, 10, 10) = 10, the concentrate price of those
    steps (it stayed at the pre-ban 50). The DRC has no product market of its own: the export
    region's price metrics are NaN (they were the world price's, 113.33 for MINELAND)."""
    raw = refining_drc(1.0, 5.0)
    model = run(raw)
    s = model.series()
    np.testing.assert_allclose(s["price"], [60, 60, 240, 240, 240, 60], rtol=1e-9)
    np.testing.assert_allclose(s["concentrate_price"], [50, 50, 10, 10, 10, 50], rtol=1e-9)
    control = model.policies[0]
    np.testing.assert_allclose(control.home_price, [np.nan, np.nan, 10, 10, 10, np.nan])
    np.testing.assert_allclose(control.shipped, [500, 500, 0, 0, 0, 500], rtol=1e-9)
    metrics = model.metrics()
    assert np.isnan(metrics["export_region_price_mean"])
    assert np.isnan(metrics["export_region_price_volatility"])
    assert np.isnan(run(controlled(0.5)).metrics()["export_region_price_mean"])


# A ban by China whose cap the free-trade clearing does not reach but another instrument would
# breach (issue 15a). k = 1, monthly steps. Demand 480 t/yr at 60 (40 t/step), elasticity
# -0.5, half in each region: P = 60 (Q / 40)^-2. China: a mine at 5 (6,000 t/yr = 500 t/step)
# and a refinery at 10 (600 t/yr = 50 t/step); the US: a refinery at 40 (50 t/step), no mine.
# Free trade: the chain offers 50 t at 10 + 5 = 15 (at home) and 50 t at 40 + 5 = 45 (China's
# ore refined in the US); at 15 buyers want 40 (15/60)^-0.5 = 80 t > 50, at 45 only
# 40 (45/60)^-0.5 = 46.19 < 50, so the market clears on the vertical at Q = 50,
# P = 60 (50 / 40)^-2 = 38.4 and China ships no ore: its ban's cap of 0 does not bind there.
CHINA_ORE = {
    "experiment": {"name": "cc", "steps": 2, "seed": 1},
    "market": {"intensity": 1.0, "demand": {"reference_price": 60.0,
                                            "reference_quantity": 480.0, "elasticity": -0.5}},
    "regions": [{"name": "US", "club": True}, {"name": "China", "market_economy": False}],
    "producers": [
        {"name": "Mine CN", "region": "China", "stage": "mine", "capacity": 6000.0,
         "unit_cost": 5.0},
        {"name": "Ref CN", "region": "China", "stage": "refinery", "capacity": 600.0,
         "unit_cost": 10.0},
        {"name": "Ref US", "region": "US", "stage": "refinery", "capacity": 600.0,
         "unit_cost": 40.0},
    ],
    "buyers": [{"name": "US buyers", "region": "US", "share": 0.5},
               {"name": "China buyers", "region": "China", "share": 0.5}],
    "shocks": [{"kind": "export_control", "stage": "concentrate", "region": "China",
                "start": 0, "duration": 2, "cut": 1.0}],
}


def china_ore(**extra) -> dict:
    raw = copy.deepcopy(CHINA_ORE)
    raw.update(extra)
    return raw


def test_a_state_reserve_bid_does_not_draw_banned_ore_abroad():
    """China's reserve bids for 5,000 t/yr (416.67 t/step) below 50. Without the ban it would
    lift the price to 50 on the US refinery's 45 tranche of Chinese ore (buying 50 + 50 -
    D(50) = 100 - 40 (50/60)^-0.5 = 100 - 43.82 = 56.18 t, 50 t of China's ore shipped to the
    US). Under the ban China's ore stays home: only the home pool's 50 t at 15 are offered; at
    38.4 < 50 the reserve takes the most that keeps the price at 50: 50 - D(50) = 50 - 43.82 =
    6.18 t; buyers get 43.82 t, and China ships nothing (before issue 15a the licences followed
    the free-trade clearing without the reserve's bid, so none were issued and 50 t were
    shipped under a ban)."""
    raw = china_ore(nonmarket={"reserve": {"buy_below": 50.0, "sell_above": 100.0,
                                           "rate": 5000.0, "capacity": 1e5}})
    model = run(raw)
    s = model.series(accounts=True)
    control = next(p for p in model.policies if p.name == "export_control")
    np.testing.assert_allclose(control.shipped, [0.0, 0.0], atol=1e-9)
    demand_at_50 = 40.0 * (50.0 / 60.0) ** -0.5          # 43.8178
    np.testing.assert_allclose(s["price"], [50.0, 50.0], rtol=1e-9)
    np.testing.assert_allclose(s["consumption"], [demand_at_50] * 2, rtol=1e-9)
    np.testing.assert_allclose(s["gov_purchases"], [50.0 - demand_at_50] * 2, rtol=1e-9)
    np.testing.assert_allclose(s["production"], [50.0, 50.0], rtol=1e-9)


def test_a_floor_that_would_draw_banned_ore_abroad_does_not():
    """A CFD at 50 covering the US (upside share 0): the US tranche's 45 <= 50, so it offers at
    any price (ask 0). Without the ban the US refinery would run on 50 t of China's ore (50 t
    at 0, then China's own at 15: buyers take 80 t at 15, P = 15). Under the ban the US
    refinery gets no ore: the market is the home pool's 50 t at 15 alone, P = 38.4 as in free
    trade, and China ships nothing (before issue 15a: 50 t shipped, P = 15)."""
    raw = china_ore(policy={"floor": {"mechanism": "cfd", "level": 50.0, "covers": ["US"],
                                      "upside_share": 0.0}})
    model = run(raw)
    s = model.series(accounts=True)
    control = next(p for p in model.policies if p.name == "export_control")
    np.testing.assert_allclose(control.shipped, [0.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(s["price"], [38.4, 38.4], rtol=1e-9)
    np.testing.assert_allclose(s["production"], [50.0, 50.0], rtol=1e-9)
    # (without the ban the floor's pull is as described: 50 t of China's ore refined abroad)
    free = run(china_ore(shocks=[], policy=raw["policy"])).series()
    np.testing.assert_allclose(free["price"], [15.0, 15.0], rtol=1e-9)


def test_an_offtake_that_would_draw_banned_ore_abroad_does_not():
    """An offtake of half the US refinery's output at a fixed 70 (take-or-pay): 70 covers its
    45 tranche, so 25 t are offered at any price. Without the ban they sell on China's ore: 25 t
    at 0 and China's 50 t at 15 are 75 t, buyers want 80 at 15, so P = 60 (75 / 40)^-2 = 17.07
    and 25 t of China's ore go to the US. Under the ban the US refinery gets no ore and offers
    nothing (its contract tranche of the first clearing is not this step's): P = 38.4 as in
    free trade, nothing shipped, and the offtake moves no money (before issue 15a: 25 t shipped;
    with the cap enforced but the first clearing's tranche kept, an IndexError)."""
    raw = china_ore(policy={"offtake": {"share": 0.5, "covers": ["US"], "price_formula": "fixed",
                                        "price": 70.0, "take_or_pay": True}})
    model = run(raw)
    s = model.series(accounts=True)
    control = next(p for p in model.policies if p.name == "export_control")
    np.testing.assert_allclose(control.shipped, [0.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(s["price"], [38.4, 38.4], rtol=1e-9)
    assert model.acct.get("buyer_payments_offtake", 0.0) == 0.0
    free = run(china_ore(shocks=[], policy=raw["policy"])).series()
    np.testing.assert_allclose(free["price"], [60.0 * (75.0 / 40.0) ** -2] * 2, rtol=1e-9)


def test_a_home_refinery_too_dear_to_run_absorbs_none_of_the_withheld_concentrate():
    """Review 15 finding 5: `controlled(0.5)` plus a DRC refinery of 3,600 t/yr (300 t/step) at
    200; EU buyers hold 30 days' cover (986.3 t, use 1,000 t/step at 60, adjust 0.25, max_draw
    0.5). Free trade P = 60 and the DRC refinery idle (200 + 10 = 210 > 60), so its 300 t of
    spare capacity takes none of the 400 t withheld (at 210 buyers want 1,000 (210 / 60)^-0.5 =
    535 t < the 600 t the chain offers below it: it never runs). Buyers draw for 400 t, a
    tonnage at the free-trade price (review 15 finding 1): min(400, 0.5 x 1,000, 0.25 x 986.3)
    = 246.6 t offered at no ask beside the chain's 600 t, 1,000 (P / 60)^-0.5 = 846.6 -> P = 60
    (1,000 / 846.6)^2 = 83.72 in step 2, as without the refinery (counting its spare capacity
    as absorbing 300 t gave withheld 100: a draw of 100 t, P = 60 (1,000 / 700)^2 = 122.4)."""
    raw = controlled(0.5)
    raw["experiment"]["steps"] = 4
    raw["producers"].append({"name": "Ref DRC", "region": "DRC", "stage": "refinery",
                             "capacity": 3600.0, "unit_cost": 200.0})
    raw["buyers"][0]["inventory_cover"] = 30.0
    model = run(raw)
    s = model.series()
    cover = 30 * 12000.0 / 365
    drawn = 0.25 * cover                          # 246.6 t
    p2 = 60.0 * (1000.0 / (600.0 + drawn)) ** 2
    np.testing.assert_allclose(s["price"][2], p2, rtol=1e-9)
    np.testing.assert_allclose(p2, 83.718, rtol=1e-4)
    control = next(p for p in model.policies if p.name == "export_control")
    np.testing.assert_allclose(control.withheld_steps[2:4], [400.0, 400.0], rtol=1e-9)
    np.testing.assert_allclose(control.home[2:4], [0.0, 0.0], atol=1e-9)
    # stock drawn in step 2: the 246.6 t
    np.testing.assert_allclose(s["buyer_stock"][2], cover - drawn, rtol=1e-9)


def separate_japan(cut: float | None, announce: int | None = None) -> dict:
    """Review rv3 R2: EU, DRC and Japan, a separate market the world hub ships to at 20 per t.
    k = 1, demand 1,000 t/step at 60, elasticity -0.5, half the EU's, half Japan's (60 days'
    cover each: 500 x 12 / 365 x 60 = 986.30 t). Mines: DRC 800 t/step at 40, EU 400 t/step
    at 10; refinery EU at 10 (1e6 t/yr). The DRC's concentrate control in steps 2..4."""
    raw = {
        "experiment": {"name": "cc", "steps": 5, "seed": 1},
        "market": {"intensity": 1.0, "demand": {"reference_price": 60.0,
                                                "reference_quantity": 12000.0,
                                                "elasticity": -0.5}},
        "regions": [{"name": "EU"}, {"name": "DRC"}, {"name": "Japan", "separate_market": True}],
        "trade_costs": [{"from": "EU", "to": "Japan", "cost": 20.0}],
        "producers": [
            {"name": "Mine DRC", "region": "DRC", "stage": "mine", "capacity": 9600.0,
             "unit_cost": 40.0},
            {"name": "Mine EU", "region": "EU", "stage": "mine", "capacity": 4800.0,
             "unit_cost": 10.0},
            {"name": "Ref EU", "region": "EU", "stage": "refinery", "capacity": 1e6,
             "unit_cost": 10.0}],
        "buyers": [{"name": "EU buyers", "region": "EU", "share": 0.5, "inventory_cover": 60.0},
                   {"name": "Japan buyers", "region": "Japan", "share": 0.5,
                    "inventory_cover": 60.0}],
    }
    if cut is not None:
        shock = {"kind": "export_control", "region": "DRC", "start": 2, "duration": 3,
                 "cut": cut, "stage": "concentrate"}
        if announce is not None:
            shock["announce"] = announce
        raw["shocks"] = [shock]
    return raw


# free trade in separate_japan: the chain offers 400 t at 20 (EU ore) and 800 t at 50 (DRC ore);
# the hub clears at 50 on the DRC tranche, Japan at 50 + 20 = 70; EU buyers take
# 500 (50/60)^-0.5, Japan's 500 (70/60)^-0.5, and the DRC ships all of it less the EU's 400 t
EU_TAKES = 500.0 * (50.0 / 60.0) ** -0.5            # 547.72
JAPAN_TAKES = 500.0 * (70.0 / 60.0) ** -0.5         # 462.91
DRC_SHIPS = EU_TAKES + JAPAN_TAKES - 400.0          # 610.63


@pytest.mark.parametrize("cut", [0.05, 0.2])
def test_a_concentrate_cap_with_a_separate_market_withholds_the_linked_exports_less_the_cap(cut):
    """Review rv3 R2. Free trade (above): the DRC ships 610.63 t/step, which the linked
    clearing with Japan's shipping cost gives (one world market without it: 1,000 (50/60)^-0.5
    - 400 = 695.45). Cut c: cap (1 - c) 610.63 (cut 0.05: 580.10, withheld 30.53; 0.2: 488.51,
    withheld 122.13 t/step); the DRC has no refinery, so all of it is off the market. The EU's
    buyers (Japan's, a separate market, are not short) draw it from stock, the DRC ships its
    cap, and the hub still clears at 50 (the DRC tranche has spare ore at 50), Japan at 70.
    Before the fix the counterfactual pooled Japan into one market: withheld 115.34 (cut 0.05),
    the EU's stock fell 115.34 a step and the DRC shipped 495.29 < its cap."""
    model = run(separate_japan(cut))
    s = model.series()
    control = next(p for p in model.policies if p.name == "export_control")
    cap, withheld = (1 - cut) * DRC_SHIPS, cut * DRC_SHIPS
    np.testing.assert_allclose(control.reference_exports, DRC_SHIPS, rtol=1e-9)
    np.testing.assert_allclose(control.off_market, [0, 0, withheld, withheld, withheld],
                               rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(control.shipped, [DRC_SHIPS, DRC_SHIPS, cap, cap, cap], rtol=1e-9)
    np.testing.assert_allclose(s["price"], 50.0, rtol=1e-9)
    np.testing.assert_allclose(s["price_region__Japan"], 70.0, rtol=1e-9)
    stock = 500.0 * 12 / 365 * 60 * 2
    np.testing.assert_allclose(s["buyer_stock"], [stock, stock, stock - withheld,
                                                  stock - 2 * withheld, stock - 3 * withheld],
                               rtol=1e-9)


def test_a_concentrate_control_announced_at_0_with_a_separate_market_caps_the_linked_exports():
    """Review rv3 R2 (announce 0): normal exports are the step-0 free-trade clearing's, linked
    with Japan: 610.63 t (not the one market's 695.45, whose cut 0.1 cap, 625.90, sat above the
    true exports yet withheld 69.54 t a step and had the DRC ship 541.09). Cut 0.1: cap
    549.57, withheld 61.06 t/step, the DRC ships its cap."""
    model = run(separate_japan(0.1, announce=0))
    control = next(p for p in model.policies if p.name == "export_control")
    np.testing.assert_allclose(control.reference_exports, DRC_SHIPS, rtol=1e-9)
    np.testing.assert_allclose(control.shipped[2:], 0.9 * DRC_SHIPS, rtol=1e-9)
    np.testing.assert_allclose(control.off_market[2:], 0.1 * DRC_SHIPS, rtol=1e-9)


def ore_and_product(conc: float | None, product: float | None, order: str = "cp") -> dict:
    """Review rv3 R7: EU (club, buyers only), DRC (mine 800 t/step at 10), China (mine 400
    t/step at 30, refinery 1e6 t/yr at 10); k = 1, demand 1,000 t/step at 60, elasticity
    -0.5, half the EU's, half China's (60 days' cover, 986.30 t each). The DRC's concentrate
    control (cut `conc`) and China's product control (cut `product`), both in steps 2..4, in
    the order `order` (c: concentrate first)."""
    raw = {
        "experiment": {"name": "cc", "steps": 5, "seed": 1},
        "market": {"intensity": 1.0, "demand": {"reference_price": 60.0,
                                                "reference_quantity": 12000.0,
                                                "elasticity": -0.5}},
        "regions": [{"name": "EU", "club": True}, {"name": "DRC"}, {"name": "China"}],
        "producers": [
            {"name": "Mine DRC", "region": "DRC", "stage": "mine", "capacity": 9600.0,
             "unit_cost": 10.0},
            {"name": "Mine CN", "region": "China", "stage": "mine", "capacity": 4800.0,
             "unit_cost": 30.0},
            {"name": "Ref CN", "region": "China", "stage": "refinery", "capacity": 1e6,
             "unit_cost": 10.0}],
        "buyers": [{"name": "EU buyers", "region": "EU", "share": 0.5, "inventory_cover": 60.0},
                   {"name": "China buyers", "region": "China", "share": 0.5,
                    "inventory_cover": 60.0}],
    }
    shocks = {}
    if conc is not None:
        shocks["c"] = {"kind": "export_control", "region": "DRC", "start": 2, "duration": 3,
                       "cut": conc, "stage": "concentrate"}
    if product is not None:
        shocks["p"] = {"kind": "export_control", "region": "China", "start": 2, "duration": 3,
                       "cut": product}
    raw["shocks"] = [shocks[k] for k in order if k in shocks]
    return raw


@pytest.mark.parametrize("order", ["cp", "pc"])
@pytest.mark.parametrize("conc, eu_draw, china_price", [
    (0.1, 80.0, 60.0 * (1000.0 / 1200.0) ** 2),   # ore loss 80 > excess over the cap 60
    (0.05, 60.0, 40.0),                           # ore loss 40 < 60: China's home absorbs it
])
def test_ore_withheld_from_a_product_capped_region_is_its_home_markets_up_to_its_excess(
        conc, eu_draw, china_price, order):
    """Review rv3 R7. Free trade: the chain offers 800 t at 20 (DRC ore, China's refinery) and
    400 t at 40 (China's ore); buyers want 1,000 (40/60)^-0.5 = 1,224.7 > 1,200 at 40, so the
    market clears on the vertical: P = 60 (1000/1200)^2 = 41.667, 600 t to each region's
    buyers; China exports X = 600 t of product, the DRC ships 800 t of ore. China's product
    cut 0.1: cap C = 540 (withheld X - C = 60). The DRC's ore cut c: it ships (1 - c) 800, and
    L = 800 c t of product fewer come out of China's refinery.
    China's cap fixes its exports at C while its supply at the free-trade price less its
    buyers' purchases there, X - L, is at least C: then the ore loss comes out of the 60 t its
    cap kept at home (L <= X - C), the EU is short X - C = 60 and China's home price is its
    own (c = 0.05: L = 40, China has 1,160 t, 620 of them at home, its buyers take
    500 (40/60)^-0.5 = 612.4 at 40, the price its own ore tranche sets). Past that (c = 0.1,
    L = 80 > 60) China exports X - L = 520 < C at the free-trade price, its market linked
    to the world's without a wedge, and the EU is short L = 80: the EU's buyers draw
    max(X - C, L) a step, China's (behind their own cap) none, and the price stays 41.667.
    The order of the controls does not matter. Before the fix the EU drew (X - C) + L = 140
    (c = 0.1) and the outside price fell to 40."""
    model = run(ore_and_product(conc, 0.1, order))
    s = model.series()
    free = 60.0 * (1000.0 / 1200.0) ** 2
    np.testing.assert_allclose(s["price"], free, rtol=1e-9)
    np.testing.assert_allclose(s["club_price"], free, rtol=1e-9)
    np.testing.assert_allclose(s["export_region_price"][2:], china_price, rtol=1e-9)
    stock = 500.0 * 12 / 365 * 60
    np.testing.assert_allclose(model.buyers.stock, [stock - 3 * eu_draw, stock], rtol=1e-9)


def test_the_ore_loss_alone_is_shared_by_every_buyer_and_the_product_cap_alone_by_the_eu():
    """Review rv3 R7, each control alone (unchanged): the DRC's cut 0.1 takes 80 t off the
    market, drawn 40 each by the EU's and China's buyers; China's product cut 0.1 keeps 60 t
    from the EU, whose buyers draw them (China's home price 40). The price stays 41.667."""
    stock = 500.0 * 12 / 365 * 60
    ore = run(ore_and_product(0.1, None))
    np.testing.assert_allclose(ore.buyers.stock, [stock - 120.0, stock - 120.0], rtol=1e-9)
    product = run(ore_and_product(None, 0.1))
    np.testing.assert_allclose(product.buyers.stock, [stock - 180.0, stock], rtol=1e-9)
    for model in (ore, product):
        np.testing.assert_allclose(model.series()["price"], 60.0 * (1000.0 / 1200.0) ** 2,
                                   rtol=1e-9)


@pytest.mark.parametrize("order", ["cp", "pc"])
def test_ore_denied_to_a_dearer_refinery_elsewhere_is_not_the_product_capped_regions(order):
    """Review rv3 R7, where the ore loss lands (a guard of the rule above; it passes on the
    code before it too, which added every loss). EU (club, buyers 0.8), DRC (mine 800 t/step
    at 10), China (mine 400 t/step at 28, refinery 600 t/step at 10, buyers 0.2), Japan
    (refinery 1e6 t/yr at 12, no buyers); k = 1, demand 1,000 t/step at 60, elasticity -0.5.
    Free trade: the chain pairs China's refinery, the cheapest, with DRC ore (600 t at 20),
    Japan's with the other 200 t of DRC ore (at 22) and China's 400 t (at 40); buyers want
    1,000 (40/60)^-0.5 = 1,224.7 > 1,200 at 40, so P = 60 (1000/1200)^2 = 41.667 on the
    vertical: the EU takes 960, China 240, China exports X = 600 - 240 = 360 t of product.
    China's product cut 0.1: C = 324, W = 36. The DRC's ore cut 0.1: it ships 720, which
    still fill China's refinery first (600 t), so Japan's loses the 80 t and China's none: the
    EU is short W + 80 = 116 t a step (pro rata to where the DRC's ore went, 600/800 of the
    loss would have been China's and the EU drawn only 80, its price rising above 41.667).
    China's home market takes 600 - 324 = 276 t: P_China = 60 (200/276)^2 = 31.51."""
    raw = ore_and_product(0.1, 0.1, order)
    raw["regions"].append({"name": "Japan"})
    raw["producers"] = [
        {"name": "Mine DRC", "region": "DRC", "stage": "mine", "capacity": 9600.0,
         "unit_cost": 10.0},
        {"name": "Mine CN", "region": "China", "stage": "mine", "capacity": 4800.0,
         "unit_cost": 28.0},
        {"name": "Ref CN", "region": "China", "stage": "refinery", "capacity": 7200.0,
         "unit_cost": 10.0},
        {"name": "Ref JP", "region": "Japan", "stage": "refinery", "capacity": 1e6,
         "unit_cost": 12.0}]
    raw["buyers"][0]["share"], raw["buyers"][1]["share"] = 0.8, 0.2
    model = run(raw)
    s = model.series()
    np.testing.assert_allclose(s["price"], 60.0 * (1000.0 / 1200.0) ** 2, rtol=1e-9)
    np.testing.assert_allclose(s["export_region_price"][2:], 60.0 * (200.0 / 276.0) ** 2,
                               rtol=1e-9)
    cover = 12 / 365 * 60 * 1000.0
    np.testing.assert_allclose(model.buyers.stock, [0.8 * cover - 3 * 116.0, 0.2 * cover],
                               rtol=1e-9)


def imported_feed(cut: float) -> dict:
    """Review rv4 F5: a controlling region whose refinery runs on imported ore. MINELAND's
    demand (1,000 t/step at 60, all EU buyers, 60 days' cover: 1,972.6 t); DRC mine 8,400
    t/yr at 10 (700 t/step), AUS mine 3,600 t/yr at 5 (300 t/step), DRC refinery 3,600 t/yr
    at 5 (300 t/step), EU refinery 1e6 t/yr at 10. Free trade: the chain pairs the DRC
    refinery with the AUS ore, 300 t at 5 + 5 = 10, and the EU refinery with the DRC ore, 700
    t at 20: Q = 1,000 on the vertical, P = 60; the DRC ships all its 700 t abroad (normal
    exports 700) and its refinery imports all its feed."""
    raw = controlled(cut)
    raw["regions"].append({"name": "AUS"})
    raw["producers"] = [
        {"name": "Mine DRC", "region": "DRC", "stage": "mine", "capacity": 8400.0,
         "unit_cost": 10.0},
        {"name": "Mine AUS", "region": "AUS", "stage": "mine", "capacity": 3600.0,
         "unit_cost": 5.0},
        {"name": "Ref DRC", "region": "DRC", "stage": "refinery", "capacity": 3600.0,
         "unit_cost": 5.0},
        {"name": "Ref EU", "region": "EU", "stage": "refinery", "capacity": 1e6,
         "unit_cost": 10.0}]
    raw["buyers"][0]["inventory_cover"] = 60.0
    return raw


def test_a_home_refinery_on_imported_ore_that_takes_all_the_denied_ore_takes_none_off_the_market():
    """`imported_feed`, cut 0.4: the cap is 420 t, 280 t denied. The DRC refinery (300 t, no
    idle capacity) takes the 280 t of home ore at 5 + 10 = 15 in place of AUS ore (home pool);
    its other 20 t of capacity joins the world chain: 20 t at 10 (AUS ore), then the EU
    refinery refines the freed 280 t of AUS ore at 15 and the 420 licensed DRC tonnes at 20:
    280 + 20 + 280 + 420 = 1,000 t at P = 60, as under free trade. Nothing is off the market:
    no disruption, the buyers' stock stays 1,972.6 t and the price 60. (Counting only the DRC
    refinery's idle capacity, 0, as taking the denied ore, the control took 280 t a step off
    the market, the EU buyers drew 280 t a step and the price fell to 36.62, then rose to
    87.85 as they rebuilt.)"""
    model = run(imported_feed(0.4))
    s = model.series(accounts=True)
    np.testing.assert_allclose(s["price"], np.full(6, 60.0), rtol=1e-9)
    np.testing.assert_allclose(s["production"], np.full(6, 1000.0), rtol=1e-9)
    np.testing.assert_allclose(s["buyer_stock"], np.full(6, 60 * 12000.0 / 365), rtol=1e-9)
    control = next(p for p in model.policies if p.name == "export_control")
    np.testing.assert_allclose(control.shipped, [700, 700, 420, 420, 420, 700], rtol=1e-9)
    np.testing.assert_allclose(control.home, [0, 0, 280, 280, 280, 0], rtol=1e-9)
    np.testing.assert_allclose(control.off_market, np.zeros(6), atol=1e-9)
    ctl = run(imported_feed(0.4), steps=3)
    assert not ctl.disruption and ctl.shortfall == 0.0


def test_a_home_refinery_on_imported_ore_too_small_for_the_denied_ore_leaves_the_excess_off():
    """`imported_feed`, cut 0.5: the cap is 350 t, 350 t denied. The DRC refinery takes 300 t
    of them (home pool, at 15) in place of AUS ore, the other 50 t go unsold; the world chain
    has the freed 300 t of AUS ore and the 350 licensed DRC tonnes for the EU refinery: 300 +
    650 = 950 t at most 60, 50 t less than free trade's 1,000. The control takes 50 t off the
    market (not the 350 denied): the EU buyers' use is 1,000 t, s = 0.05, they order 0.95 D(P)
    and 950 t clear at P = 60, the stock falling 50 t a step (1,972.6 - 50, - 100, - 150). Step
    5, over: they rebuild 0.25 x 150 / 1,000 = 3.75% of use, 1,037.5 (P / 60)^-0.5 = 1,000 t:
    P = 60 x 1.0375^2 = 64.58, adding 1,000 (1 - 1 / 1.0375) = 36.14 t to stock. (As 350 t off
    the market, the buyers drew 350 t a step and the price fell to 35.50.)"""
    model = run(imported_feed(0.5))
    s = model.series(accounts=True)
    np.testing.assert_allclose(s["price"], [60, 60, 60, 60, 60, 60 * 1.0375 ** 2], rtol=1e-9)
    np.testing.assert_allclose(s["production"], [1000, 1000, 950, 950, 950, 1000], rtol=1e-9)
    cover = 60 * 12000.0 / 365
    np.testing.assert_allclose(s["buyer_stock"], cover - np.array(
        [0, 0, 50, 100, 150, 150 - 1000 * (1 - 1 / 1.0375)]), rtol=1e-9)
    control = next(p for p in model.policies if p.name == "export_control")
    np.testing.assert_allclose(control.off_market, [0, 0, 50, 50, 50, 0], rtol=1e-9)
    np.testing.assert_allclose(control.home, [0, 0, 300, 300, 300, 0], rtol=1e-9)
    ctl = run(imported_feed(0.5), steps=3)
    assert ctl.disruption and ctl.shortfall == pytest.approx(50.0, rel=1e-9)


@pytest.mark.parametrize(("cut", "off", "drawn"), [
    (0.5, 50.0, 0.0), (0.7, 190.0, 1000.0 * 1.2 ** 0.5 - 1010.0)])
def test_idle_capacity_elsewhere_is_netted_once_from_what_the_repaired_chain_misses(cut, off,
                                                                                     drawn):
    """`imported_feed` with a second AUS mine, 2,400 t/yr at 40 (200 t/step): free trade adds
    200 t at 10 + 40 = 50, buyers want 1,000 (50 / 60)^-0.5 = 1,095.45 t at 50 < 1,200, so
    P = 50 on that tranche, 104.55 t of it idle (spare supply at the free-trade price). Cut
    0.5: the re-paired chain offers 300 (home pool) + 300 + 350 + 200 = 1,150 t at most 50,
    50 t less than free trade's 1,200: 50 t off the market, all of it replaced by the idle
    tranche, so nobody draws and P = 50. Cut 0.7 (cap 210, 490 denied): 300 + 300 + 210 + 200
    = 1,010 t, 190 t off the market, less the 104.55 idle: the buyers draw 1,095.45 - 1,010 =
    85.45 t a step and P stays 50 (the idle tranche counted both in the loss and as spare
    supply would draw 104.55 t too little; the re-pairing not measured, 490 - 104.55)."""
    raw = imported_feed(cut)
    raw["producers"].append({"name": "Mine OTH", "region": "AUS", "stage": "mine",
                             "capacity": 2400.0, "unit_cost": 40.0})
    model = run(raw)
    s = model.series(accounts=True)
    np.testing.assert_allclose(s["price"][:5], np.full(5, 50.0), rtol=1e-9)
    control = next(p for p in model.policies if p.name == "export_control")
    np.testing.assert_allclose(control.off_market, [0, 0, off, off, off, 0], rtol=1e-9)
    cover = 60 * 12000.0 / 365
    np.testing.assert_allclose(s["buyer_stock"][:5],
                               cover - drawn * np.array([0, 0, 1, 2, 3]), rtol=1e-9)


def test_an_ore_cut_and_a_product_cut_by_the_same_region_count_the_home_refined_product_its_cap_keeps_home():
    """Review rv6 W2. `refining_drc(0, 12)` with the EU refinery at 800 t/step and the EU
    buyers holding 60 days' cover (1,972.6 t). Free trade pairs the EU refinery with 800 t of
    DRC ore at 20 and the DRC refinery with the other 200 t at 22: Q = 1,000 on the vertical,
    P = 60; the DRC ships 800 t of ore and exports 200 t of product. An ore cut 0.5 and a
    product cut 0.1 by the DRC in steps 2-4 (either order): it ships 400 t of ore; its
    refinery takes 500 t of the 600 t left, but may export only 180 t; the world gets 400 +
    180 = 580 t, so 420 t a step are missing: 400 t the ore control takes off (the 300 t more
    its refinery refines are kept home by the product cap, whose room over the free-trade
    exports is 0) and 20 t the product cap. The buyers draw 420 t in step 2 at P = 60 (before:
    120 t counted, the price 122.45)."""
    for order in (("concentrate", "product"), ("product", "concentrate")):
        raw = refining_drc(0.0, 12.0)
        raw["producers"][2]["capacity"] = 9600.0
        raw["buyers"][0]["inventory_cover"] = 60.0
        cuts = {"concentrate": 0.5, "product": 0.1}
        raw["shocks"] = [{"kind": "export_control", "region": "DRC", "start": 2, "duration": 3,
                          "cut": cuts[stage], "stage": stage} for stage in order]
        model = run(raw, steps=3)
        s = model.series(accounts=True)
        cover = 60 * 12000 / 365
        np.testing.assert_allclose(s["price"], 60.0, rtol=1e-9, err_msg=str(order))
        np.testing.assert_allclose(s["production"][2], 580.0, rtol=1e-9)
        np.testing.assert_allclose(s["buyer_stock"][2], cover - 420.0, rtol=1e-9)
        withheld = sorted(p.withheld for p in model.policies if p.name == "export_control")
        np.testing.assert_allclose(withheld, [20.0, 400.0], rtol=1e-9)


def club_refinery(cut: float | None, border: str = "mip", drc_refinery: bool = True) -> dict:
    """Review rv6 W4: EU (club), China and the DRC, k = 1, demand 1,000 t/step at 60, elasticity
    -0.5, half the EU's and half China's (60 days' cover each: 986.30 t, 1,972.6 in all).
    Refineries: EU 300 t/step at 70, China 600 t/step at 10, DRC 300 t/step at 75; mines China
    600 t/step at 10, DRC 300 t/step at 12. `border` "mip": a MIP at 100 on the EU; "tariff":
    a tariff of 0.5 and the EU refinery at 60. The DRC's concentrate control (`cut`) in steps
    2..3; `drc_refinery` False drops the DRC refinery."""
    raw = {"experiment": {"name": "w4", "steps": 5, "seed": 1},
           "market": {"intensity": 1.0, "demand": {"reference_price": 60.0,
                                                   "reference_quantity": 12000.0,
                                                   "elasticity": -0.5}},
           "regions": [{"name": "EU", "club": True}, {"name": "China"}, {"name": "DRC"}],
           "producers": [
               {"name": "Ref EU", "region": "EU", "stage": "refinery", "capacity": 3600.0,
                "unit_cost": 70.0 if border == "mip" else 60.0},
               {"name": "Ref CN", "region": "China", "stage": "refinery", "capacity": 7200.0,
                "unit_cost": 10.0},
               {"name": "Mine CN", "region": "China", "stage": "mine", "capacity": 7200.0,
                "unit_cost": 10.0},
               {"name": "Mine DRC", "region": "DRC", "stage": "mine", "capacity": 3600.0,
                "unit_cost": 12.0}],
           "buyers": [{"name": "EU buyers", "region": "EU", "share": 0.5, "inventory_cover": 60.0},
                      {"name": "CN buyers", "region": "China", "share": 0.5,
                       "inventory_cover": 60.0}],
           "policy": ({"floor": {"mechanism": "mip", "level": 100.0, "covers": ["EU"]}}
                      if border == "mip" else {"trade": {"tariff": 0.5}})}
    if drc_refinery:
        raw["producers"].append({"name": "Ref DRC", "region": "DRC", "stage": "refinery",
                                 "capacity": 3600.0, "unit_cost": 75.0})
    if cut is not None:
        raw["shocks"] = [{"kind": "export_control", "region": "DRC", "start": 2, "duration": 2,
                          "cut": cut, "stage": "concentrate"}]
    return raw


@pytest.mark.parametrize("drc_refinery", [True, False])
def test_a_club_refinery_behind_a_mip_that_loses_its_feed_takes_it_off_the_market(drc_refinery):
    """Review rv6 W4, `club_refinery(0.5)` (MIP 100). Free trade: the chain pairs China's
    refinery with China's ore, 600 t at 20, and the EU refinery with the DRC's 300 t at 70 + 12
    = 82; the DRC refinery (75 + 12 = 87) is idle. The club takes 500 (100/60)^-0.5 = 387.30 t at
    the MIP (300 t from its refinery, 82 <= 100, 87.30 imported), China's buyers the other
    512.70 t: P_w = 60 (500 / 512.70)^2 = 57.06. Cut 0.5: the DRC ships 150 t, the EU refinery
    loses 150 t of feed; the DRC refinery at 87 sells at the world price 57.06 and cannot run,
    so 150 t are off the market: buyers draw 150 t a step (1,972.6 -> 1,822.6 -> 1,672.6),
    900 - 150 = 750 t are produced, and prices stay 57.06 / 100, with or without the idle DRC
    refinery. (Judging the EU refinery's tranche at the world price left its loss out: with the
    DRC refinery off_market was 0, buyers drew nothing and the world price rose to 87.)"""
    model = run(club_refinery(0.5, drc_refinery=drc_refinery))
    s = model.series(accounts=True)
    club = 500.0 * (100.0 / 60.0) ** -0.5                       # 387.30
    p_w = 60.0 * (500.0 / (900.0 - club)) ** 2                  # 57.06
    np.testing.assert_allclose(p_w, 57.06, atol=5e-3)
    np.testing.assert_allclose(s["price"][:4], p_w, rtol=1e-9)
    np.testing.assert_allclose(s["club_price"][:4], 100.0, rtol=1e-9)
    control = next(p for p in model.policies if p.name == "export_control")
    np.testing.assert_allclose(control.off_market[:4], [0, 0, 150, 150], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(s["production"][:4], [900, 900, 750, 750], rtol=1e-9)
    cover = 60 * 12000.0 / 365
    np.testing.assert_allclose(s["buyer_stock"][:4], cover - np.array([0, 0, 150, 300]),
                               rtol=1e-9)


def test_a_club_refinery_behind_a_tariff_that_loses_its_feed_takes_it_off_the_market():
    """Review rv6 W4c, `club_refinery(0.5, "tariff")` (tariff 0.5, EU refinery at 60: chain ask
    72). Free trade: the club pays 1.5 P_w; 500 (60/P_w)^0.5 (1 + 1.5^-0.5) = 900 t, so
    (60/P_w)^0.5 = 1.8 / 1.8165 and P_w = 61.10, the club's 91.66 (72 <= 91.66: the EU refinery
    runs, 72 > 61.10 the world's). Cut 0.5: the EU refinery loses 150 t of feed, the DRC
    refinery (87 > 61.10) cannot take it: 150 t off the market, buyers draw 150 t a step and
    prices stay. (Judged at the world price: off_market 0, world 61.10 -> 87, club 130.50.)"""
    model = run(club_refinery(0.5, "tariff"))
    s = model.series(accounts=True)
    p_w = 60.0 / (1.8 / (1.0 + 1.5 ** -0.5)) ** 2
    np.testing.assert_allclose(p_w, 61.10, atol=5e-3)
    np.testing.assert_allclose(s["price"][:4], p_w, rtol=1e-9)
    np.testing.assert_allclose(s["club_price"][:4], 1.5 * p_w, rtol=1e-9)
    control = next(p for p in model.policies if p.name == "export_control")
    np.testing.assert_allclose(control.off_market[:4], [0, 0, 150, 150], rtol=1e-9, atol=1e-9)
    cover = 60 * 12000.0 / 365
    np.testing.assert_allclose(s["buyer_stock"][:4], cover - np.array([0, 0, 150, 300]),
                               rtol=1e-9)


def japan_both_ways(cut: float, mine: float, japan: tuple[float, float]) -> dict:
    """`separate_japan(cut)` with shipping 20 both ways EU <-> Japan, a DRC mine of `mine`
    t/yr at 10, the EU refinery 6,000 t/yr (500 t/step) at 10 and Japan's refinery `japan`
    (t/yr, unit cost)."""
    raw = separate_japan(cut)
    raw["trade_costs"] = [{"from": "EU", "to": "Japan", "cost": 20.0},
                          {"from": "Japan", "to": "EU", "cost": 20.0}]
    raw["producers"] = [
        {"name": "Mine DRC", "region": "DRC", "stage": "mine", "capacity": mine,
         "unit_cost": 10.0},
        {"name": "Ref EU", "region": "EU", "stage": "refinery", "capacity": 6000.0,
         "unit_cost": 10.0},
        {"name": "Ref JP", "region": "Japan", "stage": "refinery", "capacity": japan[0],
         "unit_cost": japan[1]}]
    return raw


@pytest.mark.parametrize("drc_refinery", [True, False])
def test_a_separate_markets_refinery_that_loses_its_feed_takes_it_off_the_market(drc_refinery):
    """Review rv6 W4b: `separate_japan(0.3)` with shipping 20 both ways EU <-> Japan, a DRC mine
    800 t/step at 10, the EU refinery 500 t/step at 10 (chain ask 20), Japan's 300 t/step at 85
    (chain ask 95) and an idle DRC refinery 300 t/step at 300 (ask 310). Free trade: Japan
    imports from the hub, P_J = P_h + 20, 500 (60/P_h)^0.5 + 500 (60/(P_h + 20))^0.5 = 800: P_h
    = 84.54, P_J = 104.54 (Japan's refinery runs for Japan's market, 95 <= 104.54, above the
    hub's price). Cut 0.3: 240 t denied, all of it Japan's refinery's feed (the licensed 560 t
    re-pair with the EU refinery first); the DRC refinery at 310 runs nowhere, so 240 t are off
    the market: buyers draw 240 t a step and prices stay. (Judged at the hub price, Japan's
    tranche counted for nothing: off_market 0 and prices 181.72 / 201.72.)"""
    raw = japan_both_ways(0.3, mine=9600.0, japan=(3600.0, 85.0))
    if drc_refinery:
        raw["producers"].append({"name": "Ref DRC", "region": "DRC", "stage": "refinery",
                                 "capacity": 3600.0, "unit_cost": 300.0})
    model = run(raw)
    s = model.series(accounts=True)
    p_h = 84.54
    for _ in range(60):                               # Newton on the linked clearing
        f = 500 * (60 / p_h) ** 0.5 + 500 * (60 / (p_h + 20)) ** 0.5 - 800
        df = -250 * 60 ** 0.5 * (p_h ** -1.5 + (p_h + 20) ** -1.5)
        p_h -= f / df
    np.testing.assert_allclose(p_h, 84.54, atol=5e-3)
    np.testing.assert_allclose(s["price"], p_h, rtol=1e-9)
    np.testing.assert_allclose(s["price_region__Japan"], p_h + 20, rtol=1e-9)
    control = next(p for p in model.policies if p.name == "export_control")
    np.testing.assert_allclose(control.off_market, [0, 0, 240, 240, 240], rtol=1e-9, atol=1e-9)
    cover = 60 * 12000.0 / 365
    np.testing.assert_allclose(s["buyer_stock"], cover - np.array([0, 0, 240, 480, 720]),
                               rtol=1e-9)


def test_a_club_whose_refinery_loses_denied_ore_takes_that_loss_besides_its_imports():
    """Review rv7 X3. EU (club behind a 50% tariff) and China half of use each (1,000 t/step
    at 60, elasticity -0.5, 60 days' cover); the EU refinery 300 t/step at 60, China's refinery
    and mine 600 t/step at 10 each, a DRC mine 300 t/step at 12. Free trade: P_w = 61.10, club
    91.66 = 1.5 P_w; the EU refinery runs on the DRC's 300 t (chain ask 72 < 91.66) and the club
    imports 104.54 t, all China's exports. The DRC's ore cut 0.5 and China's product cut 0.05
    in steps 2-3: the EU refinery loses 150 t and China withholds 5.23 t; China's buyers are
    the controlling region's, so the EU's buyers draw 155.23 t a step (room min(0.5 x 404.54,
    0.25 x 986.3) = 202.3) and both prices stay (before: the club's room was its imports alone,
    104.54 t, and the prices rose to 79.86 / 119.80)."""
    raw = {"experiment": {"name": "x3", "steps": 4, "seed": 1},
           "market": {"intensity": 1.0, "demand": {"reference_price": 60.0,
                                                   "reference_quantity": 12000.0,
                                                   "elasticity": -0.5}},
           "regions": [{"name": "EU", "club": True}, {"name": "China"}, {"name": "DRC"}],
           "producers": [{"name": "Ref EU", "region": "EU", "stage": "refinery",
                          "capacity": 3600.0, "unit_cost": 60.0},
                         {"name": "Ref CN", "region": "China", "stage": "refinery",
                          "capacity": 7200.0, "unit_cost": 10.0},
                         {"name": "Mine CN", "region": "China", "stage": "mine",
                          "capacity": 7200.0, "unit_cost": 10.0},
                         {"name": "Mine DRC", "region": "DRC", "stage": "mine",
                          "capacity": 3600.0, "unit_cost": 12.0}],
           "buyers": [{"name": f"{r} buyers", "region": r, "share": 0.5, "inventory_cover": 60.0}
                      for r in ("EU", "China")],
           "policy": {"trade": {"tariff": 0.5}},
           "shocks": [{"kind": "export_control", "region": "DRC", "start": 2, "duration": 2,
                       "cut": 0.5, "stage": "concentrate"},
                      {"kind": "export_control", "region": "China", "start": 2, "duration": 2,
                       "cut": 0.05}]}
    model = run(raw)
    s = model.series()
    free = run({**raw, "shocks": []}).series()
    np.testing.assert_allclose(s["price"], free["price"], rtol=1e-9)
    np.testing.assert_allclose(s["club_price"], free["club_price"], rtol=1e-9)
    np.testing.assert_allclose(s["club_price"][0], 1.5 * s["price"][0], rtol=1e-9)
    china_exports = 500 * (1.5 * s["price"][0] / 60) ** -0.5 - 300      # 104.54 t
    cover = 60 * 6000 / 365
    np.testing.assert_allclose(model.buyers.stock[0], cover - 2 * (150 + 0.05 * china_exports),
                               rtol=1e-9)


def test_a_separate_market_in_autarky_replaces_its_own_refinerys_lost_ore_from_its_own_stock():
    """Review rv7 X4. `separate_japan` with shipping 20 both ways, a DRC mine 1,000 t/step at
    10, the EU refinery 500 t/step at 10 and Japan's 500 t/step at 60. Free trade: the EU's
    buyers on the EU refinery's 500 t, P = 60; Japan's refinery (chain ask 70, below import
    parity 80) keeps Japan in autarky at 70, 500 (70 / 60)^-0.5 = 462.9 t; the DRC ships
    962.9 t. Cut 0.1 denies 96.3 t, all of it Japan's refinery's feed (the licensed ore goes to
    the EU refinery first): Japan's buyers draw 96.3 t a step (room min(0.5 x 462.9, 0.25 x
    986.3) = 231.5), the EU's nothing, and both prices stay (before: the shortfall was shared
    with the EU's buyers, whose tonnes do not reach Japan: Japan 75.85, the world 55.85)."""
    raw = japan_both_ways(0.1, mine=12000.0, japan=(6000.0, 60.0))
    model = run(raw)
    s = model.series()
    np.testing.assert_allclose(s["price"], 60.0, rtol=1e-9)
    np.testing.assert_allclose(s["price_region__Japan"], 70.0, rtol=1e-9)
    japan_use = 500 * (70 / 60) ** -0.5
    cover = 60 * 6000 / 365
    np.testing.assert_allclose(model.buyers.stock, [cover, cover - 3 * 0.1 * (500 + japan_use)],
                               rtol=1e-9)
