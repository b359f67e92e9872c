"""Merit-order clearing against hand-computed equilibria (pure functions and the model's first step).

Demand in every case: D(P) = Q_ref/12 * (P / P_ref)^eps per monthly step, so with Q_ref = 1200 t/yr
the monthly reference quantity is 100 t at 60 USD/kg.
"""

import numpy as np
import pytest
from helpers import first_price, raw

from abm import market

A = market.demand_scale(100.0, 60.0, -0.5)   # D(P) = 100 (P/60)^-0.5 t per step


def D(p):
    return 100.0 * (p / 60.0) ** -0.5


def test_horizontal_segment_crossing_sets_price_to_the_marginal_ask():
    # offers 50 t @ 40 and 100 t @ 55: D(55) = 104.45 lies within [50, 150] -> P = 55
    c = market.clear(np.array([40.0, 55.0]), np.array([50.0, 100.0]), A, -0.5)
    assert c.price == 55.0
    assert c.quantity == pytest.approx(D(55.0), rel=1e-12)
    np.testing.assert_allclose(c.dispatched, [50.0, D(55.0) - 50.0], rtol=1e-12)


def test_vertical_segment_crossing_solves_inverse_demand_at_cumulative_supply():
    # offers 90 t @ 40 and 60 t @ 70: D(70) = 92.58 < 90? no: 92.58 > 90 -> but D(70) <= 150, and
    # D(70) >= 90 so horizontal at 70. Use 95 t @ 40 instead: D(70) = 92.58 < 95 -> vertical at 95 t:
    # P = 60 * (95/100)^(-2) = 66.4819...
    c = market.clear(np.array([40.0, 70.0]), np.array([95.0, 60.0]), A, -0.5)
    assert c.price == pytest.approx(60.0 * 0.95 ** -2, abs=1e-9)
    assert c.quantity == pytest.approx(95.0, abs=1e-12)
    np.testing.assert_allclose(c.dispatched, [95.0, 0.0])


def test_shortage_raises_price_until_demand_equals_all_supply_and_serves_every_buyer():
    # 50 t in all @ 30: P = 60 * (50/100)^-2 = 240, where demand is 50 t: every buyer is served
    # at the clearing price, so no demand is unmet (issue 13: unmet demand was D(60) - 50 = 50 t)
    c = market.clear(np.array([30.0]), np.array([50.0]), A, -0.5, shortfall_price=60.0)
    assert c.scarce
    assert c.price == pytest.approx(240.0, abs=1e-9)
    assert c.quantity == pytest.approx(D(240.0), rel=1e-12)
    assert c.unmet == 0.0


def test_without_any_supply_unmet_demand_is_demand_at_the_shortfall_price():
    # no offer at all: no price clears; buyers go without D(60) = 100 t in both clearings
    c = market.clear(np.array([30.0]), np.array([0.0]), A, -0.5, shortfall_price=60.0)
    assert c.unmet == pytest.approx(D(60.0), rel=1e-12)
    linked = market.clear_linked(np.array([30.0]), np.array([0.0]), A, -0.5, [],
                                 shortfall_price=60.0)
    assert linked.unmet == pytest.approx(D(60.0), rel=1e-12)
    # under a price cap both record demand at the cap
    c = market.clear(np.array([30.0]), np.array([0.0]), A, -0.5, price_cap=150.0,
                     shortfall_price=60.0)
    linked = market.clear_linked(np.array([30.0]), np.array([0.0]), A, -0.5, [],
                                 price_cap=150.0, shortfall_price=60.0)
    assert c.unmet == pytest.approx(D(150.0), rel=1e-12)
    assert linked.unmet == pytest.approx(D(150.0), rel=1e-12)


def test_price_cap_binds_and_rations():
    c = market.clear(np.array([30.0]), np.array([50.0]), A, -0.5, price_cap=150.0)
    assert c.price == 150.0
    assert c.unmet == pytest.approx(D(150.0) - 50.0, abs=1e-9)


def test_tied_marginal_offers_share_the_remainder_pro_rata():
    c = market.clear(np.array([50.0, 50.0, 20.0]), np.array([60.0, 20.0, 40.0]), A, -0.5)
    assert c.price == 50.0
    rest = D(50.0) - 40.0
    np.testing.assert_allclose(c.dispatched, [rest * 0.75, rest * 0.25, 40.0], rtol=1e-12)


