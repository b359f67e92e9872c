"""Scrap as a traded good (market.scrap_trade) and scrap export controls: hand-computed cases."""

import copy

import numpy as np
import pytest
from helpers import BASE, run

from abm.errors import ConfigError
from abm.experiment import experiment_from_dict
from abm.scrap import clear_scrap, clear_scrap_market

# ------------------------------------------------------------------------------------------------
# the pure clearing (abm.scrap)
# ------------------------------------------------------------------------------------------------


def test_scrap_goes_to_the_highest_value_first_and_the_marginal_value_is_the_price():
    # values 50, 30, 10 with room 40, 40, 40 and 60 t of scrap: 40 t to the first, 20 t to the
    # second (partly filled, so marginal): price 30; the third gets none
    price, bought = clear_scrap(60.0, np.array([30.0, 50.0, 10.0]), np.array([40.0, 40.0, 40.0]))
    assert price == 30.0
    np.testing.assert_array_equal(bought, [20.0, 40.0, 0.0])


def test_equal_values_share_the_scrap_pro_rata_to_room():
    # two recyclers valuing scrap at 20 with room 30 and 10 share 20 t as 15 and 5
    price, bought = clear_scrap(20.0, np.array([20.0, 20.0]), np.array([30.0, 10.0]))
    assert price == 20.0
    np.testing.assert_allclose(bought, [15.0, 5.0], rtol=1e-15)


def test_scrap_in_excess_of_every_bid_is_worth_nothing():
    # room 10 + 10 < 30 t of scrap: all room is filled, 10 t find no bidder, price 0; a recycler
    # with a negative value (cost above the price it saw) bids nothing
    price, bought = clear_scrap(30.0, np.array([5.0, 8.0, -1.0]), np.array([10.0, 10.0, 50.0]))
    assert price == 0.0
    np.testing.assert_array_equal(bought, [10.0, 10.0, 0.0])


def test_no_scrap_prices_at_the_highest_bid():
    price, bought = clear_scrap(0.0, np.array([5.0, 8.0]), np.array([10.0, 10.0]))
    assert price == 8.0 and not bought.any()


def test_a_binding_control_splits_the_price_at_each_sides_marginal_value():
    # home (controlling) recyclers H1 (value 30, room 50) and H2 (value 20, room 50) collect
    # 100 t; the foreign recycler F (value 50, room 100) collects 30 t. Without a control: F
    # takes 100 t, H1 30 t, price 30 (H1 marginal); home net exports 100 - 30 = 70 t.
    # cut 0.5: 35 t may leave. Home: 100 - 35 = 65 t -> H1 50, H2 15, price 20 (H2 marginal).
    # Abroad: 30 + 35 = 65 t < room 100 -> price 50 (F's value).
    collected = np.array([60.0, 40.0, 30.0])
    value, room = np.array([30.0, 20.0, 50.0]), np.array([50.0, 50.0, 100.0])
    home = np.array([True, True, False])
    free = clear_scrap_market(collected, value, room)
    assert free.home_price == free.outside_price == 30.0 and free.withheld == 0.0
    np.testing.assert_array_equal(free.bought, [30.0, 0.0, 100.0])
    o = clear_scrap_market(collected, value, room, home, 0.5)
    assert (o.home_price, o.outside_price, o.withheld) == (20.0, 50.0, 35.0)
    np.testing.assert_array_equal(o.bought, [50.0, 15.0, 65.0])
    np.testing.assert_array_equal(o.price, [20.0, 20.0, 50.0])
    # exporters sell what stays (65 t) at 20 and the 35 t exported at 50, pro rata to what they
    # collected (60 : 40): H1 20 x (60 - 21) + 50 x 21 = 1830, H2 20 x (40 - 14) + 50 x 14 =
    # 1220; F 50 x 30 = 1500. Payments: 20 x 65 + 50 x 65 = 4550 = 1830 + 1220 + 1500.
    np.testing.assert_allclose(o.receipts, [1830.0, 1220.0, 1500.0], rtol=1e-14)
    assert o.receipts.sum() == pytest.approx((o.price * o.bought).sum(), rel=1e-14)


def test_a_control_by_a_scrap_importer_or_with_no_cut_changes_nothing():
    collected = np.array([60.0, 40.0, 30.0])
    value, room = np.array([30.0, 20.0, 50.0]), np.array([50.0, 50.0, 100.0])
    free = clear_scrap_market(collected, value, room)
    for home, cut in ((np.array([False, False, True]), 0.8),     # F imports 70 t: not binding
                      (np.array([True, True, False]), 0.0)):
        o = clear_scrap_market(collected, value, room, home, cut)
        np.testing.assert_array_equal(o.bought, free.bought)
        np.testing.assert_array_equal(o.receipts, free.receipts)
        assert o.withheld == 0.0 and o.home_price == o.outside_price == free.outside_price


