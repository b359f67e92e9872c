"""The policy interface (as Covasim/Starsim interventions): a scenario is a list of these.

Each instrument is a small object owned by a `Government`. The model calls, every step:
`apply(model)` before offers are made (set levels, decide purchases), `adjust_offers(model,
offers)` before the market clears, and `settle(model)` after it cleared (payments, ledger).
`protection(region, stage, market_economy)` tells developers how the instrument would change a
project's revenue (floors as puts, offtakes as fixed prices), once the instrument is announced.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from abm.clearing import Offers
    from abm.model import MineralMarket


class Policy:
    """Base class: in force on steps start <= t < end; known to agents from `announce`."""

    name = "policy"

    def __init__(self, start: int = 0, end: int | None = None, announce: int | None = None):
        self.start = start
        self.end = end
        self.announce = start if announce is None else min(announce, start)
        self.government = None

    def initialize(self, model: MineralMarket) -> None:
        """Called once when the model is built."""

    def active(self, t: int) -> bool:
        return self.start <= t and (self.end is None or t < self.end)

    def known(self, t: int) -> bool:
        """Announced and not yet over: agents may plan around it."""
        return self.announce <= t and (self.end is None or t < self.end)

    def apply(self, model: MineralMarket) -> None:
        """Before offers: update levels and state."""

    def adjust_asks(self, model: MineralMarket, asks) -> None:
        """Before offers are formed: change producers' asks in place (array by producer row)."""

    def adjust_offers(self, model: MineralMarket, offers: Offers) -> None:
        """Before clearing: change asks or add offers."""

    def settle(self, model: MineralMarket) -> None:
        """After clearing: payments and ledger entries."""

    def protection(self, model: MineralMarket, developer):
        """Revenue protection this instrument would give `developer`'s project (None: none)."""
        return None

    def hurdle_rate(self, model: MineralMarket, region: int, rate: float) -> float:
        """Discount rate for a project in `region` (concessional finance)."""
        return rate

    def lead_time(self, model: MineralMarket, region: int, months: int) -> int:
        """Lead time for a project in `region` (permitting reform)."""
        return months
