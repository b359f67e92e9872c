"""Market clearing as pure functions on numpy arrays (no Mesa, no I/O).

Demand is isoelastic, D(P) = A * P**eps + B (A >= 0, eps < 0; B a price-independent block such as
contracted imports or government purchases). Supply is a merit order of offers (quantity, ask).
The equilibrium is the exact intersection of the step supply curve with the demand curve:

* on a horizontal segment (P equals an ask; the marginal offers are dispatched pro rata),
* on a vertical segment (P strictly between two asks; P = D^-1(cumulative supply)), or
* beyond the last offer (scarcity: P = D^-1(total supply), or the price cap with rationing).

Quantities are tonnes per step; prices are in the experiment's price unit.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

import numpy as np

# Price used when there is no supply at all and no cap: demand cannot be met at any price.
NO_SUPPLY_PRICE_FACTOR = 1e3


def demand_scale(quantity: float | np.ndarray, price: float, elasticity: float) -> np.ndarray:
    """A such that A * price**elasticity = quantity."""
    return np.asarray(quantity, dtype=float) * price ** (-elasticity)


def demand(A: float, eps: float, price: float | np.ndarray, B: float = 0.0) -> np.ndarray:
    """D(P) = A P^eps + B; D(0) = +inf when A > 0."""
    p = np.asarray(price, dtype=float)
    with np.errstate(divide="ignore", over="ignore"):
        return A * np.where(p > 0, p, 0.0) ** eps + B if A > 0 else np.full_like(p, B)


def demand_at(A: float, eps: float, price: float, B: float = 0.0) -> float:
    """float(demand(A, eps, price, B)) for one price: the same number (the same numpy power)
    without the array set-up, for the prices a step meets (positive, not tiny)."""
    if A > 0 and price >= 1e-6 and A < 1e200:
        return float(A * np.power(price, eps) + B)
    return float(demand(A, eps, price, B))


def inverse_demand(A: float, eps: float, quantity: float, B: float = 0.0) -> float:
    """P such that D(P) = quantity (inf when quantity <= B, i.e. demand cannot be that low)."""
    if A <= 0:
        return np.inf if quantity < B else 0.0
    q = quantity - B
    if q <= 0:
        return np.inf
    try:
        return float((q / A) ** (1.0 / eps))
    except OverflowError:
        # a price beyond what a float holds (a rounding residue of supply, 2e-16 t, under a
        # near-vertical demand): no price clears that little, as with no supply at all
        return np.inf


@dataclass
class Clearing:
    """Result of clearing one market."""

    price: float
    quantity: float          # tonnes sold to buyers (elastic part + block B)
    dispatched: np.ndarray   # tonnes sold per offer, in the input order
    unmet: float             # demand not served (scarcity), tonnes
    scarce: bool             # demand exceeded all supply


@dataclass
class MeritOrder:
    """The merit order of a set of asks, for clearing them against many demand curves (see
    `merit_order`)."""

    order: np.ndarray     # stable sort order of the asks
    asks: np.ndarray      # the asks in that order
    shape: np.ndarray     # max(ask, 0)^eps: demand at each ask is A * shape + B
    top: float            # largest finite value of shape (0 when none)
    supply: tuple | None = None   # (quantities, in merit order, cumulated) of the last clear


def merit_order(asks: np.ndarray, eps: float) -> MeritOrder:
    """Sort `asks` once for `clear(..., merit=...)` calls whose offers are all live."""
    asks = np.asarray(asks, dtype=float)
    order = np.argsort(asks, kind="stable")
    a = asks[order]
    with np.errstate(divide="ignore", over="ignore"):
        shape = np.where(a > 0, a, 0.0) ** eps
    finite = shape[np.isfinite(shape)]
    return MeritOrder(order, a, shape, float(finite.max()) if len(finite) else 0.0)


def clear(asks: np.ndarray, quantities: np.ndarray, A: float, eps: float, *, B: float = 0.0,
          price_cap: float | None = None, shortfall_price: float | None = None,
          merit: MeritOrder | None = None, all_live: bool = False) -> Clearing:
    """Exact merit-order equilibrium of offers against D(P) = A P^eps + B.

    Unmet demand is demand not served at the clearing price: D(cap) - supply under a binding
    `price_cap`, else 0 (beyond the last offer the price rises until demand equals supply),
    except with no supply at all, where no price clears: then it is D(shortfall_price) (the
    demand buyers had at that price, e.g. the previous step's; by default the marker price
    recorded). `merit`: `merit_order(asks, eps)` when the caller clears the
    same asks many times (used only when every offer is live; the result is the same).
    `all_live`: the caller knows every quantity is positive. With `merit`, passing the very
    same quantities array again (unchanged) reuses its merit-order cumulation.
    """
    asks = np.asarray(asks, dtype=float)
    qty = np.asarray(quantities, dtype=float)
    if price_cap is not None and len(asks) and asks.max() > price_cap:
        # an offer asking more than the cap cannot sell at any price allowed
        qty = np.where(asks > price_cap, 0.0, qty)
        all_live, merit = False, None
    if all_live:
        live = None
    else:
        live = qty > 0
        all_live = bool(live.all())
    shape = None
    if all_live:
        # (the general branch below with live everywhere: the same order and quantities)
        if merit is not None:
            order, a = merit.order, merit.asks
            if A > 0 and float(A) * merit.top + abs(B) < 1e300:   # nothing can overflow
                shape = merit.shape
            if merit.supply is not None and merit.supply[0] is quantities:
                q, cum = merit.supply[1], merit.supply[2]
            else:
                q = qty[order]
                cum = q.cumsum()
                merit.supply = (quantities, q, cum)
        else:
            order = np.argsort(asks, kind="stable")
            a = asks[order]
            q = qty[order]
            cum = q.cumsum()
    else:
        order = np.argsort(np.where(live, asks, np.inf), kind="stable")
        a = asks[order]
        q = np.where(live[order], qty[order], 0.0)
        cum = q.cumsum()
    total = float(cum[-1]) if len(cum) else 0.0

    if total <= 0 and A <= 0:
        return Clearing(0.0, 0.0, np.zeros_like(qty), max(B, 0.0), B > 0)

    if shape is not None and not A * shape[-1] + B <= cum[-1]:
        # demand falls and supply rises along the merit order: when demand at the last ask
        # exceeds all supply, it does at every ask (scarcity, below)
        met = None
    else:
        if shape is not None:
            d_at = A * shape if B == 0 else A * shape + B   # = demand(A, eps, a, B)
        else:
            d_at = demand(A, eps, a, B) if len(a) else np.zeros(0)
        met = d_at <= cum if all_live else (d_at <= cum) & (q > 0)
    k = int(met.argmax()) if met is not None and len(met) else 0
    if met is not None and len(met) and met[k]:        # k: the first offer where supply meets demand
        prev = cum[k] - q[k]                           # supply before offer k
        if d_at[k] >= prev:
            price = float(a[k])                        # horizontal segment
            sold = float(d_at[k])
        else:
            sold = float(prev)                         # vertical segment
            price = inverse_demand(A, eps, sold, B) if A > 0 else float(a[k])
            # the segment lies between the last offer sold (k - 1, live: live offers sort
            # first) and offer k: a price a rounding below the last one's ask (demand at that
            # ask a hair above the supply through it) would leave it out of the dispatch though
            # its tonnes are in `sold` (tonnes delivered that nobody sold)
            if k > 0:
                price = min(max(price, float(a[k - 1])), float(a[k]))
        dispatched = _dispatch(asks, qty, live, price, sold, all_live)
        return Clearing(price, sold, dispatched, 0.0, False)

    # scarcity: demand at the highest ask exceeds all supply; the price rises until demand
    # equals supply, P = D^-1(total), and every buyer is served at it (unmet demand 0)
    price = inverse_demand(A, eps, total, B)
    cleared = math.isfinite(price)
    if not cleared:
        # no price clears: no supply at all, or a price-independent block B beyond all supply
        if all_live:
            top = float(a.max()) if len(a) else 1.0
        else:
            top = float(a[live[order]].max()) if live.any() else 1.0
        price = max(top, 1.0) * NO_SUPPLY_PRICE_FACTOR
    if price_cap is not None and price > price_cap:
        # a binding cap: buyers are rationed at the cap
        price = float(price_cap)
        unmet = demand_at(A, eps, price, B) - total
    elif total <= 0:
        # no supply at all: buyers go without what they demanded at `shortfall_price` (the
        # previous step's price; the price recorded here is only a marker)
        unmet = demand_at(A, eps, shortfall_price if shortfall_price is not None else price, B)
    elif not cleared:
        unmet = demand_at(A, eps, price, B) - total
    else:
        unmet = 0.0
    dispatched = qty.copy() if all_live else np.where(live, qty, 0.0)
    return Clearing(float(price), total, dispatched, max(unmet, 0.0), True)


def _dispatch(asks: np.ndarray, qty: np.ndarray, live: np.ndarray, price: float,
              sold: float, all_live: bool = False) -> np.ndarray:
    """Offers below the price sell in full; offers at the price share the remainder pro rata."""
    if all_live:
        below, at = asks < price, asks == price
    else:
        below, at = live & (asks < price), live & (asks == price)
    out = np.where(below, qty, 0.0)
    if not at.any():
        return out
    rest = sold - out.sum()
    at_total = qty[at].sum()
    if at_total > 0:
        out = out + np.where(at, qty * min(max(rest / at_total, 0.0), 1.0), 0.0)
    return out


# --------------------------------------------------------------------------------------------------
# the two-stage chain: mines -> concentrate -> refineries -> product
# --------------------------------------------------------------------------------------------------


@dataclass
class ChainCurve:
    """The integrated product supply curve of refineries fed by mines.

    With one concentrate intensity k, the cheapest product is made by the cheapest refining
    capacity from the cheapest concentrate, so the marginal cost of the Q-th tonne of product is
    c_r(Q) + k * c_m(k Q): a merit order whose segments pair a refinery with a mine.
    """

    asks: np.ndarray       # product ask per segment
    quantity: np.ndarray   # tonnes of product per segment
    refinery: np.ndarray   # index (into the refinery arrays) per segment
    mine: np.ndarray       # index (into the mine arrays) per segment


def chain_curve(ref_cost: np.ndarray, ref_qty: np.ndarray, mine_cost: np.ndarray,
                mine_qty: np.ndarray, intensity: float) -> ChainCurve:
    """Series composition of the refining and mining merit orders (product units)."""
    r_order = np.argsort(ref_cost, kind="stable")
    m_order = np.argsort(mine_cost, kind="stable")
    r_cum = np.cumsum(ref_qty[r_order])
    m_cum = np.cumsum(mine_qty[m_order]) / intensity      # mine capacity in product tonnes
    top = min(r_cum[-1] if len(r_cum) else 0.0, m_cum[-1] if len(m_cum) else 0.0)
    edges = np.unique(np.concatenate(([0.0], r_cum, m_cum)))
    edges = edges[edges <= top]
    if len(edges) < 2:
        empty = np.zeros(0)
        return ChainCurve(empty, empty, empty.astype(int), empty.astype(int))
    lo, hi = edges[:-1], edges[1:]
    mid = 0.5 * (lo + hi)
    ri = r_order[np.searchsorted(r_cum, mid)]
    mi = m_order[np.searchsorted(m_cum, mid)]
    asks = ref_cost[ri] + intensity * mine_cost[mi]
    return ChainCurve(asks, hi - lo, ri, mi)


def repair_pool(seg_ref: np.ndarray, seg_mine: np.ndarray, seg_qty: np.ndarray,
                freed: np.ndarray, ref_avail: np.ndarray, ref_open: np.ndarray,
                mine_avail: np.ndarray, intensity: float) -> tuple[np.ndarray, np.ndarray]:
    """(refining, ore) a clearing leaves free to re-pair, per producer row (product t,
    concentrate t): the chain offers `seg_*` (producer rows of the refinery and the mine, t of
    product offered) hold their refining and their ore, except `freed` t of product of each,
    whose ore they release (the unsold part of a segment whose refining a binding product cap
    idles: its ore may be sold to refining elsewhere, abm.clearing.clear_step). The refining
    free is what rows `ref_open` have available (`ref_avail`) beyond every offer's; the ore
    free is what mines have available (`mine_avail`) beyond what the offers keep."""
    n = len(ref_avail)
    ref_used = np.bincount(seg_ref, weights=seg_qty, minlength=n)
    ore_kept = np.bincount(seg_mine, weights=(seg_qty - freed) * intensity, minlength=n)
    ref_free = np.where(ref_open, np.maximum(ref_avail - ref_used, 0.0), 0.0)
    ore_free = np.maximum(mine_avail - ore_kept, 0.0)
    return ref_free, ore_free


def released_from_top(held: np.ndarray, ask: np.ndarray, group: np.ndarray,
                      share: float) -> np.ndarray:
    """t released per offer: `share` of each group's `held` t, taken from its dearest offers
    (by `ask`) first, as the group's own merit order would give them up (review rv11 J1: a
    share of every offer kept the dearer refinery running while the cheaper one idled)."""
    out = np.zeros(len(held))
    for g in np.unique(group[held > 0]):
        rows = np.flatnonzero((group == g) & (held > 0))
        rows = rows[np.argsort(-ask[rows], kind="stable")]
        take = share * float(held[rows].sum())
        before = np.cumsum(held[rows]) - held[rows]
        out[rows] = np.clip(take - before, 0.0, held[rows])
    return out


def marginal_ask(asks: np.ndarray, selling: np.ndarray) -> float:
    """The refining ask a market's marginal refinery nets against, of refineries with asks
    `asks` of which `selling` sell: the dearest selling one's; with none selling, the
    cheapest's (it would refine a tonne given back first); inf with no refinery."""
    if selling.any():
        return float(asks[selling].max())
    return float(asks.min()) if len(asks) else math.inf


