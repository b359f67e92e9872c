"""MineralMarket: the Mesa model. It builds the populations from the config, and `step()` reads
as the schedule, top to bottom; what each sub-step does lives with the agents that do it.

Layout (docs/architecture.md): the producers (`abm.agents.producers.Producers`, rows in
`abm.agents.book.ProducerBook`; recyclers' collection in `abm.agents.recyclers`), the buyers
(`abm.agents.buyers.Buyers`), the governments (`abm.agents.government.Governments`), the developers
and the pipeline (`abm.agents.developers.Pipeline`), the instruments (`abm.policies`), the market
clearing (`abm.clearing`) and the recording (`abm.recorder.Recorder`). Agents and policies see
the model through `abm.protocol.ModelView` and never import this module.

Randomness: only through the named streams of `abm.shocks` (demand shocks, outages), each derived
from the run seed and the process's name, never through Mesa's `model.rng` or `model.random`
(seeded here but not used). A shared generator would hand a process different numbers whenever
another process drew more or fewer (a policy that triggers a draw would shift every later
shock), so scenarios would no longer see the same shocks; named streams per process give common
random numbers across scenarios.

Mesa conventions: `model.running` turns False after the last step, so `model.run_model()` and
`while model.running: model.step()` run the experiment exactly as `run()` does.

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
from abm.clearing import MarketPlan, Outcome, clear_single, clear_step
from abm.club_product import StagesOutcome, clear_club_stages
from abm.component import ComponentMakers, clear_stages
from abm.config import ExperimentConfig
from abm.kinds import ACCOUNT_KEYS
from abm.metrics import run_metrics
from abm.policies import build_policies
from abm.policies.trade import draws_kept
from abm.realised import RealisedPrices
from abm.recorder import Recorder
from abm.regional import price_columns, route_costs


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
        self.running = self.n_steps > 0

        # regions
        self.region_names = [r.name for r in config.regions]
        self.region_index = {name: i for i, name in enumerate(self.region_names)}
        self.region_market = np.array([r.market_economy for r in config.regions])
        self.region_club = np.array([r.club for r in config.regions])
        # separate-market regions: region -> (shipping cost into it, out of it), abm.regional
        self.separate_markets = route_costs(config)

        # the populations: producers (mines, refineries, recyclers), buyers, governments and
        # the developers of the pipeline (Mesa agents register in this order)
        self.producers = Producers(self, config, self.region_index, self.region_market,
                                   self.region_club, seed, self.money_per_price_tonne)
        self.buyers = Buyers(self, config, self.region_index, self.region_club, seed,
                             self.money_per_price_tonne)
        self.governments = Governments(self, self.region_club)
        self.pipeline = Pipeline(self, config, self.region_index, self.region_market,
                                 self.producers)
        # the same objects, under the names policies, tests and reports read
        self.book = self.producers.book
        self.recyclers = self.producers.recyclers
        self.recycler_rows = self.recyclers.rows
        self.has_mines = self.producers.has_mines
        self.developers = self.pipeline.developers
        self.expectation = self.pipeline.expectation
        # the component stage (docs/ODD.md 7.18): with component makers buyers demand
        # components, and the product market clears against the makers' derived demand
        self.components = ComponentMakers(config, self.region_index, self.region_club, seed)
        self.component_plan = MarketPlan()
        self.component_outcome: Outcome | None = None

        # policies (a scenario is a list of instruments)
        self.stock_owners: list = []
        self.stockholders = None        # private stockholders ([storage]; set by their policy)
        # (run by phase, Policy.phase: the club's border measures and floors, then the export
        # controls, which decide on a counterfactual with those measures, then the rest; in
        # the order listed within a phase)
        self.policies = sorted(build_policies(config), key=lambda policy: policy.phase)
        self.export_controls = any(p.name == "export_control" for p in self.policies)
        for policy in self.policies:
            policy.initialize(self)

        # without instruments nothing changes the plan: one idle plan serves every step
        self._idle_plan = MarketPlan()
        # without instruments, mines, recyclers or inventories nothing reads the series while
        # the model runs: the recorder defers the sums over producers and buyers
        defer = not (self.policies or self.has_mines or self.recyclers.any
                     or self.buyers.has_inventories or self.separate_markets)
        self.recorder = Recorder(self.n_steps, self.region_names,
                                 buyer_region=self.buyers.region,
                                 buyer_club_rows=self.buyers.club_rows,
                                 money_per_price_tonne=self.money_per_price_tonne,
                                 elasticity=self.elasticity, defer=defer,
                                 region_prices=price_columns(self.region_names,
                                                             self.separate_markets))
        if self.separate_markets:
            self.recyclers.see_regional_prices(sorted(self.separate_markets))
        self.realised = RealisedPrices(self.n_steps)     # producers' realised prices (metrics)
        self.price = self.club_price = self.last_price = mk.demand.reference_price
        self.club_market_price = self.price   # what club producers outside separate markets get
        self.concentrate_price = float("nan")
        # component prices (NaN without component makers): world and club
        self.component_price = self.club_component_price = float("nan")
        self.last_component_price = mk.demand.reference_price
        # the product price each component maker pays (its market's: the club's for club makers)
        self.maker_product_price = np.zeros(len(self.components.capacity))
        self.floor_level = float("nan")
        self.t = 0

    # ------------------------------------------------------------------------------------------
    # the schedule (docs/ODD.md section 3)
    # ------------------------------------------------------------------------------------------
    def step(self) -> None:
        """One period: shocks, policies, offers, clearing, settlement, exits, investment."""
        t = self.t = self.steps - 1                 # Mesa counts steps from 1
        self.start_step()                           # accounts, plan, governments' step outlay
        self.buyers.draw_demand(t)                  # trend growth x AR(1) shock
        self.producers.draw_outages(t)              # random outages, regional supply cuts
        self.components.draw_outages()
        self.recyclers.collect(t, self.recorder.columns,   # answer to the lagged price
                               self.recorder.region_price, self.recorder.club_market)
        if self.recyclers.trades:                   # the scrap market: who processes it
            self.recyclers.trade(t, self.price, self.club_market_price,
                                 self.producers.recycler_room(),
                                 self.outcome.region_prices if t > 0 else None)
        for policy in self.policies:                # levels, purchases, the plan's requests
            policy.apply(self)
        self.buyers.plan_inventories(self.shortfall, self.short_of,
                                     self.free_trade_price if self.free_trade_buyer_price is None
                                     else self.free_trade_buyer_price,
                                     not self.components.any, self.shortfall_by,
                                     self.take_limit, self.shortfall_local,
                                     self.take_groups())
        self.offers = self.producers.make_offers(self)     # instruments adjust asks, offers
        self.buyers.offer_draws(self.offers)               # short buyers' draws from stock
        self.clear_markets()                        # prices; buyers take delivery
        self.buyers.use_inventories()
        self.producers.settle(self)                 # output, revenue, costs
        if self.components.any:                     # component makers: sales, product bought
            self.components.settle(self.component_outcome.sold,
                                   self.component_outcome.offer_price,
                                   self.maker_product_price,
                                   self.money_per_price_tonne)
        if self.recyclers.trades:                   # recyclers pay each other for scrap
            self.book.revenue[self.recycler_rows] += (self.recyclers.scrap_money()
                                                      * self.money_per_price_tonne)
        for policy in self.policies:                # payments, stocks, ledgers
            policy.settle(self)
        self.realised.record(self)                  # producers' revenue with policy payments
        self.producers.review(self)                 # profit to cash; exits
        self.pipeline.invest(self)                  # expectations, arrivals, review, expansion
        self.recorder.record(self)
        if self.outcome.consumption > 0:
            # the last price at which anything traded: a step with no supply at all records only
            # a marker price, and buyers go without what they demanded at this one
            self.last_price = self.price
            if self.components.any:
                self.last_component_price = self.component_price
        if self.steps >= self.n_steps:
            self.running = False

    def run(self) -> MineralMarket:
        """Run every remaining step of the experiment."""
        while self.running:
            self.step()
        return self

    def start_step(self) -> None:
        self.governments.start_step()
        # (producers' output and revenue of the step are set from zero in Producers.settle)
        self.acct = dict.fromkeys(ACCOUNT_KEYS, 0.0)
        self.plan = MarketPlan() if self.policies else self._idle_plan
        if self.components.any and self.policies:
            self.component_plan = MarketPlan()
        self.disruption = False
        # what export controls take off the market this step (product t) and whose buyers are
        # short of it (those outside the controlling regions; abm.policies.trade)
        self.shortfall = 0.0
        self.shortfall_by = {}      # the same per control (ExportControl -> t)
        self.short_of = None
        self.take_limit = None      # per region, t its short buyers may take (None: no limit)
        # region -> t of the shortfall only its own buyers can replace (a segmented market's
        # own refineries' loss to a concentrate control: ExportControl.report_shortfall)
        self.shortfall_local = {}
        self.spare_supply = 0.0     # t unsold outside the caps at the free-trade price
        self.repaired_supply = 0.0  # of it, t made on ore a product cap idles (re-paired)
        # the share of their normal-times buying the parties put off for it (found once a
        # step: abm.policies.stockpile.deferral_share)
        self.deferral_share = None
        # each binding export control's part of it this step (ExportControl.report_shortfall:
        # the parts combine, whatever the controls' order, into what they keep from the short)
        self.shortfall_parts = {}
        self.free_trade_price = float("nan")    # the world price of that step's free trade
        # per buyer, the price it pays there (None: the world price; set under border measures)
        self.free_trade_buyer_price = None
        # t the club imported there from outside (None: no control's counterfactual this step;
        # a MIP's volume cap counts them against its quota absent the controls)
        self.free_trade_club_imports = None
        # what a stockpile's bid and the state reserves' bids (region -> (t, price)) bought in
        # a product control's counterfactual (None: no such counterfactual this step)
        self.free_trade_bid_filled = None
        self.free_trade_reserve_bought = None
        # per region, the price of the market its producers sell in in a concentrate control's
        # free trade (abm.agents.withholding.free_trade; None: none this step)
        self.free_trade_market_prices = None
        # the step's free trade with no one short, on which every control's cap is found to
        # bind or not (ExportControl.unshort_exports; one clearing a step for all of them)
        self.free_trade_cache = {}
        # buyers do not rebuild what they drew for an export control while it is in force
        self.buyers.keep_draws(draws_kept(self) if self.export_controls else ())
        self.floor_level = float("nan")

    def take_groups(self) -> np.ndarray | None:
        """Per region, the group whose short buyers share one room (`take_limit`): a club
        behind its border measures is one market, its room its net imports (review rv8 F2);
        None: each region its own."""
        if self.take_limit is None or not self.plan.club_separate:
            return None
        groups = np.arange(len(self.region_names))
        club = np.flatnonzero(self.region_club)
        if len(club):
            groups[club] = club[0]
        return groups

    def clear_markets(self) -> None:
        """Clear the product markets (one world market, or linked club / world / restricting-region
        markets under trade measures) by merit order; derive the concentrate price. With
        component makers the buyers' market is the component market (`clear_three_stages`)."""
        if self.components.any:
            self.clear_three_stages()
            return
        if self.separate_markets:
            self.plan.separate = self.separate_markets
        out = self.clear_offers()
        # a concentrate export control whose cap did not bind in the free-trade clearing but
        # that this clearing breaches (the other instruments drew more of the region's ore
        # abroad: a floor, a bid, a tariff) issues its licences after all, and the step's offers
        # are made and cleared again with it (abm.policies.trade.ExportControl.breached)
        while any([p.breached(self, self.offers, out.sold) for p in self.policies
                   if p.name == "export_control"]):
            self.offers = self.producers.make_offers(self)
            self.buyers.offer_draws(self.offers)
            out = self.clear_offers()
        self.outcome = out
        self.price, self.club_price, self.unmet = out.world_price, out.club_price, out.unmet
        self.club_market_price = out.club_market_price
        self.concentrate_price = self.producers.concentrate_price(self.price, out.sold,
                                                                  self.concentrate_price,
                                                                  self.club_market_price,
                                                                  self.offers,
                                                                  out.marginal_price)
        self.buyers.take_delivery(out)

    def clear_offers(self) -> Outcome:
        """This step's offers cleared against the buyers under the plan (one world market when
        the plan is idle)."""
        if (not self.policies or self.plan.idle) and not self.separate_markets:
            return clear_single(self.offers, buyer_scale=self.buyers.scale, eps=self.elasticity,
                                price_cap=self.config.market.price_cap,
                                last_price=self.last_price,
                                merit=self.producers.merit_order(self.elasticity),
                                all_live=self.producers.plain, region_club=self.region_club,
                                buyer_club_rows=self.buyers.club_rows)
        return clear_step(self.offers, self.plan, buyer_scale=self.buyers.scale,
                          buyer_region=self.buyers.region, region_club=self.region_club,
                          eps=self.elasticity, price_cap=self.config.market.price_cap,
                          last_price=self.last_price)

    def clear_three_stages(self) -> None:
        """The component market (buyers against component makers, with the component stage's
        measures) and the product market (product offers against the makers' derived demand),
        solved together (abm.component.clear_stages); then the concentrate price."""
        if self.plan.club_separate:     # a product MIP or tariff: the club's product market
            st = clear_club_stages(self)
        else:
            price, dispatched, comp = clear_stages(self)
            # the club's net product imports: what club makers bought less what club offers sold
            makers, o = self.components, self.offers
            club_imports = (float((makers.intensity * comp.sold)[makers.club].sum())
                            - float(dispatched[self.region_club[o.region]].sum()))
            st = StagesOutcome(price, price, dispatched, np.full(len(o), price), comp, 0.0, 0.0,
                               club_imports)
        comp, n_offers = st.component, len(self.offers)
        # (the product market's duties and rent are the product measure's; the component
        # market's stay on component_outcome, and the recorder adds the two)
        self.outcome = Outcome(st.world_price, st.club_price, float("nan"), st.dispatched,
                               np.zeros(n_offers), st.offer_price, comp.buyer_tonnes,
                               comp.buyer_price, 0.0, st.club_price, 0.0, st.duties,
                               st.club_imports, comp.unmet, comp.consumption,
                               exporter_rent=st.exporter_rent)
        self.component_outcome = comp
        self.price, self.club_price = st.world_price, st.club_price
        self.club_market_price = st.club_price
        self.maker_product_price = st.maker_price(self.components.club)
        self.unmet = comp.unmet
        self.component_price, self.club_component_price = comp.world_price, comp.club_price
        self.concentrate_price = self.producers.concentrate_price(
            st.world_price, st.dispatched, self.concentrate_price, st.club_price,
            offer_price=st.offer_price if st.market_price is None else st.market_price)
        self.buyers.take_delivery(comp)

    # ------------------------------------------------------------------------------------------
    # what policies ask of the model
    # ------------------------------------------------------------------------------------------
    def register_stock_owner(self, policy) -> int:
        """An id (>= 0) under which an instrument offers its stock in the merit order."""
        self.stock_owners.append(policy)
        return len(self.stock_owners) - 1

    @property
    def region_net_exports(self) -> np.ndarray:
        """Refinery output minus what buyers bought from the market, less what stockpiles and
        state reserves took into stock (plus what their releases sold), t per step and region."""
        return self.recorder.region_net_exports

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
