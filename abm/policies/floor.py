"""Price floors: a level rule and one of three mechanisms (DESIGN section 2).

* `mip`: imports into the club from non-club origins pay max(0, F - world price); the club's
  market separates from the world's (abm.clearing); duty revenue goes to the club government,
  or, under a price undertaking (`rent = "undertaking"`), the exporters keep it (exporter_rent).
* `purchase`: a buffer stock buys covered producers' output at F within a stock capacity and a
  budget; when either runs out the defence stops and the price falls to the undefended level.
* `cfd`: covered producers receive (F - P) per tonne when P < F and pay upside_share (P - F) when
  P > F, settled every `settlement` steps against the period's mean `benchmark` price (by default
  the price each covered producer sold at). Because the top-up makes a covered producer with
  cost <= F sell at any price, it changes output, not only cash.

Coverage (cfd, purchase): producers of the floor's stage in the covered regions, or only the
named `producers`; pipeline projects there once built when `new_entrants`.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from abm.clearing import Defence
from abm.investment import Protection
from abm.kinds import MINE, RECYCLER, REFINERY
from abm.names import REGION_PRICE_PREFIX
from abm.policies.base import Policy, StockHolder


def cost_percentile(unit_cost: np.ndarray, capacity: np.ndarray, percentile: float) -> float:
    """Capacity-weighted percentile of a cash-cost curve: the cost below which `percentile`% of
    capacity lies (the 'cost of production in market economies' metric)."""
    if len(unit_cost) == 0 or capacity.sum() <= 0:
        return float("nan")
    order = np.argsort(unit_cost, kind="stable")
    cum = np.cumsum(capacity[order]) / capacity.sum()
    k = int(np.searchsorted(cum, percentile / 100.0 - 1e-12))
    return float(unit_cost[order][min(k, len(order) - 1)])


def indexed_revision(level: float, mean_price: float, band: float, revision: float) -> float:
    """Rubber-agreement style revision: move the level by `revision` toward the mean price when
    the mean leaves level x (1 +/- band); otherwise keep it."""
    if mean_price > level * (1 + band):
        return level * (1 + revision)
    if mean_price < level * (1 - band):
        return level * (1 - revision)
    return level


class FloorPolicy(Policy):
    """A floor with its level rule; subclasses implement the mechanism."""

    name = "floor"

    def __init__(self, cfg, records_level: bool = True):
        super().__init__(cfg.start, cfg.end, cfg.announce)
        self.cfg = cfg
        # the `floor` series records policy.floor's level (policy.component_floor's is not)
        self.records_level = records_level
        # policy.floor sets the plan before the export controls decide (a minimum import
        # price, a buffer-stock defence: Policy.phase); policy.component_floor acts after them
        self.phase = 0 if records_level else 2
        self.level = cfg.level if cfg.level is not None else float("nan")
        self.spent = 0.0
        self.exhausted = False

    def initialize(self, model) -> None:
        self.covers = [model.region_index[r] for r in self.cfg.covers]
        if not self.covers:  # an empty `covers` means the club (or every region without a club)
            club = list(np.flatnonzero(model.region_club))
            self.covers = club or list(range(len(model.region_names)))
        self.covered_region = np.isin(np.arange(len(model.region_names)), self.covers)
        self.region_club = np.asarray(model.region_club, dtype=bool)
        self.stage = MINE if self.cfg.stage == "concentrate" else REFINERY
        # every covered region restricts its exports at some time (its own market then)
        restricting = {model.region_index[s.region] for s in model.config.shocks
                       if s.kind == "export_control" and s.stage == "product"}
        self.restricting = bool(self.covers) and set(self.covers) <= restricting
        # a floor covering one separate-market region acts on that region's price
        separate = getattr(model, "separate_markets", {})
        self.regional_column = (REGION_PRICE_PREFIX + model.region_names[self.covers[0]]
                                if len(self.covers) == 1 and self.covers[0] in separate
                                else None)
        self._covered_cache = (None, None)      # (book version, rows covered if active)
        self.government = model.governments.government_for(self.covers, "floor")
        if self.cfg.rule == "cost_percentile":
            self.level = self.percentile_level(model)

    # -- the level -----------------------------------------------------------------------------
    def percentile_level(self, model) -> float:
        b = model.book
        sel = b.active & b.market_economy & (b.stage == self.stage)
        return cost_percentile(b.unit_cost[sel], b.capacity[sel], self.cfg.percentile)

    def update_level(self, model) -> None:
        cfg, t = self.cfg, model.t
        if cfg.rule == "cost_percentile":
            self.level = self.percentile_level(model)
        elif cfg.rule == "indexed" and t > self.start and (t - self.start) % cfg.revision_every == 0:
            recent = model.recorder.column("price")[-cfg.revision_every:]
            self.level = indexed_revision(self.level, float(np.mean(recent)), cfg.band,
                                          cfg.revision)
        for step, level in cfg.schedule:
            if step <= t:
                self.level = float(level)

    def in_force(self, t: int) -> bool:
        return self.active(t) and not self.exhausted and np.isfinite(self.level)

    def budget_left(self) -> float:
        return np.inf if self.cfg.budget is None else max(self.cfg.budget - self.spent, 0.0)

    def apply(self, model) -> None:
        if self.active(model.t):
            self.update_level(model)
        if self.in_force(model.t) and self.records_level:
            model.floor_level = self.level

    @property
    def downstream(self) -> bool:
        """A floor at the component stage (it acts in the component market)."""
        return self.cfg.stage == "component"

    def covers_project(self, developer) -> bool:
        """Whether a pipeline project would be covered once built: the floor covers new
        entrants (`new_entrants`), and the project is of its stage in a covered region."""
        return (bool(self.cfg.new_entrants) and developer.stage == self.stage
                and bool(self.covered_region[developer.region]))

    def protection(self, model, developer):
        """A floor on the price a covered project sells at, once announced and while money
        remains: over the part of the project's life within the floor's term (discounted), as
        far as its volume limit and the money left (shared by the covered capacity) reach."""
        if not (self.known(model.t) and not self.exhausted and np.isfinite(self.level)
                and self.covers_project(developer)):
            return None
        inv, spy = model.config.investment, model.steps_per_year
        capacity = developer.project.capacity
        online = developer.first_output_step(model)
        limit = getattr(self.cfg, "volume_per_producer", None)
        return Protection(
            floor=self.level, upside_share=self.cfg.upside_share,
            floor_weight=1.0 if limit is None else min(1.0, limit / capacity),
            floor_start=(self.start - online) / spy,
            floor_end=np.inf if self.end is None else (self.end - online) / spy,
            floor_budget=self.money_left(model),
            floor_capacity=self.covered_capacity(model) + capacity, floor_pays=self.pays,
            discount_rate=inv.hurdle_rate, life=inv.project_life)

    pays = "topup"

    def money_left(self, model) -> float:
        """USD the floor may still spend (inf: no budget)."""
        return self.budget_left()

    def covered_rows(self, model) -> np.ndarray:
        """Active covered producers: of the floor's stage (product: refineries and recyclers,
        as with mines, where the CFD acts on every producer's product offer) in covered regions;
        of the existing ones only the named `producers` when the floor names them, and entrants
        (pipeline projects and state expansions, once built) only with `new_entrants`."""
        b = model.book
        version, rows = self._covered_cache
        if version != b.version:
            stage = b.stage == self.stage
            if self.stage == REFINERY:
                stage |= b.stage == RECYCLER
            existing = ~b.is_new
            if self.cfg.producers:
                existing &= np.isin(np.asarray(b.name, dtype=object), list(self.cfg.producers))
            who = existing | b.is_new if self.cfg.new_entrants else existing
            rows = stage & self.covered_region[b.region] & who
            self._covered_cache = (b.version, rows)
        return b.active & rows

    def covered_offers(self, model):
        """A function of this step's offers: which are covered producers' own offers."""
        rows = self.covered_rows(model)

        def covered(offers) -> np.ndarray:
            out = (offers.owner == -1) & (offers.refinery >= 0)
            out[out] = rows[offers.refinery[out]]
            return out

        return covered

    def price_column(self) -> str:
        """The recorded price the floor is compared with (metric share_below_floor): the price
        at the floor's stage in the market its covered producers sell in."""
        if self.stage == MINE:
            return "concentrate_price"
        if self.downstream:
            return "club_component_price" if self.in_club() else "component_price"
        if self.regional_column is not None:
            return self.regional_column
        if self.restricting:
            # covered producers in a region restricting its exports sell in its own market
            # while the control is in force (abm.metrics.floor_market_price: the world price
            # in the other steps)
            return "export_region_price"
        return "club_price" if self.in_club() else "price"

    def in_club(self) -> bool:
        """The covered producers sell in the club's market (every covered region is a club
        member; the club price is the world price when the club is not a separate market)."""
        return bool(self.region_club[self.covers].all()) if self.covers else False

    def covered_capacity(self, model) -> float:
        """t/yr of the floor's stage online in covered regions or being built there."""
        online = float(model.book.capacity[self.covered_rows(model)].sum())
        return online + sum(d.project.capacity for d in model.developers
                            if d.status == "building" and self.covers_project(d))

    def floor_for_rows(self, model, steps):
        """The floor under each covered producer's realised price at the future `steps`, as
        announced now (its term, not its money), and its upside share."""
        if not self.known(model.t) or self.exhausted or not np.isfinite(self.level):
            return None
        steps = np.asarray(steps)
        in_force = (steps >= self.start) & ((steps < self.end) if self.end is not None else True)
        levels = np.zeros((len(model.book), len(steps)))
        levels[self.covered_rows(model)] = np.where(in_force, self.level, 0.0)
        upside = np.full(len(model.book), self.cfg.upside_share)
        return levels, upside