def largest_accepted(accept, lo: float = 1e-6, tol: float = 1e-10):
    """`accept(f)` (None: refused) at the largest share f in [lo, 1] it accepts, found by
    bisection, for a test whose accepted shares run from 0 up to a bound (a gap that closes
    as f rises); None when it refuses `lo` too."""
    best = accept(1.0)
    if best is not None:
        return best
    best = accept(lo)
    if best is None:
        return None
    hi = 1.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        got = accept(mid)
        if got is not None:
            lo, best = mid, got
        else:
            hi = mid
        if hi - lo <= tol:
            break
    return best


def licensed_ore(ore_free: np.ndarray, mine_region: np.ndarray, seg_mine: np.ndarray,
                 seg_region: np.ndarray, seg_sold: np.ndarray, intensity: float,
                 caps: dict) -> np.ndarray:
    """`ore_free` (t of concentrate per mine row, regions `mine_region`) with the rows of each
    region under a concentrate cap (`caps`: region -> cap, t) scaled down to the licences the
    cap leaves unused: the cap less what the region's mines ship abroad already (chain
    segments of mine rows `seg_mine` refined in regions `seg_region` selling `seg_sold` t of
    product). Re-paired ore goes to refining outside its region, so it is an export the cap
    must license (review rv9 G8: zeroed, a 10% ore cut beside a product ban left O's idle
    refinery without the 30 t the licences still allowed, 15000 with 50 t/yr unmet instead
    of 109.78)."""
    abroad = mine_region[seg_mine] != seg_region
    shipped = np.bincount(seg_mine, weights=np.where(abroad, seg_sold, 0.0) * intensity,
                          minlength=len(mine_region))
    out = np.array(ore_free, dtype=float)
    for r, cap in caps.items():
        rows = mine_region == r
        room = max(float(cap) - float(shipped[rows].sum()), 0.0)
        total = float(out[rows].sum())
        if total > room:
            out[rows] *= room / total if total > 0 else 0.0
    return out


