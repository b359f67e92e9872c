"""The component stage: component makers turn product into a downstream component (NdFeB magnets
from NdPr oxide), buyers demand components, and the product price comes from component makers'
derived demand (docs/ODD.md 7.18).

A component maker i with conversion cost c_i (price units per t component) and intensity k_i
(t product per t component) offers its available capacity at c_i + k_i P when the product
price is P. For a trial P the component market clears against buyers (`abm.clearing`, with the
component stage's trade measures), and the component makers' derived product demand is
D(P) = sum_i k_i q_i(P), continuous and non-increasing in P. The product market clears where
that demand meets the product supply curve S (product offers, merit order):

* on a horizontal segment, P is the marginal product ask a (S(a-) <= D(a) <= S(a)): the
  marginal product offers are dispatched pro rata, component makers earn the scarcity rent;
* on a vertical segment, a_(k-1) < P < a_k with D(P) = S(a_(k-1)), solved to machine precision
  (brentq): product is scarce and refiners earn the rent;
* beyond the last ask, D(P) = all product supply.

Where component capacity binds as well, D is flat at the root and a range of product prices
clears; then, as with the concentrate price (abm.market.concentrate_price), the scarce upstream
stage earns the rent: P is the highest price at which every maker that sells still breaks even,
min_i (Pc_i - c_i) / k_i over the makers selling (Pc_i the price of the maker's market).

Quantities are tonnes per step; prices in the experiment's price unit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from abm import market
from abm.clearing import Offers, Outcome, clear_single, clear_step
from abm.kinds import COMPONENT_MAKER
from abm.shocks import Outages


@dataclass
class ProductClearing:
    """The product market cleared against component makers' derived demand."""

    price: float
    dispatched: np.ndarray      # t of product sold per product offer
    demand: float               # t of product the component makers buy, = dispatched.sum()


def product_equilibrium(asks: np.ndarray, qty: np.ndarray, derived: Callable[[float], float],
                        ceiling: Callable[[float], float] | None = None) -> ProductClearing:
    """Clear product offers (`asks`, `qty`) against a continuous non-increasing derived demand
    `derived(P)` (t of product); see the module docstring. `ceiling(P)`: the highest product
    price at which the makers selling at P still break even (None: the root is the price).
    With no product on offer the price is a marker (NO_SUPPLY_PRICE_FACTOR x the highest ask,
    or that factor) and nothing sells."""
    from scipy.optimize import brentq

    asks = np.asarray(asks, dtype=float)
    qty = np.asarray(qty, dtype=float)
    live = qty > 0
    levels = np.unique(asks[live])
    if not len(levels):
        top = float(asks.max()) if len(asks) else 1.0
        return ProductClearing(max(top, 1.0) * market.NO_SUPPLY_PRICE_FACTOR,
                               np.zeros_like(qty), 0.0)
    order = np.argsort(asks[live], kind="stable")
    cum_at = np.cumsum(qty[live][order])
    sorted_asks = asks[live][order]
    # supply at or below each level: the cumulated quantity at its last offer
    supply = cum_at[np.searchsorted(sorted_asks, levels, side="right") - 1]
    seen: dict[float, float] = {}

    def demand(p: float) -> float:
        if p not in seen:
            seen[p] = derived(p)
        return seen[p]

    lo, hi = 0, len(levels)
    while lo < hi:          # the first level at which supply meets derived demand
        mid = (lo + hi) // 2
        if demand(float(levels[mid])) <= supply[mid]:
            hi = mid
        else:
            lo = mid + 1
    k = lo
    below = float(supply[k - 1]) if k > 0 else 0.0
    if k < len(levels) and demand(float(levels[k])) >= below:
        price = float(levels[k])                      # horizontal segment
        sold = demand(price)
        full = float(supply[k]) * (1.0 - 1e-12)
        if ceiling is not None and sold >= full:
            # the makers take every offer at this ask exactly: if their demand stays there above
            # it (component capacity binds too), the scarce upstream stage earns the rent, as
            # on a vertical segment, up to the next ask
            top = ceiling(price)
            if k + 1 < len(levels):
                top = min(top, float(levels[k + 1]))
            if np.isfinite(top) and top > price and demand(top) >= full:
                price, sold = top, float(supply[k])
    else:
        left = float(levels[k - 1])
        if k < len(levels):                           # vertical segment below levels[k]
            right = float(levels[k])
        else:                                         # beyond the last ask
            right = max(left, 1.0) * 2.0
            while demand(right) > below and right < 1e300:
                right *= 2.0
        price = float(brentq(lambda p: demand(p) - below, left, right, xtol=1e-300,
                             rtol=1e-15, maxiter=500))
        if ceiling is not None:
            # demand flat beyond the root (component capacity binds too): the highest price
            # that still clears, within the segment
            top = ceiling(price)
            if k < len(levels):
                top = min(top, right)
            if np.isfinite(top) and top > price and demand(top) >= below * (1.0 - 1e-12):
                price = top
        sold = below
    at = live & (asks == price)
    out = np.where(live & (asks < price), qty, 0.0)
    rest = sold - float(out.sum())
    if at.any():
        out = out + np.where(at, qty * min(max(rest / float(qty[at].sum()), 0.0), 1.0), 0.0)
    elif out.sum() > 0:
        # (a vertical segment: what the makers buy is the supply below, up to rounding of the
        # root; shared so that the tonnes sold are the tonnes bought)
        out = out * (demand(price) / float(out.sum()))
    return ProductClearing(price, out, float(out.sum()))