class CfdFloor(FloorPolicy):
    """Contract for difference: top-ups below the floor, upside share above it."""
    in_free_trade = True    # its asks keep covered producers running without a control

    def initialize(self, model) -> None:
        super().initialize(model)
        self.period_volume = np.zeros(0)    # t per producer row covered this period
        self.period_price = np.zeros(0)     # sum over the period's steps of the benchmark, by row
        self.period_steps = np.zeros(0)     # steps of the period each row was covered
        self.period_levels: list[float] = []
        self.year_volume = np.zeros(0)      # t per producer row covered this contract year
        self.year_ebitda = np.zeros(0)      # USD per producer row, this guarantee year
        self.year_steps = 0

    def protection(self, model, developer):
        """As a floor's, but settled against the world (or club) price (`benchmark`), a project
        selling in a separate market (abm.regional) earns its own market's price P_r plus
        F - P_w: a floor on P_r at F + (P_r - P_w). ASSUMPTION: developers expect this step's
        gap between their market's price and the benchmark (the shipping wedge) to persist."""
        protection = super().protection(model, developer)
        if protection is None or self.cfg.benchmark == "sale" or self.stage == MINE:
            return protection
        market = developer.pipeline.market_of(developer.stage, developer.region)
        if market is None:
            return protection
        out = model.outcome
        benchmark = out.world_price if self.cfg.benchmark == "world" else out.club_price
        wedge = out.region_prices[market] - benchmark
        return dataclasses.replace(protection, floor=max(protection.floor + wedge, 0.0))

    def effective_ask(self, ask: np.ndarray) -> np.ndarray:
        """A covered producer earns F below the floor and F + (1 - u)(P - F) above it, so it
        offers at any price if its cost is at most F, else at F + (c - F) / (1 - u)."""
        u = self.cfg.upside_share
        if u >= 1:   # all upside goes to the government: costlier producers keep their asks
            return np.where(ask <= self.level, 0.0, ask)
        return np.where(ask <= self.level, 0.0, self.level + (ask - self.level) / (1 - u))

    def apply(self, model) -> None:
        super().apply(model)
        if (model.t - self.start) % model.steps_per_year == 0:
            self.year_volume = np.zeros(len(model.book))    # a new contract year

    def volume_left(self, model) -> np.ndarray:
        """t per producer row the contract still covers this year (inf: no volume limit)."""
        n = len(model.book)
        limit = self.cfg.volume_per_producer
        if limit is None:
            return np.full(n, np.inf)
        self.year_volume = _rows(self.year_volume, n)
        return np.maximum(limit - self.year_volume, 0.0)

    def adjust_asks(self, model, asks: np.ndarray) -> None:
        # a product-stage CFD with a volume limit acts on the offers (adjust_offers)
        if self.in_force(model.t) and (self.stage == MINE or (
                model.has_mines is False and self.cfg.volume_per_producer is None)):
            rows = self.covered_rows(model)
            if self.cfg.volume_per_producer is not None:
                # (mines: a covered mine offers as covered while its year's volume lasts)
                rows = rows & (self.volume_left(model) > 0)
            asks[rows] = self.effective_ask(asks[rows])

    def adjust_offers(self, model, offers) -> None:
        """With mines, a product-stage CFD acts on the integrated (refining + feed) cost; with
        a volume limit, only the part of a covered producer's offer the year's volume still
        covers is offered at the covered ask (the rest at its own)."""
        if not (self.in_force(model.t) and self.stage == REFINERY and (
                model.has_mines or self.cfg.volume_per_producer is not None)):
            return
        sel = self.covered_offers(model)(offers)
        if self.cfg.volume_per_producer is None:
            offers.ask[sel] = self.effective_ask(offers.ask[sel])
            return
        index = np.flatnonzero(sel & (offers.qty > 0))
        rows = offers.refinery[index]
        offered = np.bincount(rows, weights=offers.qty[index], minlength=len(model.book))
        left = self.volume_left(model)
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(offered > 0, np.minimum(left / offered, 1.0), 0.0)[rows]
        whole = index[share >= 1.0]
        offers.ask[whole] = self.effective_ask(offers.ask[whole])
        part = share < 1.0
        some = index[part & (share > 0)]
        if len(some):
            offers.split(some, share[part & (share > 0)],
                         self.effective_ask(offers.ask[some]), contract=False)

    def benchmark_prices(self, model) -> np.ndarray:
        """This step's settlement price per producer row: the concentrate price at the
        concentrate stage; else the world price (`benchmark = "world"`), the club price
        ("club"), or the price each producer sold at ("sale": the mean price of its offers,
        weighted by what they sold, or by what they offered when nothing sold; its region's
        market price when it made no offer)."""
        n = len(model.book)
        if self.stage == MINE:
            return np.full(n, model.concentrate_price)
        out = model.outcome
        if self.cfg.benchmark == "world":
            return np.full(n, out.world_price)
        if self.cfg.benchmark == "club":
            return np.full(n, out.club_price)
        b, o = model.book, model.offers
        region_price = out.market_prices(self.region_club)[b.region]
        own = (o.owner == -1) & (o.refinery >= 0)
        rows = o.refinery[own]
        weight = np.where(out.sold[own] > 0, out.sold[own], 0.0)
        sold = np.bincount(rows, weights=weight, minlength=n)
        offered = np.bincount(rows, weights=o.qty[own], minlength=n)
        price = region_price.copy()
        value = np.bincount(rows, weights=weight * out.offer_price[own], minlength=n)
        by_offer = np.bincount(rows, weights=o.qty[own] * out.offer_price[own], minlength=n)
        np.divide(by_offer, offered, out=price, where=offered > 0)
        np.divide(value, sold, out=price, where=sold > 0)
        return price

    def settle(self, model) -> None:
        t = model.t
        if not self.in_force(t):
            return
        b = model.book
        n = len(b)
        self.period_volume = _rows(self.period_volume, n)
        self.period_price = _rows(self.period_price, n)
        self.period_steps = _rows(self.period_steps, n)
        rows = self.covered_rows(model)
        volume = np.where(rows, b.output, 0.0)
        if self.cfg.volume_per_producer is not None:
            volume = np.minimum(volume, self.volume_left(model))
            self.year_volume += volume
        self.period_volume += volume
        benchmark = self.benchmark_prices(model)
        if self.stage == MINE and not np.isfinite(model.concentrate_price):
            # no concentrate price yet (no chain offer was ever made): nothing was sold and
            # there is no price to settle against in this step
            rows = rows & False
        self.period_price += np.where(rows, benchmark, 0.0)
        self.period_steps += rows
        self.period_levels.append(self.level)
        last = t == model.n_steps - 1 or (self.end is not None and t == self.end - 1)
        if (t - self.start + 1) % self.cfg.settlement == 0 or last:
            self.settle_period(model)
        if self.cfg.min_ebitda is not None:
            self.guarantee_ebitda(model, rows, year_end=last or (
                (t - self.start + 1) % model.steps_per_year == 0))

    def guarantee_ebitda(self, model, rows: np.ndarray, year_end: bool) -> None:
        """Minimum-EBITDA guarantee (the MP magnet deal): each covered producer's cash operating
        profit over a year (market revenue and CFD flows less cash and fixed costs, USD) is
        topped up to `min_ebitda` (pro rata for a part year at the end), within the budget."""
        b = model.book
        self.year_ebitda = _rows(self.year_ebitda, len(b))
        self.year_ebitda[rows] += (b.revenue - b.cost)[rows]
        self.year_steps += 1
        if not year_end:
            return
        floor = self.cfg.min_ebitda * self.year_steps / model.steps_per_year
        covered = rows & b.active
        payments = np.where(covered, np.maximum(floor - self.year_ebitda, 0.0), 0.0)
        total = float(payments.sum())
        if total > self.budget_left():
            payments *= self.budget_left() / total
            total = float(payments.sum())
            self.exhausted = True
        if total > 0:
            b.revenue += payments
            self.spent += total
            self.government.book("guarantee", total)
            model.acct["gov_payments_to_producers"] += total
        self.year_ebitda[:] = 0.0
        self.year_steps = 0

    def settle_period(self, model) -> None:
        """Per covered producer: (mean level - mean benchmark price) x covered tonnes of the
        period when positive (a top-up, within the budget), upside_share x the difference when
        negative (paid to the government)."""
        mf = model.money_per_price_tonne
        level = float(np.mean(self.period_levels))
        mean_price = np.divide(self.period_price, self.period_steps,
                               out=np.full(len(self.period_price), level),
                               where=self.period_steps > 0)
        per_tonne = level - mean_price
        per_tonne = np.where(per_tonne < 0, per_tonne * self.cfg.upside_share, per_tonne)
        payments = self.period_volume * per_tonne * mf
        topups = np.maximum(payments, 0.0)
        upside = np.maximum(-payments, 0.0)
        total = float(topups.sum())
        left = self.budget_left()
        if total > 0 and total >= left * (1.0 - 1e-9):
            # the budget caps the last settlement; spent to the last dollar (up to rounding of
            # the sums), the contract is gone too
            topups *= left / total
            total = float(topups.sum())
            self.exhausted = True
        b = model.book
        b.revenue[: len(payments)] += topups - upside
        if total > 0:
            self.spent += total
            self.government.book("topup", total)
            model.acct["gov_payments_to_producers"] += total
            model.acct["gov_topups"] += total
        received = float(upside.sum())
        if received > 0:
            self.government.book("upside", received)
            model.acct["gov_receipts_from_producers"] += received
        self.period_volume[:] = 0.0
        self.period_price[:] = 0.0
        self.period_steps[:] = 0.0
        self.period_levels.clear()