def concentrate_price(price: float, curve: ChainCurve, dispatched: np.ndarray,
                      ref_cost: np.ndarray, mine_cost: np.ndarray, mine_qty: np.ndarray,
                      intensity: float, sale_price: np.ndarray | None = None) -> float:
    """Concentrate price after the product market cleared along the chain curve.

    The scarce stage earns the rent: p_c = clip(netback_marginal, c_m_marginal, c_m_next),
    where netback_marginal is the least any used segment's refinery nets per t of ore,
    (P - c_r) / k at the price P of the market the segment sold in (`sale_price`, per
    segment; default `price` for all, so the dearest used refinery's), and c_m_next is the
    cost of the cheapest concentrate still available. On a horizontal segment this gives
    p_c = c_m_marginal exactly (both marginal producers break even). With segments in markets
    at different prices (a product export cap's home market below the world's), the refinery
    that nets least is the marginal buyer of ore (review rv11 J3: a banned region's refining
    selling at 42.08 paid the outside refinery's netback 103.78 at the world price for ore).
    """
    used = dispatched > 1e-12
    if not used.any():
        return float(np.min(mine_cost)) if len(mine_cost) else float("nan")
    at = np.full(len(dispatched), price) if sale_price is None else sale_price
    net = float(np.min((at[used] - ref_cost[curve.refinery[used]]) / intensity))
    c_m = float(mine_cost[curve.mine[used]].max())
    mine_out = np.bincount(curve.mine[used], weights=dispatched[used] * intensity,
                           minlength=len(mine_cost))
    spare = (mine_qty - mine_out) > 1e-9 * np.maximum(mine_qty, 1.0)
    c_next = float(mine_cost[spare].min()) if spare.any() else np.inf
    return float(np.clip(net, c_m, max(c_m, c_next)))


def clear_with_bid(asks: np.ndarray, quantities: np.ndarray, A: float, eps: float,
                   bid_qty: float, bid_price: float, *, B: float = 0.0,
                   price_cap: float | None = None,
                   shortfall_price: float | None = None) -> tuple[Clearing, float]:
    """Clearing with an extra buyer who wants `bid_qty` tonnes at any price up to `bid_price`
    (a stockpile or buffer-stock bid). Returns the clearing and the tonnes the bidder got.

    Three exact cases: the bid is filled in full at a price <= bid_price; the bid sets the price
    (P = bid_price, bidder takes what is left after elastic demand); or the bid is priced out.
    """
    if bid_qty <= 0:
        return clear(asks, quantities, A, eps, B=B, price_cap=price_cap,
                     shortfall_price=shortfall_price), 0.0
    if price_cap is not None:
        bid_price = min(bid_price, price_cap)
    with_bid = clear(asks, quantities, A, eps, B=B + bid_qty, price_cap=price_cap,
                     shortfall_price=shortfall_price)
    if with_bid.price <= bid_price:
        wanted = demand_at(A, eps, with_bid.price, B + bid_qty)
        got = bid_qty * min(with_bid.quantity / wanted, 1.0) if wanted > 0 else 0.0
        with_bid.quantity -= got       # rationed pro rata when a cap binds
        return with_bid, got
    without = clear(asks, quantities, A, eps, B=B, price_cap=price_cap,
                    shortfall_price=shortfall_price)
    if without.price > bid_price:
        return without, 0.0
    # the bid sets the price: supply at bid_price beyond elastic demand goes to the bidder
    # (also when the market without the bid clears beyond its last offer, below bid_price)
    asks = np.asarray(asks, dtype=float)
    qty = np.asarray(quantities, dtype=float)
    live = qty > 0
    supply_at = qty[live & (asks <= bid_price)].sum()
    elastic = demand_at(A, eps, bid_price, B)
    if supply_at < elastic:          # only under a binding price cap: nothing left to bid for
        return without, 0.0
    got = float(np.clip(supply_at - elastic, 0.0, bid_qty))
    sold = elastic + got
    dispatched = _dispatch(asks, qty, live, bid_price, sold)
    return Clearing(float(bid_price), elastic, dispatched, 0.0, False), got


