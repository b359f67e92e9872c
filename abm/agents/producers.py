"""Mines, refineries and recyclers: the producers' population and its agents.

Producers' numeric state is the `ProducerBook` (abm/agents/book.py), one row each, so offers and
settlements are array operations. `Producers`, the population, owns the book and acts on all rows
at once: `add` (a row and its agent), `draw_outages` (random outages and regional supply cuts),
`available` and `make_offers` (this step's offers, merit order), `concentrate_price`, `settle`
(revenue and costs of what was sold), `review` (profit to cash; sustained losses close market-
economy producers) and `capacity_added`. A `Miner`, `Refiner` or `Recycler` (a Mesa agent) is a
view onto its row, and its own method `exit_market` acts on that row only. What recyclers collect
is `RecyclerPool`'s (abm/agents/recyclers.py). `Structure` caches what depends only on which
producers exist.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import TYPE_CHECKING

import mesa
import numpy as np
from scipy.special import ndtr

from abm import market
from abm.agents import sourcing, withholding
from abm.agents.book import ProducerBook
from abm.agents.recyclers import RecyclerPool
from abm.clearing import ChainPool, Offers
from abm.kinds import EXISTING, MINE, RECYCLER, RECYCLING, REFINERY, STAGES, entry_imminent
from abm.shocks import Outages, SupplyShock

if TYPE_CHECKING:
    from abm.protocol import ModelView

__all__ = ["ProducerBook", "Producers", "Structure", "Producer", "Miner", "Refiner", "Recycler",
           "AGENT_CLASS"]


class Producer(mesa.Agent):
    """A producer: a view onto row `row` of its population's ProducerBook."""

    stage_code = -1

    def __init__(self, model: mesa.Model, producers: Producers, row: int):
        super().__init__(model)
        self.producers = producers
        self.row = row

    @property
    def name(self) -> str:
        return self.producers.book.name[self.row]

    @property
    def capacity(self) -> float:
        return float(self.producers.book.capacity[self.row])

    @property
    def unit_cost(self) -> float:
        return float(self.producers.book.unit_cost[self.row])

    @property
    def cash(self) -> float:
        return float(self.producers.book.cash[self.row])

    @property
    def active(self) -> bool:
        return bool(self.producers.book.active[self.row])

    def exit_market(self) -> None:
        """Close for good after sustained losses: capacity leaves the merit order."""
        self.producers.book.deactivate(self.row)
        self.producers.exits += 1
        self.remove()


class Miner(Producer):
    """A mine: offers concentrate at its cash cost."""

    stage_code = MINE


class Refiner(Producer):
    """A refinery: turns concentrate into product (or, without mines, buys feed in its cost)."""

    stage_code = REFINERY


class Recycler(Producer):
    """A recycler: offers product made from the scrap it collected (no concentrate needed).

    Collection answers the price with a lag (RecyclerPool.collect, for all recyclers at once);
    what it collected, up to its capacity, is offered at its unit cost."""

    stage_code = RECYCLER


AGENT_CLASS = {MINE: Miner, REFINERY: Refiner, RECYCLER: Recycler}


class Structure:
    """What depends only on which producers exist: capacities per step, asks, cash costs, masks,
    capacity sums and the merit order of the offers. Rebuilt when `ProducerBook.version`
    changes (a producer enters or exits), so a step does not recompute them. Read-only."""

    def __init__(self, b: ProducerBook, steps_per_year: int, rules, n_regions: int):
        spy = steps_per_year
        self.version = b.version
        self.cap_step = b.capacity / spy
        self.region = b.region
        self.is_ref = b.stage == REFINERY
        self.is_mine = b.stage == MINE
        self.is_recycler = b.stage == RECYCLER
        self.is_product = self.is_ref | self.is_recycler       # rows whose output is product
        self.all_product = bool(self.is_product.all())
        self.no_mine_rows = not bool(self.is_mine.any())
        self.all_active = bool(b.active.all())
        self.fixed_step = b.fixed_cost / spy * b.active
        cash_cost = b.unit_cost.copy()
        nm = ~b.market_economy
        cash_cost[nm] *= 1.0 - rules.subsidy
        self.cash_cost = cash_cost
        # producers' asks: [0] as usual (cash cost; state-directed producers' subsidised, at
        # zero under market_share), [1] the state dumping ahead of entry (predatory)
        self.nm_any = bool(nm.any())
        ask = b.unit_cost.copy()
        dumping = ask.copy()
        if self.nm_any:
            ask[nm] *= 1.0 - rules.subsidy
            dumping = ask.copy()
            dumping[nm & self.is_ref] = 0.0
            if rules.strategy == "market_share":
                ask = dumping
        self.asks = (ask, dumping)
        # the offers when every active refinery has capacity available (no mines)
        self.offer_rows = np.flatnonzero(self.is_ref & b.active)
        self.offer_asks = tuple(a[self.offer_rows] for a in self.asks)
        n = len(self.offer_rows)
        self.offer_region = b.region[self.offer_rows]
        self.offer_club_value = b.club[self.offer_rows].astype(float)
        self.offer_mine = np.full(n, -1)
        self.offer_owner = np.full(n, -1)
        self.offer_contract = np.zeros(n, dtype=bool)
        self.merit: dict = {}
        # what the recorder sums
        refining = self.is_ref & b.active
        self.region_capacity = np.bincount(b.region[refining], weights=b.capacity[refining],
                                           minlength=n_regions)
        self.capacity_market = b.capacity[refining & b.market_economy].sum()
        self.capacity_nonmarket = b.capacity[refining & ~b.market_economy].sum()
        self.rows_market = np.flatnonzero(b.market_economy)
        self.rows_nonmarket = np.flatnonzero(nm)
        self.rows_club = np.flatnonzero(b.club)
        self.active_market = b.active & b.market_economy
        self.state_refineries = np.flatnonzero(refining & nm)
        # offered quantities are positive whatever the outages (see Producers.make_offers)
        self.offer_capacity_positive = bool((self.cap_step[self.offer_rows] >= 1e-200).all())

    def merit_order(self, dumping: bool, eps: float):
        """abm.market.merit_order of the offers' asks (cached)."""
        key = (dumping, eps)
        if key not in self.merit:
            self.merit[key] = market.merit_order(self.offer_asks[dumping], eps)
        return self.merit[key]