# ------------------------------------------------------------------------------------------------
# in the model
# ------------------------------------------------------------------------------------------------

# US recycler: cost 30, room 600/12 = 50 t/step, collects 1200/12 = 100 t/step at the reference
# price; Chinese recycler: cost 10, room 100 t/step, collects 360/12 = 30 t/step. At step 0 both
# see the reference price 60: values 30 and 50.
RECYCLERS = [{"name": "R US", "region": "US", "capacity": 600.0, "unit_cost": 30.0,
              "scrap": 1200.0},
             {"name": "R China", "region": "China", "capacity": 1200.0, "unit_cost": 10.0,
              "scrap": 360.0}]


def traded(shocks=(), trade=True) -> dict:
    raw = copy.deepcopy(BASE)
    raw["market"]["scrap_trade"] = trade
    raw["recyclers"] = copy.deepcopy(RECYCLERS)
    raw["shocks"] = list(shocks)
    return raw


US_CONTROL = {"kind": "scrap_export_control", "region": "US", "start": 0, "duration": 6,
              "cut": 0.5}


def test_scrap_flows_to_the_recycler_that_values_it_most():
    # 130 t of scrap: China's recycler (value 50) fills its 100 t, the US one gets the other
    # 30 t (partly filled: price 30). Without trade each processes its own: US 50, China 30.
    # Product at step 0: 130 t recycled below 40 (refinery A's cost); D(P) = 100 (P/60)^-0.5
    # = 130 gives P = 60 (100/130)^2 = 35.50.
    m = run(traded(), steps=1)
    o = m.recyclers.outcome
    np.testing.assert_array_equal(o.bought, [30.0, 100.0])
    s = m.series(accounts=True)
    assert s["scrap_price"][0] == 30.0 and s["scrap_price_home"][0] == 30.0
    assert s["recycled"][0] == pytest.approx(130.0, rel=1e-12)
    assert s["club_recycled"][0] == pytest.approx(30.0, rel=1e-12)     # the US recycler's
    assert s["price"][0] == pytest.approx(60.0 * (100.0 / 130.0) ** 2, rel=1e-12)
    own = run(traded(trade=False), steps=1).series()
    assert own["recycled"][0] == pytest.approx(80.0, rel=1e-12)       # 50 + 30
    # the US recycler sold 100 t at 30 and bought 30 t: +2100 price units, USD x 1000
    assert m.book.revenue[m.recycler_rows[0]] == pytest.approx(
        float(o.bought[0]) * float(s["price"][0]) * 1000.0 + 2100.0 * 1000.0, rel=1e-12)


def test_a_us_scrap_export_control_splits_the_scrap_price_as_it_implies():
    # US net exports without the control: 100 - 30 = 70 t; cut 0.5 keeps 35 t at home. US:
    # 65 t for room 50 -> 15 t unbought, price 0. China: 30 + 35 = 65 t < room 100 -> price 50.
    # Recycled product 50 + 65 = 115 t; refinery A (cost 40) is then marginal: D(40) = 122.47
    # > 115, so P = 40.
    m = run(traded([US_CONTROL]), steps=1)
    s = m.series(accounts=True)
    assert (s["scrap_price_home"][0], s["scrap_price"][0], s["scrap_withheld"][0]) == \
        (0.0, 50.0, 35.0)
    np.testing.assert_array_equal(m.recyclers.outcome.bought, [50.0, 65.0])
    assert s["recycled"][0] == pytest.approx(115.0, rel=1e-12)
    assert s["club_recycled"][0] == pytest.approx(50.0, rel=1e-12)     # the US recycler's
    assert s["price"][0] == pytest.approx(40.0, rel=1e-12)
    # money: US receipts 0 x 65 + 50 x 35 = 1750, China 50 x 30 = 1500; payments 50 x 65 = 3250
    # (club collectors received 1750 / 100 t = 17.5 a tonne)
    assert s["club_scrap_price"][0] == pytest.approx(17.5, rel=1e-12)
    assert s["scrap_receipts"][0] == pytest.approx(3250.0 * 1000.0, rel=1e-12)
    assert s["scrap_payments"][0] == pytest.approx(3250.0 * 1000.0, rel=1e-12)


def test_a_control_is_in_force_from_start_for_duration_steps():
    s = run(traded([dict(US_CONTROL, start=2, duration=3)]), steps=7).series()
    assert (s["scrap_withheld"].to_numpy() > 0).tolist() == [False, False, True, True, True,
                                                              False, False]


@pytest.mark.parametrize("control", [dict(US_CONTROL, cut=0.0),
                                     dict(US_CONTROL, region="China")])   # China imports scrap
def test_a_non_binding_scrap_control_changes_nothing(control):
    free = run(traded()).series(accounts=True)
    controlled = run(traded([control])).series(accounts=True)
    assert free.equals(controlled)