# --------------------------------------------------------------------------------------------------
# linked markets: a world hub and satellite nodes (the club, an export-controlling region)
# --------------------------------------------------------------------------------------------------


@dataclass
class Node:
    """A market linked to the world hub by trade.

    Imports into the node cost `import_price(P_w)`: P_w without measures; max(P_w, F) under a
    minimum import price F; P_w (1 + tariff) under an ad-valorem tariff. Exports leave at P_w.
    `import_cap` and `export_cap` bound net trade per step (MIP volume cap; export control).
    With `excess_duty` d, imports beyond the cap are not barred but pay d on top:
    `excess_price(P_w)` = P_w (1 + tariff)(1 + d), without limit.
    With `route_cost` c (transshipment through a club-treated third country) and `detection` d,
    imports may come routed at `routed_price(P_w)` = P_w + c + d W (W = the direct import
    price less P_w, the duty a caught tonne pays); they do, all of them, when that is below the
    direct import price, i.e. when (1 - d) W > c (`routes`).
    With shipping costs (a separate regional market, abm.regional), imports arrive at
    P_w + `cost_in` before the measures above and exports leave at `export_price(P_w)` =
    P_w - `cost_out`: between the two the node trades nothing (spatial equilibrium).
    """

    asks: np.ndarray
    qty: np.ndarray
    A: float
    mip: float = 0.0                 # minimum import price (0: none)
    tariff: float = 0.0              # ad-valorem duty on imports
    import_cap: float = np.inf       # t per step
    export_cap: float = np.inf       # t per step
    B: float = 0.0                   # price-independent demand in the node (e.g. a stockpile bid)
    excess_duty: float | None = None  # duty on imports beyond import_cap (None: they are barred)
    route_cost: float | None = None  # price units per t routed through a third country (None: no)
    detection: float = 0.0           # share of routed tonnes caught (they pay the duty)
    cost_in: float = 0.0             # shipping cost per t from the hub into the node
    cost_out: float = 0.0            # shipping cost per t from the node to the hub

    def import_price(self, p_w: float) -> float:
        if self.cost_in:
            p_w = p_w + self.cost_in     # (the landed price: the measures apply to it)
        if self.route_cost is None:
            return max(p_w, self.mip) * (1.0 + self.tariff)
        direct = max(p_w, self.mip) * (1.0 + self.tariff)
        return min(direct, p_w + self.route_cost + self.detection * (direct - p_w))

    def export_price(self, p_w: float) -> float:
        """What the node's exports fetch at home: the world price less shipping."""
        return p_w - self.cost_out if self.cost_out else p_w

    def routes(self, p_w: float) -> bool:
        """Imports come routed through a third country at world price `p_w`: the expected duty
        saved, (1 - detection) x the wedge, exceeds the routing cost."""
        if self.route_cost is None:
            return False
        wedge = max(p_w, self.mip) * (1.0 + self.tariff) - p_w
        return (1.0 - self.detection) * wedge > self.route_cost

    def routed_inverse(self, x: np.ndarray) -> list[np.ndarray]:
        """World prices at which routed imports cost `x` at the border, and at which routing
        starts to pay (breakpoints of the node's response; none without routing)."""
        if self.route_cost is None:
            return []
        c, d, t, f = self.route_cost, self.detection, self.tariff, self.mip
        out = [(x - c) / (1.0 + d * t)]                       # P_w >= MIP: P_w (1 + d t) + c
        if d < 1.0:
            out += [(x - c - d * f * (1.0 + t)) / (1.0 - d),   # P_w < MIP
                    np.array([f * (1.0 + t) - c / (1.0 - d)])]
            # (where routing starts to pay above MIP: none within any meaningful price for a
            # tariff of rounding size, whose breakpoint would only inflate the no-supply marker)
            # (a subnormal tariff x (1 - d) rounds to 0: no such breakpoint, no division)
            if (1.0 - d) * t > 0 and c / ((1.0 - d) * t) < 1e15:
                out.append(np.array([c / ((1.0 - d) * t)]))
        return out

    def excess_price(self, p_w: float) -> float:
        """Price of imports beyond the cap (inf when they are barred)."""
        if self.excess_duty is None:
            return np.inf
        return (p_w + self.cost_in) * (1.0 + self.tariff) * (1.0 + self.excess_duty)


@dataclass
class LinkedClearing:
    world_price: float
    node_prices: list[float]
    world_dispatched: np.ndarray
    node_dispatched: list[np.ndarray]
    net_imports: list[float]     # t per step into each node (negative: exports)
    world_consumption: float
    node_consumption: list[float]
    unmet: float
    scarce: bool


def _supply_at(asks: np.ndarray, qty: np.ndarray, price: float) -> float:
    return float(qty[asks <= price].sum())


# Relative difference below which a price computed through a wedge is an ask, and two prices are
# the same: a wedge this small (a tariff of 1e-12) is rounding, not economics, so it must not
# decide which of two tied offers sells (tests/test_invariance.py).
SNAP_REL = 1e-10


