"""Results do not depend on which clearing path the code takes (issue 13), over random configs
(property-based, the builders of tests/test_conservation.py):

* non-binding instruments change nothing: a tariff of 1e-12, an MIP, a CFD (upside share 0) or
  a purchase floor (either `buy_from`) below every price reached, a stockpile whose triggers lie
  outside every price reached, an export control with cut 0 leave every recorded series and
  every metric of the plain run equal within 1e-9 relative;
* an export cap that never binds changes nothing: a product export control by China that
  exports nothing, or whose normal exports are set far above anything it exports, with buyers'
  inventories and a stockpile, leaves the run as without it (issue 15b);
* linked equals single: any policy mix run as configured and with 1e-12 more tariff (linking the
  club's market to the world's) gives the same prices, quantities, ledger and metrics;
* monotonicity (paired seeds): a higher floor never lowers covered output or fiscal outlay, a
  larger stockpile budget never raises the peak disruption price (over the steps the control
  withholds something in both runs), a larger export cut never lowers the price outside the
  restricting region.

"Equal within 1e-9 relative" compares each number with the magnitudes of its kind in the two
runs (prices with the highest price, tonnes with the largest tonnage, money with the largest sum
of money): a value that is 0 in one run and 1e-12 of the money traded in the other (the duty a
1e-12 tariff collects) is equal.

Examples per property: ABM_INVARIANCE_EXAMPLES (default 300, the same examples on every machine,
about a minute for the file); the `slow`-marked copies run ABM_INVARIANCE_SLOW_EXAMPLES (default
2,000) each, drawn afresh on every run (a random search: each slow run looks at new configs):
`pytest -m slow tests/test_invariance.py`.
"""

from __future__ import annotations

import copy
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from test_conservation import configs

from abm.experiment import experiment_from_dict
from abm.model import MineralMarket
from abm.names import METRICS

EXAMPLES = int(os.environ.get("ABM_INVARIANCE_EXAMPLES", "300"))
SLOW_EXAMPLES = int(os.environ.get("ABM_INVARIANCE_SLOW_EXAMPLES", "2000"))
REL = 1e-9

PRICES = ("price", "club_price", "floor", "concentrate_price", "export_region_price",
          "compliant_concentrate_price")
MONEY = ("fiscal_flow", "consumer_spend", "buyer_payments", "producer_revenue",
         "gov_purchase_spend", "gov_payments_to_producers", "gov_receipts_from_producers",
         "gov_sales_revenue", "private_sales_revenue", "duties", "gov_topups", "exporter_rent",
         "routing_cost")
UNITLESS = ("demand_shock",)
METRIC_KIND = {"price_mean": "price", "price_p05": "price", "price_p95": "price",
               "fiscal_cost": "money", "investment_capex": "money", "consumer_spend": "money",
               "capacity_added_market": "tonnes", "capacity_added_nonmarket": "tonnes",
               "stockpile_final": "tonnes", "unmet_demand": "tonnes",
               **{f"{market}_{stat}": "price" for market in ("club_price", "export_region_price")
                  for stat in ("mean", "p05", "p95")},
               "market_realised_price_mean": "price", "market_margin_mean": "price",
               "fiscal_cost_net": "money", "fiscal_cost_npv": "money",
               "fiscal_cost_per_capacity": "money", "exporter_rent": "money",
               "state_outlay": "money", "transshipped": "tonnes"}


def run(raw: dict) -> MineralMarket:
    model = MineralMarket(experiment_from_dict(raw).scenario(), rng=raw["experiment"]["seed"])
    return model.run()


def kind(column: str) -> str:
    if column in PRICES:
        return "price"
    if column in MONEY:
        return "money"
    if column in UNITLESS:
        return "unitless"
    return "tonnes"


# Under a binding price cap short supply is rationed, and how it is split between regions is a
# convention that depends on the market structure: pro rata over every buyer in one market; in
# linked markets a club behind any wedge (however small) keeps its own supply, its producers
# selling at the higher of the two prices. Prices and totals agree; the split does not, and
# buyers holding inventories then order and use differently in later steps (such runs are left
# out: `assume`).
RATIONED_SPLIT = ("club_imports", "club_consumption", "import_reliance")