def mixed(lo: Outcome, hi: Outcome, share: float, at: Outcome | None = None,
          world: np.ndarray | None = None) -> Outcome:
    """`share` of component-market outcome `lo` and the rest of `hi`, the two sides of a tie
    between makers: the tonnes and the money mixed, the prices `at`'s (the outcome at the tie's
    own prices; None: `lo`'s). Under a price undertaking the exporters' rent is a price uplift
    on what makers selling in the world market sold (abm.clearing._undertaking_rent): `at`'s
    uplift was spread over `at`'s tonnes, so it is spread again, the mixed rent over the mixed
    tonnes of the `world` rows (the makers outside the club), so that makers are paid what
    buyers pay less the duty (with none of them selling, the rent stays duty)."""
    def mix(a, b):
        return share * a + (1.0 - share) * b

    prices = at if at is not None else lo
    sold = mix(lo.sold, hi.sold)
    duties, rent = mix(lo.duties, hi.duties), mix(lo.exporter_rent, hi.exporter_rent)
    offer_price = prices.offer_price
    if world is not None and (rent > 0 or prices.exporter_rent > 0):
        offer_price = offer_price.copy()
        offer_price[world] = prices.world_price
        sellers = world & (sold > 0)
        if rent > 0 and sellers.any():
            offer_price[sellers] += rent / sold[sellers].sum()
        else:
            duties, rent = duties + rent, 0.0
    return replace(lo, sold=sold, to_gov=mix(lo.to_gov, hi.to_gov),
                   buyer_tonnes=mix(lo.buyer_tonnes, hi.buyer_tonnes),
                   duties=duties, club_imports=mix(lo.club_imports, hi.club_imports),
                   unmet=mix(lo.unmet, hi.unmet), consumption=mix(lo.consumption, hi.consumption),
                   exporter_rent=rent,
                   world_price=prices.world_price, club_price=prices.club_price,
                   offer_price=offer_price, buyer_price=prices.buyer_price,
                   market_price=prices.market_price)


def composed(maker_cost: np.ndarray, maker_qty: np.ndarray, product_ask: np.ndarray,
             product_qty: np.ndarray, intensity: float) -> market.ChainCurve:
    """With one intensity k and one component market, the cheapest component is made by the
    cheapest maker from the cheapest product: the integrated component supply curve is the
    series composition of the two merit orders (abm.market.chain_curve, makers in the refinery
    role, product offers in the mine role), whose clearing gives the same equilibrium as
    `product_equilibrium` in one clearing; the product price then follows as the concentrate
    price does (abm.market.concentrate_price: the scarce upstream stage earns the rent)."""
    return market.chain_curve(maker_cost, maker_qty, product_ask, product_qty, intensity)


