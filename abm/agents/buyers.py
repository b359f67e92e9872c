"""Buyers: downstream consumers, each a share of isoelastic aggregate demand in a region.

`Buyers` is the population: its arrays hold every buyer's state (one entry per buyer, in the
order of `[[buyers]]`), and its methods act on all buyers at once: `draw_demand` (trend growth
and the AR(1) shock), `plan_inventories` (orders toward an inventory target), `take_delivery`
(what the clearing delivered) and `use_inventories` (use net of stock building). A `Buyer` (a Mesa
agent) is a view onto its entry `slot`; its own method `take_delivery` acts on that entry only.
"""

from __future__ import annotations

import mesa
import numpy as np

from abm import market
from abm.shocks import DemandShock


class Buyer(mesa.Agent):
    """A downstream consumer (magnets, batteries, defence) located in a region.

    Demand D_i(P) = share_i * Q_ref/steps_per_year * growth_t * exp(z_t) * (P / P_ref)^eps; the
    model sums the buyers of a region into one demand curve per market. What a buyer received
    and paid this step lives in the population's arrays `Buyers.received` and `Buyers.spent`
    (entry `slot`), so the market delivers to every buyer with one array operation. A buyer with
    an inventory cover target (config `inventory_cover`, days) orders toward it and uses stock
    (`Buyers.plan_inventories` / `use_inventories`, for all buyers at once); its stock, t, is
    `stock`.
    """

    def __init__(self, model: mesa.Model, buyers: Buyers, name: str, region: int, share: float,
                 slot: int):
        super().__init__(model)
        self.buyers = buyers
        self.name = name
        self.region = region
        self.share = share
        self.slot = slot               # index into the population's arrays

    @property
    def received(self) -> float:
        """t this step."""
        return float(self.buyers.received[self.slot])

    @property
    def stock(self) -> float:
        """t held in inventory."""
        return float(self.buyers.stock[self.slot])

    @property
    def spent(self) -> float:
        """USD this step."""
        return float(self.buyers.spent[self.slot])

    def take_delivery(self, tonnes: float, money: float) -> None:
        self.buyers.received[self.slot] = tonnes
        self.buyers.spent[self.slot] = money