def compare(plain: MineralMarket, other: MineralMarket, skip: tuple[str, ...] = ()) -> None:
    """Every recorded series (with the accounts), every metric and the ledger of `other` equal
    those of `plain` within REL of the magnitudes of their kind."""
    a, b = plain.series(accounts=True), other.series(accounts=True)
    assert a.columns == b.columns
    if plain.config.market.price_cap is not None and (
            a["unmet_demand"].max() > 0 or b["unmet_demand"].max() > 0):
        assume(not plain.buyers.has_inventories)
        skip = (*skip, *RATIONED_SPLIT)
    columns = [c for c in a.columns if c != "step" and c not in skip]
    values = {c: (a[c].to_numpy().astype(float), b[c].to_numpy().astype(float))
              for c in columns}
    scale = {}
    for c, (x, y) in values.items():
        k = kind(c)
        top = np.nanmax(np.abs(np.concatenate([x, y])), initial=0.0)
        scale[k] = max(scale.get(k, 0.0), top)
    # money nets gross flows (buyers pay the market price, an offtake or CFD settles back to
    # its price): the net carries the rounding of the gross, price x tonnes, so that is its
    # magnitude (the slow search: at a scarcity price of 1.08e8 a fixed-price offtake's 208.33 a
    # step differed by 4.6e-9 of itself, 9e-16 of the 1.1e9 gross)
    mf = plain.recorder.money_per_price_tonne
    gross = np.nanmax(np.abs(np.concatenate([a["price"].to_numpy() * a["consumption"].to_numpy(),
                                             b["price"].to_numpy() * b["consumption"].to_numpy()])),
                      initial=0.0) * mf
    scale["money"] = max(scale.get("money", 0.0), float(gross))
    for c, (x, y) in values.items():
        assert (np.isnan(x) == np.isnan(y)).all(), c
        ok = np.isnan(x) | (np.abs(x - y) <= REL * np.fmax(np.abs(x), np.abs(y))
                            + REL * scale[kind(c)] + 1e-300)
        assert ok.all(), (c, x[~ok], y[~ok])
    ma, mb = plain.metrics(), other.metrics()
    prices = np.abs(np.concatenate([v for c, pair in values.items() if kind(c) == "price"
                                    for v in pair]))
    prices = prices[np.isfinite(prices) & (prices > 0)]
    spread = float(prices.max() / prices.min()) if len(prices) else 1.0
    for name in METRICS:
        if name in skip:
            continue
        x, y = ma[name], mb[name]
        if x == y:                         # (equal, infinities included: inf - inf is NaN)
            continue
        if np.isnan(x) or np.isnan(y):     # nothing to measure (no output, no new capacity)
            assert np.isnan(x) and np.isnan(y), (name, x, y)
            continue
        top = scale.get(METRIC_KIND.get(name, ""), 0.0)
        if name == "unmet_demand" or name == "consumer_spend":
            top *= len(a)        # sums over the run
        if METRIC_KIND.get(name) == "money":
            top = max(top, scale.get("money", 0.0) * len(a))
        tol = REL * max(abs(x), abs(y), top) + (REL if name not in METRIC_KIND else 0.0)
        if "volatility" in name or name.endswith("_cv"):
            # (a price read off gross flows, a covered producer's 20 settled back from a market
            # price of 1e8, carries rounding of 1e-16 of the gross each step: the volatility of
            # a price held fixed is that noise, 7e-9 in the slow search, different per path;
            # the same for the coefficient of variation of revenue at that price)
            tol += 10 * np.finfo(float).eps * spread
        assert abs(x - y) <= tol + 1e-300, (name, x, y)
    ledger_a = {k: v for g in plain.governments for k, v in g.ledger.items()}
    ledger_b = {k: v for g in other.governments for k, v in g.ledger.items()}
    money = scale.get("money", 0.0) * len(a)
    for key in set(ledger_a) | set(ledger_b):
        x, y = ledger_a.get(key, 0.0), ledger_b.get(key, 0.0)
        assert abs(x - y) <= REL * max(abs(x), abs(y), money) + 1e-300, (key, x, y)


def plain_market(raw: dict) -> dict:
    """The random config without instruments or events."""
    raw = copy.deepcopy(raw)
    raw["policy"] = {}
    raw.pop("shocks", None)
    return raw


def prices_reached(model: MineralMarket) -> tuple[float, float]:
    s = model.series()
    p = np.concatenate([s["price"].to_numpy(), s["club_price"].to_numpy()])
    return float(p.min()), float(p.max())


INSTRUMENTS = ("tariff", "mip", "cfd", "purchase_covered", "purchase_any", "stockpile",
               "export_control")


def non_binding(raw: dict, instrument: str, low: float, high: float) -> dict:
    """`raw` with one instrument that cannot bind (below every price from `low`, above every
    price up to `high`)."""
    out = copy.deepcopy(raw)
    level = min(1e-6, 0.5 * low)
    policy = out.setdefault("policy", {})
    if instrument == "tariff":
        policy["trade"] = {"tariff": 1e-12}
    elif instrument == "mip":
        policy["floor"] = {"mechanism": "mip", "level": level}
    elif instrument == "cfd":
        policy["floor"] = {"mechanism": "cfd", "level": level, "covers": ["US"],
                           "upside_share": 0.0}
    elif instrument.startswith("purchase"):
        policy["floor"] = {"mechanism": "purchase", "level": level, "covers": ["US"],
                           "buy_from": instrument.split("_")[1]}
    elif instrument == "stockpile":
        policy["stockpile"] = {"buy_below": level, "release_above": 2.0 * high + 1.0,
                               "target_cover": 60.0}
    elif instrument == "export_control":
        out["shocks"] = [{"kind": "export_control", "region": "China", "start": 4,
                          "duration": 5, "cut": 0.0, "announce": 1}]
    return out


def check_non_binding(raw: dict, instrument: str) -> None:
    base = plain_market(raw)
    plain = run(base)
    low, high = prices_reached(plain)
    if instrument not in ("tariff", "export_control"):
        assume(low > 0)          # a floor above a price of 0 binds
    other = run(non_binding(base, instrument, low, high))
    # the floor series records the level in force (none in the plain run)
    compare(plain, other, skip=("floor",) if instrument in ("mip", "cfd") or
            instrument.startswith("purchase") else ())


def with_more_tariff(raw: dict, extra: float = 1e-12) -> dict:
    out = copy.deepcopy(raw)
    trade = out.setdefault("policy", {}).setdefault("trade", {})
    trade["tariff"] = trade.get("tariff", 0.0) + extra
    return out


def no_world_market_under_a_control(raw: dict) -> bool:
    """Whether a product export control leaves no market outside the club and the controlling
    regions (every region is one or the other): while its cap sits in the clearing the 'world'
    price is then the price of a market with no buyers and no producers, a convention that
    the one-market and linked paths set differently (`test_an_empty_world_markets_price_...`)."""
    controls = {s["region"] for s in raw.get("shocks", [])
                if s["kind"] == "export_control" and s.get("stage", "product") == "product"}
    return bool(controls) and all(r.get("club") or r["name"] in controls for r in raw["regions"])


