"""Buyers: downstream consumers, each a share of isoelastic aggregate demand in a region."""

from __future__ import annotations

import mesa


class Buyer(mesa.Agent):
    """A downstream consumer (magnets, batteries, defence) located in a region.

    Demand D_i(P) = share_i * Q_ref/steps_per_year * growth_t * exp(z_t) * (P / P_ref)^eps; the
    model sums the buyers of a region into one demand curve per market.
    """

    def __init__(self, model: mesa.Model, name: str, region: int, share: float):
        super().__init__(model)
        self.name = name
        self.region = region
        self.share = share
        self.received = 0.0   # t this step
        self.spent = 0.0      # USD this step

    def take_delivery(self, tonnes: float, money: float) -> None:
        self.received = tonnes
        self.spent = money
