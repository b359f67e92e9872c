"""MineralMarket: the Mesa model. `step()` reads as the schedule, top to bottom.

Units: one step is 1/steps_per_year of a year; quantities in the market are tonnes per step,
capacities tonnes per year; prices in the experiment's price unit; money in USD
(`money_per_price_tonne` converts price x tonnes into USD).
"""

from __future__ import annotations

import mesa
import numpy as np

from abm import market
from abm.agents.buyers import Buyers
from abm.agents.developers import Pipeline
from abm.agents.government import Governments
from abm.agents.producers import Producers, Structure
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

        self.recorder = Recorder(self.n_steps, self.region_names)
        # without instruments nothing changes the plan, the asks or the offers: one idle plan
        # and the cached offers serve every step
        self._idle_plan = MarketPlan()
        # Without instruments nothing reads the series while the model runs: the columns that
        # are sums over producers or buyers are then computed for many steps at once, when the
        # series are first read (flush_record), from the outputs kept per step.
        self._defer_record = not (self.policies or self.has_mines or self.recyclers.any
                                  or self.buyers.has_inventories)
        self._pending: list[tuple] = []
        if self._defer_record:
            self.recorder.before_read = self.flush_record
        self._region_net_exports = np.zeros((self.n_steps, len(self.region_names)))
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

    def record(self) -> None:
        """Write this step's series and accounts (in the recorder's column order)."""
        b, o, out, mf = self.book, self.offers, self.outcome, self.money_per_price_tonne
        st = self.producers.structure()
        ref_out = b.output if st.all_product else np.where(st.is_product, b.output, 0.0)
        importers = out.importer_bought * self.price * mf
        offtake = self.acct["buyer_payments_offtake"]   # contract-price transfers paid by buyers
        if self.producers.plain:                        # producers' offers only
            private_release = private_revenue = 0.0
        else:
            private = o.owner == -2
            private_release = float(out.sold[private].sum())
            private_revenue = float((out.sold[private] * out.offer_price[private]).sum()) * mf
        values = self.step_values(st, out, importers, offtake, private_release, private_revenue)
        if self._defer_record:
            self._pending.append((self.t, st, b.output.copy(), out.buyer_tonnes,
                                  self.buyers._spent, self.buyers.demand_scale, self.price, importers,
                                  offtake))
        else:
            spend = float(sum(self.buyers.spent.tolist()))
            production = ref_out.sum()
            recycled = float(b.output[self.recycler_rows].sum()) if self.recyclers.any else 0.0
            values.update({
                "concentrate_price": self.concentrate_price if self.has_mines else np.nan,
                "demand": market.demand_at(self.buyers.demand_scale, self.elasticity, self.price),
                "production_market": ref_out[st.rows_market].sum(),
                "production_nonmarket": ref_out[st.rows_nonmarket].sum(),
                "club_consumption": out.buyer_tonnes[self.buyers.club_rows].sum(),
                "club_production": ref_out[st.rows_club].sum(),
                "consumer_spend": spend + importers + offtake,
                "production": production,
                "buyer_payments": spend + importers + offtake,
                "concentrate_output": 0.0 if st.no_mine_rows else float(
                    np.where(st.is_mine, b.output, 0.0).sum()),
                "recycled": recycled,
                "concentrate_used": ((production - recycled) * self.intensity
                                     if self.has_mines else 0.0),
            })
            if self.buyers.has_inventories:
                change = self.buyers.stock_change
                values["club_consumption"] = self.buyers.use[self.buyers.club_rows].sum()
                values["buyer_stock"] = float(self.buyers.stock.sum())
                values["private_stocking"] += float(np.maximum(change, 0.0).sum())
                values["private_release"] += float(np.maximum(-change, 0.0).sum())
            self._region_net_exports[self.t] = np.bincount(
                b.region, weights=ref_out, minlength=len(self.region_names)) - np.bincount(
                self.buyers.region, weights=out.buyer_tonnes, minlength=len(self.region_names))
        self.recorder.record(self.t, values, st.region_capacity)
        self.last_price = self.price

    def step_values(self, st: Structure, out, importers: float, offtake: float,
                    private_release: float, private_revenue: float) -> dict[str, float]:
        """This step's row in the recorder's column order. The columns that are sums over
        producers or buyers are NaN here: `record` fills them, or, when recording is deferred,
        `flush_record` does for many steps at once."""
        nan, mf = np.nan, self.money_per_price_tonne
        return {
            "price": self.price,
            "club_price": self.club_price,
            "floor": self.floor_level,
            "concentrate_price": nan,
            "export_region_price": out.restricted_price,
            "club_imports": out.club_imports,
            "demand": nan,
            "consumption": self.buyers.consumption,
            "production_market": nan,
            "production_nonmarket": nan,
            "club_consumption": nan,
            "club_production": nan,
            "government_stock": sum(g.stock for g in self.governments),
            "fiscal_flow": sum(g.step_outlay for g in self.governments),
            "unmet_demand": self.unmet,
            "consumer_spend": nan,
            "capacity_market": st.capacity_market,
            "capacity_nonmarket": st.capacity_nonmarket,
            "demand_shock": self.buyers.shock,
            "recycled": 0.0,
            "buyer_stock": 0.0,
            # accounts for conservation checks (abm.recorder.ACCOUNTS)
            "production": nan,
            "gov_purchases": self.acct["gov_purchases"],
            "gov_sales": self.acct["gov_sales"],
            "private_stocking": out.importer_bought,
            "private_release": private_release,
            "buyer_payments": nan,
            "producer_revenue": self.acct["producer_revenue"] + offtake,
            "gov_purchase_spend": self.acct["gov_purchase_spend"],
            "gov_payments_to_producers": self.acct["gov_payments_to_producers"],
            "gov_receipts_from_producers": self.acct["gov_receipts_from_producers"],
            "gov_sales_revenue": self.acct["gov_sales_revenue"],
            "private_sales_revenue": private_revenue,
            "duties": out.duties * mf,
            "concentrate_output": 0.0,
            "concentrate_used": 0.0,
        }

    def flush_record(self) -> None:
        """Fill the deferred columns of the steps run since the last flush: for each stretch of
        steps with the same producers, the same sums `record` would compute step by step (a
        row sum of a stacked array is the sum of the row; running column sums are the
        sequential sums of np.bincount and of the built-in sum), so the series are identical."""
        pending = self._pending
        if not pending:
            return
        self._pending = []
        cols, eps = self.recorder.columns, self.elasticity
        i = 0
        while i < len(pending):
            st = pending[i][1]
            j = i
            while j < len(pending) and pending[j][1] is st:
                j += 1
            group, t0, t1 = pending[i:j], pending[i][0], pending[j - 1][0] + 1
            i = j
            output = np.array([g[2] for g in group])          # (steps, producers)
            tonnes = np.array([g[3] for g in group])          # (steps, buyers)
            price = np.array([g[6] for g in group], dtype=float)
            # what each buyer paid (buyer_spent: tonnes x the one world price x USD per unit)
            spent = tonnes * price[:, None] * self.money_per_price_tonne
            for k, g in enumerate(group):
                if g[4] is not None:      # read (or set) during the step: keep what it was
                    spent[k] = g[4]
            production = output.sum(axis=1)
            cols["production"][t0:t1] = production
            cols["production_market"][t0:t1] = output.take(st.rows_market, axis=1).sum(axis=1)
            cols["production_nonmarket"][t0:t1] = output.take(st.rows_nonmarket,
                                                              axis=1).sum(axis=1)
            cols["club_production"][t0:t1] = output.take(st.rows_club, axis=1).sum(axis=1)
            cols["club_consumption"][t0:t1] = tonnes.take(self.buyers.club_rows,
                                                          axis=1).sum(axis=1)
            # built-in sum over buyers: 0 + spent_0 + spent_1 + ... (Python 3.11)
            spend = np.zeros(len(group))
            for k in range(spent.shape[1]):
                spend = spend + spent[:, k]
            importers = np.array([g[7] for g in group])
            offtake = np.array([g[8] for g in group])
            cols["consumer_spend"][t0:t1] = cols["buyer_payments"][t0:t1] = \
                spend + importers + offtake
            scale = np.array([g[5] for g in group], dtype=float)
            plain = (scale > 0) & (price >= 1e-6) & (scale < 1e200)    # market.demand_at
            demand = np.empty(len(group))
            demand[plain] = scale[plain] * np.power(price[plain], eps) + 0.0
            for k in np.flatnonzero(~plain).tolist():
                demand[k] = market.demand_at(scale[k], eps, price[k])
            cols["demand"][t0:t1] = demand
            # net exports: np.bincount adds producer by producer, buyer by buyer
            regions = len(self.region_names)
            if output.shape[1] + tonnes.shape[1] <= 256:
                made, bought = np.zeros((len(group), regions)), np.zeros((len(group), regions))
                for k, r in enumerate(st.region.tolist()):
                    made[:, r] += output[:, k]
                for k, r in enumerate(self.buyers.region.tolist()):
                    bought[:, r] += tonnes[:, k]
                self._region_net_exports[t0:t1] = made - bought
            else:
                for k in range(len(group)):
                    self._region_net_exports[t0 + k] = np.bincount(
                        st.region, weights=output[k], minlength=regions) - np.bincount(
                        self.buyers.region, weights=tonnes[k], minlength=regions)

    @property
    def region_net_exports(self) -> np.ndarray:
        """Refinery output minus deliveries to buyers, t per step and region."""
        if self._pending:
            self.flush_record()
        return self._region_net_exports

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

