"""Developers of new capacity and the pipeline: one agent per pipeline project, the price view they
share, and the state's own capacity expansion.

A developer reviews its project every `investment.review_every` steps: it forms the price it
expects once the capacity already under construction produces, lets announced instruments
reshape that price's distribution (floors as puts, offtakes as fixed prices), and starts the
project when the effective price clears its volatility-aware trigger (abm.investment). Capacity
arrives only after the project's lead time.

`Pipeline`, the population, acts on all projects at once: `invest` (the developers' price view,
commissioning, state expansions coming online, the review), `review` (starts, best first),
`expand_state` (the `market_share` state's refining capacity), and what a developer asks of the
instruments (`protection`, stacked; `hurdle_rate`; `lead_time`) or of the pipeline
(`capacity_under_construction`). A `Developer` (a Mesa agent) acts on its own project: `margin`,
`start`, `commission`.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import TYPE_CHECKING

import mesa
import numpy as np

from abm import market
from abm.investment import (
    PriceExpectation,
    Protection,
    discounted_share,
    effective_price,
    pipeline_adjusted_price,
    trigger_price,
)
from abm.kinds import EXPANSION, MINE, NO_PROTECTION, PROJECT, REFINERY, STAGES
from abm.regional import route_costs

if TYPE_CHECKING:
    from abm.protocol import ModelView

# Pure functions of hashable numbers: developers of one stage share their inputs at a review, so
# each is computed once per review rather than once per developer.
_effective_price = functools.lru_cache(maxsize=1024)(effective_price)
_trigger_price = functools.lru_cache(maxsize=1024)(trigger_price)


class Developer(mesa.Agent):
    """Develops one project of the pipeline: candidate -> building -> online."""

    def __init__(self, model: mesa.Model, pipeline: Pipeline, project, index: int, region: int,
                 market_economy: bool):
        super().__init__(model)
        self.pipeline = pipeline
        self.project = project
        self.index = index
        self.region = region
        self.stage = STAGES[project.stage]
        self.market_economy = market_economy
        self.status = "candidate"
        self.started_step: int | None = None
        self.online_step: int | None = None
        self.producer_row: int | None = None

    def margin(self, model: ModelView) -> tuple[float, float, float]:
        """(decision price - trigger, decision price, trigger), in price units.

        The decision price is what the project expects to sell at (the price the developers
        expect once the capacity under construction produces: the world's, or its own
        market's for a refinery in a separate market; through the club border for club
        projects, with the instruments that would cover it: abm.investment);
        the trigger is the rule's (real options or NPV) for its cash and fixed costs, capex and
        the finance it would get."""
        inv = model.config.investment
        p = self.project
        pipeline = self.pipeline
        memo = pipeline.margin_memo    # during a review without instruments (Pipeline.review)
        market = pipeline.market_of(self.stage, self.region)    # (None: the world's)
        key = (self.stage, self.market_economy, market)
        shared = memo.get(key) if memo is not None else None
        if shared is None:
            expected = pipeline.expected_price(model, self.stage, market)
            if expected is None:
                return -np.inf, 0.0, np.inf
            if self.market_economy:
                expected = pipeline.after_predation(
                    model, expected, market,
                    club=self.stage != MINE and bool(model.region_club[self.region]))
            protection = pipeline.protection(model, self)
            price, sigma = _effective_price(expected, pipeline.view(market).sigma, inv.horizon,
                                            protection, model.money_per_price_tonne)
            finance = pipeline.finance_rate(model, self.region)
            if memo is not None:
                memo[key] = price, sigma, finance
        else:
            price, sigma, finance = shared
        mf = model.money_per_price_tonne
        # the fixed cost is a cost of operating, per tonne of capacity (price units)
        cost = p.unit_cost + p.fixed_cost / (p.capacity * mf) if p.fixed_cost else p.unit_cost
        trigger = _trigger_price(cost, p.capex / mf, inv.hurdle_rate, sigma, inv.rule,
                                 inv.volatility_premium, inv.project_life,
                                 inv.convenience_yield, finance)
        return price - trigger, price, trigger

    def first_output_step(self, model: ModelView) -> int:
        """The step the project would first produce if started now."""
        return model.t + 1 + self.lead_time(model)

    def lead_time(self, model: ModelView) -> int:
        return self.pipeline.lead_time(model, self.region, self.project.lead_time)

    def start(self) -> None:
        """Commit the capex; capacity arrives after the lead time."""
        model, pipeline = self.model, self.pipeline
        self.status = "building"
        pipeline.changed()
        self.started_step = model.t
        self.online_step = model.t + 1 + self.lead_time(model)
        pipeline.capex += self.project.capex * self.project.capacity
        pipeline.started += 1

    def commission(self) -> None:
        """The project's capacity joins the merit order as a new producer."""
        p = self.project
        self.status = "online"
        self.pipeline.changed()
        self.producer_row = self.pipeline.producers.add(
            p.name, self.stage, self.region, p.capacity, p.unit_cost, p.fixed_cost, 0.0,
            is_new=True, identity=(PROJECT, self.index))


