"""Strategic stockpile run by the club government.

Each step it bids for up to `max_rate x target` tonnes (at most the gap to its target cover, its
capacity and what its budget buys) at a reservation price of `buy_below`, and offers stock at
`release_above`; while an export control withholds something (a disruption) it offers at no ask
what it nets from the shortfall (at most its rate: its release replaces the withheld tonnes, it
does not flood the market) and the rest of its rate at `release_above`, in the market of the
buyers the control leaves short; the market clearing decides within the step whether either
trade happens.
Holding costs accrue per tonne-year.
"""

from __future__ import annotations

import numpy as np

from abm import market
from abm.policies.base import StockHolder


class Stockpile(StockHolder):
    name = "stockpile"
    purchase_kind = "stockpile_purchase"
    sale_kind = "stockpile_sale"

    def __init__(self, cfg):
        super().__init__(cfg.start, cfg.end)
        self.cfg = cfg
        self.netted = 0.0       # t of this step's shortfall its release replaces (at no ask)

    def initialize(self, model) -> None:
        club = list(np.flatnonzero(model.region_club))
        self.regions = club or list(range(len(model.region_names)))
        self.government = model.governments.government_for(self.regions, "stockpile")
        self.register(model)
        # the buyers whose use the target covers: the club's (every buyer without a club)
        self.buyer_rows = np.flatnonzero(np.isin(model.buyers.region, self.regions))

    def target(self, model) -> float:
        """Target stock: target_cover days of club use at the reference price (t), this step's
        trend and demand shock (and, with adjusting demand, the buyers' adjustment) included: a
        volume forecast, not what buyers got last step, which the stockpile's own purchases
        and a disruption's prices would move (a larger stockpile buying more would lower its
        own target)."""
        buyers = model.buyers
        use = market.demand_at(buyers.scale_of(self.buyer_rows), model.elasticity,
                               model.config.market.demand.reference_price)
        per_day = use * model.steps_per_year / 365.0
        target = self.cfg.target_cover * per_day
        if self.cfg.capacity is not None:
            target = min(target, self.cfg.capacity)
        return target

    def apply(self, model) -> None:
        t = model.t
        self.netted = 0.0
        if not self.active(t):
            return
        if (model.disruption and model.shortfall > 0 and self.stock > 1e-12
                and model.short_of is not None and model.short_of[self.regions].any()):
            # its release, offered at any price in a market short of the withheld tonnes,
            # replaces them before buyers' stocks: as much of them as its rate allows, no more
            # (review 15 finding 2: its whole rate at no ask for a 5 t shortfall lowered the
            # price outside 55% below the no-control price)
            self.netted = min(self.release(model), model.shortfall)
            model.shortfall = max(model.shortfall - self.netted, 0.0)
        target = self.target(model)
        rate = self.cfg.max_rate * target
        # the bid carries the trigger as its reservation price, so the market decides within the
        # step whether it buys (deciding from last step's price would lean against old news)
        if self.stock < target and not model.disruption:
            money_left = np.inf if self.cfg.budget is None else self.cfg.budget - self.spent
            affordable = money_left / (self.cfg.buy_below * model.money_per_price_tonne)
            qty = min(rate, target - self.stock, max(affordable, 0.0))
            if qty > 1e-12:
                model.plan.bid_qty += qty
                model.plan.bid_price = self.cfg.buy_below

    def release(self, model) -> float:
        """t offered from stock this step (at most max_rate of the target or of the stock)."""
        stock = self.stock
        return min(stock, max(self.cfg.max_rate * self.target(model), stock * self.cfg.max_rate))

    def adjust_offers(self, model, offers) -> None:
        if not self.active(model.t) or self.stock <= 1e-12:
            return
        release = self.release(model)
        region = self.market_region(model)
        if model.disruption and self.netted > 0:
            first = min(self.netted, release)
            offers.append(0.0, first, region, self.owner)
            release -= first
        if release > 1e-12:     # sells only if the market clears at or above its release price
            offers.append(self.cfg.release_above, release, region, self.owner)

    def market_region(self, model) -> int:
        """Where its release is offered: while an export control leaves buyers short, the first
        of its regions they are in (review 15 finding 6: without a club, the first listed
        region, the controlling one if listed first, kept the release behind its own cap);
        else its first region."""
        short = model.short_of
        if short is not None:
            rows = [r for r in self.regions if short[r]]
            if rows:
                return int(rows[0])
        return int(self.regions[0])

    def settle(self, model) -> None:
        out, g = model.outcome, self.government
        self.book_purchase(model, out.bid_filled, out.bid_price)
        self.book_sales(model)
        if self.stock > 0 and self.cfg.holding_cost > 0:
            g.book("holding", self.stock * self.cfg.holding_cost / model.steps_per_year)
