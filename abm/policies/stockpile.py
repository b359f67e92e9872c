"""Strategic stockpile run by the club government.

Each step it bids for up to `max_rate x target` tonnes (at most the gap to its target cover, its
capacity and what its budget buys: its fill) at a reservation price of `buy_below`, and offers
stock at `release_above`. The product export controls' counterfactual has its fill bid
(`add_normal_bid`); while an export control withholds something (a disruption) from its
market, the withheld tonnes come first out of its fill, the buyers' restocking and the state
reserves' buying, each the same share of its own (`deferral_share`; it buys what its bid bought
in that counterfactual less its part; rv3 R4), and of what is left it offers at no ask what it nets from
the shortfall (at most its rate: its release replaces the withheld tonnes, it
does not flood the market) and the rest of its rate at `release_above`, in the market of the
buyers the control leaves short; the market clearing decides within the step whether either
trade happens.
Holding costs accrue per tonne-year.
"""

from __future__ import annotations

import numpy as np

from abm import market, shortfall
from abm.policies.base import StockHolder
from abm.policies.trade import draws_kept


class Stockpile(StockHolder):
    name = "stockpile"
    purchase_kind = "stockpile_purchase"
    sale_kind = "stockpile_sale"

    def __init__(self, cfg):
        super().__init__(cfg.start, cfg.end)
        self.cfg = cfg
        self.netted = 0.0       # t of this step's shortfall its release replaces (at no ask)
        self.deferred = 0.0     # t of it taken out of its filling (rv3 R4)
        # per export control, t its releases in place of that control's withheld tonnes sold
        # (not rebuilt while the control is in force, `fill_bid`; split between the controls
        # in proportion to what each took off the market, as the buyers' draws)
        self.lent_for: dict = {}
        # per step: t of its fill bid that bought in the controls' counterfactual (what it
        # would buy in normal trade, part of which the withheld tonnes take), 0 without one
        self.filling_steps: list[float] = []

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

    def fill_bid(self, model) -> float:
        """t it bids at `buy_below` this step in normal times: while below its target, at most
        its rate, the gap to the target and what its budget buys (0 when full or not in
        force)."""
        if not self.active(model.t):
            return 0.0
        target = self.target(model)
        # what it released for an export control in force it counts as still held: it does
        # not rebuild it while that control lasts (as the buyers' draws, docs/ODD.md 7.1;
        # review rv5 V1: one count for all controls kept an ended ban's releases unrebuilt
        # while a later cut lasted)
        if self.lent_for:
            kept = draws_kept(model)
            self.lent_for = {c: t for c, t in self.lent_for.items() if c in kept}
        held = self.stock + sum(self.lent_for.values())
        if held >= target:
            return 0.0
        money_left = np.inf if self.cfg.budget is None else self.cfg.budget - self.spent
        affordable = money_left / (self.cfg.buy_below * model.money_per_price_tonne)
        qty = min(self.cfg.max_rate * target, target - held, max(affordable, 0.0))
        return qty if qty > 1e-12 else 0.0

    def add_normal_bid(self, model, bids) -> None:
        qty = self.fill_bid(model)
        if qty > 0:
            bids.qty += qty
            bids.price = self.cfg.buy_below

    def home_weights(self, model) -> np.ndarray:
        """Per region, the share of its purchases that region's store takes (its regions in
        proportion to their buyers' shares; abm.stores.held_at_home)."""
        n = len(model.region_names)
        buyers = model.buyers
        weights = np.bincount(buyers.region[self.buyer_rows],
                              weights=buyers.share[self.buyer_rows], minlength=n)
        total = weights.sum()
        if total > 0:
            return weights / total
        weights = np.zeros(n)
        weights[self.regions[0]] = 1.0
        return weights

    def apply(self, model) -> None:
        self.netted = self.deferred = self.filled = 0.0
        if not self.active(model.t):
            return
        qty = self.fill_bid(model)
        rows = self.short_rows(model)
        short = model.disruption and bool(rows)
        if short and model.free_trade_bid_filled is None:
            # a disruption whose counterfactual left its bid out: it does not fill while its
            # market is short
            qty = 0.0
        if short and shortfall.available(model, rows) > 0:
            # the withheld tonnes come out of the normal-times buying first (as the buyers'
            # restocking, docs/ODD.md 7.1), each party's the same share of its own
            # (`deferral_share`; rv5: taking them out of its filling first left the buyers
            # restocking): it buys what its bid bought in the controls' counterfactual less
            # its part (rv3 R4: dropping its whole bid took more demand off the market than
            # a 5% cut took supply, and the price fell below the no-control price), within
            # what its market can free for the short buyers (`take_room`)
            self.filled = self.fill_deferrable(model, qty)
            # (of the tonnes its market can replace: not another segmented market's own
            # refineries' loss, abm.shortfall; review rv8 F1)
            share = deferral_share(model)
            others = share * normal_buying_deferred(model, rows)
            self.deferred = shortfall.take(model, rows, self.filled * share)
            self.use_room(model, rows, self.deferred)
            qty -= self.deferred
            left = min(shortfall.available(model, rows) - others, self.take_room(model, rows))
            if left > 1e-12 and self.stock > 1e-12:
                # its release, offered at any price in a market short of the withheld tonnes,
                # replaces what is left of them once the others' normal-times buying (buyers'
                # restocking, state reserves') is put off, before buyers' stocks: as much of
                # them as its rate allows, no more (review 15 finding 2: its whole rate at no
                # ask for a 5 t shortfall lowered the price outside 55% below the no-control
                # price; rv5 V2: released first, its stock went into a reserve's buying)
                self.netted = shortfall.take(model, rows, min(self.release(model), left))
                self.use_room(model, rows, self.netted)
        # the bid carries the trigger as its reservation price, so the market decides within the
        # step whether it buys (deciding from last step's price would lean against old news)
        if qty > 1e-12:
            model.plan.bid_qty += qty
            model.plan.bid_price = self.cfg.buy_below

    def market_rows(self, model) -> list[int]:
        """The regions of the market its bid clears in (abm.clearing: the club's behind its
        border measures, else the world market's, every region but the separate markets;
        review rv6 W6: a club stockpile in a separate market released into that market while
        its bid, and the shortfall, were the world market's)."""
        if model.plan.club_separate:
            return list(self.regions)
        separate = model.separate_markets
        return [r for r in range(len(model.region_names)) if r not in separate]

    def short_rows(self, model) -> list[int]:
        """Those of `market_rows` whose buyers the export controls leave short, with room to
        take (a region's `model.take_limit` above 0: a club behind its border measures is
        short only of what it imports, review rv6 W1)."""
        short, limit = model.short_of, model.take_limit
        if short is None:
            return []
        return [r for r in self.market_rows(model)
                if short[r] and (limit is None or limit[r] > 1e-12)]

    def take_room(self, model, rows: list[int]) -> float:
        """t the regions `rows` of its market can still free for the short buyers
        (`model.take_limit`; unlimited if any of them is)."""
        limit = model.take_limit
        if limit is None or not np.isfinite(limit[rows]).all():
            return float("inf")
        return float(limit[rows].sum())

    def use_room(self, model, rows: list[int], tonnes: float) -> None:
        """Take `tonnes` out of the room of the regions `rows` of its market, in proportion to
        their rooms, when all of them are limited (its tonnes free the market's supply, not
        one region's: review rv7 X2, charged to the first listed region's slack-cap room,
        the order of the regions moved the outside price 74.68 -> 85.61)."""
        room = self.take_room(model, rows)
        if not (np.isfinite(room) and room > 0 and tonnes > 0):
            return
        limit = model.take_limit
        limit[rows] -= min(tonnes, room) * limit[rows] / room

    def fill_deferrable(self, model, qty: float | None = None) -> float:
        """t of its filling the withheld tonnes can take this step: what its fill bid (`qty`,
        else this step's) bought in the controls' counterfactual while its market is short, at
        most what that market can free for the short buyers (`take_room`; 0 otherwise)."""
        rows = self.short_rows(model)
        if not (model.disruption and rows and shortfall.available(model, rows) > 0
                and model.free_trade_bid_filled is not None):
            return 0.0
        fill = self.fill_bid(model) if qty is None else qty
        return min(fill, model.free_trade_bid_filled, self.take_room(model, rows))

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
        """Where its release is offered: while an export control leaves buyers short, the
        region of its market that is short with the most room (`short_rows`; review 15
        finding 6: without a club, the first listed region, the controlling one if listed
        first, kept the release behind its own cap); else its first region."""
        rows = self.short_rows(model)
        if not rows:
            return int(self.regions[0])
        # (the one with the most room, an unlimited one first: not a region behind a slack
        # cap of its own, where the release would stay; review rv7 X2: the order of the
        # regions moved the outside price 79.86 -> 85.61)
        limit = model.take_limit
        if limit is None:
            return int(rows[0])
        return int(max(rows, key=lambda r: (limit[r], -rows.index(r))))

    def settle(self, model) -> None:
        out, g = model.outcome, self.government
        self.filling_steps.append(self.filled)
        self.book_purchase(model, out.bid_filled, out.bid_price)
        if self.netted > 0:
            sold, _ = self.sales(model)
            parts = {c: t for c, t in model.shortfall_by.items() if t > 0}
            total = sum(parts.values())
            for c, t in parts.items():
                self.lent_for[c] = self.lent_for.get(c, 0.0) + min(sold, self.netted) * t / total
        self.book_sales(model)
        if self.stock > 0 and self.cfg.holding_cost > 0:
            g.book("holding", self.stock * self.cfg.holding_cost / model.steps_per_year)