def check_linked_equals_single(raw: dict) -> None:
    assume(not no_world_market_under_a_control(raw))
    trade = raw.get("policy", {}).get("trade") or {}
    plain, other = run(raw), run(with_more_tariff(raw))
    # routing through a third country, caught less than always, is worth it when its cost per t
    # is below the duty: at tariff 0 never, with the extra 1e-12 whenever the cost is under
    # 1e-12 of the price (the slow search found 1e-12 at a price of 600), so the same tonnes
    # are labelled transshipped on one path and not the other
    route = trade.get("transshipment_cost")
    top = float(np.nanmax(other.series()["club_price"].to_numpy(), initial=0.0))
    cheap_routing = (route is not None and route <= 1e-12 * (1.0 + top)
                     and (trade.get("detection_rate") or 0.0) < 1.0)
    compare(plain, other, skip=("transshipped",) if cheap_routing else ())


def found_world(steps: int, mine: float, china_refining: float, policy: dict,
                regions: tuple[str, ...] = ()) -> dict:
    """The shape of the slow search's finds: a US club (a mine of `mine` t/yr and 1 t/yr of
    refining) and China (`china_refining` t/yr), every cost 0, half the buyers in each, with
    `policy` and any further (empty) `regions`."""
    return {
        "experiment": {"name": "prop", "steps": steps, "seed": 0},
        "market": {"demand": {"reference_price": 60.0, "reference_quantity": 100.0,
                              "elasticity": -2.0}},
        "regions": [{"name": "US", "club": True}, {"name": "China", "market_economy": False},
                    *({"name": r} for r in regions)],
        "producers": [{"region": "US", "stage": "mine", "capacity": mine, "unit_cost": 0.0,
                       "name": "P4"},
                      {"region": "China", "stage": "refinery", "capacity": china_refining,
                       "unit_cost": 0.0, "name": "P5"},
                      {"region": "US", "stage": "refinery", "capacity": 1.0, "unit_cost": 0.0,
                       "name": "P6"}],
        "buyers": [{"name": "US buyers", "region": "US", "share": 0.5},
                   {"name": "China buyers", "region": "China", "share": 0.5}],
        "policy": policy}


TINY_ROUTE = found_world(3, 1.0, 200.0, {"trade": {"tariff": 0.0, "transshipment_cost": 1e-12}},
                         regions=("RoW",))


@pytest.mark.parametrize("tariff, routed", [(0.0, False), (1e-12, True), (1e-15, False)])
def test_imports_are_routed_when_the_route_costs_less_than_the_duty(tariff, routed):
    """Found by linked_equals_single: the club price is 600, so a tariff of 1e-12 is a duty of
    6e-10 a t, above a route cost of 1e-12 (routed); at 1e-15 the duty is 6e-13, below it; at 0
    there is nothing to avoid. The world's 1 t/yr of ore sells at 600, where demand is
    100 x (600 / 60)^-2 = 1 t/yr; it is refined in China (every cost is 0), so the club imports
    its half, 0.5 t/yr, 0.041667 a month."""
    raw = copy.deepcopy(TINY_ROUTE)
    raw["policy"]["trade"]["tariff"] = tariff
    s = run(raw).series()
    assert s["club_price"].to_numpy() == pytest.approx(600.0)
    assert s["club_imports"].to_numpy() == pytest.approx(0.5 / 12)
    assert s["transshipped"].to_numpy() == pytest.approx(0.5 / 12 if routed else 0.0)


EMPTY_WORLD = dict(found_world(12, 29.0, 28.0, {"floor": {"mechanism": "mip", "level": 142.0,
                                                           "covers": ["US"]}}),
                   shocks=[{"kind": "export_control", "region": "China", "start": 4,
                            "duration": 5, "cut": 1e-69, "announce": 1}])


@pytest.mark.xfail(strict=True, reason="known limit: the price of an empty world market while "
                   "a product cap sits in the clearing is a convention the two paths set "
                   "differently (the MIP's 142 with a tariff of 1e-12, China's 94.70 without)")
def test_an_empty_world_markets_price_is_the_same_on_both_paths():
    """Found by linked_equals_single (2026-12-02): only the club (US, MIP 142) and the
    controlling region (China) exist, so in steps 4-8 nothing is bought or sold in the 'world'
    market; every tonne, club and home price agree on both paths, the recorded world price
    does not (94.70 against 142.0). Excluded from the property (`no_world_market_under_a_control`)."""
    compare(run(EMPTY_WORLD), run(with_more_tariff(EMPTY_WORLD)))


# -- monotonicity -------------------------------------------------------------------------------

def without_feedback(raw: dict) -> dict:
    """Paired runs compared step by step: without producers' exits (a plant kept open by a
    higher price changes every later step), without recyclers (their collection answers the
    price of `collection_lag` steps before: a higher price now brings more scrap and a lower
    price later, a cobweb, so totals over a run can move either way) and without buyers' own
    inventories (a store of their own, whose orders and drawing a change in prices shifts in
    time: they draw less now and more later, so a total or a peak may move by a hair either
    way), without importers buying ahead of an export control (they use that stock in place of
    what is withheld, so a larger cut draws it sooner: a lower price now, a higher one later)
    and without the state's quotas and reserve (they answer last step's home price: a cobweb)."""
    out = copy.deepcopy(raw)
    out.pop("exits", None)
    out.pop("recyclers", None)
    out.pop("nonmarket", None)
    out["buyers"] = [{k: v for k, v in b.items() if not k.startswith("inventory")}
                     for b in out["buyers"]]
    for shock in out.get("shocks", []):
        shock["front_run"] = 0.0
    return out


