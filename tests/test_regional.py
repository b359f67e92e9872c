"""Regional prices with shipping costs (abm.regional; issue 16 part 4): the spatial equilibrium
of abm.market.clear_linked with costs on its nodes, against hand-computed cases, and the model's
separate-market regions.

The hand cases use demand with elasticity -1, D(P) = A / P, and supply vertical at its capacity
(every offer asks 5, below the prices found), so each equilibrium is a quadratic solved in the
docstring."""

import copy

import numpy as np
import pytest
from helpers import BASE, DERANDOMIZE, raw, run
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_conservation import configs

from abm import market
from abm.cli import main
from abm.experiment import experiment_from_dict
from abm.model import MineralMarket
from tests.bad_input_sweep import GOOD

EPS = -1.0


def node(supply: float, A: float, **costs) -> market.Node:
    return market.Node(np.array([5.0]), np.array([supply]), A, **costs)


def test_two_regions_trading_clear_at_prices_differing_by_exactly_the_cost():
    """World: 350 t at ask 5, D = 3000 / P; region: 50 t at ask 5, D = 1200 / P; shipping into
    the region costs 2. Autarky: world 3000 / 350 = 8.57, region 1200 / 50 = 24, a gap above 2,
    so the region imports at P + 2, and all 400 t clear:
        3000 / P + 1200 / (P + 2) = 400  ->  400 P^2 + 800 P = 4200 P + 6000
        ->  2 P^2 - 17 P - 30 = 0  ->  P = (17 + sqrt(289 + 240)) / 4 = (17 + 23) / 4 = 10.
    World 10, region 12 (= 10 + 2); the region buys 1200 / 12 = 100 t, 50 of them imported."""
    r = market.clear_linked(np.array([5.0]), np.array([350.0]), 3000.0, EPS,
                            [node(50.0, 1200.0, cost_in=2.0)])
    assert r.world_price == pytest.approx(10.0, rel=1e-12)
    assert r.node_prices[0] == pytest.approx(12.0, rel=1e-12)
    assert r.node_prices[0] - r.world_price == pytest.approx(2.0, rel=1e-12)
    assert r.net_imports[0] == pytest.approx(50.0, rel=1e-10)
    assert r.world_consumption == pytest.approx(300.0, rel=1e-10)


def test_an_exporting_region_gets_the_world_price_less_the_cost_out():
    """The mirror case: the region has 350 t and D = 3000 / P, the world 50 t and D = 1200 / P;
    shipping out of the region costs 2, so it sells at P_w - 2:
        3000 / p + 1200 / (p + 2) = 400 with p the region's price  ->  p = 10, P_w = 12;
    the region exports 350 - 3000 / 10 = 50 t."""
    r = market.clear_linked(np.array([5.0]), np.array([50.0]), 1200.0, EPS,
                            [node(350.0, 3000.0, cost_out=2.0)])
    assert r.world_price == pytest.approx(12.0, rel=1e-12)
    assert r.node_prices[0] == pytest.approx(10.0, rel=1e-12)
    assert r.net_imports[0] == pytest.approx(-50.0, rel=1e-10)


def test_regions_stay_at_autarky_prices_when_the_gap_is_below_the_cost():
    """World: 300 t, D = 3000 / P: autarky 10. Region: 100 t, D = 1100 / P: autarky 11. The gap,
    1, is below the cost of 2 either way: nothing trades, each clears at its autarky price."""
    r = market.clear_linked(np.array([5.0]), np.array([300.0]), 3000.0, EPS,
                            [node(100.0, 1100.0, cost_in=2.0, cost_out=2.0)])
    assert r.world_price == pytest.approx(10.0, rel=1e-12)
    assert r.node_prices[0] == pytest.approx(11.0, rel=1e-12)
    assert r.net_imports[0] == pytest.approx(0.0, abs=1e-9)
    # at a cost of 0.5 the gap of 1 exceeds it: they trade, 0.5 apart (P + 0.5 - P)
    r = market.clear_linked(np.array([5.0]), np.array([300.0]), 3000.0, EPS,
                            [node(100.0, 1100.0, cost_in=0.5, cost_out=0.5)])
    assert r.node_prices[0] - r.world_price == pytest.approx(0.5, rel=1e-10)
    assert r.net_imports[0] > 0


def test_three_regions_trade_through_the_world_market_at_the_sum_of_their_costs():
    """World: 300 t, D = 2400 / P. X: 300 t, D = 1600 / P, shipping out costs 2. Y: no supply,
    D = 2080 / P, shipping in costs 3. At P = 10: X's price 8, Y's 13; demand
    2400 / 10 + 1600 / 8 + 2080 / 13 = 240 + 200 + 160 = 600 = all supply, and excess supply
    600 - 2400 / P - 1600 / (P - 2) - 2080 / (P + 3) rises in P, so P = 10 is the equilibrium.
    X exports 100 t, Y imports 160 t: Y's price exceeds X's by 5 = 2 + 3, X -> world -> Y."""
    y = market.Node(np.zeros(0), np.zeros(0), 2080.0, cost_in=3.0)
    r = market.clear_linked(np.array([5.0]), np.array([300.0]), 2400.0, EPS,
                            [node(300.0, 1600.0, cost_out=2.0), y])
    assert r.world_price == pytest.approx(10.0, rel=1e-12)
    assert r.node_prices == pytest.approx([8.0, 13.0], rel=1e-12)
    assert r.net_imports == pytest.approx([-100.0, 160.0], rel=1e-10)
    assert r.node_prices[1] - r.node_prices[0] == pytest.approx(5.0, rel=1e-12)


def test_an_export_control_opens_a_gap_beyond_the_cost():
    """The exporter of the first mirror case under an export cap of 20 t: it sells 350 - 20 =
    330 t at home, 3000 / p = 330 -> p = 9.09; the world gets 50 + 20 = 70 t, 1200 / P_w = 70 ->
    P_w = 17.14. The gap, 8.05, exceeds the cost of 2: the measure stops trade."""
    r = market.clear_linked(np.array([5.0]), np.array([50.0]), 1200.0, EPS,
                            [node(350.0, 3000.0, cost_out=2.0, export_cap=20.0)])
    assert r.world_price == pytest.approx(1200.0 / 70.0, rel=1e-10)
    assert r.node_prices[0] == pytest.approx(3000.0 / 330.0, rel=1e-10)
    assert r.world_price - r.node_prices[0] > 2.0