def test_offer_order_does_not_change_the_equilibrium():
    rng = np.random.default_rng(3)
    asks, qty = rng.uniform(10, 90, 30), rng.uniform(1, 10, 30)
    perm = rng.permutation(30)
    a = market.clear(asks, qty, A, -0.5)
    b = market.clear(asks[perm], qty[perm], A, -0.5)
    assert a.price == b.price
    np.testing.assert_allclose(a.dispatched[perm], b.dispatched, rtol=1e-12, atol=1e-12)


def test_chain_curve_pairs_cheapest_refining_with_cheapest_concentrate():
    # refineries 50 t @ 10, 50 t @ 20 (conversion); mines 60 t @ 5, 60 t @ 8, 100 t @ 30; k = 1
    curve = market.chain_curve(np.array([10.0, 20.0]), np.array([50.0, 50.0]),
                               np.array([5.0, 8.0, 30.0]), np.array([60.0, 60.0, 100.0]), 1.0)
    np.testing.assert_allclose(curve.asks, [15.0, 25.0, 28.0])
    np.testing.assert_allclose(curve.quantity, [50.0, 10.0, 40.0])


# -- the model's first-step price equals the hand-computed equilibrium --------------------------

def test_model_first_price_horizontal_case():
    # capacities 600 t/yr = 50 t/step each; asks 40 (US) and 50 (China).
    # D(50) = 100 * (50/60)^-0.5 = 109.5 > 100 = all supply -> scarcity; so raise Q_ref to make it
    # horizontal: Q_ref = 840 t/yr -> D(P) = 70 (P/60)^-.5: D(50) = 76.68 in [50, 100] -> P = 50.
    cfg = raw(**{"market.demand.reference_quantity": 840.0})
    assert abs(first_price(cfg) - 50.0) < 1e-9


def test_model_first_price_vertical_case():
    # Q_ref = 600 t/yr -> D(P) = 50 (P/60)^-0.5; D(50) = 54.77 > 50 and D(50) < 100 -> horizontal?
    # Use China's ask 80 instead: D(80) = 43.3 < 50 = US capacity -> vertical at 50 t:
    # P = 60 * (50/50)^-2 = 60.
    cfg = raw(**{"market.demand.reference_quantity": 600.0, "producers.1.unit_cost": 80.0})
    assert abs(first_price(cfg) - 60.0) < 1e-9


def test_model_first_price_shortage_case():
    # Q_ref = 2400 t/yr -> D(P) = 200 (P/60)^-0.5; all supply 100 t -> P = 60 * (100/200)^-2 = 240
    cfg = raw(**{"market.demand.reference_quantity": 2400.0})
    assert abs(first_price(cfg) - 240.0) < 1e-9


def test_model_first_price_with_mines_uses_the_integrated_chain():
    # refinery conversion 10 (600 t/yr), mine 30 (1200 t/yr concentrate), intensity 2 -> product
    # ask 10 + 2*30 = 70 for 50 t/step; D(P) = 50 (P/60)^-0.5 with Q_ref 600: D(70) = 46.3 < 50
    # -> horizontal at 70; concentrate price = mine cost 30.
    cfg = raw(**{"market.demand.reference_quantity": 600.0, "market.intensity": 2.0})
    cfg["producers"] = [
        {"name": "R", "region": "US", "stage": "refinery", "capacity": 600.0, "unit_cost": 10.0},
        {"name": "M", "region": "US", "stage": "mine", "capacity": 1200.0, "unit_cost": 30.0},
    ]
    from abm.experiment import experiment_from_dict
    from abm.model import MineralMarket

    model = MineralMarket(experiment_from_dict(cfg).scenario(), rng=1)
    model.step()
    s = model.series(accounts=True)
    assert abs(s["price"][0] - 70.0) < 1e-9
    assert abs(s["concentrate_price"][0] - 30.0) < 1e-9
    assert s["concentrate_output"][0] == pytest.approx(2.0 * s["production"][0], rel=1e-12)