def test_traded_scrap_with_one_recycler_is_todays_recycling():
    # one recycler that values scrap (cost 30 below every price it sees) buys back all it
    # collected, up to its room: the run is exactly the one without traded scrap
    one = [dict(RECYCLERS[0], capacity=1500.0)]
    plain = traded(trade=False)
    plain["recyclers"] = one
    trade = traded()
    trade["recyclers"] = copy.deepcopy(one)
    a, b = run(plain).series(), run(trade).series()
    assert (b["scrap_price"] > 0).all()
    prices = ("scrap_price", "scrap_price_home", "club_scrap_price")
    assert a.drop(*prices).equals(b.drop(*prices))


def test_an_untargeted_regions_recyclers_buy_on_the_controllers_side():
    # with a third region EU (untargeted, no scrap of its own) the US and EU trade freely; only
    # China is cut off
    raw = traded([dict(US_CONTROL, targets=["China"])])
    raw["regions"].append({"name": "EU", "club": True})
    raw["recyclers"].append({"name": "R EU", "region": "EU", "capacity": 600.0,
                             "unit_cost": 35.0, "scrap": 0.0})
    m = run(raw, steps=1)
    # no control: China 100 t (value 50), US 30 t (value 30), EU 0 (value 25), price 30;
    # the US side (US + EU) exports 70 t, 35 t may leave. US side: 65 t -> US 50, EU 15 at 25.
    np.testing.assert_array_equal(m.recyclers.outcome.bought, [50.0, 65.0, 15.0])
    s = m.series()
    assert (s["scrap_price_home"][0], s["scrap_price"][0]) == (25.0, 50.0)


def test_club_recycled_share_is_club_recyclers_output_over_club_consumption_in_the_last_year():
    raw = traded([US_CONTROL])
    raw["experiment"]["steps"] = 12
    m = run(raw)
    s = m.series()
    assert m.metrics()["club_recycled_share"] == pytest.approx(
        float(s["club_recycled"].sum()) / float(s["club_consumption"].sum()), rel=1e-12)
    assert float(s["club_recycled"].sum()) > 0


def test_a_bystander_replaces_part_of_the_withheld_exports_with_its_own_scrap():
    # US (controller): collects 100, value 30, room 50; China (target): 30, value 50, room 100;
    # EU (bystander): 10, value 25, room 50. Uniform: 140 t -> China 100, US 40, price 30; the
    # US exports 60, EU 10, China imports 70, so the US's exports to China are 60 x 70/70 = 60
    # and cut 0.5 allows 30. The US and EU recyclers buy on the cheap side: 100 - 30 = 70 t ->
    # US 50, EU 20 at 25 (EU marginal); China's side: 30 + EU's 10 + 30 = 70 t < room 100, at
    # 50. Receipts: US 25 x 70 + 50 x 30 = 3250, China 50 x 30 = 1500, EU 50 x 10 = 500;
    # payments 25 x 70 + 50 x 70 = 5250 = receipts.
    collected = np.array([100.0, 30.0, 10.0])
    value, room = np.array([30.0, 50.0, 25.0]), np.array([50.0, 100.0, 50.0])
    home, china = np.array([True, False, False]), np.array([False, True, False])
    o = clear_scrap_market(collected, value, room, home, 0.5, china)
    assert (o.home_price, o.outside_price, o.withheld) == (25.0, 50.0, 30.0)
    np.testing.assert_array_equal(o.bought, [50.0, 70.0, 20.0])
    np.testing.assert_array_equal(o.price, [25.0, 50.0, 25.0])
    np.testing.assert_allclose(o.receipts, [3250.0, 1500.0, 500.0], rtol=1e-14)
    assert o.receipts.sum() == pytest.approx((o.price * o.bought).sum(), rel=1e-14)


def test_a_bystander_with_scrap_enough_undoes_the_control():
    # as above with EU collecting 60: uniform 190 t -> China 100, US 50, EU 40 at 25; US exports
    # 50, all to China (EU exports too), 25 allowed. Split: cheap side 100 - 25 = 75 t -> US 50,
    # EU 25 at 25; China's side 30 + 60 + 25 = 115 t > room 100, price 0 < 25: EU's scrap
    # replaces what the US withholds, so one price clears as without the control
    collected = np.array([100.0, 30.0, 60.0])
    value, room = np.array([30.0, 50.0, 25.0]), np.array([50.0, 100.0, 50.0])
    home, china = np.array([True, False, False]), np.array([False, True, False])
    free = clear_scrap_market(collected, value, room)
    o = clear_scrap_market(collected, value, room, home, 0.5, china)
    assert o.withheld == 0.0 and o.home_price == o.outside_price == free.outside_price == 25.0
    np.testing.assert_array_equal(o.bought, free.bought)


