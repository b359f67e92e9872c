"""The policy interface (as Covasim/Starsim interventions): a scenario is a list of these.

Each instrument is a small object owned by a `Government`. The model calls, every step:
`apply(model)` before offers are made (set levels, decide purchases), `adjust_offers(model,
offers)` before the market clears, and `settle(model)` after it cleared (payments, ledger).
`protection(model, developer)` tells developers how the instrument would change a project's
revenue (floors as puts, offtakes as fixed prices), once the instrument is announced;
`hurdle_rate` and `lead_time` change a project's finance and permitting.

Instruments see the model through `abm.protocol.ModelView` (they never import `abm.model`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from abm.clearing import Offers
    from abm.protocol import DeveloperView, ModelView


class Policy:
    """Base class: in force on steps start <= t < end; known to agents from `announce`."""

    name = "policy"
    # when it acts in the step (`apply`), relative to the others (the model runs them by phase,
    # in list order within one): 0 the club's border measures and floors, which set the plan
    # the export controls' counterfactual clears with (abm.policies.trade.ExportControl
    # .measured_plan); 1 the export controls, which decide whether their caps bind and what
    # they withhold (the disruption); 2 (default) the instruments that answer the disruption
    # (a stockpile's release) or act after it; 3 private stockholders, who read the plan and
    # offers as the others left them
    phase = 2
    # whether it changes the producers' offers in normal times (a CFD's asks, an offtake's
    # tranches), so that the export controls' counterfactual makes the offers with it
    # (abm.agents.producers.Producers.own_offers)
    in_free_trade = False

    def __init__(self, start: int = 0, end: int | None = None, announce: int | None = None):
        self.start = start
        self.end = end
        self.announce = start if announce is None else min(announce, start)
        self.government = None

    def initialize(self, model: ModelView) -> None:
        """Called once when the model is built."""

    def active(self, t: int) -> bool:
        return self.start <= t and (self.end is None or t < self.end)

    def known(self, t: int) -> bool:
        """Announced and not yet over: agents may plan around it."""
        return self.announce <= t and (self.end is None or t < self.end)

    def apply(self, model: ModelView) -> None:
        """Before offers: update levels and state."""

    def adjust_asks(self, model: ModelView, asks) -> None:
        """Before offers are formed: change producers' asks in place (array by producer row)."""

    def adjust_offers(self, model: ModelView, offers: Offers) -> None:
        """Before clearing: change asks or add offers."""

    def settle(self, model: ModelView) -> None:
        """After clearing: payments and ledger entries."""

    def add_normal_bid(self, model: ModelView, bids) -> None:
        """Add to `bids` (abm.clearing.NormalBids) the bid this instrument would place this
        step in normal times, without a disruption (a filling stockpile's, a state
        reserve's): the export controls' counterfactual clears with it (rv3 R4, R9)."""

    def protection(self, model: ModelView, developer: DeveloperView):
        """Revenue protection this instrument would give `developer`'s project (None: none)."""
        return None

    def floor_for_rows(self, model: ModelView, steps):
        """A floor under producers' realised prices at the future `steps` (array) as this
        instrument is known now: (levels, one row per producer and a column per step, 0 where
        none; upside share per producer row), or None when it puts no floor under any."""
        return None

    def hurdle_rate(self, model: ModelView, region: int, rate: float) -> float:
        """Discount rate for a project in `region` (concessional finance)."""
        return rate

    def lead_time(self, model: ModelView, region: int, months: int) -> int:
        """Lead time for a project in `region` (permitting reform)."""
        return months


class StockHolder(Policy):
    """An instrument that holds a physical stock for a government (buffer stock, stockpile):
    it books what it buys and what its release offers sold, keeping the stock and the
    government's ledger and the model's accounts in step."""

    purchase_kind = "purchase"
    sale_kind = "sale"

    def register(self, model: ModelView) -> None:
        self.stock = 0.0
        self.spent = 0.0
        self.owner = model.register_stock_owner(self)

    def book_purchase(self, model: ModelView, tonnes: float, price: float) -> None:
        """`tonnes` bought at `price` (price units per t)."""
        if tonnes <= 0:
            return
        money = tonnes * price * model.money_per_price_tonne
        self.spent += money
        self.stock += tonnes
        self.government.stock += tonnes
        self.government.book(self.purchase_kind, money, tonnes)
        model.acct["gov_purchases"] += tonnes
        model.acct["gov_purchase_spend"] += money

    def book_sales(self, model: ModelView, less: float = 0.0) -> None:
        """What this instrument's release offers sold this step (`less` t fewer, at their
        mean price: what it bought back from itself)."""
        sold, money = self.sales(model)
        if less > 0 and sold > 0:
            money *= (sold - less) / sold
            sold -= less
        if sold <= 0:
            return
        self.stock -= sold
        self.government.stock -= sold
        self.government.book(self.sale_kind, money, sold)
        model.acct["gov_sales"] += sold
        model.acct["gov_sales_revenue"] += money

    def sales(self, model: ModelView) -> tuple[float, float]:
        """(t, USD) this instrument's release offers sold this step."""
        out = model.outcome
        mine = model.offers.owner == self.owner
        sold = float(out.sold[mine].sum())
        if sold <= 0:
            return 0.0, 0.0
        return sold, float((out.sold[mine] * out.offer_price[mine]).sum()) * \
            model.money_per_price_tonne


def normal_bids(model: ModelView):
    """The bids the instruments would place this step in normal times (`add_normal_bid`), for
    the export controls' counterfactual (abm.clearing.MarketPlan.before_controls)."""
    from abm.clearing import NormalBids

    return NormalBids.placed(model)