class Buyers:
    """Every buyer's demand, deliveries and inventory, as arrays (one entry per buyer)."""

    def __init__(self, model: mesa.Model, config, region_index: dict[str, int],
                 region_club: np.ndarray, seed: int, money_per_price_tonne: float):
        spy = config.experiment.steps_per_year
        cfg, d = config.buyers, config.market.demand
        n = len(cfg)
        self.agents: list[Buyer] = list(Buyer.create_agents(
            model, n, self, [b.name for b in cfg], [region_index[b.region] for b in cfg],
            [b.share for b in cfg], list(range(n))))
        self.share = np.array([b.share for b in self.agents])
        self.share_total = float(self.share.sum())     # (read every step; shares are fixed)
        self.region = np.array([b.region for b in self.agents])
        self.club = region_club[self.region]
        self.club_rows = np.flatnonzero(self.club)
        self.steps_per_year = spy
        self.elasticity = d.elasticity
        self.reference_price = d.reference_price
        self.money_per_price_tonne = money_per_price_tonne
        # demand: the reference demand curve, trend growth and the AR(1) shock
        self.demand_shock = DemandShock(seed, d.shock_sd, d.shock_persistence,
                                        block=min(config.experiment.steps, 1024))
        self.base_scale = market.demand_scale(d.reference_quantity / spy, d.reference_price,
                                              d.elasticity)
        self.growth_factor = 1.0 + d.growth
        # demand that adjusts to the price each buyer paid: partial adjustment toward a long-run
        # elasticity, and substitution away above a backstop price (both off by default)
        self.long_run = d.long_run_elasticity is not None and d.long_run_elasticity != d.elasticity
        self.long_run_gap = (d.long_run_elasticity - d.elasticity) if self.long_run else 0.0
        self.adjustment_speed = d.adjustment_speed
        self.backstop = d.backstop_price is not None and d.backstop_share > 0
        self.backstop_price = d.backstop_price
        self.backstop_share = d.backstop_share
        self.backstop_elasticity = d.backstop_elasticity
        self.backstop_speed = 1.0 / d.backstop_ramp
        self.adjusting = self.long_run or self.backstop
        # the price each buyer paid in the last step in which anything traded (a step with no
        # supply records only a marker price)
        self.last_paid = np.full(n, float(d.reference_price))
        self.log_adjustment = np.zeros(n)      # log multiplier of partial adjustment, per buyer
        self.switched = np.zeros(n)            # share of demand switched away, per buyer
        # own inventories (Buyer.stock): target cover in steps of use, starting at the target for
        # the reference quantity
        cover = np.array([b.inventory_cover for b in cfg])
        self.has_inventories = bool((cover > 0).any())
        self.cover_steps = cover * spy / 365.0
        self.adjust = np.array([b.inventory_adjust for b in cfg])
        self.max_draw = np.array([b.inventory_max_draw for b in cfg])
        self.stock = self.cover_steps * self.share * d.reference_quantity / spy
        self.order = np.ones(n)                # orders / own use this step
        self.stock_change = np.zeros(n)
        self.received = np.zeros(n)            # t per buyer this step
        # t each short buyer draws from stock this step, offered at no ask (None: nobody draws;
        # `plan_inventories`, `offer_draws`), the offers' rows and what of them sold
        self.draw: np.ndarray | None = None
        self._draw_rows: list[tuple[int, int]] = []
        self.sold_draw = np.zeros(n)
        # per export control, t each buyer has drawn from its stock for the control's
        # shortfall: not rebuilt while the control is in force (`ordinary_orders`, `keep_draws`)
        self.drawn_for: dict = {}
        # this step's shortfall as shares per control (`plan_inventories`; what the buyers draw
        # is attributed to the controls by them) and, with component makers, the share of its
        # use each buyer draws (None: the tonnes offered, `draw`)
        self.shortfall_shares: dict = {}
        self.draw_share: np.ndarray | None = None
        self._price = np.zeros(n)              # price each buyer paid this step
        self._spent: np.ndarray | None = np.zeros(n)   # USD per buyer (see `spent`)

    def __len__(self) -> int:
        return len(self.agents)

    def draw_demand(self, t: int) -> None:
        """Trend growth and the AR(1) shock set step `t`'s demand scale per buyer (and, with
        adjusting demand, each buyer's answer to the price it paid last step)."""
        self.shock = self.demand_shock.advance()
        growth = self.growth_factor ** (t / self.steps_per_year)
        self.demand_scale = self.base_scale * growth * self.shock
        self.scale = self.share * self.demand_scale
        if self.adjusting:
            self.adjust_to_prices(t)
            self.scale = self.scale * self.adjustment()

    def adjust_to_prices(self, t: int) -> None:
        """Move each buyer's demand toward what the price it paid last step calls for (the
        reference price before the first step).

        Partial adjustment: log m_i moves `adjustment_speed` of the way to
        (eps_long - eps_short) log(P_i / P_ref), so at a steady price demand is
        A P^eps_short m = A P^eps_long. Substitution: the share switched away moves
        1 / backstop_ramp of the way to backstop_share x (1 - (P_b / P_i)^backstop_elasticity)
        above the backstop price P_b (0 below it), back as well as away. The price paid is that
        of the last step in which anything traded (the reference price before the first)."""
        paid = self.last_paid
        if self.long_run:
            target = self.long_run_gap * np.log(paid / self.reference_price)
            self.log_adjustment += self.adjustment_speed * (target - self.log_adjustment)
        if self.backstop:
            above = np.maximum(paid / self.backstop_price, 1.0)
            target = self.backstop_share * (1.0 - above ** -self.backstop_elasticity)
            self.switched += self.backstop_speed * (target - self.switched)

    def adjustment(self) -> np.ndarray:
        """Per buyer, demand as a multiple of the reference curve's (1 without adjustment)."""
        return np.exp(self.log_adjustment) * (1.0 - self.switched)

    def use_scales(self) -> np.ndarray:
        """Per buyer, the scale a_i of its use a_i P^eps this step (before orders toward an
        inventory target)."""
        scale = self.share * self.demand_scale
        return scale * self.adjustment() if self.adjusting else scale

    def scale_of(self, rows: np.ndarray | None = None) -> float:
        """The scale of the summed use of the buyers `rows` (all by default)."""
        if not self.adjusting:
            total = self.share_total if rows is None else float(self.share[rows].sum())
            return total * self.demand_scale
        scales = self.use_scales()
        return float(scales.sum() if rows is None else scales[rows].sum())

    def plan_inventories(self, shortfall: float = 0.0, short_of: np.ndarray | None = None,
                         free_price: float = float("nan"), fixed: bool = True,
                         shortfall_by: dict | None = None,
                         take_limit: np.ndarray | None = None,
                         local: dict | None = None,
                         groups: np.ndarray | None = None) -> None:
        """Buyers holding inventory order more than they use while below their target and use
        stock instead of buying while above it, closing `inventory_adjust` of the gap a step.
        The target is `inventory_cover` days of use at the reference price (a volume forecast
        from this step's demand, not from prices: a target that followed the last price would
        feed price swings back into orders, a cobweb). Orders scale the buyer's demand curve:
        buyer i orders (1 + x_i) D_i(P) with x_i = adjust_i (target_i - stock_i) / U_i, U_i its
        use at the reference price, so the tonnes it adds or draws are adjust x gap x
        (P / P_ref) ^ elasticity; it draws, and adds, at most `inventory_max_draw` of its use
        a step (a stock emptied by a long disruption is rebuilt over months, not in one: an
        uncapped rebuild of 254 days' cover after a ban asked for 2.5 times use in a month).

        While an export control's cap binds (`short_of` not None; safety stock is for
        disruptions), the buyers in the regions `short_of` (True: those the control leaves
        short, abm.policies.trade.ExportControl.report_shortfall) take the `shortfall` (t a
        step the controls take off the market) first out of their restocking and then out of
        their stock. At `free_price`, the world price of this step's free trade (the controls'
        counterfactual; per buyer, the price each pays there, under the club's border
        measures), with B_i = a_i P_free^eps buyer i's orders there, B their sum and
        R_i = max(x_i, 0) B_i the tonnes it would add to its stock, they defer
        min(shortfall, R) of restocking in proportion to R_i (review 15 rv2 F3: not restocking
        at all removed more demand than a small cap removed supply, and the price fell below
        free trade's); what is left, shortfall - R > 0, they replace from stock, each its
        share s = (shortfall - R) / B, drawing the tonnes
        T_i = min((min(s, inventory_max_draw + x_i)) B_i, adjust_i stock_i) (the last term
        spreads a thinning stock over the months ahead as the ordinary rule does) on top of any
        drawdown toward its target, x_i = min(x_i^ordinary, 0). T_i is offered to its region's
        market at no ask (`offer_draws`) and sold back to the buyers there, so the tonnes drawn
        do not fall as the price rises: a deeper cut never draws fewer tonnes, and a ban, with
        nothing to buy, draws the most (review 15 finding 1: a share d_i of orders at the
        clearing price, (1 - d_i) D_i(P), drew d_i D_i(P), falling as P^eps when the shortage
        was worst and zero under a ban). So the draw scales with the shortfall (a control
        withholding 1% of their supply draws 1% of their purchases, not half) and, at the
        free-trade price, replaces exactly the withheld tonnes: where the stocks suffice the
        controlled market clears at the free-trade price (a share of use at the reference
        price, or of purchases at last step's price, drew more than the shortfall wherever the
        price was below that, and a cut lowered the price). With component makers (`fixed`
        False; the buyers buy components, not product) the draw stays the share
        d_i = min(s, inventory_max_draw, adjust_i stock_i / U_i) of orders,
        x_i = max(min(x_i^ordinary, 0) - d_i, -inventory_max_draw). Buyers in the controlling
        region are not short and keep the ordinary rule. What a buyer draws it does not rebuild
        while the control it drew for is in force (`drawn_for`, `ordinary_orders`): the draw is
        attributed to the controls in proportion to `shortfall_by` (t a step each takes off the
        market; None: none is tracked). `take_limit` (per region, t; None: no limit) bounds
        what a region's short buyers take out of their restocking and stock together: a region
        under a slack export cap of its own frees exports only up to its cap (review rv3 R1);
        what they cannot take the other short buyers share (`allocate_shortfall`; not with
        component makers)."""
        if not self.has_inventories:
            return
        use, x = self.ordinary_orders()
        live = use > 0
        safe = np.where(live, use, 1.0)
        self.draw = self.draw_share = None
        total = sum(shortfall_by.values()) if shortfall_by else 0.0
        self.shortfall_shares = ({c: t / total for c, t in shortfall_by.items() if t > 0}
                                 if total > 0 else {})
        if short_of is not None:        # an export control's cap binds
            short = short_of[self.region] & live
            # (every control that marks buyers short clears its free trade first)
            # (per buyer under border measures: the price each pays in that free trade)
            price = (np.where(free_price > 0, free_price, self.reference_price)
                     if np.ndim(free_price) else
                     free_price if free_price > 0 else self.reference_price)
            planned = self.scale * price ** self.elasticity     # t: orders at free trade
            # the withheld tonnes come first out of the short buyers' restocking (they defer
            # it, in proportion to what each would add at free trade), then out of their stock
            restock = np.where(short, np.maximum(x, 0.0), 0.0) * planned
            if fixed:
                # tonnes, offered at no ask (`offer_draws`); a buyer above its target draws
                # them on top of its drawdown toward it, both at most max_draw of its orders
                room = np.where(short, np.maximum(np.minimum(
                    (self.max_draw + np.minimum(x, 0.0)) * planned,
                    self.adjust * self.stock), 0.0), 0.0)
                n = int(self.region.max()) + 1
                if take_limit is not None:
                    n = max(n, len(take_limit))
                # a club of several regions is one group, its room theirs together (review
                # rv8 F2: each member's share of it, by its imports, went to a member whose
                # buyers held no stock while the others' could not draw)
                groups = np.arange(n) if groups is None else np.asarray(groups)
                group = groups[self.region]
                limit = (np.full(n, np.inf) if take_limit is None else
                         np.bincount(groups, weights=take_limit, minlength=n))
                weight = np.where(short, planned, 0.0)
                deferred, draw = np.zeros(len(x)), np.zeros(len(x))
                # the part of it only a region's own buyers can replace (`local`, left by the
                # parties in its market: abm.shortfall) they take first; what they cannot
                # take is not made up by the others (review rv8 F4: the world's part was
                # spent on it), and the rest all the short buyers share
                local = local or {}
                left = shortfall - sum(local.values())
                for r, tonnes in sorted(local.items()):
                    mine = group == groups[r]
                    d, t = allocate_shortfall(max(tonnes, 0.0), np.where(mine, restock, 0.0),
                                              np.where(mine, room, 0.0),
                                              np.where(mine, weight, 0.0), group, limit)
                    deferred, draw = deferred + d, draw + t
                    restock, room = restock - d, room - t
                    # (the room the loss added, `report_shortfall`, is the loss's: what its
                    # buyers could not take of it is no room for the world's part)
                    limit[groups[r]] = max(limit[groups[r]] - max(tonnes, 0.0), 0.0)
                d, t = allocate_shortfall(max(left, 0.0), restock, room, weight, group,
                                          limit)
                deferred, draw = deferred + d, draw + t
                x = np.where(deferred > 0, x - deferred / np.where(planned > 0, planned, 1.0),
                             x)
                if (draw > 1e-12).any():
                    self.draw = draw
            else:   # (component makers' market: a share of orders, see above)
                wanted = float(restock.sum())
                deferred = min(shortfall, wanted)
                if deferred > 0:
                    x = np.where(short & (x > 0), x * (1.0 - deferred / wanted), x)
                left = shortfall - deferred
                need = float(planned[short].sum())
                s = left / need if need > 0 and left > 0 else 0.0
                draw = np.minimum(np.minimum(s, self.max_draw),
                                  np.where(live, self.adjust * self.stock / safe, 0.0))
                x = np.where(short & (s > 0), np.maximum(np.minimum(x, 0.0) - draw,
                                                         -self.max_draw), x)
                self.draw_share = np.where(short & (s > 0), draw, 0.0)
        self.order = 1.0 + x
        self.scale = self.scale * self.order

    def restocking_at(self, short_of: np.ndarray, free_price) -> np.ndarray:
        """Per region, t the short buyers (regions `short_of`) would add to their stocks at
        `free_price` (as in `plan_inventories`): what they defer first when a control
        withholds tonnes, before a stockpile releases (abm.policies.stockpile)."""
        n = int(max(self.region.max(), len(short_of) - 1)) + 1
        if not self.has_inventories:
            return np.zeros(n)
        use, x = self.ordinary_orders()
        short = short_of[self.region] & (use > 0)
        price = (np.where(free_price > 0, free_price, self.reference_price)
                 if np.ndim(free_price) else
                 free_price if free_price > 0 else self.reference_price)
        restock = np.where(short, np.maximum(x, 0.0), 0.0) * self.scale * price ** self.elasticity
        return np.bincount(self.region, weights=restock, minlength=n)

    def offer_draws(self, offers) -> None:
        """Offer the tonnes short buyers draw from stock this step (`plan_inventories`) to
        their regions' markets at no ask (owner -3): fixed tonnes, so that a higher price does
        not shrink the draw."""
        if self.draw is None:
            return
        self._draw_rows = []
        for i in np.flatnonzero(self.draw > 0):
            self._draw_rows.append((i, len(offers.ask)))
            offers.append(0.0, float(self.draw[i]), int(self.region[i]), -3)

    def ordinary_orders(self) -> tuple[np.ndarray, np.ndarray]:
        """(U_i, t: each buyer's use at the reference price; x_i: its order multiple less 1
        toward its target, see `plan_inventories`; what it drew for an export control in force,
        `drawn_for`, it counts as still in stock)."""
        use = self.share * market.demand_at(self.demand_scale, self.elasticity,
                                            self.reference_price)
        if self.adjusting:
            use = use * self.adjustment()
        live = use > 0
        safe = np.where(live, use, 1.0)
        # what they drew for a control in force they do not rebuild until it ends
        # (`drawn_for`: safety stock is for the disruption); a gap from before it they go on
        # closing
        held = self.stock + sum(self.drawn_for.values()) if self.drawn_for else self.stock
        gap = np.where(live, self.adjust * (self.cover_steps * use - held) / safe, 0.0)
        return use, np.clip(gap, -self.max_draw, self.max_draw)

    def keep_draws(self, controls) -> None:
        """Keep back, this step, what the buyers drew for the export controls `controls` (those
        in force whose cap has bound, abm.policies.trade.draws_kept); what they drew for any
        other, ended, control they now rebuild."""
        if self.drawn_for:
            self.drawn_for = {c: t for c, t in self.drawn_for.items() if c in controls}

    def planned_scale(self) -> np.ndarray:
        """Per buyer, the scale of what it would order this step without the withheld tonnes:
        its use times its ordinary order multiple (what it drew for the controls in force kept
        back, `ordinary_orders`). The demand
        an export control's free-trade counterfactual meets (before `plan_inventories`), so
        that what it withholds is measured against what the buyers will order."""
        if not self.has_inventories:
            return self.scale
        return self.scale * (1.0 + self.ordinary_orders()[1])

    def take_delivery(self, outcome) -> None:
        """Every buyer takes what the clearing delivered to it (Buyer.take_delivery, for all
        buyers at once); consumption is what was delivered."""
        self.received = outcome.buyer_tonnes
        self._price, self._spent = outcome.buyer_price, None     # see `spent`
        if self.draw is not None and self._draw_rows:
            # short buyers sold what they drew from stock: their spending is net of it
            sold = np.zeros(len(self.received))
            proceeds = np.zeros(len(self.received))
            for i, row in self._draw_rows:
                sold[i] = outcome.sold[row]
                proceeds[i] = outcome.sold[row] * outcome.offer_price[row]
            self.sold_draw = sold
            self._spent = (self.received * self._price - proceeds) * self.money_per_price_tonne
        elif self.sold_draw.any():
            self.sold_draw = np.zeros(len(self.received))
        self.consumption = outcome.consumption
        if self.adjusting and outcome.consumption > 0:
            self.last_paid = np.where(outcome.buyer_price > 0, outcome.buyer_price,
                                      self.last_paid)

    @property
    def spent(self) -> np.ndarray:
        """USD per buyer this step (tonnes received x price paid), computed when read."""
        if self._spent is None:
            self._spent = self.received * self._price * self.money_per_price_tonne
        return self._spent

    @spent.setter
    def spent(self, value: np.ndarray) -> None:
        self._spent = value

    @property
    def spent_known(self) -> np.ndarray | None:
        """`spent` if it was read or set this step, else None (deferred recording computes it
        later, for many steps at once)."""
        return self._spent

    def use_inventories(self) -> None:
        """Buyers use what they received net of stock building: deliveries / order multiple
        (rationed alike in scarcity). The difference goes to or comes from their inventory,
        which never falls below zero."""
        if not self.has_inventories:
            return
        got = self.received - self.sold_draw    # (less what short buyers drew and sold)
        use = self.received / self.order    # (orders are at least 1 - inventory_max_draw > 0)
        change = np.maximum(got - use, -self.stock)
        self.stock = self.stock + change
        if self.shortfall_shares:
            # (component makers' buyers draw a share of their use, not offered tonnes)
            drawn = self.sold_draw if self.draw_share is None else self.draw_share * use
            if drawn.any():
                for c, share in self.shortfall_shares.items():
                    self.drawn_for[c] = self.drawn_for.get(c, 0.0) + drawn * share
        self.stock_change = change
        self.use = got - change
        self.consumption = float(self.use.sum())