class _SupplyCurve:
    """`_supply_at(asks, qty, p)` for the many prices a root search tries: the offers at or
    below p depend only on how many sorted asks are <= p, so each such set is summed once
    (the same way, hence the same number)."""

    def __init__(self, asks: np.ndarray, qty: np.ndarray):
        self.asks, self.qty = asks, qty
        self.sorted = np.sort(asks).tolist()
        self.sums: dict[int, float] = {}

    def __call__(self, price: float) -> float:
        k = bisect.bisect_right(self.sorted, price)
        got = self.sums.get(k)
        if got is None:
            got = self.sums[k] = _supply_at(self.asks, self.qty, price)
        return got


def _snap(price: float, asks: np.ndarray, rel: float = SNAP_REL) -> float:
    """A price computed through a wedge (P (1 + t)) that equals an ask up to rounding is that
    ask, so the offer is treated as marginal, not as inframarginal."""
    if len(asks) == 0:
        return price
    k = int(np.argmin(np.abs(asks - price)))
    # (relative to the prices themselves: a tiny positive price is not an ask of 0)
    return float(asks[k]) if abs(asks[k] - price) <= rel * max(abs(price), abs(asks[k])) else price


def _within_wedge(asks: np.ndarray, p_w: float, p_n: float) -> np.ndarray:
    """The asks a node price `p_n` reached through a wedge from the world price `p_w` may be
    snapped to: those between the two prices, up to rounding (1e-13 relative). An ask beyond
    both is a distinct offer however near (the slow search: a refiner asking 1e-9 above the
    world price of 10, 1e-10 of it, snapped to under a tariff of 1e-12, sold 0.067 t it does
    not sell without the tariff)."""
    lo, hi = min(p_w, p_n), max(p_w, p_n)
    room = 1e-13 * max(abs(lo), abs(hi))
    return asks[(asks >= lo - room) & (asks <= hi + room)]


class _NodeResponse:
    """A node's price and net imports as a function of the world price (monotone)."""

    def __init__(self, node: Node, eps: float, price_cap: float | None = None):
        self.node, self.eps = node, eps
        self.price_cap = price_cap
        self.supply = _SupplyCurve(node.asks, node.qty)
        if node.A <= 0 and node.B <= 0:
            self.autarky = 0.0                      # no buyers: exports everything it can
        elif node.qty.sum() <= 0:
            self.autarky = np.inf                   # no supply: imports whatever it needs
        else:
            self.autarky = clear(node.asks, node.qty, node.A, eps, B=node.B).price
        n = node
        self.p_import_capped = None
        # (with no own supply and a zero cap, clear() returns its no-supply marker price: any
        # duty-paid import beats that)
        self.capped_supply = float(n.qty.sum()) + n.import_cap > 0
        if np.isfinite(n.import_cap):
            self.p_import_capped = clear(np.append(n.asks, 0.0), np.append(n.qty, n.import_cap),
                                         n.A, eps, B=n.B).price
        self.p_export_capped = None
        if np.isfinite(n.export_cap) and n.qty.sum() > 0:
            self.p_export_capped = clear(n.asks, n.qty, n.A, eps, B=n.B + n.export_cap).price

    def __call__(self, p_w: float) -> tuple[float, float]:
        p_n, m = self.uncapped(p_w)
        cap = self.price_cap
        if cap is None or p_n <= cap * (1.0 + SNAP_REL):
            return p_n, m
        # an administrative price cap holds in every market: the node's buyers are rationed
        # at the cap; imports that cost more than the cap at the border do not come
        n = self.node
        if m > 0 and min(n.import_price(p_w), n.excess_price(p_w)) > cap * (1.0 + SNAP_REL):
            m = 0.0
        elif m > n.import_cap and n.excess_price(p_w) > cap * (1.0 + SNAP_REL):
            m = n.import_cap       # the quota's imports come; duty-paid ones beyond it cost more
        return float(cap), m

    def uncapped(self, p_w: float) -> tuple[float, float]:
        n, eps = self.node, self.eps
        hi, cap, dear = n.import_price(p_w), n.import_cap, n.excess_price(p_w)
        if dear <= hi:
            # duty-paid imports undercut the capped ones: they set the import price, uncapped
            hi, cap = dear, np.inf
        if self.autarky > hi:
            m = demand_at(n.A, eps, hi, n.B) - self.supply(hi)
            if m > cap:
                capped = max(hi, float(self.p_import_capped))
                if capped > dear or (not self.capped_supply and np.isfinite(dear)):
                    # past the cap, imports enter at the duty-paid price (beyond what the cap
                    # admitted at the lower price)
                    return dear, max(demand_at(n.A, eps, dear, n.B) - self.supply(dear), cap)
                return capped, cap
            return hi, max(m, 0.0)
        p_x = n.export_price(p_w)
        if self.autarky <= p_x:   # right-continuous: at a flat segment, export it all (trimmed later)
            m = demand_at(n.A, eps, p_x, n.B) - self.supply(p_x)
            if -m > n.export_cap:
                return min(p_x, float(self.p_export_capped)), -n.export_cap
            return p_x, min(m, 0.0)
        return self.autarky, 0.0


def _trim_room(node: Node, p_n: float, m: float, p_w: float) -> float:
    """Tonnes by which a node can take more from the hub (import more, or export less) without
    changing its price: its own supply priced exactly at its price, where that price is the
    price of imports (a node priced below it, e.g. behind an export cap, cannot import; one
    priced above it, behind an import cap, cannot import more), or, for an exporter selling
    at the world price, down to no exports."""
    marginal = float(node.qty[(node.asks == p_n) & (node.qty > 0)].sum())
    if marginal <= 0:
        return 0.0
    if math.isclose(p_n, node.import_price(p_w), rel_tol=SNAP_REL):
        return min(marginal, max(node.import_cap - m, 0.0))
    if math.isclose(p_n, node.excess_price(p_w), rel_tol=SNAP_REL):
        return marginal                          # duty-paid imports come without limit
    if m < 0 and math.isclose(p_n, node.export_price(p_w), rel_tol=SNAP_REL):
        return min(marginal, -m)
    return 0.0