def test_a_small_control_with_alike_recyclers_and_a_bystander_changes_nothing():
    # every recycler values scrap at 30, room 100; H collects 150, T 0, O 10: free, 160 t shared
    # pro rata, 53.33 each at 30. H exports 96.67, T imports 53.33, O 43.33: 53.33 of H's exports
    # go to T, cut 0.01 allows 52.8; O's 10 t cover the 0.53 t T would miss, so the free
    # allocation is still feasible (a test on prices would call the tie 30 = 30 binding and
    # send T 62.8 t)
    collected = np.array([150.0, 0.0, 10.0])
    value, room = np.full(3, 30.0), np.full(3, 100.0)
    home, target = np.array([True, False, False]), np.array([False, True, False])
    free = clear_scrap_market(collected, value, room)
    o = clear_scrap_market(collected, value, room, home, 0.01, target)
    np.testing.assert_array_equal(o.bought, free.bought)
    assert o.withheld == 0.0 and o.home_price == o.outside_price == 30.0


def test_a_recycler_bids_for_scrap_only_from_its_start_step():
    # the Chinese recycler starts at step 2: before, the US recycler alone takes 50 of its
    # 100 t (room 50), scrap left over, price 0; from step 2 China's recycler bids too
    raw = traded()
    raw["recyclers"][1]["start"] = 2
    raw["recyclers"][1]["scrap"] = 0.0
    m = run(raw, steps=3)
    s = m.series()
    assert s["scrap_price"].to_list()[:2] == [0.0, 0.0]
    assert s["recycled"][0] == pytest.approx(50.0, rel=1e-12)
    assert s["scrap_price"][2] > 0.0


def test_the_club_as_controller_withholds_every_club_regions_exports():
    # region = "club": the US and EU together (EU: club, a recycler with 480/12 = 40 t of scrap
    # a step and no room). Uniform: 170 t, China takes 100 (value 50), the US 50 (value 30), 20 t
    # are left over: price 0. The club exports 140 - 50 = 90 t, more than China's 70 t of
    # imports, so 70 t go to China; cut 1 withholds them all. Club side: 140 t for room 50,
    # price 0; China: its own 30 t < room 100, price 50 (China's value)
    raw = traded([dict(US_CONTROL, region="club", cut=1.0)])
    raw["regions"].append({"name": "EU", "club": True})
    raw["recyclers"].append({"name": "R EU", "region": "EU", "capacity": 0.0,
                             "unit_cost": 35.0, "scrap": 480.0})
    m = run(raw, steps=1)
    s = m.series()
    assert (s["scrap_price_home"][0], s["scrap_price"][0], s["scrap_withheld"][0]) == \
        (0.0, 50.0, 70.0)
    np.testing.assert_array_equal(m.recyclers.outcome.bought, [50.0, 30.0, 0.0])
    assert s["club_scrap_price"][0] == 0.0


@pytest.mark.parametrize("change, key", [
    ({"shocks": [dict(US_CONTROL, region="China", targets=["US", "US"])]}, "targets"),
    ({"shocks": [dict(US_CONTROL, announce=0)]}, "announce"),
    ({"shocks": [dict(US_CONTROL, region="club", targets=["US"])]}, "targets"),
    ({"market.scrap_trade": False}, "kind"),
    ({"shocks": [US_CONTROL, dict(US_CONTROL, region="China", start=3)]}, "start"),
    ({"shocks": [dict(US_CONTROL, targets=["US"])]}, "targets"),
    ({"shocks": [dict(US_CONTROL, targets=["Mars"])]}, "targets"),
    ({"shocks": [dict(US_CONTROL, front_run=0.5)]}, "front_run"),
    ({"shocks": [dict(US_CONTROL, kind="export_control", region="China", targets=["US"])]},
     "targets"),
])
def test_bad_scrap_controls_are_refused_naming_the_key(change, key):
    raw = traded([US_CONTROL])
    if "market.scrap_trade" in change:
        raw["market"]["scrap_trade"] = False
    else:
        raw["shocks"] = change["shocks"]
    with pytest.raises(ConfigError) as err:
        experiment_from_dict(raw)
    assert key in str(err.value)


def test_a_control_by_a_region_without_scrap_is_refused():
    # the EU has a recycler but no scrap: its control would withhold nothing
    raw = traded([dict(US_CONTROL, region="EU")])
    raw["regions"].append({"name": "EU", "club": True})
    raw["recyclers"].append({"name": "R EU", "region": "EU", "capacity": 600.0,
                             "unit_cost": 35.0, "scrap": 0.0})
    with pytest.raises(ConfigError) as err:
        experiment_from_dict(raw)
    assert err.value.key == "shocks.0.region"
    assert "'EU' has no scrap to withhold" in err.value.message
