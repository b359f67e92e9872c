"""A state reserve of a state-directed region (`[nonmarket.reserve]`): the dominant producer's
state buys for its reserve when the home price is low and sells from it when the price is high
(as China's State Reserve Bureau), which keeps withheld exports from flooding the home market.

Each step it bids for up to `rate / steps_per_year` t (at most its room) at `buy_below` in its
region's market (abm.clearing `reserve_bids`: the region's own market while it restricts
exports, else the market its buyers are in): it buys all of them while the price stays below
that level and otherwise the most that keeps the price there, so it holds the home price at
`buy_below` when its rate suffices. It offers up to as much of its stock at `sell_above`, sold
when the home market clears at or above it. Under
`predatory`, while a market-economy entrant comes online (the producers' `dumping`), it buys
nothing and offers that stock at no ask. The money is the region's state's (`state_outlay`),
not the club's fiscal cost.
"""

from __future__ import annotations

from abm import shortfall
from abm.policies.base import StockHolder
from abm.policies.stockpile import deferral_share


class StateReserve(StockHolder):
    name = "state_reserve"
    purchase_kind = "reserve_purchase"
    sale_kind = "reserve_sale"

    def __init__(self, cfg, region: str):
        super().__init__(0, None)
        self.cfg = cfg
        self.region_name = region
        self.most = None        # t at most it buys this step (None: its room; `apply`)

    def initialize(self, model) -> None:
        self.region = model.region_index[self.region_name]
        self.government = model.governments.state_for([self.region], f"{self.region_name} state")
        self.register(model)
        self.per_step = self.cfg.rate / model.steps_per_year

    def room(self, model) -> float:
        """t it bids for this step in normal times (none while the state dumps)."""
        if model.producers.dumping:
            return 0.0
        return max(min(self.per_step, self.cfg.capacity - self.stock), 0.0)

    def add_normal_bid(self, model, bids) -> None:
        room = self.room(model)
        if room > 1e-12:
            bids.reserves[self.region] = (room, self.cfg.buy_below)

    def apply(self, model) -> None:
        # in a disruption that leaves its region's buyers short, the withheld tonnes come
        # first out of what it bought in the controls' counterfactual (as the buyers'
        # restocking, docs/ODD.md 7.1): it buys that less its part of them (rv3 R9)
        self.most = None
        bought = model.free_trade_reserve_bought
        if (model.disruption and bought is not None and model.short_of is not None
                and model.short_of[self.region]
                and shortfall.available(model, [self.region]) > 0):
            normal = bought.get(self.region, (0.0, 0.0))[0]
            # (behind a slack cap of its region's own, its buying frees exports only up to
            # the cap, the room its buyers' take shares: `model.take_limit`, rv5 V4)
            limit = model.take_limit
            room = float("inf") if limit is None else float(limit[self.region])
            # (the same share of its buying as the other parties put off: `deferral_share`)
            # (of the tonnes its region's market can replace: abm.shortfall, review rv8 F1)
            deferred = shortfall.take(model, [self.region],
                                      min(normal * deferral_share(model), room))
            if limit is not None:
                limit[self.region] -= deferred
            self.most = normal - deferred

    def adjust_offers(self, model, offers) -> None:
        if model.producers.dumping:
            if self.stock > 1e-12:
                offers.append(0.0, min(self.stock, self.per_step), self.region, self.owner)
            return
        room = self.room(model)
        if self.most is not None:
            room = min(room, self.most)
        if room > 1e-12:
            model.plan.reserve_bids[self.region] = (room, self.cfg.buy_below)
        if self.stock > 1e-12:
            # (sells only at or above sell_above, where its bid below buy_below takes nothing)
            offers.append(self.cfg.sell_above, min(self.stock, self.per_step), self.region,
                          self.owner)

    def settle(self, model) -> None:
        tonnes, price = model.outcome.reserve_bought.get(self.region, (0.0, 0.0))
        self.book_purchase(model, tonnes, price)
        self.book_sales(model)