def _pool_rationed(nodes: list[Node], node_prices: list[float], imports: list[float],
                   p_w: float, eps: float, available: float, world_want: float, responses):
    """Rationing (the world price at a binding cap) shared with the nodes trading at the world
    price: their own supply and demand join the hub's, and every buyer there, and every
    importing node, is served the same share. Returns (share, net imports), or None when no
    node trades at the world price or sharing would exceed a node's import or export cap.

    A separate market (abm.regional) at the world price whose share would have to be shipped
    at a cost (imports landing above the capped price, exports fetching less than its own) does
    not join the pool, and the pool is formed again without it (else its shipped tonnes would
    be paid for twice: by buyers at the world price and to shippers): it exports nothing, its
    own supply serving its own buyers, and what they still want it may import (where imports
    land within the cap, e.g. shipping in free), served pro rata with the pool's buyers, like
    every importing node outside the pool."""
    pool = [j for j, p_n in enumerate(node_prices) if p_n == p_w]
    while pool:
        shared = _share_pool(pool, nodes, imports, p_w, eps, available, world_want, responses)
        if not isinstance(shared, int):
            return shared
        pool.remove(shared)
    return None


def _share_pool(pool: list[int], nodes: list[Node], imports: list[float], p_w: float,
                eps: float, available: float, world_want: float, responses):
    """`_pool_rationed` for the nodes `pool`: (share, net imports), None, or the index of a
    separate market that would have to ship at a cost to share (to leave out)."""
    supply = available + sum(m for j, m in enumerate(imports) if j in pool and m < 0)
    wanted = world_want + sum(m for j, m in enumerate(imports) if j not in pool and m > 0)
    own, want = {}, {}
    for j in pool:
        own[j] = responses[j].supply(p_w)
        want[j] = demand_at(nodes[j].A, eps, p_w, nodes[j].B)
        supply += own[j]
        wanted += want[j]
    if wanted <= 0 or supply >= wanted:
        return None            # the pool is not short (what fell short was rounding)
    ratio = supply / wanted
    out = [m * ratio if m > 0 else m for m in imports]
    for j in pool:
        m = ratio * want[j] - own[j]
        n = nodes[j]
        if m > n.import_cap * (1 + 1e-12) or -m > n.export_cap * (1 + 1e-12):
            return None
        costly = ((m > 0 and n.import_price(p_w) > p_w * (1 + SNAP_REL))
                  or (m < 0 and n.export_price(p_w) < p_w * (1 - SNAP_REL)))
        if costly and (n.cost_in or n.cost_out):
            return j           # a separate market that would ship at a cost: left out
        if costly:
            return None        # imports cost more than the (capped) price: they do not come
        out[j] = m
    return ratio, out


def _claim_at_cap(nodes: list[Node], node_prices: list[float], imports: list[float],
                  p_w: float, cap: float, hub_supply: float, world_want: float) -> list[float]:
    """At a world price where a node's imports cost exactly the price cap at its border (a
    tariff-ridden node priced at the cap), that node is the marginal claimant: above this
    world price its imports stop, so at it the node takes what the hub leaves after the hub's
    own buyers and the other nodes, never rationing them (as an offer at the price takes what
    demand leaves it)."""
    at_cap = [j for j, (n, p_n, m) in enumerate(zip(nodes, node_prices, imports, strict=True))
              if m > 0 and math.isclose(p_n, cap, rel_tol=SNAP_REL)
              and math.isclose(n.import_price(p_w), cap, rel_tol=SNAP_REL)]
    if not at_cap:
        return imports
    others = sum(m for j, m in enumerate(imports) if j not in at_cap)
    left = max(hub_supply - world_want - others, 0.0)
    claim = sum(imports[j] for j in at_cap)
    if claim <= left:
        return imports
    out = list(imports)
    for j in at_cap:
        out[j] = imports[j] * left / claim
    return out


def _pool_ties(asks: np.ndarray, qty: np.ndarray, nodes: list[Node], node_prices: list[float],
               imports: list[float], p_w: float, world_want: float, eps: float,
               left_out: frozenset = frozenset()) -> list[float]:
    """Offers priced exactly at the world price in the hub and in nodes trading at it (their
    price equals the world price) are tied: as in one market (`_dispatch`), they share what
    demand leaves to them pro rata, whichever market they sit in. Returns the nodes' net
    imports with the ties shared (unchanged when no node takes part, or when sharing would
    exceed a node's import or export cap). A separate market (abm.regional) whose share would
    have to be shipped at a cost is left out (`left_out`) and the ties shared again without it:
    at the world price it trades nothing (its import price is above, its export price below)."""
    pool = [j for j, (n, p_n) in enumerate(zip(nodes, node_prices, strict=True))
            if p_n == p_w and j not in left_out
            and float(n.qty[(n.asks == p_w) & (n.qty > 0)].sum()) > 0]
    if not pool:
        return imports
    live = qty > 0
    below = float(qty[live & (asks < p_w)].sum())
    at = float(qty[live & (asks == p_w)].sum())
    wanted = world_want + sum(m for j, m in enumerate(imports) if j not in pool)
    node_below, node_at, node_want = {}, {}, {}
    for j in pool:
        n = nodes[j]
        ok = n.qty > 0
        node_below[j] = float(n.qty[ok & (n.asks < p_w)].sum())
        node_at[j] = float(n.qty[ok & (n.asks == p_w)].sum())
        node_want[j] = demand_at(n.A, eps, p_w, n.B)
        below += node_below[j]
        at += node_at[j]
        wanted += node_want[j]
    rest = wanted - below
    if at <= 0 or rest < -1e-12 * max(wanted, 1e-300) or rest > at * (1 + 1e-12):
        return imports
    share = min(max(rest / at, 0.0), 1.0)
    out = list(imports)
    for j in pool:
        n = nodes[j]
        m = node_want[j] - (node_below[j] + share * node_at[j])
        if (m > 0 and n.cost_in) or (m < 0 and n.cost_out):
            return _pool_ties(asks, qty, nodes, node_prices, imports, p_w, world_want, eps,
                              left_out | {j})
        if m > n.import_cap * (1 + 1e-12) or -m > n.export_cap * (1 + 1e-12):
            return imports
        out[j] = m
    return out


