"""Price floors: a level rule and one of three mechanisms (DESIGN section 2).

* `mip`: imports into the club from non-club origins pay max(0, F - world price); the club's
  market separates from the world's (abm.clearing); duty revenue goes to the club government.
* `purchase`: a buffer stock buys covered producers' output at F within a stock capacity and a
  budget; when either runs out the defence stops and the price falls to the undefended level.
* `cfd`: covered producers receive (F - P) per tonne when P < F and pay upside_share (P - F) when
  P > F, settled every `settlement` steps against the period's mean price. Because the top-up
  makes a covered producer with cost <= F sell at any price, it changes output, not only cash.
"""

from __future__ import annotations

import numpy as np

from abm.investment import Protection
from abm.kinds import MINE, RECYCLER, REFINERY
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

    def __init__(self, cfg):
        super().__init__(cfg.start, cfg.end, cfg.announce)
        self.cfg = cfg
        self.level = cfg.level if cfg.level is not None else float("nan")
        self.spent = 0.0
        self.exhausted = False

    def initialize(self, model) -> None:
        self.covers = [model.region_index[r] for r in self.cfg.covers]
        if not self.covers:  # an empty `covers` means the club (or every region without a club)
            club = list(np.flatnonzero(model.region_club))
            self.covers = club or list(range(len(model.region_names)))
        self.covered_region = np.isin(np.arange(len(model.region_names)), self.covers)
        self.stage = MINE if self.cfg.stage == "concentrate" else REFINERY
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
        if self.in_force(model.t):
            model.floor_level = self.level

    def protection(self, model, developer):
        """A floor is a put for covered projects once announced (and while money remains)."""
        if (self.known(model.t) and not self.exhausted and developer.stage == self.stage
                and self.covered_region[developer.region] and np.isfinite(self.level)):
            return Protection(floor=self.level, upside_share=self.cfg.upside_share)
        return None


class CfdFloor(FloorPolicy):
    """Contract for difference: top-ups below the floor, upside share above it."""

    def initialize(self, model) -> None:
        super().initialize(model)
        self.period_volume = np.zeros(0)
        self.period_prices: list[float] = []
        self.period_levels: list[float] = []
        self.year_ebitda = np.zeros(0)      # USD per producer row, this guarantee year
        self.year_steps = 0

    def covered_rows(self, model) -> np.ndarray:
        """Active producers of the floor's stage in covered regions (product: refineries and
        recyclers, as with mines, where the CFD acts on every producer's product offer)."""
        b = model.book
        stage = b.stage == self.stage
        if self.stage == REFINERY:
            stage |= b.stage == RECYCLER
        return b.active & stage & self.covered_region[b.region]

    def effective_ask(self, ask: np.ndarray) -> np.ndarray:
        """A covered producer earns F below the floor and F + (1 - u)(P - F) above it, so it
        offers at any price if its cost is at most F, else at F + (c - F) / (1 - u)."""
        u = self.cfg.upside_share
        if u >= 1:   # all upside goes to the government: costlier producers keep their asks
            return np.where(ask <= self.level, 0.0, ask)
        return np.where(ask <= self.level, 0.0, self.level + (ask - self.level) / (1 - u))

    def adjust_asks(self, model, asks: np.ndarray) -> None:
        if self.in_force(model.t) and (self.stage == MINE or model.has_mines is False):
            rows = self.covered_rows(model)
            asks[rows] = self.effective_ask(asks[rows])

    def adjust_offers(self, model, offers) -> None:
        # with mines, a product-stage CFD acts on the integrated (refining + feed) cost
        if self.in_force(model.t) and self.stage == REFINERY and model.has_mines:
            sel = (offers.owner == -1) & self.covered_region[offers.region]
            offers.ask[sel] = self.effective_ask(offers.ask[sel])

    def settle(self, model) -> None:
        t = model.t
        if not self.in_force(t):
            return
        b = model.book
        self.period_volume = _rows(self.period_volume, len(b))
        rows = self.covered_rows(model)
        self.period_volume[rows] += b.output[rows]
        self.period_prices.append(model.price if self.stage == REFINERY else
                                  model.concentrate_price)
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
        mf = model.money_per_price_tonne
        mean_price = float(np.mean(self.period_prices))
        level = float(np.mean(self.period_levels))
        per_tonne = level - mean_price
        if per_tonne < 0:
            per_tonne *= self.cfg.upside_share      # producers pay a share of the upside
        payments = self.period_volume * per_tonne * mf
        total = float(payments.sum())
        if total > 0 and total > self.budget_left():
            payments *= self.budget_left() / total   # the budget caps the last settlement
            total = float(payments.sum())
            self.exhausted = True
        b = model.book
        b.revenue[: len(payments)] += payments
        if total >= 0:
            self.spent += total
            self.government.book("topup", total)
            model.acct["gov_payments_to_producers"] += total
        else:
            self.government.book("upside", -total)
            model.acct["gov_receipts_from_producers"] += -total
        self.period_volume[:] = 0.0
        self.period_prices.clear()
        self.period_levels.clear()


class PurchaseFloor(FloorPolicy, StockHolder):
    """Buffer stock: buy covered output at F within capacity and budget; optionally sell above a
    release price."""

    def initialize(self, model) -> None:
        super().initialize(model)
        self.register(model)

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
        covered_region = self.covered_region
        model.plan.defence = (lambda offers: (offers.owner == -1)
                              & covered_region[offers.region], self.level, room)

    def adjust_offers(self, model, offers) -> None:
        release = self.cfg.release_price
        if release is not None and self.active(model.t) and self.stock > 0:
            offers.append(release, self.stock, self.covers[0], self.owner)

    def settle(self, model) -> None:
        out = model.outcome
        self.book_purchase(model, out.defence_bought, out.defence_price)
        self.book_sales(model)


class MinimumImportPrice(FloorPolicy):
    """Border-adjusted floor: a variable duty on non-club imports into the club."""

    def initialize(self, model) -> None:
        super().initialize(model)
        self.year_imports = 0.0

    def apply(self, model) -> None:
        super().apply(model)
        if (model.t - self.start) % model.steps_per_year == 0:
            self.year_imports = 0.0
        if not self.in_force(model.t):
            return
        model.plan.mip = self.level
        if self.cfg.volume_cap is not None:
            left = self.cfg.volume_cap - self.year_imports
            # (what rounding leaves of a used-up quota is no quota)
            model.plan.import_cap = left if left > 1e-12 * max(self.cfg.volume_cap, 1.0) else 0.0
            model.plan.excess_duty = self.cfg.excess_duty

    def settle(self, model) -> None:
        if not self.in_force(model.t):
            return
        out = model.outcome
        self.year_imports += max(out.club_imports, 0.0)
        if out.duties > 0:
            self.government.book("duty", out.duties * model.money_per_price_tonne)

    def protection(self, model, developer):
        """Club producers sell at the club price, at least min(F, club autarky price)."""
        if (self.known(model.t) and developer.stage == REFINERY
                and model.region_club[developer.region]):
            return Protection(floor=self.level)
        return None


def _rows(per_producer: np.ndarray, n: int) -> np.ndarray:
    """A per-producer array extended with zeros to `n` rows (producers join during a run)."""
    if len(per_producer) >= n:
        return per_producer
    return np.append(per_producer, np.zeros(n - len(per_producer)))


MECHANISMS = {"cfd": CfdFloor, "purchase": PurchaseFloor, "mip": MinimumImportPrice}


def make_floor(cfg) -> FloorPolicy:
    return MECHANISMS[cfg.mechanism](cfg)
