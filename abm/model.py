"""MineralMarket: the Mesa model. `step()` reads as the schedule, top to bottom.

Units: one step is 1/steps_per_year of a year; quantities in the market are tonnes per step,
capacities tonnes per year; prices in the experiment's price unit; money in USD
(`money_per_price_tonne` converts price x tonnes into USD).
"""

from __future__ import annotations

from dataclasses import dataclass

import mesa
import numpy as np

from abm import market
from abm.agents.buyers import Buyer
from abm.agents.developers import Developer, PriceExpectation
from abm.agents.government import Government
from abm.agents.producers import AGENT_CLASS, MINE, REFINERY, STAGES, ProducerBook
from abm.config import ExperimentConfig
from abm.investment import Protection
from abm.metrics import run_metrics
from abm.recorder import Recorder
from abm.shocks import DemandShock, Outages

# Identity kinds for per-producer random streams (stable across scenarios).
EXISTING, PROJECT, EXPANSION = 0, 1, 2


@dataclass
class Offers:
    """This step's product offers (a chain segment, a refinery, or a government release)."""

    ask: np.ndarray        # price unit per t product
    qty: np.ndarray        # t product this step
    refinery: np.ndarray   # producer row of the refinery (-1 for a government release)
    mine: np.ndarray       # producer row of the feeding mine (-1 without mines)
    region: np.ndarray     # region index of the seller
    seller: list           # None for producers, else the Government releasing stock


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

        # producers
        self.book = ProducerBook()
        self.outages = None
        if config.outages is not None and config.outages.probability > 0:
            o = config.outages
            self.outages = Outages(seed, o.probability, o.duration, o.severity)
        self.producer_exits = 0
        for i, p in enumerate(config.producers):
            self.add_producer(p.name, STAGES[p.stage], self.region_index[p.region], p.capacity,
                              p.unit_cost, p.fixed_cost, p.cash, is_new=False,
                              identity=(EXISTING, i))
        self.has_mines = bool(np.any(self.book.stage == MINE)) or any(
            pr.stage == "mine" for pr in config.investment.projects)

        # buyers
        Buyer.create_agents(self, len(config.buyers), [b.name for b in config.buyers],
                            [self.region_index[b.region] for b in config.buyers],
                            [b.share for b in config.buyers])
        self.buyers = list(self.agents_by_type[Buyer])
        self.buyer_share = np.array([b.share for b in self.buyers])
        self.buyer_region = np.array([b.region for b in self.buyers])
        self.buyer_club = self.region_club[self.buyer_region]

        # governments: the club's, and one for each other region an instrument or shock names
        self.governments: list[Government] = []
        club_regions = list(np.flatnonzero(self.region_club))
        self.club_government = Government(self, "club", club_regions) if club_regions else None
        if self.club_government is not None:
            self.governments.append(self.club_government)

        # exogenous processes
        d = mk.demand
        self.demand_shock = DemandShock(seed, d.shock_sd, d.shock_persistence)
        self.base_demand_scale = market.demand_scale(d.reference_quantity / self.steps_per_year,
                                                     d.reference_price, d.elasticity)

        # developers of new capacity
        inv = config.investment
        self.investment_on = inv.enabled
        Developer.create_agents(self, len(inv.projects), inv.projects, list(range(len(
            inv.projects))))
        self.developers = sorted(self.agents_by_type.get(Developer, []), key=lambda a: a.index)
        self.expectation = PriceExpectation(d.reference_price, inv.volatility_prior,
                                            inv.expectation_halflife, self.steps_per_year)
        self.investment_capex = 0.0
        self.projects_started = 0
        self.expansions: list[tuple[int, int, float, float]] = []   # (online, region, cap, cost)

        # policies (a scenario is a list of instruments)
        from abm.policies import build_policies

        self.policies = build_policies(config)
        for policy in self.policies:
            policy.initialize(self)

        self.recorder = Recorder(self.n_steps, self.region_names)
        self.price = d.reference_price
        self.club_price = d.reference_price
        self.last_price = d.reference_price
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
        self.draw_demand()
        self.draw_outages()
        self.apply_policies()
        self.make_offers()
        self.clear_markets()
        self.settle_producers()
        self.settle_policies()
        self.review_producers()
        self.invest()
        self.record()

    def run(self) -> MineralMarket:
        """Run every remaining step of the experiment."""
        while self.steps < self.n_steps:
            self.step()
        return self

    # ------------------------------------------------------------------------------------------
    # steps of the schedule
    # ------------------------------------------------------------------------------------------
    def start_step(self) -> None:
        for government in self.governments:
            government.start_step()
        self.book.output[:] = 0.0
        self.book.revenue[:] = 0.0
        self.acct = dict.fromkeys(("gov_purchases", "gov_sales", "gov_payments_to_producers",
                                   "gov_receipts_from_producers", "gov_sales_revenue", "duties",
                                   "producer_revenue", "gov_purchase_spend"),
                                  0.0)
        self.region_supply_cut = np.zeros(len(self.region_names))
        for shock in self.config.shocks:
            if shock.kind == "supply_outage" and shock.start <= self.t < shock.start + \
                    shock.duration:
                self.region_supply_cut[self.region_index[shock.region]] = shock.cut

    def draw_demand(self) -> None:
        """Trend growth and the AR(1) shock set this step's demand scale per buyer."""
        d = self.config.market.demand
        self.shock = self.demand_shock.advance()
        growth = (1.0 + d.growth) ** (self.t / self.steps_per_year)
        self.demand_scale = self.base_demand_scale * growth * self.shock
        self.buyer_scale = self.buyer_share * self.demand_scale

    def draw_outages(self) -> None:
        if self.outages is not None:
            self.book.outage = self.outages.advance(self.book.outage, self.book.active)

    def apply_policies(self) -> None:
        for policy in self.policies:
            policy.apply(self)

    def make_offers(self) -> None:
        """Producers offer this step's available capacity at their asks (merit order)."""
        b = self.book
        avail = (b.capacity / self.steps_per_year * (1.0 - b.outage)
                 * (1.0 - self.region_supply_cut[b.region]) * b.active)
        ask = self.producer_asks()
        refs = np.flatnonzero((b.stage == REFINERY) & (avail > 0))
        if self.has_mines:
            mines = np.flatnonzero((b.stage == MINE) & (avail > 0))
            curve = market.chain_curve(ask[refs], avail[refs], ask[mines], avail[mines],
                                       self.intensity)
            self.chain = curve
            self.chain_rows = (refs, mines)
            offers = Offers(curve.asks, curve.quantity, refs[curve.refinery], mines[curve.mine],
                            b.region[refs[curve.refinery]], [None] * len(curve.asks))
        else:
            offers = Offers(ask[refs], avail[refs], refs, np.full(len(refs), -1), b.region[refs],
                            [None] * len(refs))
        for policy in self.policies:
            policy.adjust_offers(self, offers)
        self.offers = offers
        self.producer_ask = ask

    def producer_asks(self) -> np.ndarray:
        """Cash cost, or the state's ask for non-market producers (subsidised, at capacity, or
        dumping ahead of market-economy entry)."""
        b = self.book
        ask = b.unit_cost.copy()
        nm = ~b.market_economy
        if nm.any():
            rules = self.config.nonmarket
            ask[nm] *= 1.0 - rules.subsidy
            if rules.strategy == "market_share" or (rules.strategy == "predatory"
                                                    and self.entry_imminent()):
                ask[nm & (b.stage == REFINERY)] = 0.0
        return ask

    def entry_imminent(self) -> bool:
        """A market-economy project comes online within the predatory window."""
        window = self.config.nonmarket.predatory_window
        return any(d.status == "building" and d.market_economy
                   and 0 <= d.online_step - self.t <= window for d in self.developers)

    def clear_markets(self) -> None:
        """Clear the product market by merit order; derive the concentrate price."""
        o = self.offers
        cap = self.config.market.price_cap
        result = market.clear(o.ask, o.qty, self.demand_scale, self.elasticity, price_cap=cap,
                              shortfall_price=self.last_price)
        self.clearing = result
        self.price = self.club_price = result.price
        self.sold = result.dispatched
        self.consumption = result.quantity
        self.unmet = result.unmet
        if self.has_mines and len(o.ask):
            refs, mines = self.chain_rows
            self.concentrate_price = market.concentrate_price(
                result.price, self.chain, result.dispatched[: len(self.chain.asks)],
                self.producer_ask[refs], self.producer_ask[mines], self.mine_available(mines),
                self.intensity)
        # buyers: every buyer pays the market price; quantities split by demand scale
        scale_total = self.buyer_scale.sum()
        received = self.consumption * self.buyer_scale / scale_total
        for buyer, tonnes in zip(self.buyers, received, strict=True):
            buyer.take_delivery(tonnes, tonnes * self.price * self.money_per_price_tonne)
        self.buyer_received = received

    def mine_available(self, mines: np.ndarray) -> np.ndarray:
        b = self.book
        return (b.capacity[mines] / self.steps_per_year * (1.0 - b.outage[mines])
                * (1.0 - self.region_supply_cut[b.region[mines]]))

    def settle_producers(self) -> None:
        """Producers are paid the market price, pay cash costs, feed and fixed costs."""
        b, o, mf = self.book, self.offers, self.money_per_price_tonne
        sold = self.sold
        from_producer = o.refinery >= 0
        ref_out = np.bincount(o.refinery[from_producer], weights=sold[from_producer],
                              minlength=len(b))
        b.output += ref_out
        b.revenue += ref_out * self.price * mf
        self.acct["producer_revenue"] = float(ref_out.sum() * self.price * mf)
        if self.has_mines:
            fed = from_producer & (o.mine >= 0)
            mine_out = np.bincount(o.mine[fed], weights=sold[fed] * self.intensity,
                                   minlength=len(b))
            feed_bill = ref_out * self.intensity * self.concentrate_price * mf
            b.output += mine_out
            b.revenue += mine_out * self.concentrate_price * mf - feed_bill
        cost = b.output * self.producer_cash_cost() * mf + b.fixed_cost / self.steps_per_year * \
            b.active
        profit = b.revenue - cost
        b.cash += profit
        losing = b.active & (profit < 0)
        b.loss_streak = np.where(losing, b.loss_streak + 1, 0)

    def producer_cash_cost(self) -> np.ndarray:
        """Cash cost a producer pays per tonne (non-market subsidy borne by the state)."""
        b = self.book
        cost = b.unit_cost.copy()
        cost[~b.market_economy] *= 1.0 - self.config.nonmarket.subsidy
        return cost

    def settle_policies(self) -> None:
        for policy in self.policies:
            policy.settle(self)

    def review_producers(self) -> None:
        """Producers with sustained losses exit (only when [exits] is configured)."""
        rules = self.config.exits
        if rules is None or not rules.enabled:
            return
        leaving = np.flatnonzero(self.book.active & (self.book.loss_streak >= rules.loss_steps))
        for row in leaving:
            self.producer_agent[row].exit_market()

    def invest(self) -> None:
        """Update developers' expectations; commission arrivals; review the pipeline."""
        self.expectation.update(self.price)
        for developer in self.developers:
            if developer.status == "building" and developer.online_step <= self.t + 1:
                developer.commission()
        for _online, region, cap, cost in [e for e in self.expansions if e[0] == self.t + 1]:
            self.add_producer(f"{self.region_names[region]} state expansion {self.t + 1}",
                              REFINERY, region, cap, cost, 0.0, 0.0, is_new=True,
                              identity=(EXPANSION, len(self.book)))
        if not self.investment_on or self.t % self.config.investment.review_every:
            return
        self.review_pipeline()
        if self.config.nonmarket.strategy == "market_share":
            self.expand_state_capacity()

    def review_pipeline(self) -> None:
        """Developers start projects whose effective price clears their trigger, best first,
        each accounting for the capacity already under construction."""
        inv = self.config.investment
        candidates = [d for d in self.developers if d.status == "candidate"
                      and d.project.available_from <= self.t]
        started = 0
        for developer in sorted(candidates, key=lambda d: d.margin(self)[0], reverse=True):
            margin, _, _ = developer.margin(self)
            if margin < 0 or started >= inv.max_starts_per_review:
                break
            developer.start()
            started += 1

    def expand_state_capacity(self) -> None:
        """market_share strategy: add state capacity to hold the target share of refining."""
        rules = self.config.nonmarket
        b = self.book
        refining = (b.stage == REFINERY) & b.active
        building = sum(d.project.capacity for d in self.developers if d.status == "building"
                       and d.project.stage == "refinery")
        pending = sum(e[2] for e in self.expansions if e[0] > self.t)
        nm_cap = b.capacity[refining & ~b.market_economy].sum() + pending
        total = b.capacity[refining].sum() + building + pending
        gap = (rules.target_share * total - nm_cap) / (1.0 - rules.target_share + 1e-12)
        if gap <= 1e-9:
            return
        nm_rows = np.flatnonzero(refining & ~b.market_economy)
        if len(nm_rows) == 0:
            return
        region = int(b.region[nm_rows[np.argmax(b.capacity[nm_rows])]])
        cost = rules.expansion_unit_cost
        if cost is None:
            cost = float(np.average(b.unit_cost[nm_rows], weights=b.capacity[nm_rows]))
        self.expansions.append((self.t + 1 + rules.expansion_lead_time, region, gap, cost))

    def record(self) -> None:
        b = self.book
        refining = (b.stage == REFINERY) & b.active
        ref_out = np.where(b.stage == REFINERY, b.output, 0.0)
        club_buyers = self.buyer_club
        region_cap = np.bincount(b.region[refining], weights=b.capacity[refining],
                                 minlength=len(self.region_names))
        mf = self.money_per_price_tonne
        spend = sum(buyer.spent for buyer in self.buyers)
        gov_stock = sum(g.stock for g in self.governments)
        fiscal = sum(g.step_outlay for g in self.governments)
        values = {
            "price": self.price,
            "club_price": self.club_price,
            "floor": self.floor_level,
            "concentrate_price": self.concentrate_price if self.has_mines else np.nan,
            "demand": float(market.demand(self.demand_scale, self.elasticity, self.price)),
            "consumption": self.consumption,
            "production_market": ref_out[b.market_economy].sum(),
            "production_nonmarket": ref_out[~b.market_economy].sum(),
            "club_consumption": self.buyer_received[club_buyers].sum(),
            "club_production": ref_out[b.club].sum(),
            "government_stock": gov_stock,
            "fiscal_flow": fiscal,
            "unmet_demand": self.unmet,
            "consumer_spend": spend,
            "capacity_market": b.capacity[refining & b.market_economy].sum(),
            "capacity_nonmarket": b.capacity[refining & ~b.market_economy].sum(),
            "demand_shock": self.shock,
            # accounts for conservation checks
            "production": ref_out.sum(),
            "gov_purchases": self.acct["gov_purchases"],
            "gov_sales": self.acct["gov_sales"],
            "gov_purchase_spend": self.acct["gov_purchase_spend"],
            "buyer_payments": self.consumption * self.price * mf,
            "producer_revenue": self.acct["producer_revenue"],
            "gov_payments_to_producers": self.acct["gov_payments_to_producers"],
            "gov_receipts_from_producers": self.acct["gov_receipts_from_producers"],
            "gov_sales_revenue": self.acct["gov_sales_revenue"],
            "duties": self.acct["duties"],
            "concentrate_output": float(np.where(b.stage == MINE, b.output, 0.0).sum()),
            "concentrate_used": ref_out.sum() * self.intensity if self.has_mines else 0.0,
        }
        self.recorder.record(self.t, values, region_cap)
        self.last_price = self.price

    # ------------------------------------------------------------------------------------------
    # helpers used by agents and policies
    # ------------------------------------------------------------------------------------------
    def add_producer(self, name: str, stage: int, region: int, capacity: float, unit_cost: float,
                     fixed_cost: float, cash: float, *, is_new: bool,
                     identity: tuple[int, int]) -> int:
        """Create a producer row and its Miner or Refiner agent."""
        row = self.book.add(name, stage, region, capacity, unit_cost, fixed_cost, cash,
                            bool(self.region_market[region]), bool(self.region_club[region]),
                            is_new)
        agent = AGENT_CLASS[stage](self, row)
        if not hasattr(self, "producer_agent"):
            self.producer_agent = {}
        self.producer_agent[row] = agent
        if self.outages is not None:
            self.outages.register(identity)
        return row

    def protection(self, region: int, stage: int) -> Protection:
        """What announced instruments would do for a project in `region` at `stage`."""
        combined = Protection()
        for policy in self.policies:
            offer = policy.protection(self, region, stage)
            if offer is not None:
                combined = offer if combined == Protection() else _stack(combined, offer)
        return combined

    def annual_consumption(self) -> float:
        return float(self.consumption * self.steps_per_year)

    def capacity_added(self, market_economy: bool) -> float:
        """Product (refinery) capacity brought online by the pipeline or state expansion, t/yr."""
        b = self.book
        sel = b.is_new & (b.stage == REFINERY) & (b.market_economy == market_economy)
        return float(b.capacity[sel].sum())

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


def _stack(a: Protection, b: Protection) -> Protection:
    """Two instruments on one project: the higher floor, the larger offtake."""
    if b.floor > a.floor:
        a, b = b, a
    return Protection(a.floor, a.upside_share, max(a.offtake_share, b.offtake_share),
                      a.offtake_price if a.offtake_share >= b.offtake_share else b.offtake_price)