def clear_linked(asks: np.ndarray, qty: np.ndarray, A: float, eps: float, nodes: list[Node], *,
                 B: float = 0.0, price_cap: float | None = None,
                 shortfall_price: float | None = None) -> LinkedClearing:
    """Equilibrium of the world hub and its linked nodes.

    The world price solves S_w(P) - D_w(P) - sum_n M_n(P) = 0, a monotone function of P: the
    bracket is found exactly among the breakpoints (asks, the MIP levels, the nodes' autarky
    prices) and the root within it to machine precision (brentq), then each market is dispatched
    by merit order at its own price.
    """
    from scipy.optimize import brentq

    asks = np.asarray(asks, dtype=float)
    qty = np.asarray(qty, dtype=float)
    total_qty = qty.sum() + sum(n.qty.sum() for n in nodes)
    if total_qty <= 0:
        # nothing to sell anywhere: nobody is served (as in `clear`: at the cap when there is
        # one, else at `shortfall_price`; the price recorded is only a marker)
        price = NO_SUPPLY_PRICE_FACTOR
        if price_cap is not None and price > price_cap:
            price = ref = float(price_cap)
        else:
            ref = shortfall_price if shortfall_price is not None else price
        unmet = demand_at(A, eps, ref, B) + sum(demand_at(n.A, eps, ref, n.B)
                                                    for n in nodes)
        return LinkedClearing(price, [price] * len(nodes), np.zeros_like(qty),
                              [np.zeros_like(n.qty) for n in nodes], [0.0] * len(nodes), 0.0,
                              [0.0] * len(nodes), unmet, True)
    responses = [_NodeResponse(n, eps, price_cap) for n in nodes]
    supply = _SupplyCurve(asks, qty)

    # (pure functions of p: the bracket search, its checks, brentq's first two evaluations and
    # the dispatch ask for the same prices, each computed once)
    answers: dict[float, list[tuple[float, float]]] = {}
    known: dict[float, float] = {}

    def answer(p: float) -> list[tuple[float, float]]:
        got = answers.get(p)
        if got is None:
            got = answers[p] = [r(p) for r in responses]
        return got

    def excess(p: float) -> float:
        got = known.get(p)
        if got is None:
            got = known[p] = (supply(p) - demand_at(A, eps, p, B)
                              - sum(m for _, m in answer(p)))
        return got

    cands = [asks[qty > 0]]
    for n, r in zip(nodes, responses, strict=True):
        base = np.concatenate([n.asks[n.qty > 0], [r.autarky] if np.isfinite(r.autarky) else []])
        cands += [base, base / (1.0 + n.tariff), [n.mip]]
        if n.cost_in or n.cost_out:         # where imports or exports start paying
            cands += [base / (1.0 + n.tariff) - n.cost_in, base + n.cost_out]
        if n.excess_duty is not None:
            wedge = (1.0 + n.tariff) * (1.0 + n.excess_duty)
            capped = [r.p_import_capped] if r.p_import_capped is not None else []
            cands += [base / wedge, np.asarray(capped, dtype=float) / wedge,
                      [n.mip / (1.0 + n.excess_duty)]]
            if price_cap is not None:
                cands.append([price_cap / wedge - n.cost_in])
        if price_cap is not None:           # where imports stop costing less than the cap
            cands.append([price_cap / (1.0 + n.tariff) - n.cost_in])
        if n.route_cost is not None:        # ... and the same for routed imports
            cands += n.routed_inverse(np.append(base, [price_cap] if price_cap is not None
                                                else []))
    points = np.unique(np.concatenate([np.ravel(c) for c in cands]))
    points = points[np.isfinite(points) & (points > 0)]
    top = max(float(points.max()) if len(points) else 1.0, 1.0)
    no_clear = False
    if price_cap is not None:
        hi_limit = float(price_cap)
    else:
        # above every breakpoint; raised until world excess supply turns non-negative (demand
        # is strictly decreasing, so it does unless there is no supply at all)
        marker = hi_limit = top * NO_SUPPLY_PRICE_FACTOR
        while excess(hi_limit) < 0 and hi_limit < 1e300:
            hi_limit *= 10.0
        if excess(hi_limit) < 0:
            # no price clears: no supply reaches the world market (as `clear` without supply,
            # the price recorded is a marker, and buyers go without what they demanded at
            # `shortfall_price`)
            hi_limit = marker
            no_clear = True
    # the lowest candidate sits below the price at which all supply would be absorbed
    total_A = A + sum(n.A for n in nodes)
    floor_price = 1e-9
    if total_A > 0 and total_qty > 0:
        floor_price = min(floor_price, 1e-3 * inverse_demand(total_A, eps, total_qty))
    points = np.concatenate([[max(floor_price, 1e-300)], points[points < hi_limit], [hi_limit]])
    # excess is non-decreasing in P: binary search for the first candidate where it is >= 0
    scarce = excess(float(points[-1])) < 0
    if scarce:
        p_w = float(hi_limit)
    else:
        lo_k, hi_k = 0, len(points) - 1
        while lo_k < hi_k:
            mid = (lo_k + hi_k) // 2
            if excess(float(points[mid])) >= 0:
                hi_k = mid
            else:
                lo_k = mid + 1
        k = lo_k
        if k == 0:
            p_w = float(points[0])
        elif excess(float(points[k - 1])) >= -1e-12 * total_qty:
            # excess nil up to rounding at the breakpoint below: the world price is the lowest
            # that clears (where nothing trades with an empty hub, any price in a range would
            # clear; rounding must not pick a different one)
            p_w = float(points[k - 1])
        else:
            lo, hi = float(points[k - 1]), float(points[k])
            # excess is continuous inside (lo, hi); a jump at hi means the root is hi itself
            left = excess(np.nextafter(hi, 0.0))
            p_w = hi if left < 0 else brentq(excess, lo, hi, xtol=1e-300, rtol=1e-15,
                                             maxiter=500, full_output=True, disp=False)[0]
    # (snapped to the nearest ask of any market: a price within rounding of a node's own ask is
    # that ask, never one of the hub's a hair away that would leave the node's offer unsold)
    p_w = _snap(p_w, np.concatenate([asks, *(n.asks for n in nodes)]))
    if price_cap is not None:
        # (and to a world price at which a node's imports cost exactly the cap at its border:
        # the root search stops a hair above such a jump)
        # (landed at P_w + cost_in: abm.regional)
        # (routed imports, abm.clearing: the world prices at which they cost the cap at the
        # border, above and below the MIP, as routed_inverse gives them)
        routed = [np.ravel(x) - n.cost_in for n in nodes
                  for x in n.routed_inverse(np.array([price_cap]))[:2]]
        border = np.concatenate([[price_cap / (1.0 + n.tariff) - n.cost_in for n in nodes],
                                 *routed])
        # (a node's border first: with a wedge between SNAP_REL and 1e-9 the jump sits between
        # it and the cap, nearer the cap, and snapped to the cap its imports stopped while the
        # hub's buyers were served beyond their demand; the slow search's tariff 1.01e-10)
        near = border[np.abs(border - p_w) <= 1e-9 * np.maximum(np.abs(border), abs(p_w))]
        # (of several borders that near, the jump the search stopped at: the highest below
        # which the market is short, up to the rounding the snap makes, and above which it is
        # not. Review rv12 F2: two nodes with tariffs t and 2t, snapped to the first's border
        # the second's imports cost a hair above the cap and stopped, its buyers went short
        # and the hub's were served beyond their demand)
        short = [b for b in np.sort(near) if excess(float(b)) <= 1e-9 * max(total_qty, 1.0)]
        p_w = (float(short[-1]) if short else
               _snap(p_w, near if len(near) else np.array([price_cap]), rel=1e-9))

    def respond(p_w: float) -> tuple[list[float], list[float]]:
        prices, flows = [], []
        for n, r, (raw, m) in zip(nodes, responses, answer(p_w), strict=True):
            p_n = _snap(float(raw), _within_wedge(n.asks, p_w, float(raw)))
            if p_n != raw and m > 0:
                # importing at a price within rounding of one of its asks: the offer at that ask
                # is marginal, so it counts in the node's own supply (trimmed below if the hub
                # can send more), whichever side of the ask rounding put the import price
                want = max(demand_at(n.A, eps, p_n, n.B) - r.supply(p_n), 0.0)
                if m < n.import_cap:                       # at the import price, within the cap
                    m = min(want, n.import_cap)
                elif raw == n.excess_price(p_w):           # duty-paid beyond the cap
                    m = max(want, n.import_cap)
            prices.append(p_n)
            flows.append(float(m))
        return prices, flows

    node_prices, imports = respond(p_w)
    # a node price within rounding of the world price (through a wedge of rounding size) is the
    # world price, unless it is one of the node's own asks (its marginal offer must still sell)
    node_prices = [p_w if p_n != p_w and abs(p_n - p_w) <= SNAP_REL * max(abs(p_n), abs(p_w))
                   and not np.any(n.asks == p_n) else p_n
                   for n, p_n in zip(nodes, node_prices, strict=True)]
    # consumption is what is dispatched: equal to demand except in scarcity, where buyers get
    # only the supply there is
    world_want = world_demand = demand_at(A, eps, p_w, B)
    # a node exporting from offers priced exactly at its price may export less than all of them:
    # trim such exports so the hub's own offers below the price are not displaced
    hub_below = float(qty[(asks < p_w) & (qty > 0)].sum())
    surplus = hub_below - (world_want + sum(imports))
    if surplus > 1e-12:
        # flows absorb it where a node's own supply is priced exactly at its price: an exporter
        # exports less of it, an importer produces less of it and imports more
        room = [_trim_room(n, p_n, m, p_w)
                for n, p_n, m in zip(nodes, node_prices, imports, strict=True)]
        total = sum(room)
        if total > 0:
            take = min(surplus, total)
            imports = [m + take * r / total for m, r in zip(imports, room, strict=True)]
    if not scarce:
        imports = _pool_ties(asks, qty, nodes, node_prices, imports, p_w, world_want, eps)
    if price_cap is not None and p_w < price_cap * (1 - SNAP_REL):
        imports = _claim_at_cap(nodes, node_prices, imports, p_w, price_cap,
                                supply(p_w), world_want)
    into_hub = -sum(m for m in imports if m < 0)
    out_of_hub = sum(m for m in imports if m > 0)
    available = supply(p_w) + into_hub
    wanted = world_want + out_of_hub
    # (a relative tolerance: at a no-supply price, demand is a tiny tonnage that must still
    # go unserved rather than be conjured from an empty hub)
    if wanted > available + 1e-12 * max(available, wanted):
        # scarcity: the hub and the importing nodes are served pro rata, and so are nodes
        # trading at the world price (as in one market: their supply is shared too)
        pooled = _pool_rationed(nodes, node_prices, imports, p_w, eps, available, world_want,
                                responses)
        if pooled is not None:
            ratio, imports = pooled
        else:
            ratio = available / wanted
            imports = [m * ratio if m > 0 else m for m in imports]
        unmet_hub = world_want * (1 - ratio)
        if no_clear and world_want * ratio <= 0 and shortfall_price is not None:
            # nothing reached the hub's buyers, even from nodes sharing their supply at the
            # world price: they go without what they demanded at `shortfall_price` (as the
            # nodes' below, and `clear` without supply)
            unmet_hub = demand_at(A, eps, shortfall_price, B)
        world_want *= ratio
    else:
        unmet_hub = 0.0
    world_need = world_want + sum(imports)
    world_disp = _dispatch(asks, qty, qty > 0, p_w, min(max(world_need, 0.0), qty.sum()))
    world_cons = float(world_disp.sum()) - sum(imports)
    unmet = unmet_hub + max(world_need - float(world_disp.sum()), 0.0)
    node_disp, node_cons, node_want = [], [], []
    for n, p_n, m in zip(nodes, node_prices, imports, strict=True):
        want = demand_at(n.A, eps, p_n, n.B)
        node_want.append(want)
        need = max(want - m, 0.0)
        disp = _dispatch(n.asks, n.qty, n.qty > 0, p_n, min(need, n.qty.sum()))
        node_disp.append(disp)
        node_cons.append(float(disp.sum()) + m)
        if node_cons[-1] <= 0 and want > 0 and shortfall_price is not None \
                and price_cap is None:
            # nothing reached the node: no price clears there (its price is a marker), so its
            # buyers go without what they demanded at `shortfall_price`, as in the hub (under
            # a price cap the node's price is the cap, and what they wanted there is unmet)
            want = demand_at(n.A, eps, shortfall_price, n.B)
        unmet += max(want - node_cons[-1], 0.0)
    # (what rounding leaves of demand served in full is no unmet demand)
    wanted_all = world_demand + sum(node_want)
    if unmet <= 1e-12 * wanted_all:
        unmet = 0.0
    return LinkedClearing(p_w, node_prices, world_disp, node_disp, imports, world_cons, node_cons,
                          unmet, bool(scarce))
