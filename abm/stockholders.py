"""Private stockholders who store because it pays ([storage]; issue 20 part 2).

One competitive stockholder (the sector) trades in the market as the other agents do: it offers
what it carries as sell tranches in the merit order and bids for more as tranches with
reservation prices (MarketPlan.storage_bids), both from one schedule, the stock it wants to
hold at each price. The clearing decides how much of either trades at the market price.

* `rational`: the schedule of the competitive-storage model (abm.storage) solved for the market
  the stockholders are in, in that market's own units. Each step the regime is read from the
  step's offers without the shock and without storage or buffer-stock bids: the price pbar at
  which they clear against demand (abm.clearing.clear_step, trade measures and export controls
  included) and the quantity Qbar demanded there; the benchmark is solved with prices in units
  of pbar, quantities in units of Qbar, the shock's sd, cost / pbar, decay and interest (and an
  open-market buffer stock's floor / pbar and capacity / Qbar while it is in force). These are
  snapped to grids of relative step `RESOLVE` anchored at the config's own values (the
  reference price and quantity: the benchmark is solved at its exact parameters), so a regime is
  re-solved only when it moves to another grid point. The stockholders expect this step's
  availability to be what they carry (and the buffer stock holds) plus the mean output times
  the step's shock, and place their schedule's points around it (docs/ODD.md states what is
  approximated: the supply curve is taken as vertical at Qbar x shock).
  Once an export control is announced its caps are public, and until its end the schedule is
  also solved by backward induction over the known regimes (abm.known_regimes); `foresight =
  "exit"` holds the lesser of the two at each price, "full" the induction's, and "uncertain"
  the induction's with a chance `lift_hazard` per step that the controls are lifted for good
  (free trade: the regime read from this step's offers without export caps).
* `adaptive`: they want to hold their capacity while the price is at most what the developers'
  expected price is worth carried a step, (1 - decay) E / (1 + interest) - cost, and nothing
  above it.

Units: tonnes, price units per t; `cost` is price units per t held per step; money in USD
(`money_per_price_tonne` converts). As in the solver (A_t = (1 - decay) S_t-1 + h_t, and
P_t + cost >= (1 - decay) E_t[P_t+1] / (1 + interest)), decay is lost at the start of each step
and the storage cost is paid on the stock S_t held at the end of step t (the last step's too);
both are recorded (abm.recorder.ACCOUNTS private_decay, private_storage_cost).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from abm import known_regimes, storage
from abm.clearing import clear_step
from abm.policies.base import Policy

RESOLVE = 0.02      # relative change of a normalised parameter that calls for a new solution
# solutions by their (snapped) parameters, shared by every run in the process: a solution
# depends only on its key, so results do not depend on which run solved it first
_SOLVED: dict[tuple, storage.StorageSolution | None] = {}
CACHE = 256         # solutions kept at most
POINTS = 16         # schedule points each side of the expected availability
SPREAD = 4.0        # ... spread over +-SPREAD shock sd


class Stockholders(Policy):
    """The stockholders: stock, trades and money (see the module docstring)."""

    name = "storage"
    phase = 3           # last: reads the step's offers and plan as the others left them

    def __init__(self, cfg):
        super().__init__(0, None)
        self.cfg = cfg
        self.stock = 0.0           # t held at the end of the step
        self.bought = self.sold = self.lost = 0.0   # this step, t
        self.spent = self.received = self.storage_paid = 0.0   # over the run, USD
        self.step_spend = self.step_sales = self.step_storage = 0.0   # this step, USD
        self.unsolved: list[int] = []      # steps whose regime has no solved rule
        self.held_out = False              # this step: no rule, the stock kept off the market

    def initialize(self, model) -> None:
        self.owner = model.register_stock_owner(self)
        model.stockholders = self
        restricting = {model.region_index[s.region] for s in model.config.shocks
                       if s.kind == "export_control" and s.stage == "product"}
        club = [r for r in np.flatnonzero(model.region_club).tolist() if r not in restricting]
        free = [r for r in range(len(model.region_names)) if r not in restricting]
        # they trade in the bids' market: the club's when it is separate, else the world's
        self.region = (club or free or [0])[0]
        self.home_region = self.region
        shock = model.config.market.supply_shock
        self.sd = shock.sd if shock is not None else 0.0
        # export controls: announced, their schedules are public (next_caps)
        self.controls = [p for p in model.policies
                         if p.name == "export_control" and p.shock.stage == "product"]

    # -- the step ------------------------------------------------------------------------------
    def apply(self, model) -> None:
        cfg = self.cfg
        self.lost = self.stock * cfg.decay
        self.stock -= self.lost
        self.bought = self.sold = 0.0

    def adjust_offers(self, model, offers) -> None:
        """Sell tranches into the merit order and bid tranches into the plan, from the
        schedule of (stock, price) points: the stock held is what the stockholders want at the
        market price."""
        points = (self.rational_points(model, offers) if self.cfg.rule == "rational"
                  else self.adaptive_points(model))
        self.held_out = points is None
        if self.held_out:
            # no solved rule in this regime: neither dump the stock nor buy; it waits out of
            # the market (recorded: the series storage_unsolved)
            model.plan.storage_bids = []
            return
        carry = self.stock
        self.region = self.market_region(model)
        cap = math.inf if self.cfg.capacity is None else self.cfg.capacity
        levels, prices = points
        bids = []
        # the tranche (l_k-1, l_k] between two points is bought at prices up to P(l_k) (the
        # lower price) and sold above P(l_k-1) (the higher), so the points trade exactly
        lower, lower_price = 0.0, float(prices[0])
        for level, price in zip(levels.tolist(), prices.tolist(), strict=True):
            top = min(level, cap)
            if top > lower:
                if lower < carry:       # what it carries between lower and top: offered
                    offers.append(lower_price, min(top, carry) - lower, self.region, self.owner)
                if top > carry:         # what it would add up to top: bid for
                    bids.append((top - max(lower, carry), price))
                lower = top
            lower_price = price
        if carry > lower:               # beyond the last point: at the schedule's lowest price
            offers.append(float(prices[-1]), carry - lower, self.region, self.owner)
        model.plan.storage_bids = [b for b in bids if b[0] > 0 and b[1] > 0]

    def market_region(self, model) -> int:
        """The region whose market the stock is offered in this step: the bids' (`region`, set
        at the start) unless a cap restricts that region's exports in this step; then the
        first region without a cap, else the first capped region that imports in the step's
        free-trade counterfactual (its cap cannot bind: its market is the world's). Review
        rv10 H5: with a product control on every region (one of them, on an importer, never
        binding) the stock sat in the banned region's market, 7.21 t unsold through a known
        ban at 109.78."""
        caps = model.plan.export_caps
        if self.home_region not in caps:
            return self.home_region
        regions = range(len(model.region_names))
        uncapped = [r for r in regions if r not in caps]
        if uncapped:
            return uncapped[0]
        control = next((p for p in self.controls if p.active(model.t)), None)
        if control is not None:
            importers = [r for r in caps if control.unshort_exports(model, r) < 0]
            if importers:
                return importers[0]
        return self.home_region

    def settle(self, model) -> None:
        out, mf = model.outcome, model.money_per_price_tonne
        mine = model.offers.owner == self.owner
        self.sold = float(out.sold[mine].sum())
        sales = float((out.sold[mine] * out.offer_price[mine]).sum()) * mf
        self.bought = out.storage_bought
        purchases = self.bought * out.bid_price * mf
        self.stock += self.bought - self.sold
        if self.stock < 1e-12 * max(self.bought + self.sold, 1.0):
            self.stock = 0.0            # (what rounding leaves of a stock sold out is none)
        self.spent += purchases
        self.received += sales
        self.step_spend, self.step_sales = purchases, sales
        # the storage cost on the stock carried out of the step (the solver's timing)
        self.step_storage = self.stock * self.cfg.cost * mf
        self.storage_paid += self.step_storage

    # -- schedules -----------------------------------------------------------------------------
    def adaptive_points(self, model) -> tuple[np.ndarray, np.ndarray]:
        """Hold the capacity at prices up to the developers' expected price carried a step."""
        cfg = self.cfg
        worth = (1 - cfg.decay) * model.expectation.median / (1 + cfg.interest) - cfg.cost
        return np.array([0.0, float(cfg.capacity)]), np.array([max(worth, 0.0)] * 2)

    def regime(self, model, offers, export_caps: dict | None = None) -> tuple[float, float]:
        """(pbar, Qbar): the price at which this step's offers without the shock (and without
        stock releases) clear against demand with the plan's trade measures (or with the export
        caps `export_caps` in place of the plan's) but no bids, and what buyers take there, t."""
        factor = model.producers.supply_factor
        own = offers.owner == -1
        plain = dataclasses.replace(offers, qty=np.where(own, offers.qty / max(factor, 1e-9),
                                                         0.0))
        if plain.pool is not None:      # (the chain's producers at the same capacities)
            plain.pool = dataclasses.replace(
                plain.pool, ref_avail=plain.pool.ref_avail / max(factor, 1e-9),
                mine_avail=plain.pool.mine_avail / max(factor, 1e-9))
        caps = model.plan.export_caps if export_caps is None else export_caps
        plan = dataclasses.replace(model.plan, bid_qty=0.0, defence=None, importer_demand=0.0,
                                   reserve_bids={}, storage_bids=[], export_caps=dict(caps))
        out = clear_step(plain, plan, buyer_scale=model.buyers.scale,
                         buyer_region=model.buyers.region, region_club=model.region_club,
                         eps=model.elasticity, price_cap=model.config.market.price_cap,
                         last_price=model.last_price)
        price = out.club_price if plan.club_separate else out.world_price
        # behind a binding product cap the region's own buyers are served in its home market,
        # which the stock (sold at the world price) does not reach: the regime's market is the
        # buyers outside (review rv9 G1: priced on every buyer, a known ban's market was 2.8
        # times too deep, stockholders carried stock at a loss through the ban and sold the
        # last 4.97 t after it at 16.7, below free trade's 20). A cap that does not bind leaves
        # its region's market the world's (review rv10 H5: a never-binding cap on an importer
        # took its buyers out, and beside a known ban the stock was switched off)
        binding = [r for r in plan.export_caps if r in out.restricted_prices
                   and out.restricted_prices[r] < out.world_price * (1 - 1e-9)]
        if binding:
            outside = ~np.isin(model.buyers.region, binding)
            return float(price), float(out.buyer_tonnes[outside].sum())
        return float(price), float(out.consumption)

    def solution(self, model, pbar: float, qbar: float):
        """The benchmark solved in the regime's units, and the open-market buffer stock it
        includes (None: none). The normalised parameters are snapped to grids anchored at the
        config's own values (the reference price and quantity) with relative steps RESOLVE, and
        solved at the grid point: a regime re-solves when it moves off its point, and runs that
        meet the same point share one solution (_SOLVED)."""
        cfg, d = self.cfg, model.config.market.demand
        ref_price, ref_qty = d.reference_price, d.reference_quantity / model.steps_per_year
        carry = cfg.decay + cfg.interest        # (a price-free part of the carrying cost)
        # the carrying cost per period relative to the price, cost / pbar + decay + interest
        total = _snapped(cfg.cost / pbar + carry, cfg.cost / ref_price + carry)
        key = (model.elasticity, max(self.sd, 1e-4), cfg.decay, cfg.interest,
               max(total - carry, 0.0))
        # RECS sto2's agency: an open-market buffer stock with a capacity that sells at the
        # floor it buys at. Any other buffer stock is left out of the rule and of availability
        # (sto1): one that never releases is inert once full and changes no future
        # availability; one releasing above its floor is an approximation (docs/ODD.md 7.17)
        floor = next((p for p in model.policies if getattr(p, "cfg", None) is not None
                      and getattr(p.cfg, "mechanism", None) == "purchase"
                      and p.cfg.buy_from == "any" and p.in_force(model.t)
                      and p.cfg.capacity is not None
                      and p.cfg.release_price is not None
                      and math.isclose(p.cfg.release_price, p.level, rel_tol=1e-12)), None)
        if floor is not None:
            key += (_snapped(floor.level / pbar, floor.level / ref_price),
                    _snapped(floor.cfg.capacity / qbar, floor.cfg.capacity / ref_qty))
        if key not in _SOLVED:
            if len(_SOLVED) >= CACHE:
                _SOLVED.clear()
            args = dict(floor=key[5], floor_capacity=key[6]) if floor is not None else {}
            try:
                _SOLVED[key] = storage.solve(*key[:2], key[4], key[2], key[3], **args)
            except (RuntimeError, ValueError):
                # no stationary rule in this regime (a buffer-stock capacity beyond the
                # solver's grid, a carrying cost too small to converge)
                _SOLVED[key] = None
        if _SOLVED[key] is None and model.t not in self.unsolved[-1:]:
            self.unsolved.append(model.t)
        return _SOLVED[key], floor

    def known_caps(self, model) -> list[dict[int, float]] | None:
        """The export caps of the steps t+1 .. T as the announced export controls make them
        public (region -> t per step), T the step from which they stay as they are (the last
        control's end); None when none of them differs from this step's (no known switch)."""
        t = model.t
        known = [c for c in self.controls if c.known(t)]
        last = max((c.end for c in known), default=t)
        path = []
        for k in range(t + 1, last + 1):
            caps = {}
            for control in known:
                cap = control.cap_at(model, k)
                if cap is not None:
                    caps[control.region] = cap
            path.append(caps)
        return path if any(caps != model.plan.export_caps for caps in path) else None

    def switch_points(self, model, offers, path) -> tuple[np.ndarray, np.ndarray] | None:
        """At a known sequence of regimes ahead (known_caps): the schedule by backward
        induction from the last of them (abm.known_regimes), each step's regime (pbar_k,
        Qbar_k) read from this step's offers with that step's caps (None: no market or no
        rule in the last one)."""
        seen: dict[tuple, tuple[float, float]] = {}
        regimes = []
        for caps in path:
            key = tuple(sorted(caps.items()))
            if key not in seen:
                seen[key] = self.regime(model, offers, caps)
            regimes.append(seen[key])
        if not all(p > 0 and q > 0 and math.isfinite(p) for p, q in regimes):
            return None
        pbar, qbar = regimes[-1]
        sol, _ = self.solution(model, pbar, qbar)
        if sol is None:
            return None
        cfg = self.cfg
        hazard = cfg.lift_hazard if cfg.foresight == "uncertain" else 0.0
        free = None
        if hazard > 0.0:        # the controls lifted: free trade, the regime without caps
            key = ()
            pbar_f, qbar_f = seen[key] if key in seen else self.regime(model, offers, {})
            if not (pbar_f > 0 and qbar_f > 0 and math.isfinite(pbar_f)):
                return None
            sol_f, _ = self.solution(model, pbar_f, qbar_f)
            if sol_f is None:
                return None
            free = (pbar_f, qbar_f, sol_f.price)
        x, worth = known_regimes.carry_worth(regimes[:-1], (pbar, qbar, sol.price),
                                             model.elasticity, max(self.sd, 1e-4), cfg.decay,
                                             cfg.interest, cfg.cost, hazard, free)
        keep = worth > 0
        return x[keep], worth[keep]

    def rational_points(self, model, offers) -> tuple[np.ndarray, np.ndarray]:
        """Schedule points (stock t, price) of the solved rule around this step's expected
        availability, on the branch of the rule it lies on (with a buffer stock: above or at
        its floor); with known regimes ahead (known_caps), per `foresight` (module docstring)."""
        path = self.known_caps(model) if self.controls else None
        if path is None:
            return self.stationary_points(model, offers)
        known = self.switch_points(model, offers, path)
        if known is None:
            return None                                # no rule
        if not len(known[0]):
            return np.array([0.0]), np.array([0.0])    # nothing worth carrying: sell it all
        if self.cfg.foresight in ("full", "uncertain"):
            return known
        now = self.stationary_points(model, offers)
        return None if now is None else _lesser(known, now)

    def stationary_points(self, model, offers) -> tuple[np.ndarray, np.ndarray]:
        """The current regime's solved rule around this step's expected availability (the
        rule expects the regime to last)."""
        pbar, qbar = self.regime(model, offers)
        if not (pbar > 0 and qbar > 0 and math.isfinite(pbar)):
            return np.array([0.0]), np.array([0.0])    # no market to store for: sell it all
        sol, floor = self.solution(model, pbar, qbar)
        if sol is None:
            return None                                # no rule
        public = floor.stock if floor is not None else 0.0
        expected = (self.stock + public) / qbar + model.producers.supply_factor
        sd = max(self.sd, 1e-4)
        a = expected + sd * SPREAD * np.linspace(-1.0, 1.0, 2 * POINTS + 1)
        a0 = float(sol.rule.breaks[0]) if len(sol.rule.breaks) else math.inf
        a = np.unique(np.append(a[a > 0], [a0] if math.isfinite(a0) else []))
        price, stock = sol.price(a), sol.stock(a)
        if floor is not None:      # the branch: the buffer stock emptied (P > PF), or not
            above = sol.price(np.array([expected]))[0] > sol.model.floor * (1 + 1e-12)
            keep = (price > sol.model.floor * (1 + 1e-12)) == above
            price, stock = price[keep], stock[keep]
        order = np.argsort(stock, kind="stable")
        stock, price = stock[order], price[order]
        # one point per stock level (the lowest price at it: where a larger stock starts)
        stock, first = np.unique(stock, return_index=True)
        price = np.minimum.reduceat(price, first) if len(first) else price
        return stock * qbar, price * pbar


def _lesser(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]):
    """The schedule holding at each price the lesser of the stocks schedules a and b hold
    there: (stock, price) points, stock rising and price falling, and a schedule holds at price
    P the largest stock of its points priced at P or more (none above its first point)."""
    prices = np.unique(np.concatenate([a[1], b[1]]))[::-1]        # falling

    def held(schedule) -> np.ndarray:
        stock, price = schedule
        count = (price[None, :] >= prices[:, None]).sum(axis=1)
        return np.where(count > 0, stock[np.maximum(count - 1, 0)], 0.0)

    stock = np.minimum(held(a), held(b))        # rising as the price falls
    # a stock's point is at the highest price it is held at (held from there down); no point
    # at no stock (its price, the highest of either, would keep the first tranche unsold up to
    # it: adjust_offers sells a tranche above the price of the point below it)
    stock, first = np.unique(stock, return_index=True)
    some = stock > 0
    if not some.any():
        return np.array([0.0]), np.array([0.0])
    return stock[some], prices[first][some]


def _snapped(x: float, anchor: float) -> float:
    """x snapped to the grid anchor x (1 + RESOLVE)^k (k integer; 0 stays 0)."""
    if x <= 0 or anchor <= 0:
        return max(x, 0.0)
    k = round(math.log(x / anchor) / math.log1p(RESOLVE))
    return float(anchor * (1.0 + RESOLVE) ** k) if k else float(anchor)