def allocate_shortfall(shortfall: float, restock: np.ndarray, room: np.ndarray,
                       weight: np.ndarray, group: np.ndarray, limit: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray]:
    """(deferred, drawn), t per buyer: how short buyers replace `shortfall` t. First each
    defers its restocking `restock` (t it would add to its stock), all in proportion up to the
    shortfall; what is left, each draws its share of it in proportion to `weight` (its orders
    at free trade), at most its `room` (t; a draw its room stops is not made up by the
    others). Buyer i is in group `group[i]` (its region), whose buyers together take at most
    `limit[group]` t (deferred and drawn): a group over its limit is scaled down to it and
    what its buyers' rooms would have taken beyond it is shared again by the other groups'
    buyers; a share its buyers' rooms stopped stays unmade-up (review rv8 F3: re-sharing the
    whole rest once a group bound made the price fall 73.74 -> 64.15 as a cut deepened from
    0.196 to 0.198). Buyers with zero weight, restock and room take nothing."""
    deferred, drawn = np.zeros(len(restock)), np.zeros(len(restock))
    active = (weight > 0) | (restock > 0)
    left = float(shortfall)
    for _ in range(len(limit) + 1):
        if left <= 0 or not active.any():
            break
        r = np.where(active, restock, 0.0)
        wanted = float(r.sum())
        put_off = min(left, wanted)
        d = r * (put_off / wanted) if wanted > 0 else r
        rest = left - put_off
        w = np.where(active, weight, 0.0)
        total = float(w.sum())
        s = rest / total if total > 0 and rest > 0 else 0.0
        t = np.minimum(s * w, np.where(active, room, 0.0))
        took = np.bincount(group, weights=np.where(active, d + t, 0.0), minlength=len(limit))
        over = np.flatnonzero(took > limit * (1 + 1e-12))
        if not len(over):
            deferred[active], drawn[active] = d[active], t[active]
            break
        for g in over.tolist():
            members = active & (group == g)
            scale = limit[g] / took[g]
            deferred[members], drawn[members] = d[members] * scale, t[members] * scale
            # (its members' shares their rooms stopped are not made up by the others)
            lost = float((s * w - t)[members].sum())
            left -= float(limit[g]) + lost
            active &= ~members
    return deferred, drawn