def normal_buying_deferred(model, rows: list[int] | None = None) -> float:
    """t of this step's shortfall the short buyers' restocking and the state reserves'
    normal-times buying in short regions can take (they defer it before the stockpile
    releases, docs/ODD.md 7.1), each region's at most what its cap's room lets it take
    (`model.take_limit`). For a stockpile whose market holds the regions `rows`: not the
    buying of a segmented market that replaces its own refineries' loss (abm.shortfall), which
    takes none of the tonnes its release would replace."""
    short = model.short_of.copy()
    if rows is not None:
        mine = shortfall.keys(model, rows)
        groups = model.take_groups()
        for r in model.shortfall_local:
            if r not in mine:
                short[r if groups is None else groups == r] = False
    price = (model.free_trade_price if model.free_trade_buyer_price is None
             else model.free_trade_buyer_price)
    took = model.buyers.restocking_at(short, price)[:len(short)]
    for region, (tonnes, _) in (model.free_trade_reserve_bought or {}).items():
        if short[region] and any(p.name == "state_reserve" and p.region == region
                                 for p in model.policies):
            took[region] += tonnes
    if model.take_limit is not None:
        took = np.minimum(took, model.take_limit)
    return float(took.sum())


def deferral_share(model) -> float:
    """The share of its normal-times buying (a filling stockpile's, the short buyers'
    restocking, a short region's state reserve's) each party puts off this step for the
    withheld tonnes: the shortfall over all of that buying, at most 1 (docs/ODD.md 7.1: on an
    equal footing, ASSUMPTION; review rv5: the stockpile's filling went first). Found once a
    step, at the first call: after the controls report the shortfall, before anyone defers."""
    if model.deferral_share is None:
        fill = sum(p.fill_deferrable(model) for p in model.policies if p.name == "stockpile")
        total = fill + (normal_buying_deferred(model) if model.short_of is not None else 0.0)
        model.deferral_share = (min(model.shortfall / total, 1.0)
                                if total > 0 and model.shortfall > 0 else 1.0)
    return model.deferral_share