def clear_stages(model) -> tuple[float, np.ndarray, Outcome]:
    """This step's component and product markets (`model` an abm.protocol.ModelView, which
    imports this module's types: the model's offers, component makers, buyers and component
    plan): (product price, t of product sold per product offer, the component market's outcome
    by maker). One composed clearing when one intensity serves every maker and no measure
    splits the component market (`composed_clearing`), else the derived-demand search
    (`product_equilibrium`)."""
    makers, plan, o = model.components, model.component_plan, model.offers
    cut = model.producers.supply_cut if model.producers.cut_active else None
    # (without product on offer nothing can be made)
    avail = makers.available(cut) if (o.qty > 0).any() else np.zeros(len(makers.capacity))
    if plan.idle and makers.uniform and (avail > 0).any():
        return composed_clearing(model, avail)
    component_market = component_clearing(model, avail)

    def derived(product_price: float) -> float:
        return float((makers.intensity * component_market(product_price).sold).sum())

    def ceiling(product_price: float) -> float:
        return break_even(makers, component_market(product_price), None)

    product = product_equilibrium(o.ask, o.qty, derived, ceiling)
    price, dispatched = product.price, product.dispatched
    comp = component_market(price)
    live = o.qty > 0
    at_ask = bool((live & (o.ask == price)).any())
    # a vertical segment where derived demand jumps across the supply below P (makers of
    # different intensities tie at the component price: below P the one with the larger k
    # takes the tie, above it the other): every split of the tie is a component-market
    # equilibrium, and the one that clears the product market mixes the two sides so that the
    # makers buy the supply below P. The root may fall on a product ask (the jump at it): the
    # makers' demand there is more than every offer up to it, and the mix buys what was
    # dispatched, all of it
    target = float(dispatched.sum()) if at_ask else float(o.qty[live & (o.ask < price)].sum())
    if target > 0 and abs(float((makers.intensity * comp.sold).sum()) - target) > 1e-9 * target:
        lo = component_market(price * (1 - 1e-9))
        hi = component_market(price * (1 + 1e-9))
        d_lo = float((makers.intensity * lo.sold).sum())
        d_hi = float((makers.intensity * hi.sold).sum())
        if d_lo >= target >= d_hi and d_lo > d_hi:
            comp = mixed(lo, hi, (target - d_hi) / (d_lo - d_hi), comp, ~makers.club)
            if not at_ask:
                dispatched = np.where(live & (o.ask < price), o.qty, 0.0)
    return price, dispatched, comp


def component_clearing(model, avail: np.ndarray) -> Callable[[float | np.ndarray], Outcome]:
    """The component market as a function of the product price the makers pay (one price, or
    one per maker): buyers against the makers' offers c_i + k_i P_i of their `avail` t, with
    the component stage's measures (model.component_plan)."""
    makers, buyers, plan = model.components, model.buyers, model.component_plan
    n = len(avail)
    rows, none = np.arange(n), np.full(n, -1)
    contract, club_value = np.zeros(n, dtype=bool), makers.club.astype(float)

    def component_market(product_price) -> Outcome:
        offers = Offers(makers.asks(product_price), avail, rows, none, makers.region, none,
                        contract, club_value)
        if plan.idle:
            return clear_single(offers, buyer_scale=buyers.scale, eps=model.elasticity,
                                price_cap=None, last_price=model.last_component_price,
                                region_club=model.region_club, buyer_club_rows=buyers.club_rows)
        return clear_step(offers, plan, buyer_scale=buyers.scale, buyer_region=buyers.region,
                          region_club=model.region_club, eps=model.elasticity, price_cap=None,
                          last_price=model.last_component_price)

    return component_market


def break_even(makers, comp: Outcome, among: np.ndarray | None) -> float:
    """The highest product price at which every maker selling in `comp` (of the rows `among`;
    None: all) still breaks even, min_i (Pc_i - c_i) / k_i; inf when none sells (no maker's
    break-even bounds the price: the caller's other bounds do)."""
    selling = comp.sold > 0
    if among is not None:
        selling &= among
    if not selling.any():
        return np.inf
    # (at the price a marginal component fetches, not with an undertaking's lump rent on it:
    # review rv13 G3, read with the rent the product price fell from 90 to the refiner's ask)
    return float(np.min((comp.marginal_price[selling] - makers.unit_cost[selling])
                        / makers.intensity[selling]))


