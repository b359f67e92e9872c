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


def inverse_demand(A: float, eps: float, quantity: float, B: float = 0.0) -> float:
    """P such that D(P) = quantity (inf when quantity <= B, i.e. demand cannot be that low)."""
    if A <= 0:
        return np.inf if quantity < B else 0.0
    q = quantity - B
    if q <= 0:
        return np.inf
    return float((q / A) ** (1.0 / eps))


@dataclass
class Clearing:
    """Result of clearing one market."""

    price: float
    quantity: float          # tonnes sold to buyers (elastic part + block B)
    dispatched: np.ndarray   # tonnes sold per offer, in the input order
    unmet: float             # demand not served (scarcity), tonnes
    scarce: bool             # demand exceeded all supply


def clear(asks: np.ndarray, quantities: np.ndarray, A: float, eps: float, *, B: float = 0.0,
          price_cap: float | None = None, shortfall_price: float | None = None) -> Clearing:
    """Exact merit-order equilibrium of offers against D(P) = A P^eps + B.

    `shortfall_price`: in scarcity without a binding cap, unmet demand is recorded as
    D(shortfall_price) - supply (the demand buyers had at that price, e.g. the previous step's);
    by default the highest ask.
    """
    asks = np.asarray(asks, dtype=float)
    qty = np.asarray(quantities, dtype=float)
    live = qty > 0
    order = np.argsort(np.where(live, asks, np.inf), kind="stable")
    a = asks[order]
    q = np.where(live[order], qty[order], 0.0)
    cum = np.cumsum(q)
    prev = cum - q
    total = float(cum[-1]) if len(cum) else 0.0

    if total <= 0 and A <= 0:
        return Clearing(0.0, 0.0, np.zeros_like(qty), max(B, 0.0), B > 0)

    d_at = demand(A, eps, a, B) if len(a) else np.zeros(0)
    hit = np.flatnonzero((d_at <= cum) & (q > 0))
    if len(hit):
        k = int(hit[0])
        if d_at[k] >= prev[k]:
            price = float(a[k])                        # horizontal segment
            sold = float(d_at[k])
        else:
            sold = float(prev[k])                      # vertical segment
            price = inverse_demand(A, eps, sold, B) if A > 0 else float(a[k])
        dispatched = _dispatch(asks, qty, live, price, sold)
        return Clearing(price, sold, dispatched, 0.0, False)

    # scarcity: demand at the highest ask exceeds all supply
    price = inverse_demand(A, eps, total, B)
    if not np.isfinite(price):
        top = float(a[live[order]].max()) if live.any() else 1.0
        price = max(top, 1.0) * NO_SUPPLY_PRICE_FACTOR
    ref = shortfall_price if shortfall_price is not None else (float(a[q > 0][-1]) if total > 0
                                                               else price)
    if price_cap is not None and price > price_cap:
        price = float(price_cap)
        unmet = float(demand(A, eps, price, B)) - total
    else:
        unmet = max(float(demand(A, eps, ref, B)) - total, 0.0)
    dispatched = np.where(live, qty, 0.0)
    return Clearing(float(price), total, dispatched, max(unmet, 0.0), True)


def _dispatch(asks: np.ndarray, qty: np.ndarray, live: np.ndarray, price: float,
              sold: float) -> np.ndarray:
    """Offers below the price sell in full; offers at the price share the remainder pro rata."""
    below = live & (asks < price)
    at = live & (asks == price)
    out = np.where(below, qty, 0.0)
    rest = sold - out.sum()
    at_total = qty[at].sum()
    if at_total > 0:
        out = out + np.where(at, qty * np.clip(rest / at_total, 0.0, 1.0), 0.0)
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


def concentrate_price(price: float, curve: ChainCurve, dispatched: np.ndarray,
                      ref_cost: np.ndarray, mine_cost: np.ndarray, mine_qty: np.ndarray,
                      intensity: float) -> float:
    """Concentrate price after the product market cleared along the chain curve.

    The scarce stage earns the rent: p_c = clip((P - c_r_marginal) / k, c_m_marginal, c_m_next),
    where c_m_next is the cost of the cheapest concentrate still available. On a horizontal
    segment this gives p_c = c_m_marginal exactly (both marginal producers break even).
    """
    used = dispatched > 1e-12
    if not used.any():
        return float(np.min(mine_cost)) if len(mine_cost) else float("nan")
    c_r = float(ref_cost[curve.refinery[used]].max())
    c_m = float(mine_cost[curve.mine[used]].max())
    mine_out = np.bincount(curve.mine[used], weights=dispatched[used] * intensity,
                           minlength=len(mine_cost))
    spare = (mine_qty - mine_out) > 1e-9 * np.maximum(mine_qty, 1.0)
    c_next = float(mine_cost[spare].min()) if spare.any() else np.inf
    return float(np.clip((price - c_r) / intensity, c_m, max(c_m, c_next)))
