"""A state reserve of a state-directed region (`[nonmarket.reserve]`): the dominant producer's
state buys for its reserve when the home price is low and sells from it when the price is high
(as China's State Reserve Bureau), which keeps withheld exports from flooding the home market.

Each step, once this step's offers are made, it buys what its region's producers offer at or
below `buy_below` beyond what the region's buyers and its permitted exports take at that price
(the whole market's buyers while the region is not a market of its own), at most
`rate / steps_per_year` t and its room: so it holds the home price at `buy_below` when it can,
like a bid at that price, and never asks for more than there is (abm.clearing `reserve_demand`,
tonnes bought in the region's market whatever the price). When it buys nothing it offers up to
as much of its stock at `sell_above`, sold when the home market clears at or above it. Under
`predatory`, while a market-economy entrant comes online (the producers' `dumping`), it buys
nothing and offers that stock at no ask. The money is the region's state's (`state_outlay`),
not the club's fiscal cost.
"""

from __future__ import annotations

from abm import market
from abm.policies.base import StockHolder


class StateReserve(StockHolder):
    name = "state_reserve"
    purchase_kind = "reserve_purchase"
    sale_kind = "reserve_sale"

    def __init__(self, cfg, region: str):
        super().__init__(0, None)
        self.cfg = cfg
        self.region_name = region

    def initialize(self, model) -> None:
        self.region = model.region_index[self.region_name]
        self.government = model.governments.government_for([self.region],
                                                           f"{self.region_name} state")
        self.government.state = True
        self.register(model)
        self.per_step = self.cfg.rate / model.steps_per_year

    def surplus(self, model, offers) -> float:
        """t offered at or below `buy_below` beyond what is taken at that price: in the region's
        own market while it restricts exports (its buyers and the exports it may make), else in
        the whole market (every buyer, importers' and stockpile purchases)."""
        level, plan = self.cfg.buy_below, model.plan
        cheap = (offers.ask <= level) & (offers.qty > 0)
        buyers = model.buyers
        if self.region in plan.export_caps:
            here = cheap & (offers.region == self.region)
            home = buyers.region == self.region
            taken = market.demand_at(float(buyers.scale[home].sum()), model.elasticity, level)
            taken += plan.export_caps[self.region]
        else:
            here = cheap
            taken = market.demand_at(float(buyers.scale.sum()), model.elasticity, level,
                                     plan.importer_demand)
            if plan.bid_qty > 0 and plan.bid_price >= level:
                taken += plan.bid_qty
        taken += sum(plan.reserve_demand.values())
        return float(offers.qty[here].sum()) - taken

    def adjust_offers(self, model, offers) -> None:
        if model.producers.dumping:
            if self.stock > 1e-12:
                offers.append(0.0, min(self.stock, self.per_step), self.region, self.owner)
            return
        buy = min(self.per_step, self.cfg.capacity - self.stock, self.surplus(model, offers))
        if buy > 1e-12:
            demand = model.plan.reserve_demand
            demand[self.region] = demand.get(self.region, 0.0) + buy
        elif self.stock > 1e-12:
            offers.append(self.cfg.sell_above, min(self.stock, self.per_step), self.region,
                          self.owner)

    def settle(self, model) -> None:
        tonnes, price = model.outcome.reserve_bought.get(self.region, (0.0, 0.0))
        self.book_purchase(model, tonnes, price)
        self.book_sales(model)