class Pipeline:
    """Every project of `[investment]` (`developers`, in config order), the developers' shared
    price view (`expectation`; `regional`: of each separate market's price, `cost_in`: the
    shipping cost into it), the capex committed and projects started, and the state's capacity
    expansions (`expansions`: (online step, region, t/yr, unit cost))."""

    def __init__(self, model: mesa.Model, config, region_index: dict[str, int],
                 region_market: np.ndarray, producers):
        inv, d = config.investment, config.market.demand
        self.config = config
        self.producers = producers            # commissioned projects become its rows
        self.on = inv.enabled
        regions = [region_index[p.region] for p in inv.projects]
        self.developers: list[Developer] = list(Developer.create_agents(
            model, len(inv.projects), self, list(inv.projects), list(range(len(inv.projects))),
            regions, [bool(region_market[r]) for r in regions]))
        self.expectation = PriceExpectation(d.reference_price, inv.volatility_prior,
                                            inv.expectation_halflife,
                                            config.experiment.steps_per_year)
        # separate-market region (abm.regional) -> the same view of that market's price, which
        # its refinery projects sell at (formed from its price history as the world's is)
        shipping = route_costs(config)    # region -> (cost in, cost out), price units
        self.regional = {r: PriceExpectation(d.reference_price, inv.volatility_prior,
                                             inv.expectation_halflife,
                                             config.experiment.steps_per_year)
                         for r in sorted(shipping)}
        self.cost_in = {r: c[0] for r, c in shipping.items()}
        self.capex = 0.0                                 # USD committed
        self.started = 0                                 # projects started
        self.expansions: list[tuple[int, int, float, float]] = []
        self._pending_from = 0                           # expansions before this are online
        self._expansions_due: dict[int, list] = {}       # online step -> expansions
        # stage -> t/yr under construction: read by every margin, changes only when a project
        # starts or comes online
        self._building_capacity: dict[int, float] = {}
        # shared parts of margins during a review without instruments (every developer of a
        # stage would compute the same expected price, volatility and hurdle rate)
        self.margin_memo: dict | None = None

    def invest(self, model: ModelView) -> None:
        """Update developers' expectations; commission arrivals; review the pipeline."""
        t = model.t
        self.expectation.update(model.price)
        for region, view in self.regional.items():
            view.update(model.outcome.region_prices[region])
        for developer in self.developers:
            if developer.status == "building" and developer.online_step <= t + 1:
                developer.commission()
        for _online, region, cap, cost in self._expansions_due.pop(t + 1, ()):
            self.producers.add(f"{model.region_names[region]} state expansion {t + 1}",
                               REFINERY, region, cap, cost, 0.0, 0.0, is_new=True,
                               identity=(EXPANSION, len(self.producers.book)))
        if not self.on or t % self.config.investment.review_every:
            return
        self.review(model)
        if self.config.nonmarket.strategy == "market_share":
            self.expand_state(model)

    def review(self, model: ModelView) -> None:
        """Developers start projects whose effective price clears their trigger, best first,
        each accounting for the capacity already under construction."""
        inv = self.config.investment
        t = model.t
        candidates = [d for d in self.developers if d.status == "candidate"
                      and d.project.available_from <= t]
        # without instruments, developers of a stage share their expected price, volatility
        # and hurdle rate (no instrument protects or finances one region's projects)
        self.margin_memo = {} if not model.policies else None
        # (a margin that cannot be valued, NaN, ranks last and starts nothing)
        margins = [m if m == m else -np.inf for m in (d.margin(model)[0] for d in candidates)]
        started = 0
        for i in sorted(range(len(candidates)), key=margins.__getitem__, reverse=True):
            developer = candidates[i]
            # (until a project starts, nothing a margin depends on has changed)
            margin = margins[i] if started == 0 else developer.margin(model)[0]
            if not margin >= 0 or started >= inv.max_starts_per_review:   # (NaN: no start)
                break
            developer.start()
            started += 1
        self.margin_memo = None

    def expand_state(self, model: ModelView) -> None:
        """market_share strategy: the state adds refining capacity so that what it can produce
        covers its target share of world demand at the reference price, whatever the profit."""
        rules = self.config.nonmarket
        b, t = self.producers.book, model.t
        nm_rows = self.producers.structure().state_refineries
        if len(nm_rows) == 0:
            return
        # (expansions come online in the order they were decided: skip those already online)
        while self._pending_from < len(self.expansions) and \
                self.expansions[self._pending_from][0] <= t:
            self._pending_from += 1
        pending = sum(e[2] for e in self.expansions[self._pending_from:] if e[0] > t)
        have = b.capacity[nm_rows].sum() + pending
        # the market it aims at: world demand at the reference price (trend and shocks included)
        buyers = model.buyers
        market_size = market.demand_at(buyers.scale_of() if buyers.adjusting else
                                       buyers.demand_scale, model.elasticity,
                                       self.config.market.demand.reference_price)
        gap = rules.target_share * market_size * model.steps_per_year - have
        if gap <= 1e-9:
            return
        region = int(b.region[nm_rows[np.argmax(b.capacity[nm_rows])]])
        cost = rules.expansion_unit_cost
        if cost is None:
            weights = b.capacity[nm_rows]     # np.average(unit_cost, weights=capacity):
            total = weights.sum()
            if total == 0:
                raise ZeroDivisionError("Weights sum to zero, can't be normalized")
            cost = float(np.multiply(b.unit_cost[nm_rows], weights).sum() / total)
        expansion = (t + 1 + rules.expansion_lead_time, region, gap, cost)
        self.expansions.append(expansion)
        self._expansions_due.setdefault(expansion[0], []).append(expansion)

    def capacity_under_construction(self, stage: int, market: int | None = None) -> float:
        """Capacity of the projects of `stage` being built that will sell into `market`
        (`market_of`; None: the world's), t/yr, summed in pipeline order.

        ASSUMPTION: capacity is counted by market. A separate market's plant sells in its own
        market (it reaches the world only through its shipping wedge, and may never trade), so
        it does not lower the world price developers expect, nor a world plant a separate
        market's. Without separate markets every project sells into the world's."""
        cache = self._building_capacity
        key = (stage, market)
        if key not in cache:
            cache[key] = sum(d.project.capacity for d in self.developers
                             if d.status == "building" and d.stage == stage
                             and self.market_of(d.stage, d.region) == market)
        return cache[key]

    def changed(self) -> None:
        """A project started or came online (called by Developer)."""
        self._building_capacity = {}
        if self.margin_memo is not None:
            self.margin_memo = {}

    def protection(self, model: ModelView, developer: Developer) -> Protection:
        """What announced instruments would do for `developer`'s project (stacked)."""
        if not model.policies:
            return NO_PROTECTION
        offers = [p for p in (policy.protection(model, developer) for policy in model.policies)
                  if p is not None]
        combined = Protection()
        for offer in offers:
            combined = offer if combined == Protection() else stack(combined, offer)
        return combined

    def market_of(self, stage: int, region: int) -> int | None:
        """The separate market (its region) whose price a project of `stage` in `region` sells
        at: its region's for a refinery there (separate markets trade product); None: the
        world's (mines sell concentrate at the world's concentrate price)."""
        return region if stage != MINE and region in self.regional else None

    def view(self, market: int | None) -> PriceExpectation:
        """The developers' view of `market`'s price (None: the world's)."""
        return self.expectation if market is None else self.regional[market]

    def expected_price(self, model: ModelView, stage: int,
                       market: int | None = None) -> float | None:
        """The price developers of `stage` expect once the capacity under construction
        produces: the world's, or separate market `market`'s (`market_of`), whose median they
        form from its own history, moved by the pipeline adjustment of its market (the capacity
        under construction that sells there against what its buyers consume:
        `capacity_under_construction`) (price units; None for mines while there is no
        concentrate price)."""
        expected = self.view(market).median
        if stage == MINE:
            # mines earn the concentrate price: scale the product expectation by its share
            if not np.isfinite(model.concentrate_price) or model.price <= 0:
                return None
            expected *= model.concentrate_price / model.price
        consumption = float(model.buyers.consumption * model.steps_per_year)   # t/yr
        if self.regional and stage != MINE:
            consumption *= self.consumption_share(model, market)
        return pipeline_adjusted_price(expected, consumption,
                                       self.capacity_under_construction(stage, market),
                                       model.elasticity)

    def consumption_share(self, model: ModelView, market: int | None) -> float:
        """The share of this step's tonnes bought by `market`'s buyers (None: the world
        market's, in no separate market); their shares of demand when nothing was bought."""
        buyers = model.buyers
        tonnes = model.outcome.buyer_tonnes
        if not tonnes.sum() > 0:
            tonnes = np.asarray(buyers.share, dtype=float)
        if market is None:
            mine = ~np.isin(buyers.region, list(self.regional))
        else:
            mine = buyers.region == market
        total = float(tonnes.sum())
        return float(tonnes[mine].sum()) / total if total > 0 else 0.0

    def after_predation(self, model: ModelView, expected: float,
                        market: int | None = None, club: bool = False) -> float:
        """The expected price a market-economy project sees once a `predatory` state is known to
        price through its first `predatory_window` months: over that discounted share of its
        life (abm.investment.discounted_share at the hurdle rate) the price is at most what the
        state can hold it down to by dumping (`Producers.dumping_price`, with the capacity it
        has today), so a threat the state cannot carry out changes nothing. The state's rule is
        read in the project's own market: in a separate market `market` (`market_of`) that
        market's price with the state dumping, the markets linked by their shipping costs; for
        a club project (`club`) behind the club's border measures, where dumping would not
        lower the club's price (a minimum import price holding it, review rv3 R6) the state
        does not dump against it and the project fears nothing, and where it would, the world
        price dumping is what the club's border measures then act on (`protection`, applied to
        this price as to any other)."""
        rules = self.config.nonmarket
        if rules.strategy != "predatory" or not self.producers.structure().nm_any:
            return expected
        inv = self.config.investment
        where = market if market is not None else ("club" if club else "world")
        dumped = self.producers.dumping_price(model, where)
        if dumped >= expected:
            return expected
        share = discounted_share(inv.hurdle_rate, 0.0, rules.predatory_window
                                 / model.steps_per_year, inv.project_life)
        return expected - share * (expected - dumped)

    def finance_rate(self, model: ModelView, region: int) -> float | None:
        """Concessional rate on a project's capital in `region` (None: the hurdle rate)."""
        base = rate = self.config.investment.hurdle_rate
        for policy in model.policies:
            rate = policy.hurdle_rate(model, region, rate)
        return None if rate >= base else rate

    def club_autarky_price(self, model: ModelView, developer: Developer, price: float) -> float:
        """The club's own clearing price once `developer`'s project and the club capacity online
        or under construction that can supply at `price` (cash cost at most `price`; recyclers up
        to the scrap they collect) produce: club demand at the current demand scale,
        D_c(P) = share_c x scale x P^eps per step, equals that capacity (price units; inf when
        the club has no such capacity, 0 when it has no demand)."""
        b, st = self.producers.book, self.producers.structure()
        spy = model.steps_per_year
        rows = b.active & b.club & (b.stage != MINE) & (st.cash_cost <= price)
        capacity = b.capacity.copy()
        recyclers = self.producers.recyclers
        if recyclers.any:
            capacity[recyclers.rows] = np.minimum(capacity[recyclers.rows],
                                                  recyclers.collected * spy)
        supply = float(capacity[rows].sum()) + sum(
            d.project.capacity for d in self.developers
            if d.status == "building" and d.stage == REFINERY and model.region_club[d.region]
            and d.project.unit_cost <= price)
        if developer.status == "candidate":
            supply += developer.project.capacity
        buyers = model.buyers
        scale = buyers.scale_of(buyers.club_rows) * spy
        if supply <= 0:
            return np.inf
        if scale <= 0:
            return 0.0
        return float((supply / scale) ** (1.0 / model.elasticity))

    def lead_time(self, model: ModelView, region: int, months: int) -> int:
        """Lead time of a project in `region` started now (permitting reform shortens it)."""
        for policy in model.policies:
            months = policy.lead_time(model, region, months)
        return int(months)


def stack(a: Protection, b: Protection) -> Protection:
    """Two instruments on one project: the higher floor (with its terms), the larger offtake,
    the higher tariff and minimum import price, the lower club autarky price."""
    floor_of = a if a.floor >= b.floor else b
    offtake_of = a if a.offtake_share >= b.offtake_share else b
    return dataclasses.replace(
        floor_of,
        offtake_share=offtake_of.offtake_share, offtake_price=offtake_of.offtake_price,
        offtake_firm=offtake_of.offtake_firm, offtake_weight=offtake_of.offtake_weight,
        offtake_ceiling=offtake_of.offtake_ceiling,
        tariff=max(a.tariff, b.tariff), border_floor=max(a.border_floor, b.border_floor),
        autarky=min(a.autarky, b.autarky))


__all__ = ["Developer", "Pipeline", "PriceExpectation", "stack"]