def covered_output(raw: dict) -> tuple[float, float]:
    """(t of output of the floor's covered producers over the run, fiscal outlay)."""
    model = MineralMarket(experiment_from_dict(raw).scenario(), rng=raw["experiment"]["seed"])
    floor = next(p for p in model.policies if getattr(p, "name", "") == "floor")
    total = 0.0
    while model.running:
        model.step()
        if floor.in_force(model.t):
            rows = floor.covered_rows(model)
            total += float(model.book.output[rows].sum())
    return total, model.metrics()["fiscal_cost"]


@st.composite
def floor_pairs(draw):
    raw = without_feedback(plain_market(draw(configs())))
    mechanism = draw(st.sampled_from(["cfd", "purchase"]))
    low = draw(st.floats(1.0, 150.0))
    high = draw(st.floats(low, 200.0))
    floor = {"mechanism": mechanism, "covers": ["US"], "start": draw(st.integers(0, 6))}
    if mechanism == "cfd":
        floor.update(upside_share=draw(st.one_of(st.just(0.0), st.floats(0.0, 1.0))),
                     settlement=draw(st.integers(1, 4)))
    else:
        floor["buy_from"] = draw(st.sampled_from(["covered", "any"]))
        cap = raw["market"].get("price_cap")
        if cap is not None and high > cap:      # (a floor above the cap is refused)
            low, high = min(low, cap), cap
    pair = []
    for level in (low, high):
        r = copy.deepcopy(raw)
        r["policy"] = {"floor": dict(floor, level=level)}
        pair.append(r)
    return pair


def check_floor_monotone(pair) -> None:
    """Covered output never falls; nor does the outlay of a floor that shares no upside (with
    an upside share a higher floor lowers the asks of costlier covered producers, who then
    sell more above the floor and pay more upside: the net outlay may fall)."""
    (out_low, cost_low), (out_high, cost_high) = (covered_output(r) for r in pair)
    assert out_high >= out_low * (1 - REL) - 1e-9, (out_low, out_high)
    if pair[0]["policy"]["floor"].get("upside_share", 0.0) == 0.0:
        money = max(abs(cost_low), abs(cost_high))
        assert cost_high >= cost_low - REL * money - 1e-6, (cost_low, cost_high)


@st.composite
def disruptions(draw):
    """A random market with an export control by China from step 4 that withholds something
    (a cut of 0 is no disruption), without importers buying ahead (`without_feedback`)."""
    raw = without_feedback(plain_market(draw(configs())))
    delay = draw(st.integers(0, 2))
    raw["shocks"] = [{"kind": "export_control", "region": "China", "start": 4, "duration": 5,
                      "cut": draw(st.floats(0.01, 1.0)), "announce": draw(st.integers(0, 4)),
                      "licence_delay": delay,
                      "licence_flow": draw(st.floats(0.0, 1.0)) if delay else 0.0}]
    return raw


@st.composite
def stockpile_pairs(draw):
    """Without importers buying ahead of the control: they buy a share of demand at the last
    price, which the stockpile's purchases raise, so a larger stockpile can leave them less to
    release once the control bites. China has a cheap refinery of its own of 0.6 to 2 times
    world use at the reference price (its buyers use half of that), and a mine to feed it when
    the market has mines (drawn as the last producers: a China exporting no product withholds
    nothing, and no step would count)."""
    raw = draw(disruptions())
    raw["shocks"][0]["front_run"] = 0.0
    mines = any(p["stage"] == "mine" for p in raw["producers"])
    capacity = draw(st.floats(0.6, 2.0)) * raw["market"]["demand"]["reference_quantity"]
    raw["producers"].append({"name": "Ref China", "region": "China", "stage": "refinery",
                             "capacity": capacity, "unit_cost": draw(st.floats(0.0, 20.0))})
    if mines:
        raw["producers"].append({"name": "Mine China", "region": "China", "stage": "mine",
                                 "capacity": capacity * raw["market"]["intensity"]
                                 * draw(st.floats(1.0, 2.0)),
                                 "unit_cost": draw(st.floats(0.0, 20.0))})
    stockpile = {"buy_below": (buy := draw(st.floats(20.0, 120.0))),
                 "release_above": draw(st.floats(max(40.0, buy + 1.0), 200.0)),
                 "target_cover": draw(st.floats(1.0, 120.0)),
                 "max_rate": draw(st.floats(0.05, 1.0))}
    small = draw(st.floats(0.0, 1e8))
    large = draw(st.one_of(st.none(), st.floats(small, 1e9)))
    pair = []
    for budget in (small, large):
        r = copy.deepcopy(raw)
        r["policy"] = {"stockpile": dict(stockpile, budget=budget)}
        pair.append(r)
    return pair


