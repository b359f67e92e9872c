"""What agents and policies see of the model: `ModelView`, a typing.Protocol that
`abm.model.MineralMarket` satisfies.

Policies (`abm.policies`) and the populations that hand the model on to them
(`abm.agents.producers.Producers`, `abm.agents.developers.Pipeline`) annotate their `model`
parameter with it instead of importing `abm.model`, so dependencies run one way: `abm.model`
imports agents and policies, never the reverse. The types named here come only from modules that
do not import this one (no import circle, not even a type-only one).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np

    from abm.agents.book import ProducerBook
    from abm.agents.buyers import Buyers
    from abm.agents.government import Governments
    from abm.clearing import MarketPlan, Offers, Outcome
    from abm.component import ComponentMakers
    from abm.config import ExperimentConfig
    from abm.investment import PriceExpectation
    from abm.recorder import Recorder


@runtime_checkable
class DeveloperView(Protocol):
    """What instruments and the non-market strategy see of a developer (abm.agents.developers)."""

    project: Any            # its [[investment.projects]] entry
    region: int
    stage: int              # abm.kinds.MINE or REFINERY
    market_economy: bool
    status: str             # candidate, building, online
    online_step: int | None


@runtime_checkable
class ModelView(Protocol):
    """The model as agents and policies read it (all attributes; `plan`, `offers`, `outcome`,
    `acct` and `disruption` exist once a step has started)."""

    # fixed at construction
    config: ExperimentConfig
    n_steps: int
    steps_per_year: int
    money_per_price_tonne: float    # USD per (price unit x t)
    elasticity: float
    region_names: list[str]
    region_index: dict[str, int]
    region_club: np.ndarray
    separate_markets: dict[int, tuple[float, float]]   # region -> shipping cost in, out (abm.regional)
    has_mines: bool
    policies: list              # the scenario's instruments (abm.policies.base.Policy)
    # populations
    book: ProducerBook          # producers' rows (owned by model.producers)
    buyers: Buyers
    governments: Governments
    developers: Sequence[DeveloperView]
    expectation: PriceExpectation   # developers' shared price view (owned by model.pipeline)
    stockholders: object        # private stockholders (abm.stockholders; None without [storage])
    recorder: Recorder
    # this step
    t: int
    plan: MarketPlan
    offers: Offers
    outcome: Outcome
    acct: dict[str, float]      # abm.kinds.ACCOUNT_KEYS
    price: float
    club_price: float
    club_market_price: float    # the club market's price (Outcome.club_market_price)
    last_price: float
    concentrate_price: float
    floor_level: float
    disruption: bool
    shortfall: float            # product t per step export controls take off the market
    shortfall_by: dict          # the same per control (ExportControl -> t)
    short_of: np.ndarray | None  # per region: its buyers are short of it (None: no shortfall)
    take_limit: np.ndarray | None  # per region, t its short buyers may take (None: no limit)
    shortfall_local: dict       # market (region; a club at its first) -> t only its buyers can replace
    spare_supply: float         # t unsold outside the binding caps at the free-trade price
    repaired_supply: float      # of it, t made on ore a product cap idles (re-paired)
    deferral_share: float | None  # share of normal-times buying put off for it (None: not found)
    shortfall_parts: dict       # control -> its part of the shortfall (ExportControl.report_shortfall)
    free_trade_price: float     # world price of the export controls' free-trade counterfactual
    free_trade_cache: dict      # the step's free trade with no one short (ExportControl.binds)
    free_trade_club_imports: float | None  # t the club imported in it (None: no control bound)
    free_trade_bid_filled: float | None    # t a stockpile's bid bought in it (None: none run)
    free_trade_reserve_bought: dict | None  # region -> (t, price) state reserves bought in it
    # the component stage (abm.component; NaN prices and an empty population without it)
    components: ComponentMakers
    component_plan: MarketPlan          # the component market's measures (a component MIP)
    component_outcome: Outcome | None   # the component market's clearing (None without it)
    component_price: float
    club_component_price: float

    @property
    def region_net_exports(self) -> np.ndarray: ...

    def take_groups(self) -> np.ndarray | None: ...  # a club behind its measures is one group

    def register_stock_owner(self, policy) -> int: ...