class PurchaseFloor(FloorPolicy, StockHolder):
    """Buffer stock: buy covered output at F within capacity and budget; optionally sell above a
    release price."""

    def initialize(self, model) -> None:
        super().initialize(model)
        self.register(model)

    pays = "purchase"

    def money_left(self, model) -> float:
        """USD it may still spend on purchases: the budget, and the stock room at F."""
        room = np.inf if self.cfg.capacity is None else max(self.cfg.capacity - self.stock, 0.0)
        return float(min(self.budget_left(), room * self.level * model.money_per_price_tonne))

    def stock_room(self, model) -> float:
        room = np.inf if self.cfg.capacity is None else max(self.cfg.capacity - self.stock, 0.0)
        money = self.budget_left() / (self.level * model.money_per_price_tonne)
        return float(min(room, money))

    def apply(self, model) -> None:
        super().apply(model)
        if not self.in_force(model.t):
            return
        if self.budget_left() <= 1e-6:
            self.exhausted = True          # the money is gone: the defence stops for good
            model.floor_level = float("nan")
            return
        room = self.stock_room(model)
        capacity = np.inf if self.cfg.capacity is None else max(self.cfg.capacity - self.stock,
                                                                0.0)
        self.money_bound = room < capacity          # the money, not the store, limits it
        model.plan.defence = Defence(self.covered_offers(model), self.level, room,
                                     self.cfg.buy_from)

    def adjust_offers(self, model, offers) -> None:
        release = self.cfg.release_price
        # (never below the floor it defends: the stock would be sold to its own bid; an
        # open-market buffer stock may sell at the floor itself, as RECS's sto2 agency does)
        at_floor_ok = self.cfg.buy_from == "any"
        if (release is not None and self.active(model.t) and self.stock > 0
                and not (self.in_force(model.t) and (release < self.level or (
                    release == self.level and not at_floor_ok)))):
            offers.append(release, self.stock, self.covers[0], self.owner)

    def settle(self, model) -> None:
        out = model.outcome
        bought = out.defence_bought
        sold, money = self.sales(model)
        own = bought_back(bought, sold, money, out.defence_price, model.money_per_price_tonne)
        self.book_purchase(model, bought - own, out.defence_price)
        self.book_sales(model, less=own)
        if (self.cfg.buy_from == "any" and model.plan.defence is not None and self.money_bound
                and out.defence_bought > 0 and out.defence_price < self.level * (1 - 1e-12)):
            # an open-market buffer stock whose money no longer holds the price at the floor
            # (it bought all it could afford below it) stops for good, as the tin agreement's
            # buffer stock stopped trading when its money ran out
            self.exhausted = True