def disruption_prices(raw: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(club price, whether a price cleared, whether the control withheld anything) in the steps
    of the export control, and the control's reference exports (t per step): with no supply
    at all (no price clears, unmet demand without a cap) the price recorded is a marker; a
    step in which the cap does not bind (`ExportControl.withheld_steps` 0) is no
    disruption."""
    model = run(raw)
    s = model.series()
    shock = raw["shocks"][0]
    during = slice(shock["start"], shock["start"] + shock["duration"])
    cleared = np.ones(shock["duration"], dtype=bool)
    if raw["market"].get("price_cap") is None:
        cleared = s["unmet_demand"].to_numpy()[during] <= 0
    control = next(p for p in model.policies if p.name == "export_control")
    withholds = np.asarray(control.withheld_steps)[during] > 0
    # (a stockpile that would still be filling without the control: the withheld tonnes come
    # first out of its filling and what is left of it it buys as in normal trade, whose price
    # its fill raises, docs/ODD.md 7.12, rv3 R4)
    stockpile = next(p for p in model.policies if p.name == "stockpile")
    filling = np.asarray(stockpile.filling_steps)[during] > 0
    return (s["club_price"].to_numpy()[during], cleared, withholds & ~filling,
            float(control.reference_exports or 0.0))


def check_stockpile_monotone(pair) -> None:
    """The peak club price while the control is in force, over the steps where a price
    cleared and the control withheld something in both runs. A step in which the cap does not
    bind is no disruption: the stockpile keeps its ordinary rule there (it buys below
    `buy_below`, a larger budget buying more and raising the price, and releases only above
    `release_above`), so such a step compares normal trade, not a disruption's peak. And which
    steps withhold depends on the budget: the stockpile's purchases in the year before the
    announcement are part of the region's exports then, so a larger stockpile raises its normal
    exports and its cap, which may then go slack in a step in which the smaller one's binds
    (or the region exports nothing, and no step withholds: the comparison is empty). A step
    in which a stockpile would still be filling without the control, or in which the price is
    below its `buy_below` under the control, is left out likewise: the
    withheld tonnes come first out of its filling, and what is left of it it buys as in normal
    trade (rv3 R4: a larger
    budget filling more raises the price there as without the control), whether it then buys
    or, the withheld tonnes exceeding its fill, releases."""
    (small, ok_small, w_small, ref_small), (large, ok_large, w_large, ref_large) = (
        disruption_prices(r) for r in pair)
    both = ok_small & ok_large & w_small & w_large
    # (nor a step whose price, even disrupted, is below buy_below: a stockpile still short of
    # its target buys there by its ordinary rule, a larger budget more; the slow search found
    # a cut 0.125 leaving the club price at 96.97 under buy_below 97, and the unlimited
    # budget bid it to 97)
    buy_below = pair[0]["policy"]["stockpile"]["buy_below"]
    both &= small >= buy_below * (1 - REL)
    # (a larger stockpile that released before the announcement lowered the region's exports
    # in the year its cap is measured on: a lower cap is a deeper control, not the same one;
    # the slow search found a 0.008 t release at 1,083 that lowered the cap and raised a peak
    # of 5.78e8 by 0.4% at elasticity -0.0625)
    if both.any() and ref_large >= ref_small * (1 - REL):
        assert large[both].max() <= small[both].max() * (1 + REL), (small, large)


@st.composite
def cut_pairs(draw):
    raw = draw(disruptions())
    # (both withhold something: a control that withholds nothing is no disruption, and buyers
    # build safety stock only outside disruptions, a demand effect of its own)
    low = draw(st.floats(0.01, 1.0))
    high = draw(st.floats(low, 1.0))
    pair = []
    for cut in (low, high):
        r = copy.deepcopy(raw)
        r["shocks"][0]["cut"] = cut
        pair.append(r)
    return pair


def check_cut_monotone(pair) -> None:
    """The world price (outside the restricting region) while the control is in force, in the
    steps where it is a price: with no supply reaching the world market at all (a full cut of
    the only supplier's exports) no price clears and the one recorded is a marker."""
    shock = pair[0]["shocks"][0]
    during = slice(shock["start"], shock["start"] + shock["duration"])
    series = [run(r).series() for r in pair]
    low, high = (s["price"].to_numpy()[during] for s in series)
    cleared = np.ones(len(low), dtype=bool)
    if pair[0]["market"].get("price_cap") is None:
        for s in series:
            cleared &= s["unmet_demand"].to_numpy()[during] <= 0
    assert (high[cleared] >= low[cleared] * (1 - REL)).all(), (low, high)


# -- an export cap that does not bind ---------------------------------------------------------

@st.composite
def slack_caps(draw):
    """(config, its control's normal exports to set or None): a random market with buyers'
    inventories (every buyer) and a club stockpile, its other instruments kept and its events
    dropped, and a product export control by China whose cap never binds: either China has no
    producers, recyclers (moved to the US) or state reserve, so it exports nothing and its normal exports and
    cap are 0 (licence months included), or its normal exports are set far above anything it
    could export (1e12 t a step) with a cut in (0, 0.5]. No importers buying ahead."""
    raw = draw(configs())
    raw.pop("shocks", None)
    raw["buyers"] = [dict(b, inventory_cover=draw(st.floats(1.0, 120.0)),
                          inventory_adjust=draw(st.floats(0.01, 1.0)),
                          inventory_max_draw=draw(st.floats(0.0, 0.99)))
                     for b in raw["buyers"]]
    raw["policy"]["stockpile"] = {"buy_below": (buy := draw(st.floats(20.0, 120.0))),
                                  "release_above": draw(st.floats(max(40.0, buy + 1.0), 200.0)),
                                  "target_cover": draw(st.floats(1.0, 120.0)),
                                  "max_rate": draw(st.floats(0.05, 1.0)),
                                  "budget": draw(st.one_of(st.none(), st.floats(1e3, 1e9)))}
    start = draw(st.integers(0, 6))
    control = {"kind": "export_control", "region": "China", "start": start,
               "duration": draw(st.integers(1, 6)), "announce": draw(st.integers(0, start)),
               "front_run": 0.0}
    exports_nothing = draw(st.booleans())
    if exports_nothing:
        for agent in raw["producers"] + raw.get("recyclers", []):
            agent["region"] = "US"
        # a state reserve in China sells abroad what it bought (found by the slow search:
        # 0.03 t released and exported in free trade, kept at home by a cut of 1), so with
        # one China exports something and a cap can bind; the premise needs it gone
        raw.get("nonmarket", {}).pop("reserve", None)
        delay = draw(st.integers(0, 2))
        control.update(cut=draw(st.floats(1e-9, 1.0)), licence_delay=delay,
                       licence_flow=draw(st.floats(0.0, 1.0)) if delay else 0.0)
    else:
        control["cut"] = draw(st.floats(1e-9, 0.5))
    raw["shocks"] = [control]
    return raw, None if exports_nothing else 1e12


def check_slack_cap(case) -> None:
    """The run equals the one without the control (every series, metric and the ledger),
    but for the price inside the restricting region, recorded while a cap is in force (NaN
    without one): its market is linked to the world's without a wedge, so it is the world
    price. The control withholds nothing in any step."""
    raw, normal = case
    plain = run(plain_market_keeping_policies(raw))
    model = MineralMarket(experiment_from_dict(raw).scenario(), rng=raw["experiment"]["seed"])
    control = next(p for p in model.policies if p.name == "export_control")
    if normal is not None:
        control.reference_exports = normal
    model.run()
    compare(plain, model, skip=("export_region_price",))
    assert not any(control.withheld_steps), control.withheld_steps
    s = model.series()
    own = s["export_region_price"].to_numpy().astype(float)
    world = s["price"].to_numpy()
    shown = ~np.isnan(own)
    np.testing.assert_allclose(own[shown], world[shown], rtol=REL,
                               atol=REL * float(np.max(np.abs(world), initial=0.0)))


def plain_market_keeping_policies(raw: dict) -> dict:
    """The config without its events (its instruments kept)."""
    raw = copy.deepcopy(raw)
    raw.pop("shocks", None)
    return raw


# -- the tests: a default run, and a slow one with many more examples -------------------------

def prop(examples: int, derandomize: bool):
    # derandomize: the default suite sees the same examples on every machine (CI included); the
    # slow search is random, so that each run of it explores configs no earlier run saw
    return settings(max_examples=examples, deadline=None, derandomize=derandomize,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                           HealthCheck.data_too_large])


def property_tests(examples: int, marks=(), derandomize: bool = True):
    @prop(examples, derandomize)
    @given(configs(), st.sampled_from(INSTRUMENTS))
    def non_binding_instruments_change_nothing(raw, instrument):
        check_non_binding(raw, instrument)

    @prop(examples, derandomize)
    @given(configs())
    def linked_equals_single(raw):
        check_linked_equals_single(raw)

    @prop(examples, derandomize)
    @given(floor_pairs())
    def a_higher_floor_never_lowers_covered_output_or_outlay(pair):
        check_floor_monotone(pair)

    @prop(examples, derandomize)
    @given(stockpile_pairs())
    def a_larger_stockpile_budget_never_raises_the_peak_disruption_price(pair):
        check_stockpile_monotone(pair)

    @prop(examples, derandomize)
    @given(cut_pairs())
    def a_larger_export_cut_never_lowers_the_price_outside(pair):
        check_cut_monotone(pair)

    @prop(examples, derandomize)
    @given(slack_caps())
    def an_export_cap_that_never_binds_changes_nothing(case):
        check_slack_cap(case)

    tests = (non_binding_instruments_change_nothing, linked_equals_single,
             a_higher_floor_never_lowers_covered_output_or_outlay,
             a_larger_stockpile_budget_never_raises_the_peak_disruption_price,
             a_larger_export_cut_never_lowers_the_price_outside,
             an_export_cap_that_never_binds_changes_nothing)
    for mark in marks:
        tests = tuple(mark(t) for t in tests)
    return tests


(test_non_binding_instruments_change_nothing, test_linked_equals_single,
 test_a_higher_floor_never_lowers_covered_output_or_outlay,
 test_a_larger_stockpile_budget_never_raises_the_peak_disruption_price,
 test_a_larger_export_cut_never_lowers_the_price_outside,
 test_an_export_cap_that_never_binds_changes_nothing) = property_tests(EXAMPLES)
# KNOWN LIMIT (2026-12-02): linked_equals_single, derandomized, draws different examples from
# one process to the next (not yet understood) and keeps finding conventions where the linked
# and one-market paths differ with nothing traded in a market (`no_world_market_under_a_control`,
# free routing's label); until those are settled it runs with the slow suite only (-m slow)
test_linked_equals_single = pytest.mark.slow(test_linked_equals_single)

(test_slow_non_binding_instruments_change_nothing, test_slow_linked_equals_single,
 test_slow_a_higher_floor_never_lowers_covered_output_or_outlay,
 test_slow_a_larger_stockpile_budget_never_raises_the_peak_disruption_price,
 test_slow_a_larger_export_cut_never_lowers_the_price_outside,
 test_slow_an_export_cap_that_never_binds_changes_nothing) = property_tests(
    SLOW_EXAMPLES, marks=(pytest.mark.slow,), derandomize=False)


def test_a_stockpile_setting_the_price_at_its_reservation_buys_the_same_on_both_paths():
    """Found by the slow search: the stockpile bid holds the price at buy_below 20 (supply 75 t
    a step at zero cost against D = 4.17 (P/60)^-2 x 2); the linked path's search for the
    quantity it takes must keep the price at 20 exactly, as one market does (it took 2e-7 more
    while it allowed a rounding margin above the reservation price)."""
    raw = {"experiment": {"name": "prop", "steps": 12, "seed": 0},
           "market": {"intensity": 1.0, "demand": {
               "reference_price": 60.0, "reference_quantity": 100.0, "elasticity": -2.0}},
           "regions": [{"name": "US", "club": True},
                       {"name": "China", "market_economy": False}],
           "producers": [{"region": "US", "stage": "refinery", "capacity": 1.0,
                          "unit_cost": 0.0, "name": "P1"}],
           "buyers": [{"name": "US buyers", "region": "US", "share": 0.5},
                      {"name": "China buyers", "region": "China", "share": 0.5}],
           "recyclers": [{"name": "R", "region": "US", "capacity": 901.0, "unit_cost": 0.0,
                          "scrap": 901.0, "collection_elasticity": 0.0, "collection_lag": 1}],
           "policy": {"stockpile": {"buy_below": 20.0, "release_above": 40.0}}}
    check_linked_equals_single(raw)


def test_a_stockpile_bid_beside_an_unrationed_linked_market_buys_as_in_one_market():
    """Found by the default search: with 1e-12 tariff the club's buyers were served
    0.999999999998 of their demand (rounding of the linked sums), which the bid took for
    rationing, so it bought nothing and the price stayed at 19.99 instead of 20."""
    raw = {"experiment": {"name": "prop", "steps": 12, "seed": 0},
           "market": {"intensity": 1.0, "demand": {
               "reference_price": 60.0, "reference_quantity": 100.0, "elasticity": -2.0}},
           "regions": [{"name": "US", "club": True},
                       {"name": "China", "market_economy": False}],
           "producers": [{"region": "China", "stage": "refinery", "capacity": 900.0,
                          "unit_cost": 0.0, "name": "P2"},
                         {"region": "US", "stage": "refinery", "capacity": 1.0,
                          "unit_cost": 0.0, "name": "P3"}],
           "buyers": [{"name": "US buyers", "region": "US", "share": 0.5},
                      {"name": "China buyers", "region": "China", "share": 0.5}],
           "policy": {"stockpile": {"buy_below": 20.0, "release_above": 40.0}}}
    check_linked_equals_single(raw)


def test_a_node_at_the_cap_through_a_wedge_a_hair_off_takes_what_the_hub_leaves_on_both_paths():
    """Found by the slow search: at the world price where the club's imports cost the cap at
    its border (144 x 1.25 = 180), the club takes what the hub leaves (0.0625 t); with 1e-12 more
    tariff its price came out a hair below the cap and it took 1.37 t, rationing the hub."""
    raw = {"experiment": {"name": "prop", "steps": 2, "seed": 0},
           "market": {"intensity": 1.0, "price_cap": 180.0, "demand": {
               "reference_price": 60.0, "reference_quantity": 174.0, "elasticity": -1.0}},
           "regions": [{"name": "US", "club": True},
                       {"name": "China", "market_economy": False}],
           "producers": [{"capacity": 36.0, "stage": "refinery", "region": "US",
                          "unit_cost": 73.0, "name": "P3"},
                         {"region": "China", "stage": "mine", "capacity": 37.0, "unit_cost": 1.0,
                          "name": "P4"},
                         {"region": "US", "stage": "refinery", "capacity": 1.0, "unit_cost": 0.0,
                          "name": "P5"}],
           "buyers": [{"name": "US buyers", "region": "US", "share": 0.5},
                      {"name": "China buyers", "region": "China", "share": 0.5}],
           "policy": {"floor": {"mechanism": "cfd", "level": 20.0, "covers": ["US"]},
                      "trade": {"tariff": 0.25, "rules_of_origin": 1.0}}}
    check_linked_equals_single(raw)


def test_an_undertakings_rent_behind_a_slack_export_cap_goes_to_the_exporters_as_without_it():
    """Found by the slow search (an_export_cap_that_never_binds_changes_nothing: fiscal_flow at
    step 0 2,739.73 without the control, 2,144.98 with it; reduced here, no stockpile or
    inventories needed). China's slack cap puts its refinery in a market node of its own,
    linked to the world hub without a wedge; the MIP undertaking's rent was shared only over
    sellers in the hub, found none and stayed duty. By hand, per step (12 a year, USD/kg: 1,000
    USD per price unit x t): club buyers at the MIP of 20 take 100/12 x 0.5 x 60/20 = 12.5 t,
    the US refinery makes 1/12 t, so the club imports M = 12.41667 t; the world market clears
    China's 561/12 = 46.75 t against China's buyers' 250/P plus M: P_w = 250/34.33333 =
    7.281553. The exporters keep (20 - 7.281553) x 12.41667 x 1,000 = 157,920.71 USD, as
    without the control; no duty is collected and the club's fiscal flow is 0."""
    raw = {"experiment": {"name": "prop", "steps": 2, "seed": 0},
           "market": {"intensity": 1.0, "demand": {
               "reference_price": 60.0, "reference_quantity": 100.0, "elasticity": -1.0}},
           "regions": [{"name": "US", "club": True},
                       {"name": "China", "market_economy": False}],
           "producers": [{"region": "China", "stage": "refinery", "capacity": 561.0,
                          "unit_cost": 0.0, "name": "P0"},
                         {"region": "US", "stage": "refinery", "capacity": 1.0,
                          "unit_cost": 0.0, "name": "P1"}],
           "buyers": [{"name": "US buyers", "region": "US", "share": 0.5},
                      {"name": "China buyers", "region": "China", "share": 0.5}],
           "policy": {"floor": {"mechanism": "mip", "level": 20.0, "rent": "undertaking",
                                "covers": ["US"]}},
           "shocks": [{"kind": "export_control", "region": "China", "start": 0,
                       "duration": 1, "announce": 0, "front_run": 0.0, "cut": 0.5}]}
    model = MineralMarket(experiment_from_dict(raw).scenario(), rng=0)
    control = next(p for p in model.policies if p.name == "export_control")
    control.reference_exports = 1e12       # (a cap of 5e11 t a step: it never binds)
    model.run()
    s = model.series(accounts=True)
    assert s["price"][0] == pytest.approx(250.0 / (46.75 - 12.5 + 1.0 / 12), rel=1e-9)
    assert s["exporter_rent"][0] == pytest.approx(
        (20.0 - 250.0 / (46.75 - 12.5 + 1.0 / 12)) * (12.5 - 1.0 / 12) * 1000.0, rel=1e-9)
    assert s["exporter_rent"][0] == pytest.approx(157_920.71, abs=0.01)
    assert s["duties"][0] == pytest.approx(0.0, abs=1e-6)
    assert s["fiscal_flow"][0] == pytest.approx(0.0, abs=1e-6)
    check_slack_cap((raw, 1e12))


def test_an_undertakings_rent_behind_a_binding_export_cap_goes_to_what_reached_the_world_market():
    """Review rv6 W3. US (club, MIP 100 with an undertaking), China and Other a third of use
    each, D_i = 2,000 / P t a step (elasticity -1); China refines 60 t a step at 0, Other 30 t.
    Free trade: the club buys 20 t at 100; China's and Other's buyers take 70 t, P_w =
    4,000 / 70 = 57.14; China exports 25 t. A cut of 0.4 caps them at 15 t (steps 2-3): China
    keeps 45 t at home, P_CN = 2,000 / 45 = 44.44; the world market has Other's 30 t and
    China's 15: 2,000 / P + 20 = 45, P_w = 80. The undertaking's rent (100 - 80) x 20 = 400
    goes pro rata to what reached the world market: China 15 / 45 x 400 = 133.33, Other
    266.67 (before: over China's whole 60 t, 266.67 and 133.33). Revenues, price units x t:
    China 45 x 44.44 + 15 x 80 + 133.33 = 3,333.33, Other 30 x 80 + 266.67 = 2,666.67."""
    raw = {"experiment": {"name": "u", "steps": 4, "seed": 0},
           "market": {"intensity": 1.0, "demand": {"reference_price": 60.0,
                                                   "reference_quantity": 1200.0,
                                                   "elasticity": -1.0}},
           "regions": [{"name": "US", "club": True},
                       {"name": "China", "market_economy": False}, {"name": "Other"}],
           "producers": [{"name": "CN", "region": "China", "stage": "refinery",
                          "capacity": 720.0, "unit_cost": 0.0},
                         {"name": "OT", "region": "Other", "stage": "refinery",
                          "capacity": 360.0, "unit_cost": 0.0}],
           "buyers": [{"name": f"{r} buyers", "region": r, "share": 1 / 3}
                      for r in ("US", "China", "Other")],
           "policy": {"floor": {"mechanism": "mip", "level": 100.0, "rent": "undertaking",
                                "covers": ["US"]}},
           "shocks": [{"kind": "export_control", "region": "China", "start": 2, "duration": 2,
                       "cut": 0.4}]}
    model = run(raw)
    s = model.series(accounts=True)
    np.testing.assert_allclose(s["price"][2:], 80.0, rtol=1e-9)
    np.testing.assert_allclose(s["exporter_rent"][2:], 400.0 * model.money_per_price_tonne,
                               rtol=1e-9)
    per_step = model.book.revenue / model.money_per_price_tonne
    np.testing.assert_allclose(per_step, [45 * 2000 / 45 + 15 * 80 + 400 / 3,
                                          30 * 80 + 800 / 3], rtol=1e-9)


def test_an_ask_a_tenth_of_a_billionth_above_the_world_price_does_not_sell_under_a_tiny_tariff():
    """Found by the slow search: the US mine's ore at 8 a t, 1.25 t to a t of product, sets the
    price at 10, where China's 600 t a year meet demand 100 x 60 / 10 = 600 t a year exactly;
    the US refiner asks 10 + 1e-9 and does not sell. Under a tariff of 1e-12 the club's price
    is 10 (1 + 1e-12), below that ask: it still sells nothing and the club imports all its
    25 t a step. It sold 0.067 t, its ask snapped to the club price (1e-10 of it apart), and
    the club imported 24.933 t."""
    raw = {"experiment": {"name": "prop", "steps": 3, "seed": 0},
           "market": {"intensity": 1.25, "demand": {
               "reference_price": 60.0, "reference_quantity": 100.0, "elasticity": -1.0}},
           "regions": [{"name": "US", "club": True},
                       {"name": "China", "market_economy": False}],
           "producers": [{"region": "US", "stage": "mine", "capacity": 751.0,
                          "unit_cost": 8.0, "name": "P1"},
                         {"region": "China", "stage": "refinery", "capacity": 600.0,
                          "unit_cost": 0.0, "name": "P2"},
                         {"region": "US", "stage": "refinery", "capacity": 1.0,
                          "unit_cost": 1e-9, "name": "P3"}],
           "buyers": [{"name": "US buyers", "region": "US", "share": 0.5},
                      {"name": "China buyers", "region": "China", "share": 0.5}]}
    plain = run(raw)
    np.testing.assert_allclose(plain.series()["club_imports"], 25.0, rtol=1e-12)
    check_non_binding(raw, "tariff")