# offers: ask, and t zero or at least a kilogram (subnormal tonnages are not meaningful)
OFFER = st.tuples(st.floats(1.0, 100.0), st.one_of(st.just(0.0), st.floats(1e-3, 500.0)))


@settings(derandomize=DERANDOMIZE,
          max_examples=60, deadline=None)
@given(st.lists(OFFER, min_size=1, max_size=6), st.lists(OFFER, max_size=6),
       st.floats(10.0, 1e5), st.floats(0.0, 1e5), st.floats(-2.0, -0.2))
def test_a_cost_of_zero_gives_the_single_markets_price(hub, own, a_hub, a_node, eps):
    """With nothing to pay for shipping, the world and a separate region are one market: both
    prices are the price of all offers cleared against all demand (A_hub + A_node) P^eps."""
    h, o = np.array(hub).reshape(-1, 2), np.array(own).reshape(-1, 2)
    one = market.clear(np.concatenate([h[:, 0], o[:, 0]]), np.concatenate([h[:, 1], o[:, 1]]),
                       a_hub + a_node, eps)
    if one.scarce:
        return                          # (no supply at all: the price is only a marker)
    r = market.clear_linked(h[:, 0], h[:, 1], a_hub, eps,
                            [market.Node(o[:, 0], o[:, 1], a_node, cost_in=0.0, cost_out=0.0)])
    assert r.world_price == pytest.approx(one.price, rel=1e-9)
    assert r.node_prices[0] == pytest.approx(one.price, rel=1e-9)


def test_a_separate_markets_landed_price_stops_at_the_price_cap_not_a_hair_above():
    """World: 50 t at ask 5, D = 1000 / P; the region has no supply, D = 6000 / P, and imports
    land at P_w + 50; price cap 110. Imports stop when they land above the cap, at
    P_w = 110 - 50 = 60: there the world buys 1000 / 60 = 16.667 t and the region gets the other
    33.333 t at the cap, 110 (its buyers want 6000 / 110 = 54.5: rationed). Both prices exact."""
    r = market.clear_linked(np.array([5.0]), np.array([50.0]), 1000.0, EPS,
                            [market.Node(np.zeros(0), np.zeros(0), 6000.0, cost_in=50.0)],
                            price_cap=110.0)
    assert r.world_price == 60.0 and r.node_prices[0] == 110.0
    assert r.net_imports[0] == pytest.approx(50.0 - 1000.0 / 60.0, rel=1e-12)
    assert r.world_consumption == pytest.approx(1000.0 / 60.0, rel=1e-12)


def test_rationing_at_the_cap_ships_nothing_that_would_cost_shipping():
    """Price cap 20, D = A / P everywhere, every offer asks 5. Hub: 40 t, A = 1000 (wants 50 at
    the cap). Separate market X: 48 t, A = 1000 (wants 50; autarky 1000 / 48 = 20.83), shipping
    1 each way. Separate market Y: 20 t, A = 500 (wants 25), shipping free. Every market is short
    at the cap, so the world price is the cap, 20. Y trades with the hub at no cost: they share
    the shortage, (40 + 20) / (50 + 25) = 0.8 each, so Y's buyers get 0.8 x 25 = 20 t, its own,
    and nothing moves. X would share the pool's 0.864 = (40 + 48 + 20) / 125 only by exporting
    48 - 0.864 x 50 = 4.8 t, which fetch 20 - 1 = 19 at home, below its own (capped) price of
    20: it trades nothing and its buyers get its own 48 t. Unmet: 10 + 2 + 5 = 17 t."""
    x = market.Node(np.array([5.0]), np.array([48.0]), 1000.0, cost_in=1.0, cost_out=1.0)
    y = market.Node(np.array([5.0]), np.array([20.0]), 500.0)
    r = market.clear_linked(np.array([5.0]), np.array([40.0]), 1000.0, EPS, [x, y],
                            price_cap=20.0)
    assert r.world_price == 20.0 and r.node_prices == [20.0, 20.0] and r.scarce
    assert r.net_imports == pytest.approx([0.0, 0.0], abs=1e-12)
    assert r.world_consumption == pytest.approx(40.0, rel=1e-12)
    assert r.node_consumption == pytest.approx([48.0, 20.0], rel=1e-12)
    assert r.unmet == pytest.approx(17.0, rel=1e-12)


def test_tied_offers_are_not_shared_with_a_market_that_would_pay_shipping():
    """Hub: 40 t at ask 10, D = 400 / P: alone it clears at exactly 10 (400 / 10 = 40 t).
    Separate market X: 40 t at ask 10, D = 350 / P (35 t at 10: its offer is marginal, its
    price 10), shipping 3 in and 1 out. Sharing the tie at 10 pro rata as in one market would
    sell (40 + 35) / 80 = 0.9375 of each offer, 37.5 t each, so X would export
    37.5 - 35 = 2.5 t; but its exports fetch 10 - 1 = 9 < 10 at home, and imports would land
    at 13: X trades nothing, its buyers take 35 t of its own, the hub's 40 t sell at home."""
    x = market.Node(np.array([10.0]), np.array([40.0]), 350.0, cost_in=3.0, cost_out=1.0)
    r = market.clear_linked(np.array([10.0]), np.array([40.0]), 400.0, EPS, [x])
    assert r.world_price == 10.0 and r.node_prices == [10.0]
    assert r.net_imports == pytest.approx([0.0], abs=1e-12)
    assert r.world_consumption == pytest.approx(40.0, rel=1e-12)
    assert r.node_consumption == pytest.approx([35.0], rel=1e-12)