def composed_clearing(model, avail: np.ndarray) -> tuple[float, np.ndarray, Outcome]:
    """`clear_stages` in one clearing of the composed merit order (`composed`; one intensity k,
    no component measure, some product on offer): the component outcome is re-laid by maker
    (t sold, the one component price), the product price follows the concentrate-price rule."""
    makers, o = model.components, model.offers
    k = float(makers.intensity[0])
    live_o, live_m = np.flatnonzero(o.qty > 0), np.flatnonzero(avail > 0)
    curve = composed(makers.unit_cost[live_m], avail[live_m], o.ask[live_o], o.qty[live_o], k)
    maker_rows = live_m[curve.refinery]
    n = len(curve.asks)
    seg = clear_single(Offers(curve.asks, curve.quantity, maker_rows, live_o[curve.mine],
                              makers.region[maker_rows], np.full(n, -1), np.zeros(n, dtype=bool),
                              makers.club[maker_rows].astype(float)),
                       buyer_scale=model.buyers.scale, eps=model.elasticity, price_cap=None,
                       last_price=model.last_component_price, region_club=model.region_club,
                       buyer_club_rows=model.buyers.club_rows)
    price = market.concentrate_price(seg.world_price, curve, seg.sold, makers.unit_cost[live_m],
                                     o.ask[live_o], o.qty[live_o], k)
    dispatched = np.bincount(live_o[curve.mine], weights=seg.sold * k, minlength=len(o))
    seg.sold = np.bincount(maker_rows, weights=seg.sold, minlength=len(avail))
    seg.to_gov = np.zeros(len(avail))
    seg.offer_price = np.full(len(avail), seg.world_price)
    return price, dispatched, seg


class ComponentMakers:
    """The component makers of an experiment (`[[producers]] stage = "component"`), one row
    each: name, region, club, capacity (t/yr), conversion cost (price units/t), intensity
    (t product/t component), fixed cost (USD/yr) and cash (USD); and this step's output (t),
    revenue, product bought and costs (USD)."""

    def __init__(self, config, region_index: dict[str, int], region_club: np.ndarray,
                 seed: int = 0):
        rows = [p for p in config.producers if p.stage == "component"]
        k_default = config.market.component_intensity
        self.name = [p.name for p in rows]
        self.region = np.array([region_index[p.region] for p in rows], dtype=int)
        self.club = region_club[self.region] if len(rows) else np.zeros(0, dtype=bool)
        self.capacity = np.array([p.capacity for p in rows], dtype=float)
        self.unit_cost = np.array([p.unit_cost for p in rows], dtype=float)
        self.intensity = np.array([p.intensity if p.intensity is not None else k_default
                                   for p in rows], dtype=float)
        self.fixed_cost = np.array([p.fixed_cost for p in rows], dtype=float)
        # one intensity for all: the component market composes with the product market
        # (`composed`) when no measure splits it
        self.uniform = len(rows) > 0 and bool((self.intensity == self.intensity[0]).all())
        self.cash = np.array([p.cash for p in rows], dtype=float)
        self.steps_per_year = config.experiment.steps_per_year
        self.any = len(rows) > 0        # (a plain attribute: read every step)
        n = len(rows)
        self.output = np.zeros(n)
        self.revenue = np.zeros(n)
        self.input_cost = np.zeros(n)
        self.cost = np.zeros(n)
        # random outages ([outages]) hit makers as they hit producers: each maker its own
        # stream, keyed (COMPONENT_MAKER, its index among the makers)
        self.outage = np.zeros(n)
        self.outages = None
        if config.outages is not None and config.outages.probability > 0 and n:
            o = config.outages
            self.outages = Outages(seed, o.probability, o.duration, o.severity,
                                   block=min(config.experiment.steps, 256))
            for i in range(n):
                self.outages.register((COMPONENT_MAKER, i))
            self._active = np.ones(n, dtype=bool)

    def draw_outages(self) -> None:
        """This step's random outages (share of capacity lost, per maker)."""
        if self.outages is not None:
            self.outage = self.outages.advance(self.outage, self._active)

    def available(self, cut: np.ndarray | None = None) -> np.ndarray:
        """t of component each maker can make this step (its outage and a regional supply cut
        apply)."""
        avail = self.capacity / self.steps_per_year * (1.0 - self.outage)
        return avail * (1.0 - cut[self.region]) if cut is not None else avail

    def asks(self, product_price: float) -> np.ndarray:
        """Each maker's ask at product price P: c_i + k_i P (price units per t component)."""
        return self.unit_cost + self.intensity * product_price

    def settle(self, sold: np.ndarray, offer_price: np.ndarray, product_price: np.ndarray,
               money_per_price_tonne: float) -> None:
        """Makers are paid their market's component price for what they sold, buy k_i t of
        product per t at the product price of their market (`product_price`, per maker), pay
        their conversion and fixed costs (USD)."""
        mf = money_per_price_tonne
        self.output = sold.copy()
        self.revenue = sold * offer_price * mf
        self.input_cost = self.intensity * sold * product_price * mf
        self.cost = sold * self.unit_cost * mf + self.fixed_cost / self.steps_per_year
        self.cash += self.revenue - self.input_cost - self.cost
