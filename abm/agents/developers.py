"""Developers of new capacity: one agent per pipeline project, and the price expectation they share.

A developer reviews its project every `investment.review_every` steps: it forms the price it
expects once the capacity already under construction produces, lets announced instruments
reshape that price's distribution (floors as puts, offtakes as fixed prices), and starts the
project when the effective price clears its volatility-aware trigger (abm.investment). Capacity
arrives only after the project's lead time.
"""

from __future__ import annotations

import functools
import math

import mesa
import numpy as np

from abm.investment import effective_price, pipeline_adjusted_price, trigger_price
from abm.kinds import MINE, PROJECT, REFINERY, STAGES

# Pure functions of hashable numbers: developers of one stage share their inputs at a review, so
# each is computed once per review rather than once per developer.
_effective_price = functools.lru_cache(maxsize=1024)(effective_price)
_trigger_price = functools.lru_cache(maxsize=1024)(trigger_price)


class PriceExpectation:
    """Exponentially weighted mean of log price and of squared log changes (developers' view)."""

    def __init__(self, initial_price: float, prior_sigma: float, halflife: float,
                 steps_per_year: int):
        self.alpha = 1.0 - 0.5 ** (1.0 / halflife)
        self.log_mean = math.log(initial_price)
        self.var_step = prior_sigma**2 / steps_per_year
        self.steps_per_year = steps_per_year
        self.last_log = None

    def update(self, price: float) -> None:
        if not price > 0:
            return
        lp = math.log(price)
        self.log_mean += self.alpha * (lp - self.log_mean)
        if self.last_log is not None:
            self.var_step += self.alpha * ((lp - self.last_log) ** 2 - self.var_step)
        self.last_log = lp

    @property
    def median(self) -> float:
        """Expected (median) price."""
        return math.exp(self.log_mean)

    @property
    def sigma(self) -> float:
        """Perceived annualised volatility."""
        return math.sqrt(self.var_step * self.steps_per_year)


class Developer(mesa.Agent):
    """Develops one project of the pipeline: candidate -> building -> online."""

    def __init__(self, model: mesa.Model, project, index: int):
        super().__init__(model)
        self.project = project
        self.index = index
        self.region = model.region_index[project.region]
        self.stage = STAGES[project.stage]
        self.market_economy = bool(model.region_market[self.region])
        self.status = "candidate"
        self.started_step: int | None = None
        self.online_step: int | None = None
        self.producer_row: int | None = None

    def margin(self, model) -> tuple[float, float, float]:
        """(effective price - trigger, effective price, trigger), in price units."""
        inv = model.config.investment
        p = self.project
        memo = model._margin_memo     # during a review without instruments (see review_pipeline)
        shared = memo.get(self.stage) if memo is not None else None
        if shared is None:
            expected = model.expectation.median
            if self.stage == MINE:
                # mines earn the concentrate price: scale the product expectation by its share
                if not np.isfinite(model.concentrate_price) or model.price <= 0:
                    return -np.inf, 0.0, np.inf
                expected *= model.concentrate_price / model.price
            expected = pipeline_adjusted_price(expected, model.annual_consumption(),
                                               model.capacity_under_construction(self.stage),
                                               model.elasticity)
            protection = model.protection(self)
            price, sigma = _effective_price(expected, model.expectation.sigma, inv.horizon,
                                            protection)
            rate = model.hurdle_rate(self.region)
            if memo is not None:
                memo[self.stage] = price, sigma, rate
        else:
            price, sigma, rate = shared
        charge = p.capex / model.money_per_price_tonne
        trigger = _trigger_price(p.unit_cost, charge, rate, sigma, inv.rule,
                                 inv.volatility_premium, inv.project_life)
        return price - trigger, price, trigger

    def lead_time(self, model) -> int:
        return model.lead_time(self.region, self.project.lead_time)

    def start(self) -> None:
        """Commit the capex; capacity arrives after the lead time."""
        model = self.model
        self.status = "building"
        model.pipeline_changed()
        self.started_step = model.t
        self.online_step = model.t + 1 + self.lead_time(model)
        model.investment_capex += self.project.capex * self.project.capacity
        model.projects_started += 1

    def commission(self) -> None:
        """The project's capacity joins the merit order as a new producer."""
        model, p = self.model, self.project
        self.status = "online"
        model.pipeline_changed()
        self.producer_row = model.producers.add(p.name, self.stage, self.region, p.capacity,
                                               p.unit_cost, 0.0, 0.0, is_new=True,
                                               identity=(PROJECT, self.index))


__all__ = ["Developer", "PriceExpectation", "REFINERY", "MINE"]