def test_routed_imports_stop_at_the_price_cap_exactly_beside_a_separate_market():
    """Price cap 20, D = A / P. The hub is empty (every region a node). The club: 30 t at ask 5,
    A = 1000, a tariff of 0.5 evaded by routing at no cost with detection 0.5, so imports land
    at P_w (1 + 0.5 x 0.5) = 1.25 P_w: at the cap when P_w = 16. Separate market X (no
    shipping cost): 60 t at 5, A = 800. Below 16 the club wants 1000 / (1.25 P_w) - 30 > 20 t
    and X offers 60 - 800 / P_w < 10: short; above 16 routed imports cost more than the cap
    and X's exports have nowhere to go. So P_w = 16: X exports 60 - 800 / 16 = 10 t, the club
    takes them at the cap, 20 (its buyers want 1000 / 20 = 50 t: 40 served, 10 unmet)."""
    club = market.Node(np.array([5.0]), np.array([30.0]), 1000.0, tariff=0.5, route_cost=0.0,
                       detection=0.5)
    x = market.Node(np.array([5.0]), np.array([60.0]), 800.0)
    r = market.clear_linked(np.zeros(0), np.zeros(0), 0.0, EPS, [club, x], price_cap=20.0)
    assert r.world_price == 16.0 and r.node_prices == [20.0, 16.0]
    assert r.net_imports == pytest.approx([10.0, -10.0], rel=1e-12)
    assert r.node_consumption == pytest.approx([40.0, 50.0], rel=1e-12)
    assert r.unmet == pytest.approx(10.0, rel=1e-12)


# --------------------------------------------------------------------------------------------
# the model: [[regions]] separate_market, [[trade_costs]]
# --------------------------------------------------------------------------------------------


def separate(raw: dict, region: str = "China", routes=()) -> dict:
    out = {**raw, "regions": [dict(r, separate_market=True) if r["name"] == region else dict(r)
                              for r in raw["regions"]]}
    out["trade_costs"] = [dict(r) for r in routes]
    return out


def test_a_separate_region_has_its_price_series_and_its_buyers_pay_it():
    """China (600 t at 50) exports to the US (600 t at 40) side at a cost of 3: its price is the
    world price less 3 in every step China exports, and China's buyers pay it."""
    raw = separate(BASE, routes=[{"from": "China", "to": "US", "cost": 3.0}])
    model = run(raw, steps=6)
    s = model.series()
    assert "price_region__China" in s.columns and "price_region__US" not in s.columns
    gap = (s["price"] - s["price_region__China"]).to_numpy()
    assert ((gap <= 3.0 + 1e-9) & (gap >= -1e-9)).all()
    china = model.region_index["China"]
    paid = model.outcome.buyer_price[model.buyers.region == china]
    assert paid == pytest.approx(model.outcome.region_prices[china], rel=1e-12)


def test_without_separate_markets_no_price_region_columns():
    assert not [c for c in run(BASE, steps=2).series().columns if c.startswith("price_region__")]


def test_a_route_cost_of_zero_gives_the_models_single_market_prices():
    """A separate market that ships for nothing is the world market: the same world price and
    the same deliveries every step as without it (to rounding of the linked root search)."""
    one = run(BASE, steps=12).series()
    two = run(separate(BASE), steps=12).series()
    np.testing.assert_allclose(two["price"], one["price"], rtol=1e-9)
    np.testing.assert_allclose(two["price_region__China"], one["price"], rtol=1e-9)
    np.testing.assert_allclose(two["consumption"], one["consumption"], rtol=1e-9)


@st.composite
def configs_with_separate_markets(draw):
    raw = draw(configs())
    region = draw(st.sampled_from(["US", "China"]))
    other = "China" if region == "US" else "US"
    # (a route in each direction, mostly priced, so that many examples ship something)
    cost = st.one_of(st.just(0.0), st.floats(0.1, 5.0), st.floats(0.1, 5.0))
    routes = [{"from": region, "to": other, "cost": draw(cost)},
              {"from": other, "to": region, "cost": draw(cost)}]
    # ... and a cheap world-market refinery, whose product the separate market usually imports
    raw["producers"] = raw["producers"] + [{
        "name": "World", "region": other, "stage": "refinery",
        "capacity": draw(st.floats(500.0, 5000.0)), "unit_cost": draw(st.floats(0.0, 40.0))}]
    if any(p["stage"] == "mine" for p in raw["producers"]):     # (its feed: 3 t/t at most)
        raw["producers"].append({"name": "World mine", "region": other, "stage": "mine",
                                 "capacity": 15000.0, "unit_cost": draw(st.floats(0.0, 10.0))})
    raw = separate(raw, region, routes)
    # (a price cap that often binds: rationing at it across linked markets)
    cap = draw(st.one_of(st.none(), st.floats(20.0, 200.0)))
    raw["market"] = {**raw["market"], "price_cap": cap}
    floor = raw.get("policy", {}).get("floor")
    if cap is not None and floor and floor["mechanism"] in ("purchase", "mip") \
            and floor["level"] > cap:
        floor["level"] = cap * 0.8          # (a floor above the cap is refused)
    try:
        experiment_from_dict(raw).scenario()
    except Exception:           # a combination the config refuses (a club border, ...)
        raw["regions"] = [dict(r, club=False) for r in raw["regions"]]
        raw["policy"] = {}
    return raw


