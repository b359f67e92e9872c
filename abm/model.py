"""MineralMarket: the Mesa model. `step()` reads as the schedule, top to bottom.

Units: one step is 1/steps_per_year of a year; quantities in the market are tonnes per step,
capacities tonnes per year; prices in the experiment's price unit; money in USD
(`money_per_price_tonne` converts price x tonnes into USD).
"""

from __future__ import annotations

import mesa
import numpy as np

from abm.agents.buyers import Buyers
from abm.agents.developers import Pipeline
from abm.agents.government import Governments
from abm.agents.producers import Producers
from abm.clearing import MarketPlan, clear_single, clear_step
from abm.config import ExperimentConfig
from abm.kinds import ACCOUNT_KEYS
from abm.metrics import run_metrics
from abm.recorder import Recorder


def seed_of(rng) -> int:
    """An integer seed from what the user passed as `rng` (int, SeedSequence, Generator, None)."""
    if isinstance(rng, np.random.Generator):
        return int(rng.integers(2**63))
    if isinstance(rng, np.random.SeedSequence):
        return int(rng.generate_state(2, dtype=np.uint32).view(np.uint64)[0] >> np.uint64(1))
    if rng is None:
        return int(np.random.SeedSequence().generate_state(1)[0])
    return int(rng)


class MineralMarket(mesa.Model):
    """One critical mineral, two stages (concentrate, product), regions, agents and policies."""

    def __init__(self, config: ExperimentConfig, rng=None):
        seed = seed_of(rng)
        super().__init__(rng=seed)
        self.config = config
        self.seed = seed
        meta, mk = config.experiment, config.market
        self.n_steps = meta.steps
        self.steps_per_year = meta.steps_per_year
        self.money_per_price_tonne = 1000.0 if mk.price_unit == "USD/kg" else 1.0
        self.elasticity = mk.demand.elasticity
        self.intensity = mk.intensity

        # regions
        self.region_names = [r.name for r in config.regions]
        self.region_index = {name: i for i, name in enumerate(self.region_names)}
        self.region_market = np.array([r.market_economy for r in config.regions])
        self.region_club = np.array([r.club for r in config.regions])

        # producers (mines, refineries, recyclers)
        self.producers = Producers(self, config, self.region_market, self.region_club, seed,
                                   self.money_per_price_tonne)
        self.book = self.producers.book                 # (the same object: policies read it)
        self.recyclers = self.producers.recyclers
        self.recycler_rows = self.recyclers.rows
        self.has_mines = self.producers.has_mines

        # buyers
        self.buyers = Buyers(self, config, self.region_index, self.region_club, seed,
                             self.money_per_price_tonne)

        # governments: the club's, and one for each other region an instrument or shock names
        self.governments = Governments(self, self.region_club)

        # developers of new capacity
        self.pipeline = Pipeline(self, config, self.region_index, self.region_market,
                                 self.producers)
        self.developers = self.pipeline.developers      # (the same list)
        self.expectation = self.pipeline.expectation    # (the same object: offtakes read it)

        # policies (a scenario is a list of instruments)
        from abm.policies import build_policies

        self.stock_owners: list = []
        self.policies = build_policies(config)
        for policy in self.policies:
            policy.initialize(self)

        # without instruments nothing changes the plan, the asks or the offers: one idle plan
        # and the cached offers serve every step
        self._idle_plan = MarketPlan()
        # without instruments, mines, recyclers or inventories nothing reads the series while
        # the model runs: the recorder defers the sums over producers and buyers
        self.recorder = Recorder(
            self.n_steps, self.region_names, buyer_region=self.buyers.region,
            buyer_club_rows=self.buyers.club_rows, money_per_price_tonne=self.money_per_price_tonne,
            elasticity=self.elasticity, defer=not (self.policies or self.has_mines
                                                   or self.recyclers.any
                                                   or self.buyers.has_inventories))
        self.price = self.club_price = self.last_price = mk.demand.reference_price
        self.concentrate_price = float("nan")
        self.floor_level = float("nan")
        self.t = 0

    # ------------------------------------------------------------------------------------------
    # the schedule
    # ------------------------------------------------------------------------------------------
    def step(self) -> None:
        """One period: shocks, policies, offers, clearing, settlement, exits, investment."""
        self.t = self.steps - 1                  # Mesa counts steps from 1
        self.start_step()
        self.buyers.draw_demand(self.t)
        self.producers.draw_outages(self.t)
        self.recyclers.collect(self.t, self.recorder.columns)
        self.apply_policies()
        self.buyers.plan_inventories(self.disruption)
        self.offers = self.producers.make_offers(self)
        self.clear_markets()
        self.buyers.use_inventories()
        self.producers.settle(self)
        self.settle_policies()
        self.producers.review(self.config.exits)
        self.pipeline.invest(self)
        self.recorder.record(self)
        self.last_price = self.price

    def run(self) -> MineralMarket:
        """Run every remaining step of the experiment."""
        while self.steps < self.n_steps:
            self.step()
        return self

    # ------------------------------------------------------------------------------------------
    # steps of the schedule
    # ------------------------------------------------------------------------------------------
    def start_step(self) -> None:
        self.governments.start_step()
        # (producers' output and revenue of the step are set from zero in settle_producers)
        self.acct = dict.fromkeys(ACCOUNT_KEYS, 0.0)
        self.plan = MarketPlan() if self.policies else self._idle_plan
        self.disruption = False
        self.floor_level = float("nan")

    def apply_policies(self) -> None:
        for policy in self.policies:
            policy.apply(self)

    def clear_markets(self) -> None:
        """Clear the product markets (one world market, or linked club / world / restricting-region
        markets under trade measures) by merit order; derive the concentrate price."""
        if not self.policies or self.plan.idle:
            merit = self.producers.merit_order(self.elasticity)
            out = clear_single(self.offers, buyer_scale=self.buyers.scale, eps=self.elasticity,
                               price_cap=self.config.market.price_cap,
                               last_price=self.last_price, merit=merit,
                               all_live=self.producers.plain)
        else:
            out = clear_step(self.offers, self.plan, buyer_scale=self.buyers.scale,
                             buyer_region=self.buyers.region, region_club=self.region_club,
                             eps=self.elasticity, price_cap=self.config.market.price_cap,
                             last_price=self.last_price)
        self.outcome = out
        self.price, self.club_price = out.world_price, out.club_price
        self.unmet = out.unmet
        self.concentrate_price = self.producers.concentrate_price(self.price, out.sold,
                                                                  self.concentrate_price)
        self.buyers.take_delivery(out)

    def settle_policies(self) -> None:
        for policy in self.policies:
            policy.settle(self)

    @property
    def region_net_exports(self) -> np.ndarray:
        """Refinery output minus deliveries to buyers, t per step and region."""
        return self.recorder.region_net_exports

    # ------------------------------------------------------------------------------------------
    # helpers used by agents and policies
    # ------------------------------------------------------------------------------------------
    def register_stock_owner(self, policy) -> int:
        """An id (>= 0) under which an instrument offers its stock in the merit order."""
        self.stock_owners.append(policy)
        return len(self.stock_owners) - 1

    # ------------------------------------------------------------------------------------------
    # outputs
    # ------------------------------------------------------------------------------------------
    def series(self, accounts: bool = False):
        """polars.DataFrame, one row per step run so far (`accounts=True` adds the
        accounting columns used by the conservation checks)."""
        return self.recorder.frame(accounts=accounts)

    def metrics(self) -> dict[str, float]:
        """Every per-run metric (abm.names.METRICS)."""
        return run_metrics(self)