@pytest.mark.parametrize("tariff", [0.0, 1e-10, 1.01e-10, 5e-10, 1e-9, 1e-8])
def test_a_tiny_tariff_at_a_price_cap_leaves_the_shortage_and_the_hubs_buyers_as_without_it(
        tariff):
    # Found by the slow linked_equals_single search: the hub's 38 t/yr sell under a cap of 80
    # to its buyers (250 / 80 = 3.125 t a step) and a club node with no supply (the same);
    # 6.25 wanted, 38 / 12 = 3.1667 there, so 37 t/yr go unmet whatever the tariff (below
    # SNAP_REL the club shares pro rata; above it its imports cost the cap at the border at
    # the world price 80 / (1 + t), and it takes what the hub's buyers leave). With a tariff
    # between SNAP_REL and 1e-9 the world price was snapped to the cap itself, where the
    # club's imports cost more than it: the club got nothing and the hub's buyers 3.1667,
    # above what they want at 80, and 37.5 t/yr went unmet.
    club = market.Node(asks=np.array([]), qty=np.array([]), A=250.0, tariff=tariff)
    r = market.clear_linked(np.array([0.0]), np.array([38 / 12]), 250.0, -1.0, [club],
                            price_cap=80.0, shortfall_price=60.0)
    # (the hub's buyers want a hair more at the world price 80 / (1 + t): 37 (1 + t))
    assert r.unmet * 12 == pytest.approx(37.0, rel=1e-9 + 2 * tariff)
    assert r.world_consumption <= 250.0 / r.world_price * (1 + 1e-12)
    assert r.world_consumption + r.node_consumption[0] == pytest.approx(38 / 12, rel=1e-12)


@pytest.mark.parametrize("cap", [80.0, 79.0])
def test_two_tiny_tariffs_at_a_price_cap_let_both_nodes_import_when_supply_meets_demand(cap):
    # review rv12 F2: the hub's 7 t (ask 0), node 1 (A 250, no supply, tariff t) and node 2
    # (A 100, 0.5 t at 10, tariff 2t), eps -1. At the cap 80 the hub's buyers want 3.125, node
    # 1's 3.125 and node 2's 1.25: 7.5 in all, the supply. Snapped to node 1's border, node 2's
    # imports cost 80 (1 + 2t) / (1 + t) > 80 and stopped: 0.75 unmet, the hub's buyers 3.875.
    # At cap 79 demand (7.595) exceeds supply: 0.0949 unmet is shared by the rationing.
    t = 1.01e-10
    nodes = [market.Node(asks=np.array([]), qty=np.array([]), A=250.0, tariff=t),
             market.Node(asks=np.array([10.0]), qty=np.array([0.5]), A=100.0, tariff=2 * t)]
    r = market.clear_linked(np.array([0.0]), np.array([7.0]), 250.0, -1.0, nodes,
                            price_cap=cap, shortfall_price=60.0)
    want = 250.0 / cap + 250.0 / cap + 100.0 / cap
    assert r.world_consumption <= 250.0 / r.world_price * (1 + 1e-9)
    assert r.world_consumption + sum(r.node_consumption) == pytest.approx(7.5, rel=1e-12)
    assert r.unmet == pytest.approx(max(want - 7.5, 0.0), abs=1e-7)
    assert r.node_consumption[1] > 0.5 + 0.5 * min(0.75, 100.0 / cap - 0.5)   # node 2 imports


def test_a_rounding_residue_of_supply_under_near_vertical_demand_clears_as_no_price_not_a_crash():
    # slow stockpile property (2026-12-04): 2.2e-16 t left in a node under eps = -0.0508 asks
    # P = (2.2e-16 / 5.13)^(-19.7) = 10^(~670), beyond a float: OverflowError. No price clears
    # that little; the buyers go without all but the 2.2e-16 t, as with no supply at all.
    eps = -0.05078125
    A = 5.129623632159546
    assert market.inverse_demand(A, eps, 2.220446049250313e-16) == np.inf
    c = market.clear(np.array([1.0]), np.array([2.220446049250313e-16]), A, eps)
    assert np.isfinite(c.price) and c.price > 1.0
    assert c.quantity == pytest.approx(2.220446049250313e-16, rel=1e-12)
    assert c.unmet == pytest.approx(market.demand_at(A, eps, c.price) - 2.220446049250313e-16,
                                    rel=1e-12)
    # a representable price still clears as before: 1e-3 t -> (1e-3 / A)^(1 / eps)
    assert market.inverse_demand(A, eps, 1e-3) == pytest.approx((1e-3 / A) ** (1 / eps), rel=1e-12)