@settings(derandomize=DERANDOMIZE,
          max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(configs_with_separate_markets())
def test_tonnes_and_money_are_conserved_with_separate_markets(raw):
    """Tonnes produced and released are consumed or stocked; what buyers and governments pay is
    what sellers, duties, routers and shippers receive (shipping_cost: imports into a separate
    market at its cost in, exports at its cost out)."""
    model = MineralMarket(experiment_from_dict(raw).scenario(), rng=raw["experiment"]["seed"])
    model.run()
    s = model.series(accounts=True)
    np.testing.assert_allclose(s["production"] + s["gov_sales"] + s["private_release"],
                               s["consumption"] + s["gov_purchases"] + s["private_stocking"],
                               rtol=1e-9, atol=1e-9)
    money_in = (s["buyer_payments"] + s["gov_purchase_spend"]).to_numpy()
    money_out = (s["producer_revenue"] + s["gov_sales_revenue"] + s["private_sales_revenue"]
                 + s["duties"] + s["routing_cost"] + s["shipping_cost"]).to_numpy()
    prices = np.fmax(s["price"].to_numpy(), s["club_price"].to_numpy())
    for c in s.columns:
        if c.startswith("price_region__"):
            prices = np.fmax(prices, s[c].to_numpy())
    traded = (s["consumption"] + s["gov_purchases"] + s["gov_sales"]).to_numpy()
    gross = np.abs(traded * prices) * model.money_per_price_tonne
    gap = np.abs(money_in - money_out)
    assert (gap <= 1e-3 + 1e-9 * np.fmax(gross, np.abs(money_out))).all(), gap
    assert (s["shipping_cost"] >= 0).all()


# --------------------------------------------------------------------------------------------
# bad input: tests/test_bad_input.py (CASES, the trade_costs ones)
# --------------------------------------------------------------------------------------------

TWO = GOOD.replace('club = true\n', 'club = true\n\n[[regions]]\nname = "EU"\n'
                   'separate_market = true\n', 1)
ROUTE = '\n[[trade_costs]]\nfrom = "{a}"\nto = "{b}"\ncost = {c}\n'


def test_a_good_separate_market_config_validates(tmp_path):
    config = tmp_path / "exp.toml"
    config.write_text(TWO + ROUTE.format(a="EU", b="US", c=2.0)
                      + ROUTE.format(a="US", b="EU", c=2.5))
    assert main(["validate", str(config)]) == 0


def test_recyclers_in_a_separate_market_see_its_price():
    """A US recycler, the US a separate market importing at a cost of 10 (China's 2,000 t/yr at
    50 set the world price, the US has 120 t/yr of its own): it collects in answer to the US
    price, 50 + 10 = 60, not the world's 50 (collection_elasticity 1: scrap x P / 60 = 20 t per
    step)."""
    base = {**BASE, "recyclers": [{"name": "R", "region": "US", "capacity": 500.0,
                                   "unit_cost": 20.0, "scrap": 240.0,
                                   "collection_elasticity": 1.0, "collection_lag": 1}],
            "producers": [dict(BASE["producers"][0], capacity=120.0),
                          dict(BASE["producers"][1], capacity=2000.0)]}
    model = run(separate(base, "US", [{"from": "China", "to": "US", "cost": 10.0}]), steps=3)
    s = model.series()
    us = s["price_region__US"].to_numpy()
    expected = 240.0 / 12 * us[1] / 60.0          # step 2 answers the US price of step 1
    assert model.recyclers.collected[0] == pytest.approx(expected, rel=1e-12)
    assert us[1] == pytest.approx(60.0, rel=1e-12) and s["price"][1] == pytest.approx(50.0)
    assert model.recyclers.collected[0] == pytest.approx(20.0, rel=1e-12)


def test_a_floor_covering_one_separate_market_is_compared_with_its_price():
    raw = separate(BASE, "US", [{"from": "China", "to": "US", "cost": 10.0}])
    raw["policy"] = {"floor": {"mechanism": "cfd", "level": 55.0, "covers": ["US"]}}
    model = run(raw, steps=2)
    floor = next(p for p in model.policies if hasattr(p, "price_column"))
    assert floor.price_column() == "price_region__US"
    assert model.recorder.column("price_region__US") == pytest.approx(
        model.series()["price_region__US"].to_numpy())


def importing_us() -> dict:
    """BASE with China's 2,000 t/yr at 50 setting the world price, the US (120 t/yr of its own)
    a separate market importing at a cost of 10: its price is 60."""
    raw = {**BASE, "producers": [dict(BASE["producers"][0], capacity=120.0),
                                 dict(BASE["producers"][1], capacity=2000.0)]}
    return separate(raw, "US", [{"from": "China", "to": "US", "cost": 10.0}])


def test_the_club_price_is_what_club_buyers_pay_in_their_separate_markets():
    """The US buyers are the club's only buyers: the club price is the US price, 60, while the
    world price is China's 50, and the shippers got 10 per t the US imported."""
    model = run(importing_us(), steps=3)
    s = model.series(accounts=True)
    np.testing.assert_allclose(s["club_price"], s["price_region__US"], rtol=1e-12)
    np.testing.assert_allclose(s["price_region__US"], 60.0, rtol=1e-12)
    imports = s["club_consumption"] - s["club_production"]
    np.testing.assert_allclose(s["shipping_cost"], 10.0 * imports * model.money_per_price_tonne,
                               rtol=1e-9)


def test_regional_price_metrics_are_the_separate_markets_mean_price_and_premium():
    """importing_us: the US price is 50 + 10 = 60 in every step, the world's 50, so the mean
    price in the separate markets is 60 and their premium over the world price 10. Without
    separate markets both are NaN."""
    m = run(importing_us(), steps=6).metrics()
    assert m["regional_price_mean"] == pytest.approx(60.0, rel=1e-12)
    assert m["regional_price_spread"] == pytest.approx(10.0, rel=1e-12)
    assert np.isnan(run(BASE, steps=2).metrics()["regional_price_spread"])


def test_regional_price_metrics_weigh_each_market_by_what_its_buyers_bought():
    """Review 16f m3. Price cap 20; RoW (the world market) 1,440 t/yr = 120 t/step at ask 5;
    separate US (shipping in 2), EU (free) and JP (no buyers, shipping out 5); one buyer each in
    US, EU and RoW, D = A / P with A = 1000 (150 t/step at 20 over three buyers). Short at the
    cap: the world price is 18, at which US imports land at the cap, 20; the EU (free) pays 18
    and JP, empty, sits at 18 - 5 = 13. RoW and EU buyers take 1000 / 18 = 55.556 t each, the US
    the rest, 120 - 2 x 55.556 = 8.889 t (unmet 50 - 8.889 + 0 = 41.11). Weighted by tonnes
    bought in the separate markets (JP none):
        mean    (20 x 8.889 + 18 x 55.556) / 64.444 = 1177.78 / 64.444 = 18.276,
        premium (2 x 8.889 + 0 x 55.556) / 64.444 = 0.276
    (the plain mean over markets was (20 + 18 + 13) / 3 = 17, premium -1)."""
    third = 1.0 / 3.0
    cfg = {"experiment": {"name": "m3", "steps": 3, "seed": 1},
           "market": {"price_cap": 20.0, "demand": {
               "reference_price": 20.0, "reference_quantity": 1800.0, "elasticity": -1.0,
               "shock_sd": 0.0, "growth": 0.0}},
           "regions": [{"name": r, "separate_market": True} for r in ("US", "EU", "JP")]
           + [{"name": "RoW"}],
           "trade_costs": [{"from": "RoW", "to": "US", "cost": 2.0},
                           {"from": "JP", "to": "RoW", "cost": 5.0}],
           "producers": [refinery("RoW", 1440.0, 5.0)],
           "buyers": [{"name": f"{r} buyers", "region": r, "share": third}
                      for r in ("US", "EU", "RoW")]}
    model = run(cfg)
    s = model.series()
    assert (s["price"] == 18.0).all() and (s["price_region__JP"] == 13.0).all()
    us = 120.0 - 2 * 1000.0 / 18.0
    m = model.metrics()
    assert m["regional_price_mean"] == pytest.approx(
        (20.0 * us + 1000.0) / (us + 1000.0 / 18.0), rel=1e-9)
    assert m["regional_price_mean"] == pytest.approx(18.276, abs=5e-4)
    assert m["regional_price_spread"] == pytest.approx(2.0 * us / (us + 1000.0 / 18.0), rel=1e-9)
    assert m["regional_price_spread"] == pytest.approx(0.276, abs=5e-4)


def test_the_resolved_config_keeps_the_from_key_and_reloads():
    exp = experiment_from_dict(importing_us())
    resolved = exp.resolved()
    assert resolved["trade_costs"] == [{"from": "China", "to": "US", "cost": 10.0}]
    assert experiment_from_dict(resolved).resolved() == resolved


def test_a_separate_market_restricting_its_exports_is_one_market_with_both():
    """China a separate market (exports cost 3 to ship) that controls its exports from step 2:
    one node carries the cap and the cost, so the export region's price is China's price; before
    the control the gap to the world price is the cost of 3 (China exports), under it more."""
    raw = separate(BASE, "China", [{"from": "China", "to": "US", "cost": 3.0}])
    raw["producers"] = [dict(BASE["producers"][0], capacity=120.0),
                        dict(BASE["producers"][1], capacity=2000.0)]
    raw["shocks"] = [{"kind": "export_control", "region": "China", "start": 2, "duration": 4,
                      "cut": 0.8}]
    s = run(raw, steps=6).series()
    gap = (s["price"] - s["price_region__China"]).to_numpy()
    np.testing.assert_allclose(gap[:2], 3.0, rtol=1e-12)
    assert (gap[2:] > 3.0 + 1e-6).all()
    np.testing.assert_allclose(s["export_region_price"][2:], s["price_region__China"][2:],
                               rtol=1e-12)


def test_the_report_shows_prices_by_market_only_with_separate_markets(tmp_path, capsys):
    """regional_prices.toml's report has the 'Prices by market' chart (the world, US and EU
    prices); the baseline's, without separate markets, has none."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "experiments"
    for name, shown in (("regional_prices", True), ("baseline", False)):
        out = tmp_path / name
        assert main(["run", str(root / f"{name}.toml"), "--out", str(out), "--steps", "6",
                     "--replications", "1", "--workers", "1", "--quiet"]) == 0
        page = (out / "report" / "index.html").read_text()
        assert ('id="region-prices"' in page) is shown
        assert ("Price in US" in page and "Price in EU" in page) is shown
    capsys.readouterr()


def test_routing_breakpoints_of_a_subnormal_tariff_do_not_divide_by_zero():
    """Found by the conservation search above (present before separate markets): a tariff of
    5e-324 with transshipment at detection 0.5 made (1 - d) x tariff round to 0 in
    Node.routed_inverse, a ZeroDivisionError in the clearing; such a tariff has no
    routing-pays breakpoint."""
    n = market.Node(np.zeros(0), np.zeros(0), 1.0, tariff=5e-324, route_cost=0.0, detection=0.5)
    assert len(n.routed_inverse(np.array([6.0]))) == 3


def club_beside_a_separate_us(separate_us: bool = True, **au) -> dict:
    """Regions US (club, a separate market importing at a cost of 10 from China), AU (club, in
    the world market) and CN. CN's 2,000 t/yr at 50 set the world price, 50; the US (10 t/yr of
    its own) imports at 50 + 10 = 60; AU's 100 t/yr at 45 sell in the world market at 50. Club
    buyers are all in the US, so the club price (what they pay) is 60, but no club producer
    outside the US is paid it."""
    raw = {"experiment": {"name": "t", "steps": 30, "seed": 1},
           "market": {"demand": {"reference_price": 60.0, "reference_quantity": 1200.0,
                                 "elasticity": -0.5}},
           "regions": [{"name": "US", "club": True, "separate_market": separate_us},
                       {"name": "AU", "club": True}, {"name": "CN"}],
           "producers": [
               {"name": "cn", "region": "CN", "stage": "refinery", "capacity": 2000.0,
                "unit_cost": 50.0},
               dict({"name": "au", "region": "AU", "stage": "refinery", "capacity": 100.0,
                     "unit_cost": 45.0}, **au),
               {"name": "us", "region": "US", "stage": "refinery", "capacity": 10.0,
                "unit_cost": 1.0}],
           "buyers": [{"name": "US buyers", "region": "US", "share": 0.5},
                      {"name": "CN buyers", "region": "CN", "share": 0.5}],
           "exits": {"loss_steps": 3}}
    if separate_us:
        raw["trade_costs"] = [{"from": "CN", "to": "US", "cost": 10.0}]
    return raw


def exit_step(raw: dict, row: int, steps: int = 30) -> int | None:
    model = MineralMarket(experiment_from_dict(raw).scenario(), rng=1)
    for t in range(steps):
        model.step()
        if not model.producers.book.active[row]:
            return t
    return None


def test_a_club_producer_outside_the_separate_markets_exits_at_the_world_price():
    """AU sells at the world price, 50, whether or not the US is a separate market: its
    deterministic margin is (50 - 45) x 100 t/yr x 1,000 kg/t = 5e5 USD/yr against a fixed cost
    of 1.4e6 USD/yr, and it exits at the same step either way (valued at the club buyers' 60 it
    would see (60 - 45) x 100 x 1,000 = 1.5e6 > 1.4e6 and stay)."""
    without = exit_step(club_beside_a_separate_us(False, fixed_cost=1.4e6), row=1)
    assert without is not None
    assert exit_step(club_beside_a_separate_us(True, fixed_cost=1.4e6), row=1) == without


def test_a_club_recycler_outside_the_separate_markets_collects_at_the_world_price():
    """A recycler in AU (club, world market) collects in answer to the world price 50, not the
    club buyers' 60: 240 t/yr / 12 = 20 t per step x (50 / 60) ^ 1 = 16.667 t (reference price
    60, collection elasticity 1); it bids for scrap at 50 less its unit cost."""
    raw = club_beside_a_separate_us()
    raw["recyclers"] = [{"name": "R", "region": "AU", "capacity": 500.0, "unit_cost": 20.0,
                         "scrap": 240.0, "collection_elasticity": 1.0, "collection_lag": 1}]
    model = MineralMarket(experiment_from_dict(raw).scenario(), rng=1)
    for _ in range(3):
        model.step()
    s = model.series()
    assert s["club_price"][1] == pytest.approx(60.0) and s["price"][1] == pytest.approx(50.0)
    assert model.recyclers.collected[0] == pytest.approx(20.0 * 50.0 / 60.0, rel=1e-12)
    assert model.club_market_price == pytest.approx(50.0, rel=1e-12)


def test_each_region_sells_in_its_own_market_and_a_club_region_without_a_border_in_the_worlds():
    """Outcome.market_prices (read by exits, a CFD's sale benchmark without an offer, the
    club's stock value): the US (separate) 60 = 50 + 10, AU (club, no border) 50, CN 50."""
    model = MineralMarket(experiment_from_dict(club_beside_a_separate_us()).scenario(), rng=1)
    model.step()
    np.testing.assert_allclose(model.outcome.market_prices(model.region_club), [60, 50, 50],
                               rtol=1e-12)


def exporting_r(**tables) -> dict:
    """W (10 t per step) and R (a separate market, 50 t per step, exports cost 5 to ship), asks
    5; demand 1,200 t/yr at 60, elasticity -1, half in each region; 2 steps; plus `tables`."""
    return {"experiment": {"name": "t", "steps": 2, "seed": 1},
            "market": {"demand": {"reference_price": 60.0, "reference_quantity": 1200.0,
                                  "elasticity": -1.0}},
            "regions": [{"name": "W"}, {"name": "R", "separate_market": True}],
            "trade_costs": [{"from": "R", "to": "W", "cost": 5.0}],
            "producers": [{"name": "w", "region": "W", "stage": "refinery", "capacity": 120.0,
                           "unit_cost": 5.0},
                          {"name": "r", "region": "R", "stage": "refinery", "capacity": 600.0,
                           "unit_cost": 5.0}],
            "buyers": [{"name": "W buyers", "region": "W", "share": 0.5},
                       {"name": "R buyers", "region": "R", "share": 0.5}], **tables}


def test_an_export_control_from_step_0_caps_exports_of_the_markets_with_shipping():
    """W 120 t/yr and R (separate, exports cost 5 to ship) 600 t/yr, 10 and 50 t per step, asks
    5; demand 1,200 t/yr at 60, elasticity -1: A = 100 x 60 = 6000 per step, 3000 per region.
    Normal (free-trade) exports from R, at P_R = P - 5:
        3000 / P + 3000 / (P - 5) = 60  ->  P^2 - 105 P + 250 = 0
        ->  P = (105 + sqrt(10025)) / 2 = 102.562, P_R = 97.562,
        exports 50 - 3000 / 97.562 = 19.250 t per step (a costless single market: 20).
    Cut 0.5 from step 0: exports 9.625, P_w = 3000 / (10 + 9.625) = 152.864,
    P_R = 3000 / (50 - 9.625) = 74.304 (as with the control starting at step 3)."""
    raw = exporting_r(shocks=[{"kind": "export_control", "region": "R", "start": 0,
                               "duration": 10, "cut": 0.5}])
    p = (105.0 + np.sqrt(10025.0)) / 2
    exports = 50.0 - 3000.0 / (p - 5.0)
    assert exports == pytest.approx(19.2505, rel=1e-4)
    s = run(raw, steps=2).series()
    np.testing.assert_allclose(s["price"], 3000.0 / (10.0 + exports / 2), rtol=1e-9)
    np.testing.assert_allclose(s["price_region__R"], 3000.0 / (50.0 - exports / 2), rtol=1e-9)
    assert s["price"][0] == pytest.approx(152.864, rel=1e-5)


def test_a_buffer_stock_in_a_separate_market_is_valued_at_its_price():
    """W 10 t and R (separate, exports cost 5) 50 t per step at asks 5, A = 3000 per region
    (elasticity -1); free trade: P_w = 102.562, P_R = 97.562 (the step-0 export control test).
    A purchase floor of 100 covering R buys R's output at 100 until P_R = 100, so P_w = 105:
    W takes 3000 / 105 = 28.571 t (18.571 imported), R's buyers 3000 / 100 = 30 t, and the stock
    the rest of R's 50 t: 50 - 30 - 18.571 = 1.4286 t per step, 2.857 t in 2 steps, bought at
    100 x 1,000 kg/t = 285,714 USD and worth the same at R's price 100: net fiscal cost 0 (at
    the world price 105 it would be -2.857 x 5 x 1,000 = -14,286)."""
    raw = exporting_r(policy={"floor": {"mechanism": "purchase", "level": 100.0,
                                        "covers": ["R"]}})
    model = run(raw)
    s, m = model.series(), model.metrics()
    np.testing.assert_allclose(s["price"], 105.0, rtol=1e-12)
    np.testing.assert_allclose(s["price_region__R"], 100.0, rtol=1e-12)
    stock = 2 * (50.0 - 30.0 - (3000.0 / 105.0 - 10.0))
    assert m["stockpile_final"] == pytest.approx(stock, rel=1e-12)
    assert m["fiscal_cost"] == pytest.approx(stock * 100.0 * 1000.0, rel=1e-12)
    assert m["fiscal_cost_net"] == pytest.approx(0.0, abs=1e-6)


def test_private_stockholders_with_a_separate_market_are_refused():
    # (their rule is solved for the one market they trade in)
    from abm.errors import ConfigError
    raw = separate(copy.deepcopy(BASE), routes=[{"from": "China", "to": "US", "cost": 3.0}])
    raw["storage"] = {"enabled": True, "cost": 0.1, "rule": "rational"}
    with pytest.raises(ConfigError) as err:
        experiment_from_dict(raw)
    assert "[storage] is not supported with separate_market regions" in err.value.message


def test_a_refinery_project_in_a_separate_market_is_valued_at_its_markets_price():
    """China's 5,000 t/yr at 30 set the world price, 30; the US, a separate market with no
    refinery of its own, imports at a shipping cost of 10, so its price is 40. Two identical
    projects from step 24, one in the US and one in the EU (a region of the world market):
    200 t/yr, unit cost 35, capex 25,000 USD per t/yr = 25 USD/kg per kg/yr, NPV rule at a
    hurdle rate of 10% over 20 years, no perceived volatility. Trigger:
        35 + 25 x A(0.10, 20) = 35 + 25 x 0.1 / (1 - 1.1^-20) = 35 + 25 x 0.117460 = 37.937.
    Valued at its own market's expected price, 40 (nothing under construction yet: no pipeline
    adjustment), the US project's NPV margin is 40 - 37.937 = +2.06: it starts at step 24. The
    EU project sells at the world price, 30 - 37.937 = -7.94: it never starts (as the US one
    would not, valued at the world price)."""
    cfg = raw(**{"experiment.steps": 40, "investment.rule": "npv", "investment.hurdle_rate": 0.1,
                 "investment.volatility_prior": 0.0, "investment.expectation_halflife": 1.0,
                 "investment.review_every": 1})
    cfg["regions"] = [{"name": "US", "club": True, "separate_market": True},
                      {"name": "China", "market_economy": False}, {"name": "EU"}]
    cfg["trade_costs"] = [{"from": "China", "to": "US", "cost": 10.0}]
    cfg["producers"] = [{"name": "China", "region": "China", "stage": "refinery",
                         "capacity": 5000.0, "unit_cost": 30.0}]
    cfg["investment"]["projects"] = [
        {"name": f"{r} project", "region": r, "capacity": 200.0, "unit_cost": 35.0,
         "capex": 25000.0, "lead_time": 12, "available_from": 24} for r in ("US", "EU")]
    trigger = 35.0 + 25.0 * 0.1 / (1.0 - 1.1 ** -20)
    assert trigger == pytest.approx(37.937, abs=1e-3)
    model = run(cfg, steps=24)
    s = model.series()
    assert s["price"][23] == pytest.approx(30.0) and s["price_region__US"][23] == pytest.approx(40.0)
    us, eu = model.developers
    # (the expectation, from the reference price of 60 with a one-step half-life, is within
    # 40 x (60 / 40)^(2^-24) - 40 = 1e-6 of 40 after 24 steps)
    assert us.margin(model)[1:] == pytest.approx((40.0, trigger), rel=1e-6)
    assert eu.margin(model)[1:] == pytest.approx((30.0, trigger), rel=1e-6)
    for _ in range(16):
        model.step()
    assert (us.status, us.started_step) == ("online", 24)
    assert eu.status == "candidate"


def npv_pair(regions: list[dict], producers: list[dict], trade_costs: list[dict],
             **sections) -> dict:
    """The reviewer's configs d4-d6 (review 16f): two identical refinery projects, in the US and
    the EU, 200 t/yr at unit cost 35 and capex 25,000 USD per t/yr, NPV rule at 10% over 20
    years, no perceived volatility (trigger 35 + 25 x 0.1 / (1 - 1.1^-20) = 37.937), developers'
    expectations from the reference price 20 with a half-life of 2 steps, reviewed every step;
    buyers half in the US, half in the EU; D = A P^-0.5 (1,200 t/yr at 20)."""
    return {
        "experiment": {"name": "pair", "steps": 24, "seed": 1},
        "market": {"demand": {"reference_price": 20.0, "reference_quantity": 1200.0,
                              "elasticity": -0.5}},
        "investment": {"rule": "npv", "hurdle_rate": 0.1, "volatility_prior": 0.0,
                       "expectation_halflife": 2.0, "review_every": 1, "projects": [
                           {"name": f"{r} project", "region": r, "capacity": 200.0,
                            "unit_cost": 35.0, "capex": 25000.0, "lead_time": 12}
                           for r in ("US", "EU")]},
        "regions": regions, "trade_costs": trade_costs, "producers": producers,
        "buyers": [{"name": "US buyers", "region": "US", "share": 0.5},
                   {"name": "EU buyers", "region": "EU", "share": 0.5}],
        **sections}


def refinery(region: str, capacity: float, unit_cost: float) -> dict:
    return {"name": region, "region": region, "stage": "refinery", "capacity": capacity,
            "unit_cost": unit_cost}


def test_capacity_built_in_a_separate_market_does_not_lower_the_world_price_expected():
    """Review 16f d4. The US is a separate market with its own 5,000 t/yr at 42 and shipping 10
    each way to and from China's 5,000 t/yr at 40 (the world market): its price band is
    [40 - 10, 40 + 10] = [30, 50], so it never trades, its price is 42, the world's 40. The
    expectations start at 20 and move by alpha = 1 - 2^-1/2 a step in logs, so after step t
    (t + 1 updates) the median is P (20 / P)^(2^-(t+1)/2). Trigger 37.937:
        US: 42 (20/42)^(2^-3) = 42 x 0.9116 = 38.28 >= 37.937 at t = 5 (t = 4: 36.95);
        EU: 40 (20/40)^(2^-4) = 40 x 2^-0.0625 = 38.30 >= 37.937 at t = 7 (t = 6: 37.11).
    The US project under construction from t = 5 sells in the US only: the EU's expected price
    is not cut by it (it was, to 38.30 x (1 + 200/838)^-2 = 24.97, and the EU project waited
    until the US plant was online, t = 17)."""
    cfg = npv_pair([{"name": "US", "separate_market": True}, {"name": "China"}, {"name": "EU"}],
                   [refinery("China", 5000.0, 40.0), refinery("US", 5000.0, 42.0)],
                   [{"from": "China", "to": "US", "cost": 10.0},
                    {"from": "US", "to": "China", "cost": 10.0}])
    assert 42 * (20 / 42) ** 2 ** -3 == pytest.approx(38.28, abs=5e-3)
    assert 40 * 2 ** -2 ** -4 == pytest.approx(38.30, abs=5e-3)
    model = run(cfg)
    s = model.series()
    assert (s["price"] == 40.0).all() and (s["price_region__US"] == 42.0).all()
    us, eu = model.developers
    assert (us.started_step, eu.started_step) == (5, 7)


def test_a_cfd_on_the_world_price_pays_a_separate_markets_project_the_gap_to_the_world_price():
    """Review 16f d5. The US is a separate market exporting to the world at a shipping cost of 10
    (its own 5,000 t/yr at 30, the world none), so P_US = P_w - 10. A CFD at F = 45 with no
    upside share (benchmark "world") covers the US, new entrants included: a covered US project
    earns P_US + (F - P_w) = F - 10 = 35 whatever the prices, below its trigger 37.937, so it
    never starts (valued at max(P_US, F) = 45, as before, it started at once). (The CFD's
    covered plant offers at any price: P_US = 0.414, P_w = 10.414, the gap still 10.)"""
    cfg = npv_pair([{"name": "US", "separate_market": True}, {"name": "China"}, {"name": "EU"}],
                   [refinery("US", 5000.0, 30.0)], [{"from": "US", "to": "China", "cost": 10.0}],
                   policy={"floor": {"mechanism": "cfd", "level": 45.0, "upside_share": 0.0,
                                     "benchmark": "world", "covers": ["US"]}})
    model = run(cfg)
    s = model.series()
    assert (s["price"] - s["price_region__US"]).to_numpy() == pytest.approx(10.0, rel=1e-12)
    us, _ = model.developers
    assert us.status == "candidate"
    assert us.margin(model)[1] == pytest.approx(45.0 - 10.0, rel=1e-9)


def test_a_predatory_threat_lands_the_dumped_product_in_a_separate_market_with_shipping():
    """Review 16f d6. China, a state refiner with 5,000 t/yr at 30 and the predatory strategy,
    sets the world price, 30; the US, a separate market with no refinery, imports at a shipping
    cost of 10: its price is 40. Dumping its whole capacity, 5000 / 12 t/step, against today's
    demand in the linked markets (EU buyers at P, US buyers at P + 10, each 50 (20 / price)^0.5
    t/step), China would hold the world price down to the P that solves 50 (20/P)^0.5 +
    50 (20/(P + 10))^0.5 = 416.67: P = 0.41435 (EU buyers take 347.2 t, the US 69.5 t), so the
    US price is 10.41435 (review rv3 R6: the state's threat is read in the entrant's own market,
    cleared as the step clears it; read in one world market, 20 (1200/5000)^2 = 1.152, the US
    buyers paying the world price, it was 11.152 with the shipping added). The threat covers the
    US project's first 12 months: a discounted share (1 - e^-0.1) / (1 - e^-2) = 0.09516 /
    0.86466 = 0.11006 of its 20-year life at 10%. After step 23 (24 updates) the US median is
    M = 40 (20 / 40)^(2^-12) = 39.9932, so the decision price is M - 0.11006 (M - 10.41435) =
    39.9932 - 3.2555 = 36.738, below the trigger 37.937: no start."""
    cfg = npv_pair([{"name": "US", "separate_market": True},
                    {"name": "China", "market_economy": False}, {"name": "EU"}],
                   [refinery("China", 5000.0, 30.0)], [{"from": "China", "to": "US", "cost": 10.0}],
                   nonmarket={"strategy": "predatory"})
    model = run(cfg)
    us, _ = model.developers
    lo, hi = 1e-9, 100.0          # the world price dumping, by bisection (monotone in P)
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        taken = 50 * (20 / mid) ** 0.5 + 50 * (20 / (mid + 10)) ** 0.5
        lo, hi = (mid, hi) if taken > 5000 / 12 else (lo, mid)
    dumped = 0.5 * (lo + hi)
    assert dumped == pytest.approx(0.41435, abs=5e-6)
    assert model.producers.dumping_price(model) == pytest.approx(dumped, rel=1e-9)
    us_region = model.region_index["US"]
    assert model.producers.dumping_price(model, us_region) == pytest.approx(dumped + 10.0,
                                                                           rel=1e-9)
    share = (1.0 - np.exp(-0.1)) / (1.0 - np.exp(-2.0))
    median = 40.0 * 2.0 ** -2.0 ** -12
    decision = median - share * (median - (dumped + 10.0))
    assert decision == pytest.approx(36.738, abs=5e-4)
    assert us.margin(model)[1] == pytest.approx(decision, rel=1e-9)
    assert us.status == "candidate"


def test_a_predatory_state_does_not_dump_against_an_entrant_in_a_separate_market_out_of_reach():
    """Review rv3 R6, in a separate market. China, a state refiner with 5,000 t/yr at 40 and
    the predatory strategy (window 12), sells to the EU buyers, the world market: D_EU(40) =
    50 (20/40)^0.5 = 35.4 t/step < 416.67, P = 40. The US, a separate market with its own
    5,000 t/yr at 42 and shipping 100 each way, clears at 42 (D_US(42) = 34.5 t/step), inside
    its no-trade band [P - 100, P + 100]. Its refinery project (the EU's left out) starts at
    t = 5 (as in d4: 42 (20/42)^(2^-3) = 38.28 >= 37.937) and comes online at step 18, so entry
    is imminent from step 6. Dumping its 416.67 t at no ask, China would hold the world price
    at 20 (416.67/50)^-2 = 0.288, but the US would import only above 100.288: the US price
    stays 42, so dumping is futile in the entrant's market and the state never dumps (it did,
    from step 6, paying its refiner the gap) and pays nothing; the US developer sees no threat
    (`dumping_price` in its market inf)."""
    cfg = npv_pair([{"name": "US", "separate_market": True},
                    {"name": "China", "market_economy": False}, {"name": "EU"}],
                   [refinery("China", 5000.0, 40.0), refinery("US", 5000.0, 42.0)],
                   [{"from": "China", "to": "US", "cost": 100.0},
                    {"from": "US", "to": "China", "cost": 100.0}])
    cfg["investment"]["projects"] = cfg["investment"]["projects"][:1]
    runs = []
    for strategy in ("competitive", "predatory"):
        raw = copy.deepcopy(cfg)
        raw["nonmarket"] = {"strategy": strategy}
        if strategy == "predatory":
            raw["nonmarket"]["predatory_window"] = 12
        runs.append(run(raw))
    plain, threat = runs
    us = threat.developers[0]
    assert (us.started_step, us.online_step) == (5, 18)
    a, b = plain.series(), threat.series()
    np.testing.assert_allclose(b["price"], 40.0, rtol=1e-12)
    np.testing.assert_allclose(b["price_region__US"], 42.0, rtol=1e-12)
    for column in ("price", "price_region__US", "consumption"):
        np.testing.assert_allclose(b[column], a[column], rtol=1e-12)
    assert threat.metrics()["state_outlay"] == 0.0
    assert threat.producers.dumping_price(threat, threat.region_index["US"]) == np.inf
    assert threat.producers.dumping_price(threat) == pytest.approx(20 * (1250 / 3 / 50) ** -2,
                                                                   rel=1e-9)