class Producers:
    """Every producer's rows (`book`), agents (`agents`, by row), outages and this step's offers.

    State of the step: `ask` (asks by row), `plain` (the offers are the producers' own, no
    instrument touched them), `dumping` (the state dumps ahead of entry), `chain` / `chain_rows`
    (with mines: the integrated chain curve and the rows behind it)."""

    def __init__(self, model: mesa.Model, config, region_index: dict[str, int],
                 region_market: np.ndarray, region_club: np.ndarray, seed: int,
                 money_per_price_tonne: float):
        self.model = model                    # the Mesa model new agents register with
        self.book = ProducerBook()
        self.agents: dict[int, Producer] = {}
        self.region_market, self.region_club = region_market, region_club
        self.steps_per_year = config.experiment.steps_per_year
        self.nonmarket = config.nonmarket
        self.intensity = config.market.intensity
        trade = config.policy.trade
        self.sourcing = trade.sourcing if trade is not None else "cheapest"
        # this step's compliant chain (abm.agents.sourcing; None: nobody re-sourced) and the
        # price of compliant concentrate (NaN: none)
        self.compliant, self.compliant_price = None, float("nan")
        self.home_pools: list[withholding.HomePool] = []   # concentrate withheld at home
        self.money_per_price_tonne = money_per_price_tonne
        self.n_regions = len(region_market)
        self.exits = 0
        rules = config.exits if config.exits is not None and config.exits.enabled else None
        self.exit_rules = rules
        # share of its fixed cost an idle plant avoids (mothballing; only with [exits])
        self.idle_share = rules.idle_fixed_share if rules is not None else 0.0
        # the i.i.d. output factor of [market.supply_shock] (None: none; its own stream)
        shock = config.market.supply_shock
        self.supply_shock = (SupplyShock(seed, shock.sd, block=min(config.experiment.steps, 256))
                             if shock is not None and shock.sd > 0 else None)
        self.supply_factor = 1.0
        self.outages = None
        if config.outages is not None and config.outages.probability > 0:
            o = config.outages
            # uniforms drawn ahead for up to 256 steps (one block for a 20-year monthly run)
            self.outages = Outages(seed, o.probability, o.duration, o.severity,
                                   block=min(config.experiment.steps, 256))
        index = region_index
        for i, p in enumerate(config.producers):
            if p.stage == "component":      # component makers: abm.component.ComponentMakers
                continue
            self.add(p.name, STAGES[p.stage], index[p.region], p.capacity, p.unit_cost,
                     p.fixed_cost, p.cash, is_new=False, identity=(EXISTING, i))
        for i, r in enumerate(config.recyclers):
            self.add(r.name, RECYCLER, index[r.region], r.capacity, r.unit_cost, r.fixed_cost,
                     r.cash, is_new=False, identity=(RECYCLING, i))
        rows = np.flatnonzero(self.book.stage == RECYCLER)
        self.recyclers = RecyclerPool(config, rows, region_club[self.book.region[rows]],
                                      self.book.region[rows], region_index)
        self.has_mines = bool(np.any(self.book.stage == MINE)) or any(
            pr.stage == "mine" for pr in config.investment.projects)
        # regional supply cuts ([[shocks]] kind = "supply_outage"), by region
        self._supply_shocks = [(index[s.region], s) for s in config.shocks
                               if s.kind == "supply_outage"]
        self._no_cut = np.zeros(self.n_regions)
        self._no_cut.flags.writeable = False
        self.supply_cut, self.cut_active = self._no_cut, False
        self.shock_cut = self._no_cut
        # this step's cuts with the quotas the state's rule sets (follow_quotas): what it
        # offers not dumping, though dumping lifts them
        self.rule_cut = self._no_cut
        # production quotas of the state-directed regions (config nonmarket.quota_price)
        self.quota_regions = (np.flatnonzero(~region_market)
                              if config.nonmarket.quota_price is not None else np.array([], int))
        self.quota_share = np.ones(self.n_regions)
        # the share the quota rule sets (the quota_share it moves from next step: dumping lifts
        # this step's share to 1 without resetting the rule's path; review rv3 R12)
        self.rule_quota = np.ones(self.n_regions)
        # what depends only on which producers exist, rebuilt when the book's version changes
        # (a step would otherwise recompute masks, asks and merit orders that rarely change)
        self._structure: Structure | None = None
        # (structure, outage array, dumping, offers) of a plain step: the next plain step with
        # the same producers, outages and asks offers the same (a rebuild costs a few arrays)
        self._offers_reuse = None
        self._loss_cache = None     # (structure, exit rules, terms of expected_avoidable_loss)
        self.plain = False
        self.dumping = False
        # ((step, caps, border), ((world, club) dumping, (world, club) not dumping or None
        # without caps or border measures)): the memo of `predation_prices`
        self.predation_memo: tuple | None = None

    def __len__(self) -> int:
        return len(self.book)

    def add(self, name: str, stage: int, region: int, capacity: float, unit_cost: float,
            fixed_cost: float, cash: float, *, is_new: bool, identity: tuple[int, int]) -> int:
        """Create a producer row and its Miner, Refiner or Recycler agent; `identity` (kind,
        index) keys its outage stream."""
        row = self.book.add(name, stage, region, capacity, unit_cost, fixed_cost, cash,
                            bool(self.region_market[region]), bool(self.region_club[region]),
                            is_new)
        self.agents[row] = AGENT_CLASS[stage](self.model, self, row)
        if self.outages is not None:
            self.outages.register(identity)
        return row

    def structure(self) -> Structure:
        """The cached Structure of the current set of producers."""
        st = self._structure
        if st is None or st.version != self.book.version:
            st = self._structure = Structure(self.book, self.steps_per_year, self.nonmarket,
                                             self.n_regions)
        return st

    def draw_outages(self, t: int) -> None:
        """Random producer outages (abm.shocks.Outages) and the regional supply cuts of step
        `t`, production quotas included (`follow_quotas`, once the outages are drawn: whether
        the state dumps, which lifts them, is judged on this step's capacities)."""
        if self.outages is not None:
            self.book.outage = self.outages.advance(self.book.outage, self.book.active)
        if self._supply_shocks or len(self.quota_regions) or self.supply_shock is not None:
            cut = np.zeros(self.n_regions)
            for region, shock in self._supply_shocks:
                if shock.start <= t < shock.start + shock.duration:
                    cut[region] = shock.cut
            if self.supply_shock is not None:
                # every producer's output scaled by this step's factor: a "cut" of 1 - h
                self.supply_factor = self.supply_shock.advance()
                cut = 1.0 - (1.0 - cut) * self.supply_factor
            self.shock_cut = cut           # (what dumping, which overrides quotas, faces)
            self.rule_cut = cut            # (what the state faces not dumping)
            if len(self.quota_regions) and t > 0:
                self.follow_quotas(cut)
                cut = 1.0 - (1.0 - cut) * self.quota_share
            self.supply_cut = cut
            self.cut_active = bool(cut.any()) or self.supply_shock is not None

    def follow_quotas(self, cut: np.ndarray) -> None:
        """State-directed regions set this step's production quota from the home price of the
        last step (the mean price their buyers paid; the world price without buyers there):
        target = clip((P_home / quota_price)^quota_elasticity, quota_min_share, 1), and the quota
        moves `quota_adjustment` of the way from last step's share to the target. Dumping ahead
        of entry (`_dumping`, judged against the capacity under this quota, `cut` the step's
        other supply cuts) lifts the quota: the state produces all it can, and the rule is
        suspended, resuming from the share it had set before, not from the lifted one
        (`rule_quota`; review rv3 R12: restarting from 1 kept the entrant's price below the
        competitive path for months after the window, at no recorded cost)."""
        rules, model = self.nonmarket, self.model
        paid, where = model.outcome.buyer_price, model.buyers.region
        speed = rules.quota_adjustment
        quota = self.rule_quota.copy()
        for r in self.quota_regions.tolist():
            home = paid[where == r]
            price = float(home.mean()) if len(home) else float(model.price)
            ratio = price / rules.quota_price
            # (at or above the quota price the state produces at capacity; this also keeps a
            # huge shortage price from overflowing the power)
            share = ratio ** rules.quota_elasticity if ratio < 1.0 else 1.0
            target = min(max(share, rules.quota_min_share), 1.0)
            if speed < 1.0:
                target = quota[r] + speed * (target - quota[r])
            quota[r] = target
        # the capacity the state would offer not dumping: under the quota its rule sets
        self.rule_cut = 1.0 - (1.0 - cut) * quota
        self.quota_share = quota.copy()
        if self._dumping(model):
            # dumping ahead of entry: the state produces all it can, whatever its quota; the
            # rule is suspended (the home prices dumping depresses are not what it answers)
            # and resumes from the share it had set
            self.quota_share[self.quota_regions] = 1.0
        else:
            self.rule_quota = quota

    def available(self) -> np.ndarray:
        """Tonnes each producer can offer this step (outages and regional supply cuts applied)."""
        b, st = self.book, self.structure()
        # = capacity / steps_per_year * (1 - outage) * (1 - cut[region]) * active; factors that
        # are exactly 1 are skipped (x * 1.0 == x)
        if self.recyclers.trades:
            # a recycler processes the scrap it bought (no more than it had room for)
            avail = self.recycler_room(all_rows=True)
            rows = self.recyclers.rows
            avail[rows] = np.minimum(avail[rows], self.recyclers.supply)
            return avail
        if self.recyclers.any:
            # a recycler processes what it collected, up to its capacity
            cap = st.cap_step.copy()
            rows = self.recyclers.rows
            cap[rows] = np.minimum(cap[rows], self.recyclers.collected)
            avail = cap * (1.0 - b.outage)
        else:
            avail = st.cap_step * (1.0 - b.outage)
        if self.cut_active:
            avail = avail * (1.0 - self.supply_cut[b.region])
        if not st.all_active:
            avail = avail * b.active
        return avail

    def recycler_room(self, all_rows: bool = False) -> np.ndarray:
        """Tonnes each recycler can process this step (capacity with outages and regional supply
        cuts, nothing once exited): its bid quantity in the scrap market (`all_rows`: every
        producer's available capacity, recyclers' uncapped by scrap)."""
        b, st = self.book, self.structure()
        avail = st.cap_step * (1.0 - b.outage)
        if self.cut_active:
            avail = avail * (1.0 - self.supply_cut[b.region])
        if not st.all_active:
            avail = avail * b.active
        return avail if all_rows else avail[self.recyclers.rows]

    def make_offers(self, model: ModelView) -> Offers:
        """Producers offer this step's available capacity at their asks (merit order); with mines,
        refining and mining combine into the integrated chain curve. Instruments adjust the asks
        and the offers (Policy.adjust_asks, Policy.adjust_offers)."""
        b = self.book
        st = self.structure()
        self.dumping = dumping = self._dumping(model)
        reuse = self._offers_reuse
        if reuse is not None and reuse[0] is st and reuse[1] is b.outage and reuse[2] == dumping \
                and not self.cut_active:
            # the same producers, outages and asks as last step (no instruments): same offers
            self.ask, self.plain = st.asks[dumping], True
            return reuse[3]
        self._offers_reuse = None
        self.compliant, self.compliant_price = None, float("nan")
        self.home_pools: list[withholding.HomePool] = []   # concentrate withheld at home
        avail = self.available()
        policies = model.policies
        if not policies and not self.has_mines and not self.recyclers.any:
            # no instrument can change asks or offers: the cached offers of every refinery
            # that has capacity available this step
            self.ask = st.asks[dumping]
            rows = st.offer_rows
            qty = avail if len(rows) == len(b) else avail[rows]
            # an active refinery offers a positive quantity unless an outage or a supply cut
            # takes all of its capacity
            if (st.offer_capacity_positive and not self.cut_active and (
                    self.outages is None or self.outages.severity <= 1.0 - 1e-12)) \
                    or (qty > 0).all():
                offers = Offers(st.offer_asks[dumping], qty, rows, st.offer_mine,
                                st.offer_region, st.offer_owner, st.offer_contract,
                                st.offer_club_value)
                self.plain = True
                # (offers cut by a supply outage are not kept: the cut ends while the
                # structure and outages that key the reuse stay the same)
                if not self.cut_active:
                    self._offers_reuse = (st, b.outage, dumping, offers)
                return offers
        self.plain = False
        offers, self.ask, chain, self.compliant, self.home_pools = self._offers(
            model, policies, avail, dumping)
        if chain is not None:
            self.chain, self.chain_rows = chain
        return offers

    def own_offers(self, model: ModelView, contracts: bool = False) -> Offers:
        """This step's offers as the producers make them without any instrument (what trade
        would be without measures; no state of the step is changed); with `contracts`, as the
        instruments that change them in normal times leave them (`Policy.in_free_trade`: a
        CFD's asks, an offtake's tranches; no caps, rules of origin or releases), the offers of
        the export controls' counterfactual (review rv3 R13: without the CFD a club refiner
        it keeps running was idle there, the club's imports were too high, and a cut lowered
        the price)."""
        policies = ([p for p in model.policies if p.in_free_trade] if contracts else ())
        return self._offers(model, policies, self.available(), self._dumping(model),
                            measures=False)[0]

    def free_trade_asks(self, model: ModelView) -> np.ndarray:
        """The asks per producer row behind `own_offers` (no instrument's adjustment)."""
        return self.structure().asks[self._dumping(model)]

    def _dumping(self, model: ModelView) -> bool:
        """The state dumps ahead of entry this step (predatory strategy), unless dumping cannot
        lower the price in any imminent entrant's market (`dumping_futile`: its own export caps,
        or the club's border measures, leave it where it would be without dumping)."""
        st, rules = self.structure(), self.nonmarket
        return bool(st.nm_any and rules.strategy == "predatory" and entry_imminent(
            model.developers, model.t, rules.predatory_window)
            and not self.dumping_futile(model, self.entrant_markets(model)))

    @staticmethod
    def market_of(model: ModelView, stage: int, region: int):
        """The market whose price a market-economy project of `stage` in `region` sells at, as
        the state's predation reads it: its separate market's (the region, abm.regional) for a
        product project there, "club" for a club product project (behind the club's border
        measures), else "world" (a mine sells concentrate at the world's concentrate price)."""
        if stage == MINE:
            return "world"
        if region in getattr(model, "separate_markets", {}):
            return int(region)
        return "club" if bool(model.region_club[region]) else "world"

    def entrant_markets(self, model: ModelView) -> tuple:
        """The markets (`market_of`) of the market-economy projects whose entry is imminent
        this step (as `entry_imminent`)."""
        t, window = model.t, self.nonmarket.predatory_window
        found = []
        for d in model.developers:
            if d.market_economy and d.online_step is not None and (
                    (d.status == "building" and 0 <= d.online_step - t <= window)
                    or (d.status == "online" and 0 <= t - d.online_step < window)):
                market = self.market_of(model, d.stage, d.region)
                if market not in found:
                    found.append(market)
        return tuple(found)

    def state_export_caps(self, model: ModelView) -> dict[int, float]:
        """Region -> t per step: the caps this step of the product export controls in force
        on state-directed regions (their public schedules, `ExportControl.cap_at`: a control's
        normal exports are fixed from the steps before its announcement, so its cap is known
        from its first step on, before it applies; review rv2 finding F4). Only a control
        announced at step 0, whose normal exports are the step-0 free-trade clearing, is left
        out at step 0 before it applies (that clearing asks whether the state dumps; no
        project can be coming online at step 0, so the question does not arise)."""
        nm = {int(r) for r in self.book.region[~self.book.market_economy]}
        caps = {}
        for p in getattr(model, "policies", ()):
            if (p.name == "export_control" and not p.concentrate and p.region in nm
                    and p.active(model.t)
                    and (p.reference_exports is not None or p.announce > 0)):
                cap = p.cap_at(model, model.t)
                if cap is not None:
                    caps[p.region] = min(cap, caps.get(p.region, np.inf))
        return caps

    def club_border(self, model: ModelView) -> tuple:
        """The club's product border measures in force at step `model.t` as its instruments
        declare them (what abm.policies.floor.MinimumImportPrice.apply and abm.policies.trade
        .TradeMeasures.apply put in the plan; read from them, since the state judges before
        they apply in a step with production quotas): (mip, tariff, import_cap, excess_duty,
        undertaking, rules_of_origin, transship_cost, detection_rate), `MarketPlan`'s fields;
        () without a MIP or a tariff (the club is then the world's market)."""
        t, spy = model.t, self.steps_per_year
        mip, tariff, cap, excess, undertaking = 0.0, 0.0, np.inf, None, False
        origin = transship = None
        detection = 0.0
        for p in getattr(model, "policies", ()):
            if getattr(p, "downstream", False):
                continue
            cfg = getattr(p, "cfg", None)
            if (p.name == "floor" and getattr(cfg, "mechanism", None) == "mip"
                    and p.in_force(t)):
                mip, undertaking = float(p.level), cfg.rent == "undertaking"
                if cfg.volume_cap is not None:
                    step = (t - p.start) % spy
                    quota = cfg.volume_cap
                    if cfg.quota == "per_period":
                        quota = quota * (step + 1) / spy
                    cap = p.quota_left(quota, 0.0 if step == 0 else p.year_imports)
                    excess = cfg.excess_duty
            elif p.name == "trade" and p.active(t) and p.government is not None:
                if cfg.tariff > 0:
                    tariff = float(cfg.tariff)
                if cfg.rules_of_origin is not None:
                    origin = cfg.rules_of_origin
                if cfg.transshipment_cost is not None:
                    transship, detection = cfg.transshipment_cost, cfg.detection_rate
        if mip <= 0 and tariff <= 0:
            return ()
        return (mip, tariff, cap, excess, undertaking, origin, transship, detection)

    def restricted_prices(self, model: ModelView, dumping: bool, caps: dict[int, float],
                          border: tuple, avail: np.ndarray | None = None) -> dict:
        """Market (`market_of`: "world", "club", a separate market's region) -> price when this
        step's own offers of `avail` (default: `available`), the state dumping or not, clear
        against today's demand with only the export caps `caps` (each capped region its own
        market) and the club's border measures `border` (`club_border`; the club its own
        market behind them) as instruments, in the separate markets linked by their shipping
        costs (abm.regional): the price outside the capped regions, the price of the club's
        market (the world's without border measures) and each separate market's."""
        from abm.clearing import MarketPlan, clear_step

        avail = self.available() if avail is None else avail
        offers = self._offers(model, (), avail, dumping)[0]
        plan = MarketPlan(export_caps=dict(caps),
                          separate=dict(getattr(model, "separate_markets", {})))
        if border:
            (plan.mip, plan.tariff, plan.import_cap, plan.excess_duty, plan.undertaking,
             plan.rules_of_origin, plan.transship_cost, plan.detection_rate) = border
        out = clear_step(offers, plan,
                         buyer_scale=model.buyers.scale, buyer_region=model.buyers.region,
                         region_club=model.region_club, eps=model.elasticity,
                         price_cap=model.config.market.price_cap, last_price=model.last_price)
        prices = {"world": float(out.world_price), "club": float(out.club_market_price)}
        prices.update((int(r), float(p)) for r, p in out.region_prices.items())
        return prices

    def available_under(self, cut: np.ndarray) -> np.ndarray:
        """`available` with the regional supply cuts `cut` in place of this step's."""
        kept = self.supply_cut, self.cut_active
        self.supply_cut = cut
        self.cut_active = bool(cut.any()) or self.supply_shock is not None
        try:
            return self.available()
        finally:
            self.supply_cut, self.cut_active = kept

    def predation_prices(self, model: ModelView) -> tuple[dict, dict | None]:
        """(prices dumping, prices not dumping; None without caps, border measures or separate
        markets) of this step, each market (`market_of`) -> price: the prices this step's
        producers would clear at against today's demand, without instruments but the state's
        own product export caps (`state_export_caps`, each capped region its own market) and
        the club's product border measures (`club_border`: a minimum import price, a tariff;
        the club its own market), in the separate markets of abm.regional linked as in the
        step's clearing (`restricted_prices`). Dumping, the state's refineries offer their
        whole available capacity at no ask: dumping lifts its production quotas
        (`follow_quotas`), so the capacity without them (the step's other cuts, `shock_cut`);
        not dumping, the state offers at its asks the capacity under the quotas its rule sets
        this step (`rule_cut`; review rv2 finding F6: judged at one capacity both ways, the
        state did not dump where lifting its quota lowered the entrant's price). In one world
        market the prices not dumping are not needed (None: dumping at no ask never raises the
        one price) and the price dumping is that market's, the club's too. Memoised per step:
        one answer a step, whoever asks first (the state's quotas, its offers, the
        developers)."""
        caps = self.state_export_caps(model)
        border = self.club_border(model)
        key = (model.t, tuple(sorted(caps.items())), border)
        memo = self.predation_memo
        if memo is not None and memo[0] == key:
            return memo[1]
        dump_avail = self.available_under(self.shock_cut)
        if caps or border or getattr(model, "separate_markets", None):
            # the dumped tonnes reach other markets only up to the state's export caps
            # (review rv1: a threat the caps make impossible must not deter entry), the club's
            # market only through its border measures (review rv3 R6: behind a MIP the club's
            # price need not move) and a separate market only through its shipping costs
            found = (self.restricted_prices(model, True, caps, border, dump_avail),
                     self.restricted_prices(model, False, caps, border,
                                            self.available_under(self.rule_cut)))
        else:
            offers = self._offers(model, (), dump_avail, True)[0]
            price = float(market.clear(offers.ask, offers.qty, float(model.buyers.scale.sum()),
                                       model.elasticity, price_cap=model.config.market.price_cap,
                                       shortfall_price=model.last_price).price)
            found = ({"world": price, "club": price}, None)
        self.predation_memo = (key, found)
        return found

    def dumping_futile(self, model: ModelView, markets: tuple = ("world", "club")) -> bool:
        """Whether dumping leaves the price in every one of the entrants' `markets`
        (`entrant_markets`) where it would be without dumping: the state's own product export
        caps (review rv1: under a binding cap the dumped tonnes only flood its home market),
        the club's border measures (review rv3 R6: a minimum import price holds the club's price
        at its level while the club imports, whatever the world price; a tariff, once the club
        no longer imports) or a separate market's shipping costs (its price within its no-trade
        band) leave the entrant's price the same. Then the state does not dump (ASSUMPTION:
        predation aims at the entrant's market, and a state does not pay to sell below cost for
        nothing, at home or to other buyers). Dumping at its quota-free capacity is compared
        with not dumping under this step's quotas (`predation_prices`)."""
        dumped, plain = self.predation_prices(model)
        return plain is not None and all(dumped[k] >= plain[k] * (1 - 1e-12) for k in markets)

    def _offers(self, model: ModelView, policies, avail: np.ndarray, dumping: bool,
                measures: bool | None = None):
        """(offers, asks by row, (chain curve, chain rows) or None, compliant pool or None,
        home pools): the offers of `avail` at the producers' asks, adjusted by `policies`; under
        a binding rule of origin club refiners may re-source to compliant feed (`_resourced`);
        under a concentrate export control the controlling region's mines ship only their
        quota abroad (abm.agents.withholding: the home pools' offers follow the world chain's).
        `measures` (default: whether there are `policies`) says whether the plan's concentrate
        caps and rule of origin act."""
        if measures is None:
            measures = bool(policies)
        b, st = self.book, self.structure()
        ask = st.asks[dumping].copy()
        for policy in policies:
            policy.adjust_asks(model, ask)
        refs = np.flatnonzero(st.is_ref & (avail > 0))
        recyclers = np.flatnonzero(st.is_recycler & (avail > 0))
        chain = None
        compliant = feed = None
        pools = []
        if self.has_mines:
            mines = np.flatnonzero((b.stage == MINE) & (avail > 0))
            caps = model.plan.concentrate_caps if measures else None
            if caps:
                left, pools = withholding.withhold(ask, avail, b.region, refs, mines, caps,
                                                   self.intensity)
                refs, mines = refs[left[refs] > 0], mines[left[mines] > 0]
            else:
                left = avail
            curve = market.chain_curve(ask[refs], left[refs], ask[mines], left[mines],
                                       self.intensity)
            chain = (curve, (refs, mines, left[mines]))
            ref_rows, mine_rows = refs[curve.refinery], mines[curve.mine]
            asks, qty = curve.asks, curve.quantity
            for pool in pools:
                pool.start = len(asks)
                ref_rows = np.concatenate([ref_rows, pool.refs[pool.curve.refinery]])
                mine_rows = np.concatenate([mine_rows, pool.mines[pool.curve.mine]])
                asks = np.concatenate([asks, pool.curve.asks])
                qty = np.concatenate([qty, pool.curve.quantity])
            club_value = sourcing.club_value(b.club, ref_rows, mine_rows, asks, ask[mine_rows],
                                             self.intensity)
            rule = model.plan.rules_of_origin if measures else None
            if rule is not None and self.sourcing == "compliant" and model.plan.club_separate:
                resourced = self._resourced(model, ask, avail, refs, mines, rule)
                if resourced is not None:
                    chain, compliant, ref_rows, mine_rows, asks, qty, club_value, feed = \
                        resourced
        else:
            ref_rows, mine_rows = refs, np.full(len(refs), -1)
            asks, qty = ask[refs], avail[refs]
            club_value = b.club[refs].astype(float)
        if len(recyclers):
            # recycled product needs no concentrate: offers after the chain's (or refineries')
            ref_rows = np.concatenate([ref_rows, recyclers])
            mine_rows = np.concatenate([mine_rows, np.full(len(recyclers), -1)])
            asks = np.concatenate([asks, ask[recyclers]])
            qty = np.concatenate([qty, avail[recyclers]])
            club_value = np.concatenate([club_value, b.club[recyclers].astype(float)])
            if feed is not None:
                feed = np.concatenate([feed, np.zeros(len(recyclers), dtype=bool)])
        n = len(asks)
        offers = Offers(asks.astype(float), qty.astype(float), ref_rows, mine_rows,
                        b.region[ref_rows], np.full(n, -1), np.zeros(n, dtype=bool), club_value,
                        feed)
        if self.has_mines and compliant is None:
            # what a binding product cap's clearing may re-pair (abm.clearing.clear_step)
            ref_avail, mine_avail = np.zeros(len(b)), np.zeros(len(b))
            # (under a concentrate cap: what `withhold` leaves the world chain; a home pool
            # keeps its refining and ore: review rv10 H3, with any home pool nothing was
            # re-paired, and a slack 1e-9 ore cut beside a product ban gave 1.98e30 against
            # 109.78)
            ref_avail[refs], mine_avail[mines] = left[refs], left[mines]
            for pool in pools:
                # (the re-pair nets every offer's use, the home pools' included)
                ref_avail[pool.refs], mine_avail[pool.mines] = (avail[pool.refs],
                                                                 avail[pool.mines])
            offers.pool = ChainPool(ask.copy(), ref_avail, mine_avail, b.region, b.club,
                                    self.intensity)
        for policy in policies:
            policy.adjust_offers(model, offers)
        return offers, ask, chain, compliant, pools

    def _resourced(self, model: ModelView, ask: np.ndarray, avail: np.ndarray,
                   refs: np.ndarray, mines: np.ndarray, rule: float):
        """The chain offers when club refiners that fail rule of origin `rule` re-source to
        compliant (club-mined) feed where that pays (abm.agents.sourcing): (chain, compliant
        pool, refinery rows, mine rows, asks, tonnes, club value, compliant-feed mask) of the
        offers, the usual curve's first; None when nobody re-sources."""
        b, k = self.book, self.intensity
        found = sourcing.compliant_candidates(ask, b.club, refs, mines, k, rule,
                                              model.club_market_price - model.price,
                                              model.concentrate_price)
        if found is None:
            return None
        need, worth = found
        pool = market.chain_curve(ask[need], avail[need], ask[worth], avail[worth], k)
        if not len(pool.asks):
            return None
        # what the compliant curve leaves goes to the usual one, with everyone else
        left = avail.copy()
        left[need] -= np.bincount(pool.refinery, weights=pool.quantity, minlength=len(need))
        left[worth] -= np.bincount(pool.mine, weights=pool.quantity * k, minlength=len(worth))
        left[left <= 1e-12 * np.maximum(avail, 1.0)] = 0.0      # (rounding of the sums)
        rest_refs, rest_mines = refs[left[refs] > 0], mines[left[mines] > 0]
        curve = market.chain_curve(ask[rest_refs], left[rest_refs], ask[rest_mines],
                                   left[rest_mines], k)
        chain = (curve, (rest_refs, rest_mines, left[rest_mines]))
        compliant = sourcing.CompliantPool(pool, need, worth, avail[worth], len(curve.asks))
        ref_rows = np.concatenate([rest_refs[curve.refinery], need[pool.refinery]])
        mine_rows = np.concatenate([rest_mines[curve.mine], worth[pool.mine]])
        asks = np.concatenate([curve.asks, pool.asks])
        qty = np.concatenate([curve.quantity, pool.quantity])
        value = sourcing.club_value(b.club, ref_rows, mine_rows, asks, ask[mine_rows], k)
        feed = np.concatenate([np.zeros(len(curve.asks), dtype=bool),
                               np.ones(len(pool.asks), dtype=bool)])
        return chain, compliant, ref_rows, mine_rows, asks, qty, value, feed

    def merit_order(self, eps: float):
        """The cached merit order of this step's plain offers (None when instruments touched
        them)."""
        return self.structure().merit_order(self.dumping, eps) if self.plain else None

    def concentrate_price(self, price: float, sold: np.ndarray, previous: float,
                          club_price: float | None = None,
                          offers: Offers | None = None,
                          offer_price: np.ndarray | None = None) -> float:
        """With mines: the concentrate price behind product price `price`, given what the chain
        offers sold (abm.market.concentrate_price), each at the price of the market it sold in
        (`offer_price`, per offer; default `price`); `previous` when no chain offers (or no
        mines), except under a concentrate export control whose home pools are then the only
        concentrate traded: the first pool's price (abm.agents.withholding). With club refiners
        re-sourced to compliant feed, also the compliant concentrate price behind `club_price`
        (`compliant_price`, abm.agents.sourcing)."""
        if self.home_pools:
            withholding.home_prices(self.home_pools, price, sold, self.ask, self.intensity)
        if self.has_mines and not len(self.chain.asks) and self.home_pools:
            found = self.home_pools[0].price
        elif not self.has_mines or not len(self.chain.asks):
            found = previous
        else:
            refs, mines, mine_avail = self.chain_rows
            n = len(self.chain.asks)
            curve, dispatched = self.chain, sold[:n]
            at = None if offer_price is None else offer_price[:n]
            j = None if offers is None else offers.repair_start
            if j is not None:
                # the segments a binding product cap's clearing re-paired (abm.clearing
                # .clear_step) sold on the same refineries and mines
                curve = market.ChainCurve(
                    np.concatenate([curve.asks, offers.ask[j:]]),
                    np.concatenate([curve.quantity, offers.qty[j:]]),
                    np.concatenate([curve.refinery, np.searchsorted(refs, offers.refinery[j:])]),
                    np.concatenate([curve.mine, np.searchsorted(mines, offers.mine[j:])]))
                dispatched = np.concatenate([dispatched, sold[j:]])
                at = None if at is None else np.concatenate([at, offer_price[j:]])
            found = market.concentrate_price(price, curve, dispatched, self.ask[refs],
                                             self.ask[mines], mine_avail, self.intensity, at)
        if self.compliant is not None:
            self.compliant_price = sourcing.compliant_price(
                self.compliant, price if club_price is None else club_price, sold, self.ask,
                self.intensity, found)
        return found

    def settle(self, model: ModelView) -> None:
        """Producers are paid for what they sold (their market's price, or the floor for what a
        buffer stock bought) and incur cash costs (feed bought from mines in the chain): this
        step's `output`, `revenue` and `cost` rows of the book."""
        b, o, out, mf = self.book, model.offers, model.outcome, self.money_per_price_tonne
        st = self.structure()
        plan = model.plan
        if self.plain and plan.idle:
            # every offer is a producer's, nothing went to a buffer stock (to_gov = 0)
            money = out.sold * out.offer_price * mf
            if len(o.refinery) == len(b):     # offer k is producer k: the bincounts are 0 + x
                np.add(out.sold, 0.0, out=b.output)
                np.add(money, 0.0, out=b.revenue)
            else:
                b.output[:] = np.bincount(o.refinery, weights=out.sold, minlength=len(b))
                b.revenue[:] = np.bincount(o.refinery, weights=money, minlength=len(b))
            model.acct["producer_revenue"] = float(money.sum())
            b.cost = b.output * st.cash_cost * mf + self.fixed_cost(st)
            if self.dumping:
                self.subsidise_dumping(model)
            return
        b.output[:] = 0.0
        b.revenue[:] = 0.0
        produced = o.owner == -1
        to_market = out.sold - out.to_gov
        # what a buffer-stock defence pays for what it bought from covered producers
        money = (to_market * out.offer_price + out.to_gov * out.defence_price) * mf
        ref_out = np.bincount(o.refinery[produced], weights=out.sold[produced], minlength=len(b))
        b.output += ref_out
        b.revenue += np.bincount(o.refinery[produced], weights=money[produced], minlength=len(b))
        model.acct["producer_revenue"] = float(money[produced].sum())
        if self.has_mines:
            fed = produced & (o.mine >= 0)
            mine_out = np.bincount(o.mine[fed], weights=out.sold[fed] * self.intensity,
                                   minlength=len(b))
            b.output += mine_out
            if (self.compliant is not None and o.feed is not None) or self.home_pools:
                # two concentrate prices: compliant feed at the compliant one (NaN when none
                # of it sold, and then no tonne is paid at it); withheld feed at its home pool's
                paid = np.full(len(o), model.concentrate_price)
                if self.compliant is not None and o.feed is not None:
                    compliant = o.feed & np.isfinite(self.compliant_price)
                    paid = np.where(compliant, self.compliant_price, paid)
                for pool in self.home_pools:
                    paid[pool.start:pool.start + len(pool.curve.asks)] = pool.price
                value = np.where(fed, out.sold * self.intensity * paid * mf, 0.0)
                b.revenue += (np.bincount(o.mine[fed], weights=value[fed], minlength=len(b))
                              - np.bincount(o.refinery[fed], weights=value[fed],
                                            minlength=len(b)))
            elif np.isfinite(model.concentrate_price):
                # concentrate changes hands at the concentrate price: mines earn, refineries
                # pay (recyclers need none; no price yet: no chain offer has been made, so no
                # concentrate changed hands)
                fed_out = (np.where(st.is_recycler, 0.0, ref_out) if self.recyclers.any
                           else ref_out)
                b.revenue += (mine_out - fed_out * self.intensity) * model.concentrate_price * mf
        b.cost = b.output * st.cash_cost * mf + self.fixed_cost(st)
        if self.dumping:
            self.subsidise_dumping(model)

    def subsidise_dumping(self, model: ModelView) -> None:
        """While the state dumps ahead of market-economy entry (`predatory`), it pays its
        refiners what they sell below cash cost: the gap between their cash cost of this step's
        output and what they earned (feed at the concentrate price included), booked as the
        state's `predatory_subsidy` (its `state_outlay`, not the policy makers' fiscal cost)."""
        b, st, mf = self.book, self.structure(), self.money_per_price_tonne
        rows = ~b.market_economy & st.is_ref
        gap = np.where(rows, np.maximum(b.output * st.cash_cost * mf - b.revenue, 0.0), 0.0)
        total = float(gap.sum())
        if total <= 0:
            return
        b.revenue += gap
        model.acct["gov_payments_to_producers"] += total
        # each region's state pays its own refiners (the government its reserve books to;
        # review rv1 finding 3: one "state" of every state-directed region took it all)
        for r in sorted({int(r) for r in b.region[rows & (gap > 0)]}):
            paid = float(gap[b.region == r].sum())
            model.governments.state_for([r], f"{model.region_names[r]} state").book(
                "predatory_subsidy", paid)

    def dumping_price(self, model: ModelView, market="world") -> float:
        """The price in `market` (`market_of`: "world", "club", a separate market's region) this
        step's producers would clear at with the state dumping (its refineries' whole available
        capacity, quotas lifted, at no ask) against today's demand, without instruments but the
        state's own export caps and the club's border measures, the separate markets linked
        (`predation_prices`): what developers expect a `predatory` state can hold the price
        down to when their project comes online (price units). For "club" it is the world
        price (a club project's price follows from it through the club's border,
        abm.investment.sale_price_function), read only where dumping would lower the club's
        own price. inf when the state's own rule would not dump against a project in `market`
        (`dumping_futile` there), so developers do not price in a threat the state never
        carries out."""
        if self.dumping_futile(model, (market,)):
            return float("inf")
        dumped = self.predation_prices(model)[0]
        return float(dumped["world" if market == "club" else market])

    def fixed_cost(self, st) -> np.ndarray:
        """USD of fixed cost each producer pays this step: an idle plant (no output) avoids
        `exits.idle_fixed_share` of it."""
        if not self.idle_share:
            return st.fixed_step
        return st.fixed_step * np.where(self.book.output > 0, 1.0, 1.0 - self.idle_share)

    def review(self, model: ModelView) -> None:
        """Book the step's profit (after policy payments) into cash. With [exits], a
        market-economy plant whose expected avoidable loss (`expected_avoidable_loss`) has been
        positive for `exits.loss_steps` consecutive steps closes for good; state-directed
        producers do not close for losses (the state carries them)."""
        b, st = self.book, self.structure()
        b.cash += b.revenue - b.cost
        rules = self.exit_rules
        if rules is None:
            return
        losing = st.active_market & (self.expected_avoidable_loss(model, rules) > 0)
        b.loss_streak = np.where(losing, b.loss_streak + 1, 0)
        for row in np.flatnonzero(b.loss_streak >= rules.loss_steps):
            self.agents[row].exit_market()

    def expected_avoidable_loss(self, model: ModelView, rules) -> np.ndarray:
        """USD per producer row: the fixed cost a plant would avoid by closing, less its
        expected cash margin, summed over the next `exits.horizon` years.

        The price a plant expects in year y is the developers' (abm.agents.developers.Pipeline
        .expected_price: world, with the capacity under construction producing) grown with the
        demand trend, P_y = P (1 + g)^(-y / eps), times the club's current wedge for a club
        plant, lognormal with mean P_y and the developers' volatility over y years. A floor
        covering the plant in year y (as announced now; CFD or purchase floor) pays it
        R = max(S, F) - u (S - F)+. Its cash cost c includes the feed at the concentrate price
        for a refinery fed by mines. It runs only when R covers c, so its margin per tonne is
        (F - c)+ + (1 - u) E[(S - K)+], K = F when c <= F, else F + (c - F) / (1 - u) (the price
        at which R = c); an idle plant avoids `idle_fixed_share` of its fixed cost. Every
        incumbent whose cash cost is below the long-run price and whose margin covers its fixed
        cost stays, however thin the margin at one clearing."""
        b, st = self.book, self.structure()
        loss = np.zeros(len(b))
        terms = self._loss_terms(model, rules, st)
        if terms is None:
            return loss
        rows = terms.rows
        expected = [model.pipeline.expected_price(model, stage) for stage, _ in terms.stages]
        wedge = None
        if model.price > 0 and model.outcome.region_prices:
            wedge = self._market_wedge(model, terms)
        elif model.price > 0 and terms.club_product_any:
            ratio = model.club_market_price / model.price
            if not ratio <= 1.0:        # (a wedge of at most 1, max(wedge, 1) = 1: price x 1)
                wedge = np.maximum(np.where(terms.club_product, ratio, 1.0), 1.0)
        price = None
        if len(expected) == 1 and wedge is None:
            # one price for every row: P_y = P (1 + g)^(-y / eps) as a row of years
            value = expected[0]
            if value is None or value != value:
                return loss             # (no price to value a plant at: no loss counted)
            p_y = value * terms.growth_factor
        else:
            price = np.zeros(len(rows))
            for (_, sel), value in zip(terms.stages, expected, strict=True):
                price[sel] = np.nan if value is None else value
            if wedge is not None:
                price = price * wedge
            p_y = price[:, None] * terms.growth_factor
        cost, fed_cost = terms.cost, False
        if self.has_mines and np.isfinite(model.concentrate_price):
            # refineries buy their feed at the concentrate price (recyclers need none)
            cost, fed_cost = cost.copy(), True
            cost[terms.fed] += self.intensity * model.concentrate_price
        found = []
        if model.policies:
            mid_year = model.t + terms.mid_year_offset
            for policy in model.policies:
                floors = policy.floor_for_rows(model, mid_year)
                if floors is not None:
                    found.append(floors)
        c = cost[:, None]
        sigma = model.pipeline.expectation.sigma
        if sigma >= 1e-9:         # (then sigma sqrt(y) >= sigma >= 1e-9: the max is itself)
            s_y = sigma * terms.sqrt_row
        else:
            s_y = np.maximum(sigma * terms.sqrt_years, 1e-9)[None, :]
        if (price is None and not found and not fed_cost and terms.normal
                and 1e-100 < value < 1e100 and sigma < 1e100):
            # P_y and K positive and within 1e+-110, s_y within [1e-9, 1e101]: every term
            # below is finite and raises no floating-point warning, so the same arithmetic
            # needs neither errstate nor the finiteness masks (x + 0 and x * 1 skipped: exact)
            d1 = (np.log(p_y / terms.strike) + 0.5 * s_y * s_y) / s_y
            d2 = d1 - s_y
            call = p_y * ndtr(d1) - terms.strike * ndtr(d2)
            margin = call if terms.margin_zero else terms.margin + call
            fixed = terms.fixed
            if self.idle_share:
                fixed = fixed * (1.0 - self.idle_share * ndtr(-d2))
            earned = terms.capacity * margin
            if self.money_per_price_tonne != 1.0:
                earned = earned * self.money_per_price_tonne
            loss[rows] = ((fixed - earned) if terms.whole_years
                          else (fixed - earned) * terms.weights).sum(axis=1)
            return loss
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if found:
                floor = np.zeros((len(rows), len(terms.years)))
                upside = np.zeros(len(rows))
                for levels, shares in found:
                    higher = levels[rows] > floor
                    floor = np.where(higher, levels[rows], floor)
                    upside = np.where(higher.any(axis=1), shares[rows], upside)
                keep = 1.0 - upside[:, None]
                strike = np.where(c <= floor, floor, floor + (c - floor) / keep)
            elif fed_cost:
                # no floor (0, upside 0): strike 0 + (c - 0) / 1 = c above 0, else the floor 0
                floor, keep = 0.0, None
                strike = np.where(c <= 0.0, 0.0, c)
            else:
                floor, keep, strike = 0.0, None, terms.strike
            d1 = (np.log(p_y / strike) + 0.5 * s_y * s_y) / s_y
            d2 = d1 - s_y
            call = p_y * ndtr(d1) - strike * ndtr(d2)                # E[(S - K)+]
            idle = np.where(c <= floor, 0.0, ndtr(-d2)) if self.idle_share else None
        call = np.where(np.isfinite(call), call, 0.0)
        if keep is None:      # (keep x call with keep = 1 is call)
            margin = (np.maximum(0.0 - c, 0.0) if fed_cost else terms.margin) + call
        else:
            margin = np.maximum(floor - c, 0.0) + keep * call
        mf = self.money_per_price_tonne
        fixed = terms.fixed
        if idle is not None:      # (without an idle share the factor is 1 - 0 x idle = 1)
            idle = np.where(np.isfinite(idle), idle, 1.0)
            fixed = fixed * (1.0 - self.idle_share * idle)
        earned = terms.capacity * margin * mf
        loss[rows] = ((fixed - earned) * terms.weights).sum(axis=1)
        if price is not None:
            loss[rows] = np.where(np.isnan(price), 0.0, loss[rows])
        return loss

    def _market_wedge(self, model: ModelView, terms) -> np.ndarray | None:
        """With separate markets (abm.regional): per row, the price of the market the plant
        sells in over the world price (the club market's for a club plant, at least 1 as
        without separate markets; its separate market's, either side of 1, for a plant in
        one); None when every row sells at the world price."""
        out = model.outcome
        region = self.book.region[terms.rows]
        prices = out.market_prices(model.region_club)       # per region
        sells_at = prices[region] / model.price
        wedge = np.where(terms.club_product, np.maximum(sells_at, 1.0), 1.0)
        in_separate = np.zeros(len(prices), dtype=bool)     # (per region: cheaper than isin)
        in_separate[list(out.region_prices)] = True
        separate = terms.product & in_separate[region]
        wedge[separate] = sells_at[separate]
        return None if (wedge == 1.0).all() else wedge

    def _loss_terms(self, model: ModelView, rules, st: Structure):
        """What `expected_avoidable_loss` reads that changes only with the producers (rows,
        masks, costs, capacities) or not at all in a run (years, weights, demand growth over
        the years): cached per Structure and rules; None without active market-economy plants."""
        cached = self._loss_cache
        if cached is not None and cached[0] is st and cached[1] is rules:
            return cached[2]
        b = self.book
        rows = np.flatnonzero(st.active_market)
        terms = None
        if len(rows):
            product = b.stage[rows] != MINE
            years = np.arange(1, int(np.ceil(rules.horizon)) + 1, dtype=float)
            eps, growth = model.elasticity, model.config.market.demand.growth
            club_product = b.club[rows] & product
            cost = st.cash_cost[rows]
            terms = SimpleNamespace(
                rows=rows,
                # the stages whose expected price is read, mines first (as the developers)
                stages=[(stage, sel) for stage, sel in ((MINE, ~product), (REFINERY, product))
                        if sel.any()],
                club_product=club_product, club_product_any=bool(club_product.any()),
                product=product,
                cost=cost, fed=b.stage[rows] == REFINERY,
                # without a floor or feed: the strike and the margin (F - c)+ at F = 0
                strike=np.where(cost[:, None] <= 0.0, 0.0, cost[:, None]),
                margin=np.maximum(0.0 - cost[:, None], 0.0),
                margin_zero=bool((cost >= 0.0).all()),      # (0 - c)+ = 0 for every row
                whole_years=float(rules.horizon).is_integer(),   # every weight 1
                years=years, sqrt_years=np.sqrt(years), sqrt_row=np.sqrt(years)[None, :],
                weights=np.minimum(rules.horizon - (years - 1.0), 1.0)[None, :],  # a part year
                growth_factor=(1.0 + growth) ** (-years[None, :] / eps),     # P_y / P
                mid_year_offset=((years - 0.5) * model.steps_per_year).astype(int),
                fixed=b.fixed_cost[rows][:, None], capacity=b.capacity[rows][:, None])
            # every strike (c > 0) within 1e+-100 and P_y / P within 1e+-10: see
            # expected_avoidable_loss
            terms.normal = bool(((cost > 1e-100) & (cost < 1e100)).all()
                                and ((terms.growth_factor > 1e-10)
                                     & (terms.growth_factor < 1e10)).all())
        self._loss_cache = (st, rules, terms)
        return terms

    def capacity_added(self, market_economy: bool) -> float:
        """Product (refinery) capacity brought online by the pipeline or state expansion, t/yr."""
        b = self.book
        sel = b.is_new & (b.stage == REFINERY) & (b.market_economy == market_economy)
        return float(b.capacity[sel].sum())