def bought_back(bought: float, sold: float, money: float, price: float,
                money_per_price_tonne: float) -> float:
    """t of its own release a buffer stock bought back: releasing at the floor it bids at (its
    release sold at the defence price `price`, to rounding: `money` USD for `sold` t), it bought
    back min(bought, sold) at the same price, and only the net trade is booked (the budget pays
    for what it gained); 0 when it released at another price or did not both buy and sell."""
    if bought <= 0 or sold <= 0:
        return 0.0
    at_price = math.isclose(money, sold * price * money_per_price_tonne, rel_tol=1e-9)
    return min(bought, sold) if at_price else 0.0


class MinimumImportPrice(FloorPolicy):
    """Border-adjusted floor: a variable duty on non-club imports into the club."""

    def initialize(self, model) -> None:
        super().initialize(model)
        self.year_imports = 0.0
        # this year's steps: (t imported, t the controls' counterfactual imported or None, the
        # export controls that took tonnes off the market that step), for the quota the year
        # would have left without the controls in force (`free_trade_used`)
        self.year_steps: list[tuple[float, float | None, frozenset]] = []

    def apply(self, model) -> None:
        super().apply(model)
        if (model.t - self.start) % model.steps_per_year == 0:
            self.year_imports = 0.0
            self.year_steps = []
        if not self.in_force(model.t):
            return
        # a component MIP is a border measure on imported components (the component market's)
        plan = model.component_plan if self.downstream else model.plan
        plan.mip = self.level
        plan.undertaking = self.cfg.rent == "undertaking"
        if self.cfg.volume_cap is not None:
            cap = self.cfg.volume_cap
            if self.cfg.quota == "per_period":
                # the annual cap allocated per step, unused quota carried over within the year
                step = (model.t - self.start) % model.steps_per_year
                cap = cap * (step + 1) / model.steps_per_year
            plan.import_cap = self.quota_left(cap, self.year_imports)
            plan.free_trade_import_cap = self.quota_left(cap, self.free_trade_used(model))
            plan.excess_duty = self.cfg.excess_duty

    def free_trade_used(self, model) -> float:
        """t of this year's quota used in a world without the export controls in force now:
        in the steps one of them took tonnes off the market, what their counterfactual
        imported; in the others, what was imported (a control that has ended is part of that
        world's history: the quota it left unused is carried over, review rv3 R3)."""
        live = {p for p in model.policies if p.name == "export_control" and p.active(model.t)}
        return sum(free if free is not None and (controls & live) else real
                   for real, free, controls in self.year_steps)

    def quota_left(self, cap: float, used: float) -> float:
        """t of the volume cap `cap` (t, to date this year) left after `used` t of imports
        (what rounding leaves of a used-up quota is no quota)."""
        left = cap - used
        return left if left > 1e-12 * max(self.cfg.volume_cap, 1.0) else 0.0

    def settle(self, model) -> None:
        if not self.in_force(model.t):
            return
        out = model.component_outcome if self.downstream else model.outcome
        self.year_imports += max(out.club_imports, 0.0)
        # (a control's counterfactual is of the product market, not the component market)
        free = None if self.downstream else model.free_trade_club_imports
        self.year_steps.append((max(out.club_imports, 0.0),
                                None if free is None else max(free, 0.0),
                                frozenset(p for p in model.policies if p.name == "export_control"
                                          and p.active(model.t) and p.withheld > 0)))
        if out.duties > 0:
            self.government.book("duty", out.duties * model.money_per_price_tonne)
        if out.exporter_rent > 0:     # a memo item: what the club forwent to exporters
            self.government.book("exporter_rent", out.exporter_rent * model.money_per_price_tonne,
                                 max(out.club_imports, 0.0))

    def floor_for_rows(self, model, steps):
        """None: the MIP acts through the club price (the club's wedge in exit reviews)."""
        return None

    def protection(self, model, developer):
        """Club refinery projects sell at the club price: at least the MIP level while the club
        still imports, its own clearing price once it no longer does, never below the world
        price."""
        if (self.known(model.t) and developer.stage == REFINERY
                and model.region_club[developer.region] and np.isfinite(self.level)):
            return Protection(border_floor=self.level, autarky=developer.pipeline.club_autarky_price(
                model, developer, self.level))
        return None


def _rows(per_producer: np.ndarray, n: int) -> np.ndarray:
    """A per-producer array extended with zeros to `n` rows (producers join during a run)."""
    if len(per_producer) >= n:
        return per_producer
    return np.append(per_producer, np.zeros(n - len(per_producer)))


MECHANISMS = {"cfd": CfdFloor, "purchase": PurchaseFloor, "mip": MinimumImportPrice}


def make_floor(cfg, records_level: bool = True) -> FloorPolicy:
    return MECHANISMS[cfg.mechanism](cfg, records_level)
