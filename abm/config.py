"""Experiment configuration schema: the single place a parameter is defined.

Every field carries its default, unit (``json_schema_extra["unit"]``), allowed range and a one-line
description. The reference page ``docs/config.md`` is generated from these models
(``python -m abm.config_docs``); nothing here is written twice.

Units: prices in ``market.price_unit`` (USD/kg by default) per tonne of product (or of concentrate
for mines); quantities in tonnes; capacities in tonnes per year; money in USD; time in model steps
(months by default) unless a field says years.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

PRICE = "price_unit"  # marker: the unit is whatever market.price_unit says


def field(default: Any, unit: str, description: str, **constraints: Any) -> Any:
    """A pydantic Field with a unit and a description (both required by our docs generator)."""
    return Field(default, description=description, json_schema_extra={"unit": unit}, **constraints)


# The error type of every check written here (pydantic's own checks have theirs: missing, ...).
INVALID = "config_invalid"


def invalid(message: str, *path: str | int) -> ValidationError:
    """A validation error for a model validator to raise: `message` as written (no "Value error,"
    prefix) at the key path `path` below the model being checked; pydantic prefixes the path of
    that model, so ``ValidationError.errors()[0]["loc"]`` is the full key path."""
    error = PydanticCustomError(INVALID, "{message}", {"message": message})
    return ValidationError.from_exception_data(
        "ExperimentConfig", [InitErrorDetails(type=error, loc=path, input=None)])


def changed(model: BaseModel, key: str) -> bool:
    """`key` is set away from its default."""
    return getattr(model, key) != type(model).model_fields[key].default


def needs(model: BaseModel, switch: str, keys: tuple[str, ...], why: str) -> None:
    """Refuse `keys` set away from their defaults while `switch`, the setting that turns their
    mechanism on, is not set: they would do nothing, and a setting that does nothing is an
    error, not silently ignored."""
    if getattr(model, switch) is not None:
        return
    for key in keys:
        if changed(model, key):
            raise invalid(f"{key} needs {switch} ({why})", key)


class Strict(BaseModel):
    """Base: unknown keys are errors (a misspelt key must never be silently ignored); types are
    strict (TOML has real booleans and numbers: ``club = "yes"`` or ``capacity = "30000"`` is
    an error, an integer where a float is expected is fine); every float is finite (``inf``
    and ``nan`` give no meaningful run; a field where infinity meant something would say so
    with ``Field(allow_inf_nan=True)``; none does). Text cells of a CSV table are converted by
    the table's own model before (abm.experiment.read_table_csv), --set values are parsed as
    TOML (abm.dotted.parse_value)."""

    model_config = ConfigDict(extra="forbid", frozen=False, strict=True, allow_inf_nan=False)


def _pair(value: Any) -> Any:
    """A TOML array ``[step, price]`` as the tuple strict validation expects."""
    return tuple(value) if isinstance(value, list) else value


StepLevel = Annotated[tuple[int, float], BeforeValidator(_pair)]


# --------------------------------------------------------------------------------------------------
# experiment, market, regions
# --------------------------------------------------------------------------------------------------


class ExperimentMeta(Strict):
    """What the experiment is and how long and how often it runs."""

    name: str = field(..., "-", "Results folder name (letters, digits, '_', '-', '.')",
                      pattern=r"^[A-Za-z0-9_.-]+$", min_length=1, max_length=100)
    title: str = field("", "-", "Human title shown on the result pages")
    question: str = field("", "-", "The question the experiment answers, shown on the result pages")
    steps: int = field(240, "steps", "Number of time steps per run", ge=1, le=100_000)
    steps_per_year: int = field(12, "steps/yr", "Time steps per year (12 = monthly)", ge=1, le=365)
    replications: int = field(1, "runs", "Monte Carlo replications per scenario and sweep point",
                              ge=1, le=1_000_000)
    seed: int = field(20260115, "-", "Root seed; run seeds derive from it and the replication index",
                      ge=0, lt=2**63)
    mineral: str | None = field(None, "-", "Optional preset from abm/data/minerals; explicit tables "
                                "in the experiment override it")
    baseline: str | None = field(None, "-", "Scenario that paired differences are taken against "
                                 "(default: 'baseline' if present, else the first scenario)")


class Demand(Strict):
    """Isoelastic aggregate demand D(P) = Q_ref * (P / P_ref)^elasticity * growth * shock."""

    reference_price: float = field(..., PRICE, "Price at which demand equals reference_quantity",
                                   gt=0)
    reference_quantity: float = field(..., "t/yr", "Product demand per year at the reference price",
                                      gt=0)
    elasticity: float = field(..., "-", "Price elasticity of demand (negative)", lt=0, ge=-10)
    growth: float = field(0.0, "1/yr", "Trend growth of demand per year", ge=-0.5, le=1.0)
    shock_sd: float = field(0.0, "-", "Standard deviation of the per-step log demand shock",
                            ge=0, le=2.0)
    shock_persistence: float = field(0.0, "-", "AR(1) coefficient of the log demand shock",
                                     gt=-1.0, lt=1.0)
    long_run_elasticity: float | None = field(
        None, "-", "Long-run price elasticity: each buyer's demand moves toward the long-run "
        "curve at the price it paid last step, closing `adjustment_speed` of the gap (in logs) a "
        "step; `elasticity` is then the short-run one (default: no adjustment)", lt=0, ge=-10)
    adjustment_speed: float = field(0.1, "1/step", "Share of the log gap to long-run demand "
                                    "closed per step (with long_run_elasticity; ASSUMPTION)",
                                    gt=0, le=1)
    backstop_price: float | None = field(
        None, PRICE, "Substitution backstop: above this price buyers switch part of their demand "
        "away (thrifting, other magnet or battery chemistries), ramping over months (default: "
        "none)", gt=0)
    backstop_share: float = field(0.0, "-", "Largest share of demand that can switch away",
                                  ge=0, lt=1)
    backstop_elasticity: float = field(2.0, "-", "How fast the switchable share is reached above "
                                       "the backstop: switched share at price P tends to "
                                       "backstop_share x (1 - (backstop_price / P)^this)",
                                       gt=0, le=50)
    backstop_ramp: float = field(6.0, "steps", "Mean time for switching away (and back) to reach "
                                 "the share the price calls for", ge=1, le=1200)

    @model_validator(mode="after")
    def options_have_their_switch(self) -> Demand:
        needs(self, "backstop_price", ("backstop_share", "backstop_elasticity", "backstop_ramp"),
              "the price above which demand switches away")
        needs(self, "long_run_elasticity", ("adjustment_speed",), "the demand it adjusts toward")
        return self


class SupplyShock(Strict):
    """An i.i.d. multiplicative shock on every producer's output (own random stream): each
    step all output available is scaled by h_t = max(1 + sd e_t, 0), e_t ~ N(0, 1), the harvest
    shock of the competitive-storage model (abm.storage)."""

    sd: float = field(0.0, "-", "Standard deviation of the per-step output factor (0: none; at "
                      "most 0.11, so the factor stays positive 8.5 sd below 1, as the storage "
                      "model's harvest does)", ge=0, le=0.11)


class Market(Strict):
    """The product market and its clearing."""

    price_unit: Literal["USD/kg", "USD/t"] = field("USD/kg", "-",
                                                   "Unit of every price in the experiment")
    demand: Demand = field(..., "-", "Aggregate demand")
    price_cap: float | None = field(None, PRICE, "Administrative price cap; demand above supply at "
                                    "the cap is recorded as unmet demand (none by default)", gt=0)
    intensity: float = field(1.0, "t/t", "Tonnes of concentrate per tonne of product "
                             "(used when the experiment has mines)", gt=0, le=1000)
    scrap_trade: bool = field(False, "-", "Scrap is a traded good: recyclers' collected scrap "
                              "is sold each step, at one scrap price, to the recyclers that value "
                              "it most, in any region (false: each recycler processes what it "
                              "collected)")
    supply_shock: SupplyShock | None = field(None, "-", "An i.i.d. shock on every producer's "
                                             "output (none when left out)")
    component_intensity: float = field(1.0, "t/t", "Tonnes of product per tonne of component "
                                       "(used when the experiment has component producers; "
                                       "NdFeB magnets: ~0.3 t NdPr per t, docs/sources.md)",
                                       gt=0, le=1000)


class Region(Strict):
    """A producing or consuming region."""

    name: str = field(..., "-", "Region name, referred to by producers, buyers and policies",
                      min_length=1)
    market_economy: bool = field(True, "-", "Produces on commercial terms (false: state-directed)")
    club: bool = field(False, "-", "Member of the standards-based marketplace / floor agreement")
    separate_market: bool = field(False, "-", "A product market of its own, linked to the world "
                                  "market (the regions that are not separate) by trade at the "
                                  "costs of [[trade_costs]]: its buyers pay, and its producers "
                                  "get, its own price (series price_region__<name>)")


class TradeCost(Strict):
    """The cost of shipping product one way between a separate-market region and the world market
    (the regions that are not separate markets). A route not listed costs nothing; list both
    directions for a two-way cost."""

    origin: str = field(..., "-", "Region the product leaves (key `from`)", alias="from",
                        min_length=1)
    to: str = field(..., "-", "Region the product goes to", min_length=1)
    cost: float = field(..., PRICE, "Cost per t of product shipped on the route", ge=0)


class Producer(Strict):
    """An existing mine, refinery or component maker.

    Component makers (`stage = "component"`, e.g. NdFeB magnet plants) turn product into a
    downstream component: with any of them in the experiment, buyers demand components
    (market.demand is component demand) and component makers demand product, `intensity` t of
    it per t of component (docs/ODD.md 7.18)."""

    name: str = field(..., "-", "Producer name", min_length=1)
    region: str = field(..., "-", "Region (must be listed in [[regions]])")
    stage: Literal["mine", "refinery", "component"] = field(
        ..., "-", "mine (concentrate), refinery (product) or component (downstream of product)")
    capacity: float = field(..., "t/yr", "Nameplate capacity (concentrate for mines, component "
                            "for component makers)", ge=0)
    unit_cost: float = field(..., PRICE, "Cash cost per tonne of output (for refineries without "
                             "mines in the experiment, including feed; for component makers the "
                             "conversion cost, without the product bought)", ge=0)
    fixed_cost: float = field(0.0, "USD/yr", "Fixed cost paid while not exited", ge=0)
    cash: float = field(0.0, "USD", "Initial cash balance", ge=-1e15, le=1e15)
    intensity: float | None = field(None, "t/t", "Component maker: product per component "
                                    "(default market.component_intensity); refinery: only "
                                    "market.intensity is allowed (one intensity for the chain)",
                                    gt=0)


class Recycler(Strict):
    """Secondary supply: a recycler collects end-of-life scrap and processes it into product.

    Scrap collection responds to the price with a lag: collected scrap (t of product per year) =
    scrap x (P[t - collection_lag] / market.demand.reference_price) ^ collection_elasticity, and
    the recycler offers what it collected, up to its capacity, at its unit cost. Recycled product
    needs no concentrate (it feeds the product stage directly)."""

    name: str = field(..., "-", "Recycler name", min_length=1)
    region: str = field(..., "-", "Region (must be listed in [[regions]])")
    capacity: float = field(..., "t/yr", "Processing capacity (product)", ge=0)
    unit_cost: float = field(..., PRICE, "Cash cost per tonne of recycled product (collection "
                             "and processing)", ge=0)
    scrap: float = field(..., "t/yr", "Scrap collected at the reference price, in tonnes of "
                         "product it yields", ge=0)
    collection_elasticity: float = field(0.5, "-", "Price elasticity of scrap collection",
                                         ge=0, le=5)
    collection_lag: int = field(6, "steps", "Steps between a price and the collection it calls "
                                "forth (at least 1: a step's price is not known while collecting)",
                                ge=1, le=600)
    start: int = field(0, "steps", "First step at which it collects scrap (a plant due later)",
                       ge=0)
    fixed_cost: float = field(0.0, "USD/yr", "Fixed cost paid while not exited", ge=0)
    cash: float = field(0.0, "USD", "Initial cash balance", ge=-1e15, le=1e15)


class Buyer(Strict):
    """A downstream consumer: a share of aggregate demand located in a region."""

    name: str = field(..., "-", "Buyer name", min_length=1)
    region: str = field(..., "-", "Region (must be listed in [[regions]])")
    share: float = field(..., "-", "Share of market.demand.reference_quantity", gt=0, le=1)
    inventory_cover: float = field(0.0, "days", "Target inventory in days of the buyer's use at "
                                   "the reference price (0: holds none); starts at the target",
                                   ge=0, le=3650)
    inventory_adjust: float = field(0.25, "-", "Share of the gap to the target inventory closed "
                                    "per step (by ordering more, or using stock instead of "
                                    "buying); the default is an assumption", gt=0, le=1)
    inventory_max_draw: float = field(0.5, "-", "Largest share of a step's use taken from the "
                                      "inventory (buyers keep buying; below 1 so the market never "
                                      "loses all its demand), and largest share added to it while "
                                      "rebuilding; the default is an assumption", ge=0, lt=1)


class Project(Strict):
    """A candidate mine or refinery in the development pipeline."""

    name: str = field(..., "-", "Project name", min_length=1)
    region: str = field(..., "-", "Region (must be listed in [[regions]])")
    stage: Literal["mine", "refinery"] = field("refinery", "-", "mine or refinery")
    capacity: float = field(..., "t/yr", "Capacity once built", gt=0)
    unit_cost: float = field(..., PRICE, "Cash cost per tonne of output once built", ge=0)
    capex: float = field(..., "USD per t/yr", "Capital cost per tonne per year of capacity", ge=0)
    lead_time: int = field(..., "steps", "Steps from the decision to invest to first output",
                           ge=0, le=10_000)
    available_from: int = field(0, "steps", "First step at which the project may be started", ge=0)
    fixed_cost: float = field(0.0, "USD/yr", "Fixed cost once built (as incumbents' fixed_cost; "
                              "what the plant avoids by closing)", ge=0)


class Investment(Strict):
    """Developers of new capacity: a volatility-aware investment rule over a project pipeline."""

    enabled: bool = field(True, "-", "Run the pipeline (a left-out [investment] table freezes "
                          "capacity)")
    rule: Literal["real_options", "npv"] = field(
        "real_options", "-", "real_options: Dixit-Pindyck trigger rising with volatility; npv: "
        "NPV at hurdle_rate plus volatility_premium x volatility")
    hurdle_rate: float = field(0.10, "1/yr", "Developers' discount rate r (concessional finance "
                               "lowers the cost of a project's capital, not this rate)", gt=0, le=1)
    convenience_yield: float | None = field(
        None, "1/yr", "real_options rule: convenience yield (payout rate) delta of the price in "
        "the Dixit-Pindyck trigger; default: hurdle_rate, i.e. zero expected price drift, as the "
        "developers' expectation assumes (ASSUMPTION)", gt=0, le=1)
    volatility_premium: float = field(0.0, "-", "npv rule: added to the hurdle rate per unit of "
                                      "annualised volatility", ge=0, le=10)
    volatility_prior: float = field(0.30, "1/yr^0.5", "Annualised price volatility developers "
                                    "assume before they have seen prices", ge=0, le=5)
    expectation_halflife: float = field(24.0, "steps", "Half-life of the exponentially weighted "
                                        "price expectation and volatility estimate", gt=0)
    horizon: float = field(5.0, "yr", "Horizon over which a floor's put value is assessed",
                           gt=0, le=50)
    project_life: float = field(20.0, "yr", "npv rule: operating life of a project", gt=0, le=100)
    review_every: int = field(3, "steps", "Developers review the pipeline every this many steps",
                              ge=1)
    max_starts_per_review: int = field(1_000, "projects", "Most projects started at one review",
                                       ge=1)
    projects: list[Project] = field([], "-", "The candidate projects")
    projects_file: str | None = field(None, "-", "CSV of projects (columns as [[investment."
                                      "projects]]), relative to the experiment file")


class StateReserve(Strict):
    """A state reserve of each state-directed region (as China's State Reserve Bureau): it buys
    what its region's producers offer below `buy_below` beyond what is taken at that price and
    offers its stock at `sell_above`, at most `rate` a year either way, funded by that region's
    state (the `state_outlay` metric, not the club's fiscal cost)."""

    buy_below: float = field(..., PRICE, "Buys (up to its rate and room) what its region's "
                             "producers offer at or below this beyond what its buyers and "
                             "permitted exports take at it: holds the home price there", gt=0)
    sell_above: float = field(..., PRICE, "Offers its stock at this price (sells when the home "
                              "market clears at or above it)", gt=0)
    rate: float = field(..., "t/yr", "Most it buys or offers per year", gt=0)
    capacity: float = field(..., "t", "Most it holds", gt=0)

    @model_validator(mode="after")
    def sells_above_where_it_buys(self) -> StateReserve:
        if self.sell_above <= self.buy_below:
            raise invalid("sell_above must be above buy_below")
        return self


class NonMarket(Strict):
    """Behaviour of producers in regions with market_economy = false."""

    strategy: Literal["competitive", "market_share", "predatory"] = field(
        "competitive", "-", "competitive: offers at cost like others; market_share: produces at "
        "capacity and expands to cover target_share of world demand at the reference price; "
        "predatory: offers all its capacity at any price (dumps), and a state reserve its stock, "
        "from predatory_window steps before a market-economy project comes online to "
        "predatory_window steps after, paying its refiners what they lose below cash cost "
        "(state_outlay); developers expect it for their project's first predatory_window steps")
    target_share: float = field(0.0, "-", "market_share: share of world demand at the reference "
                                "price its capacity is expanded to cover",
                                ge=0, le=1)
    subsidy: float = field(0.0, "-", "Share of unit cost borne by the state", ge=0, lt=1)
    expansion_lead_time: int = field(24, "steps", "market_share: lead time of state expansions",
                                     ge=0)
    expansion_unit_cost: float | None = field(None, PRICE, "market_share: unit cost of expansions "
                                              "(default: the region's capacity-weighted mean)",
                                              ge=0)
    predatory_window: int = field(12, "steps", "predatory: how far ahead of a market-economy "
                                  "project's first output the price cut starts", ge=0)
    quota_price: float | None = field(
        None, PRICE, "Production quota: while the home price (what the region's buyers paid last "
        "step) is below this, the state cuts its refiners' output to a share "
        "(home price / quota_price)^quota_elasticity of capacity, at least quota_min_share "
        "(default: no quota; output answers no price under market_share)", gt=0)
    quota_elasticity: float = field(2.0, "-", "Production quota: how steeply output is cut as "
                                    "the home price falls below quota_price", gt=0, le=50)
    quota_min_share: float = field(0.5, "-", "Production quota: the least share of capacity the "
                                   "state keeps producing", ge=0, le=1)
    quota_adjustment: float = field(1.0, "1/step", "Production quota: share of the way from last "
                                    "step's quota to the one the home price asks for that the "
                                    "state moves each step (1: at once; China issues its rare-earth "
                                    "quotas about twice a year, about 1/6 a month, docs/sources.md "
                                    "31); below 1 keeps an inelastic home market from a cobweb",
                                    gt=0, le=1)
    reserve: StateReserve | None = field(None, "-", "A state reserve in each state-directed "
                                         "region (default: none)")

    @model_validator(mode="after")
    def quota_options_need_a_quota(self) -> NonMarket:
        needs(self, "quota_price", ("quota_elasticity", "quota_min_share", "quota_adjustment"),
              "the home price below which the state cuts output")
        return self

    @model_validator(mode="after")
    def strategy_options_need_their_strategy(self) -> NonMarket:
        # a setting its strategy never reads would do nothing: an error, not silently ignored
        only = {"market_share": ("target_share", "expansion_lead_time", "expansion_unit_cost"),
                "predatory": ("predatory_window",)}
        for strategy, keys in only.items():
            if self.strategy == strategy:
                continue
            for key in keys:
                if changed(self, key):
                    raise invalid(f"{key} is read only under strategy = \"{strategy}\" "
                                  f"(this is strategy = \"{self.strategy}\")", key)
        return self


class Outages(Strict):
    """Random producer outages (own random stream)."""

    probability: float = field(0.0, "1/step", "Chance a producer starts an outage in a step",
                               ge=0, le=1)
    duration: float = field(3.0, "steps", "Mean outage length (geometric)", ge=1)
    severity: float = field(0.5, "-", "Share of capacity lost during an outage", gt=0, le=1)


class Storage(Strict):
    """Private stockholders who store because it pays (competitive storage, abm.stockholders):
    they buy in the market and sell into it, holding stock while the price they expect covers
    the storage cost, the decay and the interest (a left-out [storage] table: none)."""

    enabled: bool = field(False, "-", "Private stockholders trade in the market")
    cost: float = field(0.0, PRICE, "Physical storage cost per tonne held per step", ge=0)
    decay: float = field(0.0, "1/step", "Share of the stock lost per step", ge=0, lt=1)
    interest: float = field(0.0, "1/step", "Stockholders' interest rate per step", ge=0, le=1)
    capacity: float | None = field(None, "t", "Most the stockholders hold (default: no limit)",
                                   ge=0)
    rule: Literal["rational", "adaptive"] = field(
        "rational", "-", "rational: the competitive-storage rule solved for the market they are "
        "in (abm.storage); adaptive: store while the developers' expected price covers cost, "
        "decay and interest")
    foresight: Literal["exit", "full", "uncertain"] = field(
        "exit", "-", "rule = 'rational', the regimes an announced export control makes public "
        "(its caps step by step): exit: they hold at each price the lesser of the current "
        "regime's rule and the backward induction over the known regimes (never carrying stock "
        "into a known fall, never buying ahead on the estimate); full: the backward induction "
        "(abm.known_regimes; exact where supply is vertical, but it ignores other agents' "
        "stocks when it estimates future regimes); uncertain: the backward induction with a "
        "chance lift_hazard per step that the controls are lifted for good (full at "
        "lift_hazard = 0)")
    lift_hazard: float = field(
        0.0, "1/step", "foresight = 'uncertain': the probability per step that the announced "
        "export controls are lifted and free trade (no export caps) returns for good; the worth "
        "of a carried tonne mixes the known path's next price (1 - lift_hazard) with free "
        "trade's stationary rule (lift_hazard)", ge=0, le=1)

    @model_validator(mode="after")
    def rule_is_defined(self) -> Storage:
        if self.enabled and self.rule == "adaptive" and self.capacity is None:
            # (they hold all they can while storing pays: the capacity is how much)
            raise invalid("rule = 'adaptive' needs capacity (the stock held while storing "
                          "pays)", "capacity")
        if self.enabled and self.rule == "rational" and self.cost + self.decay \
                + self.interest <= 0:
            # free storage always pays: stocks would grow without end (no stationary rule)
            raise invalid("rule = 'rational' needs a cost of carrying stock: cost, decay or "
                          "interest above 0", "cost")
        if changed(self, "lift_hazard") and self.foresight != "uncertain":
            # a setting that does nothing is an error, not silently ignored
            raise invalid(f"lift_hazard is read only under foresight = 'uncertain' (this is "
                          f"foresight = '{self.foresight}'); allowed: foresight = 'uncertain', "
                          "or lift_hazard left out", "lift_hazard")
        return self


class Exits(Strict):
    """Producer exit after sustained losses (a left-out [exits] table: producers never exit)."""

    enabled: bool = field(True, "-", "Producers may exit")
    loss_steps: int = field(24, "steps", "Consecutive steps of expected avoidable losses after "
                            "which a producer exits", ge=1)
    horizon: float = field(5.0, "yr", "Years of expected cash margin weighed against the fixed "
                           "cost a plant avoids by closing", gt=0, le=50)
    idle_fixed_share: float = field(0.0, "-", "Share of its fixed cost an idle plant (no output "
                                    "in a step) avoids by mothballing", ge=0, le=1)


class Shock(Strict):
    """An exogenous event: export control by a region, or a supply outage of a region."""

    kind: Literal["export_control", "supply_outage", "scrap_export_control"] = field(
        ..., "-", "Kind of event (scrap_export_control: on scrap, needs market.scrap_trade)")
    region: str = field(..., "-", "Region imposing the control or losing supply "
                        "(scrap_export_control: \"club\" for the club's regions together)")
    start: int = field(..., "steps", "First step in force", ge=0)
    duration: int = field(..., "steps", "Steps in force", ge=1)
    cut: float = field(..., "-", "Share of exports withheld (export_control; "
                       "scrap_export_control: of the net scrap exports there would be without "
                       "it) or of capacity lost (supply_outage)", ge=0, le=1)
    targets: list[str] = field([], "-", "scrap_export_control: regions whose imports are "
                               "withheld; the regions not targeted trade scrap freely with the "
                               "controlling region and share its side of the split (default: "
                               "every other region)")
    announce: int | None = field(None, "steps", "Step at which the event becomes known (default: "
                                 "start)", ge=0)
    licence_delay: int = field(0, "steps", "export_control: steps after start while licences "
                               "are processed, in which only `licence_flow` of the allowed "
                               "exports flow", ge=0)
    licence_flow: float = field(0.0, "-", "export_control: share of the exports the control allows "
                                "((1 - cut) x normal) that still flow during the licence delay; 0 "
                                "stops exports (gallium, Aug 2023: zero exports; antimony, Oct "
                                "2024: 190 t vs 6,533 t the month before, 2.9% of normal, so "
                                "0.029 / (1 - cut); docs/sources.md)",
                                ge=0, le=1)
    front_run: float = field(0.0, "-", "export_control: share of importers' per-step demand "
                             "bought ahead each step between announcement and start (in all at "
                             "most what the announced caps withhold over the force)", ge=0, le=5)
    stage: Literal["product", "concentrate"] = field(
        "product", "-", "export_control: what is withheld: product (the region's net exports of "
        "product) or concentrate (what its mines ship to refiners in other regions; DRC cobalt "
        "hydroxide, 2025); abm.policies.trade.ExportControl")

    @model_validator(mode="after")
    def scrap_control_settings(self) -> Shock:
        """targets belong to a scrap export control, which has no licences or front-running."""
        if self.kind != "scrap_export_control":
            if self.targets:
                raise invalid("targets applies to a scrap_export_control", "targets")
            return self
        for key in ("licence_delay", "front_run"):
            if getattr(self, key) != 0:
                raise invalid(f"{key} applies to an export_control (of product), not a "
                              "scrap_export_control", key)
        if self.region in self.targets:
            raise invalid(f"a region cannot target itself ('{self.region}')", "targets")
        return self

    @model_validator(mode="after")
    def announce_not_after_start(self) -> Shock:
        if self.announce is not None and self.announce > self.start:
            raise invalid("announce must be at or before start")
        if self.licence_flow > 0 and (self.kind != "export_control" or self.licence_delay == 0):
            raise invalid("licence_flow applies to an export_control's licence_delay steps: set "
                          "licence_delay (or leave licence_flow out)", "licence_flow")
        if self.kind != "export_control":
            for key in ("licence_delay", "front_run"):
                if getattr(self, key) != 0:
                    raise invalid(f"{key} applies to an export_control, not a {self.kind}", key)
            if self.stage != "product":
                raise invalid(f"stage applies to an export_control, not a {self.kind}", "stage")
        elif self.stage == "concentrate" and self.front_run > 0:
            # the model holds no concentrate stocks: refiners abroad cannot buy ahead
            raise invalid("front_run applies to a control of product (importers' stocks of "
                          "product); a stage = 'concentrate' control allows front_run = 0",
                          "front_run")
        elif self.front_run > 0 and (self.announce is None or self.announce >= self.start):
            raise invalid("front_run needs announce before start (importers buy ahead between "
                          "the two)", "front_run")
        return self


# --------------------------------------------------------------------------------------------------
# policies
# --------------------------------------------------------------------------------------------------


# Which floor mechanism acts at which stage (docs/ODD.md 7.18 gives the reasons): concentrate is
# not a market of its own (it is priced through the chain curve), so only a top-up on mines'
# sales is meaningful there; a component MIP is a border measure on imported components.
STAGE_MECHANISMS = {"product": ("mip", "purchase", "cfd"), "concentrate": ("cfd",),
                    "component": ("mip",)}


class Floor(Strict):
    """A price floor: level rule, mechanism, coverage and limits."""

    mechanism: Literal["mip", "purchase", "cfd"] = field(..., "-", "mip: minimum import price; "
                                                         "purchase: buffer stock; cfd: top-up")
    rule: Literal["fixed", "cost_percentile", "indexed"] = field(
        "fixed", "-", "fixed level; percentile of the market-economy cost curve; or indexed to "
        "a moving average of the price")
    level: float | None = field(None, PRICE, "Floor level (rule = fixed; start level for indexed)",
                                gt=0)
    percentile: float = field(75.0, "%", "rule = cost_percentile: percentile of the capacity-"
                              "weighted market-economy cash-cost curve", ge=0, le=100)
    stage: Literal["product", "concentrate", "component"] = field(
        "product", "-", "Stage the floor applies to (which mechanism at which stage: "
        "docs/ODD.md 7.18; a product MIP with component producers prices club makers' product "
        "at the club price)")
    covers: list[str] = field([], "-", "Regions protected (cfd, purchase) or imposing the MIP")
    producers: list[str] = field([], "-", "cfd, purchase: names of the existing producers "
                                 "covered (of the floor's stage, in covered regions); default: "
                                 "every producer in the covered regions")
    new_entrants: bool = field(True, "-", "cfd, purchase: pipeline projects in covered regions "
                               "are covered once built (false: only the existing producers)")
    volume_per_producer: float | None = field(None, "t/yr", "cfd: tonnes a year of each covered "
                                              "producer's sales that the contract covers (top-up "
                                              "and upside share); beyond them sales get no "
                                              "top-up (default: all)", gt=0)
    upside_share: float = field(0.0, "-", "cfd: share of the price above the floor paid to the "
                                "government", ge=0, le=1)
    settlement: int = field(1, "steps", "cfd: settlement period against the period's mean price",
                            ge=1)
    benchmark: Literal["sale", "world", "club"] = field(
        "sale", "-", "cfd: the price settled against: sale, the price each covered producer "
        "sold at (its market's: the club price behind a tariff or an MIP); world, the world "
        "price; club, the club price (at the concentrate stage all three are the concentrate "
        "price)")
    buy_from: Literal["covered", "any"] = field(
        "covered", "-", "purchase: covered, the government buys covered producers' output at the "
        "floor (producer support; the market price may sit below it); any, an open-market "
        "buffer stock bidding at the floor for whatever is offered (tin, rubber agreements: the "
        "price cannot fall below the floor while money and room last)")
    budget: float | None = field(None, "USD", "purchase, cfd: total the government may spend",
                                 ge=0)
    capacity: float | None = field(None, "t", "purchase: tonnes the buffer stock may hold", ge=0)
    release_price: float | None = field(None, PRICE, "purchase: sell stock at or above this "
                                        "price (default: never)", gt=0)
    volume_cap: float | None = field(None, "t/yr", "mip: annual volume of imports under the MIP",
                                     ge=0)
    quota: Literal["per_period", "first_come"] = field(
        "per_period", "-", "mip with volume_cap: per_period, the annual cap is allocated per step "
        "(volume_cap / steps_per_year, unused quota carried over within the year); first_come, "
        "imports use the annual cap until it runs out")
    min_ebitda: float | None = field(None, "USD/yr", "cfd: minimum EBITDA guaranteed to each "
                                     "covered producer, settled every year (MP magnet deal: "
                                     "$140m/yr, docs/sources.md)", ge=0)
    excess_duty: float | None = field(None, "-", "mip with volume_cap: ad-valorem duty on imports "
                                      "beyond the cap (default: none enter; EU solar 2013-18: "
                                      "duties averaging 47.6%, docs/sources.md)", ge=0, le=10)
    rent: Literal["duty", "undertaking"] = field(
        "duty", "-", "mip: who gets the wedge between the club price and the world price on "
        "imports: duty, the club government as a variable duty; undertaking, the exporters, "
        "who sell into the club at the minimum price under a price undertaking and keep the "
        "rent (EU solar MIP 2013-18, docs/sources.md); the tariff and any quota rent stay duty")
    revision_every: int = field(6, "steps", "indexed: steps between revisions", ge=1)
    band: float = field(0.15, "-", "indexed: revise when the mean price over the last "
                        "revision_every steps leaves level x (1 +/- band)", gt=0, lt=1)
    revision: float = field(0.05, "-", "indexed: size of one revision (rubber agreement: 5%)",
                            gt=0, lt=1)
    schedule: list[StepLevel] = field([], "[steps, price]", "Pre-set levels: from each "
                                              "step on, the paired level (EU solar MIP step-down)")
    start: int = field(0, "steps", "Step the floor takes effect", ge=0)
    end: int | None = field(None, "steps", "Step the floor ends (exclusive; default never)", ge=0)
    announce: int | None = field(None, "steps", "Step the floor is announced (default: start)",
                                 ge=0)

    @model_validator(mode="after")
    def level_given_for_fixed(self) -> Floor:
        if self.rule in ("fixed", "indexed") and self.level is None:
            raise invalid(f"rule = '{self.rule}' needs a level")
        if self.end is not None and self.end <= self.start:
            raise invalid("end must be after start")
        if self.min_ebitda is not None and self.mechanism != "cfd":
            raise invalid(f"min_ebitda is a guarantee of the CFD; it needs mechanism = 'cfd' "
                             f"(got '{self.mechanism}')")
        if self.excess_duty is not None and (self.mechanism != "mip" or self.volume_cap is None):
            raise invalid("excess_duty applies to imports beyond an MIP's volume_cap: it needs "
                             "mechanism = 'mip' and a volume_cap")
        allowed = STAGE_MECHANISMS[self.stage]
        if self.mechanism not in allowed:
            raise invalid(f"stage = '{self.stage}' takes mechanism "
                          f"{' or '.join(repr(m) for m in allowed)} (got '{self.mechanism}'; "
                          "docs/ODD.md 7.18)", "mechanism")
        # keys that mean nothing for the mechanism are errors, not silently ignored
        for key, mechanisms in (("producers", ("cfd", "purchase")),
                                ("new_entrants", ("cfd", "purchase")),
                                ("volume_per_producer", ("cfd",)), ("benchmark", ("cfd",)),
                                ("buy_from", ("purchase",)), ("quota", ("mip",)),
                                ("rent", ("mip",))):
            if key in self.model_fields_set and self.mechanism not in mechanisms:
                allowed = " or ".join(f"'{m}'" for m in mechanisms)
                raise invalid(f"{key} applies to mechanism {allowed} (got '{self.mechanism}')",
                              key)
        return self


class Stockpile(Strict):
    """A strategic stockpile run by the club's government."""

    buy_below: float = field(..., PRICE, "Buy when the club price is below this", gt=0)
    release_above: float = field(..., PRICE, "Release when the club price is above this; "
                                 "must be above buy_below", gt=0)
    target_cover: float = field(60.0, "days", "Stock target in days of club consumption", ge=0)
    capacity: float | None = field(None, "t", "Most tonnes the stockpile may hold", ge=0)
    budget: float | None = field(None, "USD", "Most money the stockpile may spend on purchases",
                                 ge=0)
    holding_cost: float = field(0.0, "USD/t/yr", "Storage cost per tonne held per year", ge=0)
    max_rate: float = field(0.1, "-", "Most tonnes bought or released per step, as a share of "
                            "the target stock", gt=0, le=1)
    start: int = field(0, "steps", "First step in force", ge=0)
    end: int | None = field(None, "steps", "Step it ends (exclusive; default never)", ge=0)

    @model_validator(mode="after")
    def releases_above_where_it_buys(self) -> Stockpile:
        # below buy_below it bids and above release_above it offers: a release level at or
        # under the buy level would buy and sell in the same month between the two
        if self.release_above <= self.buy_below:
            raise invalid("release_above must be above buy_below (got release_above "
                          f"{self.release_above:g} <= buy_below {self.buy_below:g})",
                          "release_above")
        return self


class Offtake(Strict):
    """Offtake contracts between club buyers (or the government) and covered producers."""

    share: float = field(..., "-", "Share of a covered producer's capacity contracted", ge=0, le=1)
    covers: list[str] = field([], "-", "Regions whose producers and projects may contract")
    price_formula: Literal["fixed", "collar", "cost_plus"] = field("fixed", "-",
                                                                   "Contract price formula")
    price: float | None = field(None, PRICE, "fixed: contract price", gt=0)
    floor: float | None = field(None, PRICE, "collar: lowest price paid", gt=0)
    ceiling: float | None = field(None, PRICE, "collar: highest price paid", gt=0)
    margin: float = field(0.15, "-", "cost_plus: margin over unit cost", ge=-1, le=10)
    tenor: int = field(120, "steps", "Contract length", ge=1)
    take_or_pay: bool = field(True, "-", "Buyer pays for contracted volume even if not taken")
    offtaker: Literal["buyers", "government"] = field("buyers", "-", "Who signs the contracts: "
                                                      "club buyers, or the club government "
                                                      "(which resells at the market price)")
    start: int = field(0, "steps", "First step in force", ge=0)
    end: int | None = field(None, "steps", "Step it ends (exclusive; default never)", ge=0)


class Trade(Strict):
    """Club trade measures on imports from non-club origins."""

    stage: Literal["product", "component"] = field(
        "product", "-", "Stage of the imports the measures apply to: product (with component "
        "producers: a tariff only, and club makers buy product at the club price), or component "
        "(a tariff on components made outside the club; needs component producers; rules of "
        "origin and transshipment are the product stage's: docs/ODD.md 7.18)")
    tariff: float = field(0.0, "-", "Ad-valorem duty on imports into the club from non-club "
                          "origins (of the measures' stage)", ge=0, le=10)
    rules_of_origin: float | None = field(None, "-", "Minimum share of club value (refining "
                                          "margin and concentrate) for club treatment of "
                                          "club-refined product", ge=0, le=1)
    sourcing: Literal["compliant", "cheapest"] = field(
        "compliant", "-", "Under a binding rule of origin: compliant, club refiners that fail it "
        "with non-club feed switch to club-mined (compliant) concentrate when last step's club "
        "premium covers the extra feed cost; cheapest, they keep the cheapest feed and lose "
        "club treatment")
    transshipment_cost: float | None = field(
        None, PRICE, "Cost of routing non-club product through a club-treated third country, "
        "per t (default: no routing)", ge=0)
    detection_rate: float = field(
        0.0, "-", "Share of routed (transshipped) tonnes customs catch: caught tonnes are "
        "refused club treatment and pay the duty (the club's border wedge)", ge=0, le=1)
    start: int = field(0, "steps", "First step in force", ge=0)
    end: int | None = field(None, "steps", "Step it ends (exclusive; default never)", ge=0)


class Finance(Strict):
    """Investment-side levers: concessional finance and permitting reform for covered projects."""

    covers: list[str] = field([], "-", "Regions whose projects benefit")
    hurdle_rate: float | None = field(None, "1/yr", "Concessional hurdle rate for covered "
                                      "projects (default: unchanged)", gt=0, le=1)
    lead_time_factor: float = field(1.0, "-", "Permitting reform: lead times multiplied by this",
                                    gt=0, le=1)
    start: int = field(0, "steps", "First step in force", ge=0)
    end: int | None = field(None, "steps", "Step it ends (exclusive; default never)", ge=0)
    announce: int | None = field(None, "steps", "Step it is announced (default: start)", ge=0)


class Policy(Strict):
    """The policy instruments; a left-out table means the instrument is off."""

    floor: Floor | None = field(None, "-", "Price floor (off when left out)")
    component_floor: Floor | None = field(
        None, "-", "A second floor, at the component stage (stage = 'component'), beside "
        "policy.floor (off when left out; needs component producers)")
    stockpile: Stockpile | None = field(None, "-", "Strategic stockpile (off when left out)")
    offtake: Offtake | None = field(None, "-", "Offtake contracts (off when left out)")
    trade: Trade | None = field(None, "-", "Club trade measures (off when left out)")
    finance: Finance | None = field(None, "-", "Concessional finance and permitting reform (off "
                                    "when left out)")


# --------------------------------------------------------------------------------------------------
# sweep
# --------------------------------------------------------------------------------------------------


class Range(Strict):
    """A continuous range for LHS and Sobol designs."""

    low: float = field(..., "-", "Lower bound")
    high: float = field(..., "-", "Upper bound")

    @model_validator(mode="after")
    def ordered(self) -> Range:
        if not self.high > self.low:
            raise invalid("high must be greater than low")
        return self


class Sweep(Strict):
    """A design over parameters (EMA Workbench: uncertainties and levers), crossed with scenarios."""

    design: Literal["grid", "lhs", "sobol"] = field("grid", "-", "Design")
    samples: int = field(16, "points", "LHS: number of points; Sobol: N (a power of two), giving "
                         "N(2D+2) points", ge=1, le=1_000_000)
    parameters: dict[str, Annotated[list[float], Field(min_length=1)] | Range] = field(
        ..., "-", "Dotted config key -> list of values (grid) or {low, high} (lhs, sobol)")
    scenarios: list[str] | None = field(
        None, "-", "Scenarios the sweep applies to (each scenario not named runs unswept at "
        "every point); default: a parameter applies to the scenarios where its table exists")

    @model_validator(mode="after")
    def parameters_fit_design(self) -> Sweep:
        if not self.parameters:
            raise invalid("sweep.parameters is empty")
        for key, value in self.parameters.items():
            if self.design == "grid" and not isinstance(value, list):
                raise invalid(f"grid design needs a list of values for '{key}'")
            if self.design != "grid" and not isinstance(value, Range):
                raise invalid(f"{self.design} design needs {{low, high}} for '{key}'")
        if self.design == "sobol" and self.samples & (self.samples - 1):
            raise invalid("sobol samples must be a power of two")
        return self


def check_metric(name: str, *path: str | int) -> None:
    """Raise a config error at `path` unless `name` is a run metric (abm.names.METRICS)."""
    import difflib

    from abm.names import METRICS

    if name not in METRICS:
        close = difflib.get_close_matches(name, list(METRICS), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise invalid(f"unknown metric '{name}'{hint}; metrics: {', '.join(METRICS)}", *path)


class Discovery(Strict):
    """Scenario discovery (PRIM, `abm discover`): the conditions under which runs meet a criterion."""

    criterion: str | list[str] = field(
        ..., "-", "When a run counts as a case of interest: 'METRIC OP NUMBER' (OP one of > >= < "
        "<=; conditions joined by 'and' / 'or'), e.g. 'fiscal_cost > 2e9'; a list: each "
        "criterion analysed on its own")
    scenarios: list[str] | None = field(None, "-", "Scenarios analysed, each on its own "
                                        "(default: the swept ones)")
    threshold: float = field(0.8, "-", "Least density (share of a box's runs meeting the "
                             "criterion) of the box shown", gt=0, le=1)
    peel_alpha: float = field(0.05, "-", "Share of a box's runs peeled off in one step", gt=0,
                              lt=0.5)
    paste_alpha: float = field(0.05, "-", "Share of a box's runs pasted back in one step", gt=0,
                               lt=0.5)
    mass_min: float = field(0.05, "-", "Least share of all runs a box holds (peeling stops)",
                            gt=0, lt=1)
    max_p: float = field(0.05, "-", "Limits with a quasi-p-value above this are dropped from "
                         "the box shown", gt=0, le=1)

    @model_validator(mode="after")
    def criteria_read(self) -> Discovery:
        from abm.discovery import parse_criterion

        for i, text in enumerate(self.criteria):
            path = ("criterion", i) if isinstance(self.criterion, list) else ("criterion",)
            try:
                metrics = [c[0] for g in parse_criterion(text) for c in g]
            except ValueError as err:
                raise invalid(str(err), *path) from None
            for m in metrics:
                check_metric(m, *path)
        return self

    @property
    def criteria(self) -> list[str]:
        return [self.criterion] if isinstance(self.criterion, str) else list(self.criterion)


# --------------------------------------------------------------------------------------------------
# the whole experiment
# --------------------------------------------------------------------------------------------------


class Report(Strict):
    """What the result pages lead with, and how run metrics value money over time and read
    producers' price risk (headline changes no run; the other keys change metrics, not runs)."""

    headline: list[str] | None = field(
        None, "-", "Outcomes (run metric names) the headline of each scenario states first, in "
        "this order, e.g. ['recycled_share', 'price_p95']; the fiscal cost follows. Default: "
        "price volatility, new market-economy capacity, fiscal cost", min_length=1)
    discount_rate: float = field(
        0.035, "1/yr", "Real discount rate of fiscal_cost_npv. ASSUMPTION: a government's real "
        "social discount rate, the UK Green Book's 3.5% (HM Treasury, https://www.gov.uk/"
        "government/publications/the-green-book-appraisal-and-evaluation-in-central-government"
        "; docs/sources.md)", ge=0, le=1)
    risk_period: int = field(
        3, "steps", "Period over which covered_price_volatility and covered_revenue_cv read "
        "covered producers' realised prices, from step 0 in every scenario (3: quarterly with "
        "monthly steps, as the DoD-MP CFD settles, docs/sources.md); a CFD settlement period "
        "that nests in it is counted with the sales it pays for", ge=1)

    @model_validator(mode="after")
    def metrics_known(self) -> Report:
        for i, name in enumerate(self.headline or []):
            check_metric(name, "headline", i)
        return self


class ExperimentConfig(Strict):
    """One experiment: the base configuration, its scenarios and an optional sweep."""

    extends: str | None = field(None, "-", "Another experiment file this one builds on (relative "
                                "path; its tables merge under this file's, arrays of tables are "
                                "replaced whole)")
    producers_file: str | None = field(None, "-", "CSV of producers (columns as [[producers]]), "
                                       "relative to the experiment file")
    experiment: ExperimentMeta = field(..., "-", "Name, length, replications and seed")
    market: Market = field(..., "-", "The product market")
    regions: list[Region] = field(..., "-", "Regions", min_length=1)
    producers: list[Producer] = field([], "-", "Existing producers")
    recyclers: list[Recycler] = field([], "-", "Recyclers (secondary supply)")
    buyers: list[Buyer] = field(..., "-", "Buyers", min_length=1)
    trade_costs: list[TradeCost] = field([], "-", "Shipping costs between separate-market "
                                         "regions and the world market")
    investment: Investment = field(Investment(enabled=False), "-", "Investment (off when the table "
                                   "is left out)")
    nonmarket: NonMarket = field(NonMarket(), "-", "Non-market producer behaviour")
    outages: Outages | None = field(None, "-", "Random producer outages (off when left out)")
    exits: Exits | None = field(None, "-", "Exit after sustained losses (off when left out)")
    storage: Storage = field(Storage(), "-", "Private stockholders (off when left out)")
    shocks: list[Shock] = field([], "-", "Exogenous events")
    policy: Policy = field(Policy(), "-", "Policy instruments")
    scenarios: dict[str, dict[str, Any]] = field({}, "-", "Named scenarios: dotted-key overrides")
    sweep: Sweep | None = field(None, "-", "Parameter design crossed with the scenarios (none when "
                                "left out)")
    discovery: Discovery | None = field(None, "-", "Scenario discovery criteria for `abm "
                                        "discover` and the sweep page (none when left out)")
    report: Report = field(Report(), "-", "What the result pages show first; how metrics value "
                           "money over time")

    @model_validator(mode="after")
    def references_resolve(self) -> ExperimentConfig:
        """Every region named anywhere must be listed; producers must exist."""
        names = [r.name for r in self.regions]
        if len(set(names)) != len(names):
            raise invalid("region names must be unique", "regions")
        known = set(names)
        self._check_unique_names()

        def check(path: tuple, region: str) -> None:
            if region not in known:
                raise invalid(f"unknown region '{region}'; allowed: "
                              f"{', '.join(sorted(known))}", *path)

        for i, p in enumerate(self.producers):
            check(("producers", i, "region"), p.region)
        for i, r in enumerate(self.recyclers):
            check(("recyclers", i, "region"), r.region)
        for i, b in enumerate(self.buyers):
            check(("buyers", i, "region"), b.region)
        for i, p in enumerate(self.investment.projects):
            check(("investment", "projects", i, "region"), p.region)
        for i, s in enumerate(self.shocks):
            if not (s.kind == "scrap_export_control" and s.region == "club"
                    and "club" not in known):
                check(("shocks", i, "region"), s.region)
            for region in s.targets:
                check(("shocks", i, "targets"), region)
        self._check_scrap_controls()
        self._check_concentrate_controls()
        self._check_overlapping_export_controls()
        self._check_storage_foresight()
        for i, route in enumerate(self.trade_costs):
            check(("trade_costs", i, "from"), route.origin)
            check(("trade_costs", i, "to"), route.to)
        self._check_separate_markets()
        for name, instrument in (("floor", self.policy.floor), ("offtake", self.policy.offtake),
                                 ("finance", self.policy.finance),
                                 ("component_floor", self.policy.component_floor)):
            if instrument is not None:
                for region in instrument.covers:
                    check(("policy", name, "covers"), region)
        floor = self.policy.floor
        if floor is not None and floor.producers:
            self._check_floor_producers(floor)
        if not any(p.stage == "refinery" for p in self.producers) and not any(
            p.stage == "refinery" for p in self.investment.projects
        ):
            raise invalid("at least one refinery (stage = 'refinery') is needed: the product "
                          "market has no supply", "producers")
        total_share = sum(b.share for b in self.buyers)
        if abs(total_share - 1.0) > 1e-6:
            raise invalid(f"buyer shares must add up to 1 (they add up to {total_share:g})",
                          "buyers")
        return self

    def _check_unique_names(self) -> None:
        """Producer, recycler and project names are one list of plants (a built project joins
        the producers under its name; a floor names producers and recyclers alike); buyer
        names are another. A name given twice would make results and references ambiguous."""
        plants = [(("producers", i, "name"), p.name) for i, p in enumerate(self.producers)]
        plants += [(("recyclers", i, "name"), r.name) for i, r in enumerate(self.recyclers)]
        plants += [(("investment", "projects", i, "name"), p.name)
                   for i, p in enumerate(self.investment.projects)]
        for what, named in (("producer, recycler and project", plants),
                            ("buyer", [(("buyers", i, "name"), b.name)
                                       for i, b in enumerate(self.buyers)])):
            first: dict[str, tuple] = {}
            for path, name in named:
                if name in first:
                    earlier = ".".join(str(p) for p in first[name][:-1])
                    raise invalid(f"duplicate name '{name}' (also {earlier}); {what} names "
                                  "must be unique", *path)
                first[name] = path

    def _check_storage_foresight(self) -> None:
        """Full (and uncertain) foresight reads an export control's caps, not the importers'
        stock bought ahead, which is released at no ask during the control: the induction would
        expect prices the release does not leave."""
        st = self.storage
        if not (st.enabled and st.rule == "rational" and st.foresight in ("full", "uncertain")):
            return
        for i, s in enumerate(self.shocks):
            if s.kind == "export_control" and s.stage == "concentrate":
                raise invalid(f"storage.foresight = '{st.foresight}' reads product export caps, "
                              "not a stage = 'concentrate' control's; allowed: foresight = "
                              "'exit'", "shocks", i, "stage")
            if s.kind == "export_control" and s.front_run > 0:
                raise invalid(f"storage.foresight = '{st.foresight}' does not see importers' "
                              "buying ahead (front_run), which is released during the control; "
                              "allowed: foresight = 'exit', or front_run = 0", "shocks", i,
                              "front_run")

    def _check_concentrate_controls(self) -> None:
        """A concentrate control needs mines in its region (today's or projects), and acts on
        the usual chain curve: rules of origin, which re-pair club refiners with compliant feed
        (abm.agents.sourcing), are not modelled together with it."""
        for i, s in enumerate(self.shocks):
            if s.kind != "export_control" or s.stage != "concentrate":
                continue
            if not any(p.stage == "mine" and p.region == s.region
                       for p in [*self.producers, *self.investment.projects]):
                raise invalid(f"'{s.region}' has no mines (no producer or project there with "
                              "stage = 'mine'); allowed for stage = 'concentrate': a region "
                              "with mines", "shocks", i, "region")
            if self.policy.trade is not None and self.policy.trade.rules_of_origin is not None:
                raise invalid("a stage = 'concentrate' export control is not modelled with "
                              "rules of origin (policy.trade.rules_of_origin); allowed: one of "
                              "the two", "shocks", i, "stage")

    def _check_overlapping_export_controls(self) -> None:
        """One export control at a time per region and stage: each caps a share of the region's
        normal exports, and two in force together would each set the cap."""
        seen: dict[tuple[str, str], list[tuple[int, int, int]]] = {}
        for i, s in enumerate(self.shocks):
            if s.kind != "export_control":
                continue
            end = s.start + s.duration
            for j, start, stop in seen.get((s.region, s.stage), []):
                if s.start < stop and start < end:
                    raise invalid(f"overlaps shocks[{j}], another export_control by "
                                  f"'{s.region}' at stage '{s.stage}' (steps {start}-{stop - 1} "
                                  f"and {s.start}-{end - 1}); allowed: one control in force at a "
                                  "time per region and stage (start one after the other ends)",
                                  "shocks", i, "start")
            seen.setdefault((s.region, s.stage), []).append((i, s.start, end))

    def _check_scrap_controls(self) -> None:
        """A scrap export control needs traded scrap, and one at a time: the scrap market splits
        into two sides (abm.scrap), not more."""
        controls = [(i, s) for i, s in enumerate(self.shocks) if s.kind == "scrap_export_control"]
        if controls and not self.market.scrap_trade:
            raise invalid("a scrap_export_control needs traded scrap: set market.scrap_trade = "
                          "true", "shocks", controls[0][0], "kind")
        club = {r.name for r in self.regions if r.club}
        scrap = {r.region for r in self.recyclers if r.scrap > 0}
        for i, s in controls:
            keyword = s.region == "club" and all(r.name != "club" for r in self.regions)
            controller = club if keyword else {s.region}
            if keyword and not club:
                raise invalid("region = 'club' needs club regions (regions with club = true)",
                              "shocks", i, "region")
            if not controller & scrap:
                raise invalid(f"'{s.region}' has no scrap to withhold (no recycler there with "
                              "scrap > 0); allowed: a region whose recyclers collect scrap",
                              "shocks", i, "region")
            if len(set(s.targets)) != len(s.targets):
                raise invalid("targets lists a region twice", "shocks", i, "targets")
            inside = sorted(controller & set(s.targets))
            if inside:
                raise invalid(f"a control cannot target its own region ('{inside[0]}')",
                              "shocks", i, "targets")
            if s.announce is not None:
                raise invalid("announce applies to an export_control (of product, whose "
                              "importers buy ahead), not a scrap_export_control", "shocks", i,
                              "announce")
        for n, (i, a) in enumerate(controls):
            for j, b in controls[n + 1:]:
                if a.start < b.start + b.duration and b.start < a.start + a.duration:
                    raise invalid(f"scrap export controls overlap in time (shocks.{i} and "
                                  f"shocks.{j}); allowed: one in force at a time", "shocks", j,
                                  "start")

    def _check_separate_markets(self) -> None:
        """Separate markets trade through the world market (abm.regional): a route joins one
        separate-market region and the world market (any region that is not separate stands for
        it), once per direction; at least one region stays in the world market."""
        separate = {r.name for r in self.regions if r.separate_market}
        if separate and len(separate) == len(self.regions):
            raise invalid("every region has separate_market = true; allowed: at least one region "
                          "left in the world market, through which separate markets trade",
                          "regions")
        if separate and self.storage.enabled:
            # (stockholders' rule is solved for one market; a separate market's is not theirs)
            first = next(i for i, r in enumerate(self.regions) if r.separate_market)
            raise invalid("[storage] is not supported with separate_market regions (private "
                          "stockholders trade in one market); allowed: one or the other",
                          "regions", first, "separate_market")
        if self.trade_costs and not separate:
            raise invalid("trade_costs need a region with separate_market = true (the other "
                          "regions are one market, where shipping costs nothing)", "trade_costs")
        seen: dict[tuple[str, str], int] = {}
        for i, route in enumerate(self.trade_costs):
            ends = (route.origin in separate, route.to in separate)
            if route.origin == route.to:
                raise invalid(f"route '{route.origin}' -> '{route.to}' starts and ends in the "
                              "same region; allowed: one end a separate market, the other a "
                              "region of the world market", "trade_costs", i, "to")
            if ends == (True, True):
                raise invalid(f"route '{route.origin}' -> '{route.to}' joins two separate "
                              "markets; allowed: one end a separate market, the other a region "
                              "of the world market (separate markets trade through the world "
                              "market, at the sum of their two routes' costs)", "trade_costs",
                              i, "to")
            if ends == (False, False):
                raise invalid(f"route '{route.origin}' -> '{route.to}' has no separate-market "
                              f"end; allowed: from or to one of {', '.join(sorted(separate))}",
                              "trade_costs", i, "from")
            key = (route.origin, "world") if ends[0] else ("world", route.to)
            if key in seen:
                raise invalid(f"duplicate route '{route.origin}' -> '{route.to}' (also "
                              f"trade_costs.{seen[key]}; the regions of the world market are "
                              "one market, so a separate market has one route to it and one "
                              "from it)", "trade_costs", i, "to" if ends[0] else "from")
            seen[key] = i
        floor = self.policy.floor
        border = (self.policy.trade is not None and self.policy.trade.tariff > 0) or (
            floor is not None and floor.mechanism == "mip")
        for i, r in enumerate(self.regions):
            if r.separate_market and r.club and border:
                raise invalid(f"club region '{r.name}' cannot be a separate market while the "
                              "club has a border (a tariff or an MIP floor): its trade with the "
                              "other club regions would cross the club's border; allowed: "
                              "separate_market on non-club regions, or no club border",
                              "regions", i, "separate_market")
        if floor is not None and floor.mechanism == "purchase" and floor.buy_from == "any":
            # (an empty covers: the club's regions, or every region without a club)
            club = [r.name for r in self.regions if r.club]
            covered = floor.covers or club or [r.name for r in self.regions]
            held = [r for r in covered if r in separate]
            if held:
                raise invalid(f"an open-market buffer stock (buy_from = 'any') cannot cover "
                              f"'{held[0]}', a separate market (its bid sits in the world or "
                              "the club's market); use buy_from = 'covered'", "policy", "floor",
                              "covers")

    def _check_floor_producers(self, floor: Floor) -> None:
        """policy.floor.producers names existing producers of the floor's stage in covered
        regions (an empty `covers`: the club's regions, or every region without a club)."""
        import difflib

        path = ("policy", "floor", "producers")
        stage = "mine" if floor.stage == "concentrate" else "refinery"
        existing = {p.name: (p.region, p.stage) for p in self.producers}
        existing.update({r.name: (r.region, "refinery") for r in self.recyclers})
        covered = set(floor.covers) or {r.name for r in self.regions if r.club} or {
            r.name for r in self.regions}
        for name in floor.producers:
            if name not in existing:
                close = difflib.get_close_matches(name, list(existing), n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise invalid(f"unknown producer '{name}'{hint}; producers: "
                              f"{', '.join(sorted(existing))}", *path)
            region, kind = existing[name]
            if kind != stage:
                raise invalid(f"producer '{name}' is a {kind}; a {floor.stage}-stage floor covers "
                              f"{stage}s", *path)
            if region not in covered:
                raise invalid(f"producer '{name}' is in region '{region}', which the floor does "
                              f"not cover (covers: {', '.join(sorted(covered))})", *path)


    def mip_covers_club(self) -> None:
        """A MIP (product or component stage) acts at the club's border: a covered region
        outside the club has none in the model, and its duties would be booked to a government
        that levies none."""
        club = {r.name for r in self.regions if r.club}
        for name, floor in (("floor", self.policy.floor),
                            ("component_floor", self.policy.component_floor)):
            if floor is None or floor.mechanism != "mip" or floor.stage == "concentrate":
                continue
            outside = [r for r in floor.covers if r not in club]
            if outside:
                raise invalid(f"a {floor.stage} MIP is imposed by club regions; '{outside[0]}' "
                              f"is not in the club (allowed in covers: "
                              f"{', '.join(sorted(club)) or 'no region: the experiment has no club'})",
                              "policy", name, "covers")

    @model_validator(mode="after")
    def refinery_intensity_is_the_markets(self) -> ExperimentConfig:
        """A refinery's own concentrate intensity is refused unless it is the market's: the
        chain pairs every refinery's tonne with market.intensity t of ore (review rv11 J4: an
        intensity of 2 on one refinery was silently run at the market's 1)."""
        for i, prod in enumerate(self.producers):
            if (prod.stage == "refinery" and prod.intensity is not None
                    and not math.isclose(prod.intensity, self.market.intensity,
                                         rel_tol=1e-12)):
                raise invalid(f"a refinery's own intensity is not modelled (got "
                              f"{prod.intensity:g}): every refinery uses market.intensity "
                              f"({self.market.intensity:g} t of concentrate per t of product); "
                              "set market.intensity or leave the key out", "producers", i,
                              "intensity")
        return self

    @model_validator(mode="after")
    def components_combine(self) -> ExperimentConfig:
        """A component-stage floor needs component producers; with them, the features whose
        submodels still read the product price as buyers' price (or clear the product market
        against buyers) are refused rather than run with a wrong answer (docs/ODD.md 7.18)."""
        makers = [i for i, p in enumerate(self.producers) if p.stage == "component"]
        p = self.policy
        second = p.component_floor
        self.mip_covers_club()
        if second is not None and second.stage != "component":
            raise invalid(f"policy.component_floor is the component-stage floor: stage = "
                          f"'component' (got '{second.stage}'; a product or concentrate floor "
                          "is policy.floor)", "policy", "component_floor", "stage")
        if second is not None and p.floor is not None and p.floor.stage == "component":
            raise invalid("policy.floor and policy.component_floor are both at the component "
                          "stage; allowed: one floor per stage", "policy", "floor", "stage")
        trade = p.trade
        if trade is not None and trade.stage == "component":
            if not makers:
                raise invalid("policy.trade with stage = 'component' needs component producers "
                              "([[producers]] stage = 'component')", "policy", "trade", "stage")
            for key in ("rules_of_origin", "transshipment_cost", "detection_rate", "sourcing"):
                if key in trade.model_fields_set:
                    raise invalid(f"{key} applies to product-stage trade measures (policy.trade."
                                  "stage = 'product'); allowed at the component stage: tariff, "
                                  "start, end", "policy", "trade", key)
        for name, floor in (("floor", p.floor), ("component_floor", second)):
            if floor is None or floor.stage != "component":
                continue
            if not makers:
                raise invalid("a component-stage floor needs component producers "
                              "([[producers]] stage = 'component')", "policy", name, "stage")
            if floor.rule != "fixed":
                raise invalid(f"a component-stage floor takes rule = 'fixed' (got "
                              f"'{floor.rule}': its percentile and index would read the "
                              "product stage)", "policy", name, "rule")
        if not makers:
            # (a resolved config, abm.experiment, writes every key: its default value passes)
            if changed(self.market, "component_intensity"):
                raise invalid("market.component_intensity applies to component producers; the "
                              "experiment has none (add [[producers]] with stage = 'component', "
                              "or leave the key out)", "market", "component_intensity")
            return self
        where = ("producers", makers[0], "stage")
        if trade is not None and trade.stage == "product":
            # (the club product market with makers, abm.club_product, takes a tariff only)
            for key in ("rules_of_origin", "transshipment_cost", "detection_rate", "sourcing"):
                if key in trade.model_fields_set:
                    raise invalid(f"{key} is not modelled with component producers (producers."
                                  f"{where[1]} has stage = 'component'); allowed in policy.trade "
                                  "with them: tariff, stage, start, end (docs/ODD.md 7.18)",
                                  "policy", "trade", key)
        product_mip = (p.floor is not None and p.floor.stage == "product"
                       and p.floor.mechanism == "mip")
        if product_mip and p.floor.volume_cap is not None:
            raise invalid(f"a product MIP's volume_cap is not modelled with component producers "
                          f"(producers.{where[1]} has stage = 'component'); allowed: a product "
                          "MIP without a volume cap, a component MIP with one (docs/ODD.md "
                          "7.18)", "policy", "floor", "volume_cap")
        refused = [
            (bool(self.recyclers), "recyclers", ("recyclers",)),
            (p.stockpile is not None, "policy.stockpile", ("policy", "stockpile")),
            (p.offtake is not None, "policy.offtake", ("policy", "offtake")),
            (p.floor is not None and p.floor.stage == "product"
             and p.floor.mechanism == "purchase",
             "a product-stage 'purchase' floor", ("policy", "floor", "mechanism")),
            (self.market.price_cap is not None, "market.price_cap", ("market", "price_cap")),
            (self.investment.enabled, "[investment] (developers and state expansion read "
             "buyers' demand as product demand)", ("investment", "enabled")),
            (self.exits is not None and self.exits.enabled, "[exits]", ("exits", "enabled")),
            (self.nonmarket.strategy == "predatory", "nonmarket.strategy = 'predatory'",
             ("nonmarket", "strategy")),
            (self.nonmarket.quota_price is not None, "nonmarket.quota_price",
             ("nonmarket", "quota_price")),
            (self.nonmarket.reserve is not None, "nonmarket.reserve", ("nonmarket", "reserve")),
            (any(r.separate_market for r in self.regions), "separate_market regions",
             ("regions",)),
            (self.storage is not None and self.storage.enabled,
             "[storage] (stockholders trade product at the buyers' price)", ("storage",
                                                                             "enabled")),
        ]
        refused += [(s.kind == "export_control", "an export_control shock", ("shocks", i, "kind"))
                    for i, s in enumerate(self.shocks)]
        refused += [(b.inventory_cover > 0, "buyers' inventories", ("buyers", i,
                                                                   "inventory_cover"))
                    for i, b in enumerate(self.buyers)]
        for bad, what, path in refused:
            if bad:
                raise invalid(f"{what} is not modelled with component producers (producers."
                              f"{where[1]} has stage = 'component'); allowed with them: mines, "
                              "refineries, buyers, outages, supply_outage shocks, a product or "
                              "concentrate CFD, a product MIP, a product tariff, a component "
                              "MIP and a component tariff (docs/ODD.md 7.18)", *path)
        return self

    @model_validator(mode="after")
    def instruments_combine(self) -> ExperimentConfig:
        """Combinations of instruments the clearing cannot represent, or that contradict
        themselves, are refused rather than run with a wrong answer."""
        trade, floor, cap = self.policy.trade, self.policy.floor, self.market.price_cap
        club = {r.name for r in self.regions if r.club}
        if all(r.market_economy for r in self.regions):
            for key in ("reserve", "quota_price"):
                if getattr(self.nonmarket, key) is not None:
                    raise invalid(f"nonmarket.{key} needs a state-directed region "
                                  "(market_economy = false)", "nonmarket", key)
        for i, s in enumerate(self.shocks):
            if s.kind == "export_control" and s.stage == "product" and s.region in club:
                # the restricting region is a market of its own linked to the world: the club's
                # border (MIP, tariff) would not apply to its buyers, and the club's price would
                # not be what they pay
                raise invalid(f"an export control by club region '{s.region}' is not supported "
                              "(its buyers would leave the club's market); allowed: a non-club "
                              "region", "shocks", i, "region")
        restricting = {s.region: i for i, s in enumerate(self.shocks)
                       if s.kind == "export_control" and s.stage == "product"}
        if floor is not None and floor.mechanism == "purchase":
            held = [r for r in floor.covers if r in restricting]
            if floor.buy_from == "any" and held:
                # its bid sits in the club's or the world's market, not in the restricting
                # region's own market, whose price it would have to hold
                raise invalid(f"an open-market buffer stock (buy_from = 'any') cannot cover "
                              f"'{held[0]}', which restricts its exports (shocks."
                              f"{restricting[held[0]]}); use buy_from = 'covered'", "policy",
                              "floor", "covers")
            if (floor.buy_from == "any" and trade is not None and trade.tariff > 0
                    and not set(floor.covers) <= club):
                # an open-market buffer stock bids in the club's market behind the tariff
                raise invalid("an open-market buffer stock (buy_from = 'any') behind a club "
                              "tariff defends the club's price: cover club regions only, or "
                              "use buy_from = 'covered'", "policy", "floor", "covers")
            if (floor.rule == "fixed" and floor.release_price is not None
                    and floor.level is not None and (floor.release_price < floor.level or (
                        floor.release_price == floor.level and floor.buy_from != "any"))):
                # (an open-market buffer stock may sell at the floor: it buys and sells there)
                raise invalid(f"release_price ({floor.release_price:g}) must be above the floor "
                              f"level ({floor.level:g}) (or equal to it with buy_from = 'any'): "
                              "the buffer stock would sell to itself",
                              "policy", "floor", "release_price")
        if cap is not None and floor is not None and floor.mechanism in ("purchase", "mip") \
                and floor.rule == "fixed":
            levels = [("level", floor.level)] if floor.level is not None else []
            levels += [("schedule", level) for _, level in floor.schedule]
            for key, level in levels:
                if level > cap:
                    raise invalid(f"a floor level ({level:g}) is above market.price_cap "
                                  f"({cap:g}): a floor above the cap cannot hold", "policy",
                                  "floor", key)
        return self
