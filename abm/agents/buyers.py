"""Buyers: downstream consumers, each a share of isoelastic aggregate demand in a region."""

from __future__ import annotations

import mesa


class Buyer(mesa.Agent):
    """A downstream consumer (magnets, batteries, defence) located in a region.

    Demand D_i(P) = share_i * Q_ref/steps_per_year * growth_t * exp(z_t) * (P / P_ref)^eps; the
    model sums the buyers of a region into one demand curve per market. What a buyer received
    and paid this step lives in the model's arrays `buyer_received` and `buyer_spent` (entry
    `slot`), so the market delivers to every buyer with one array operation. A buyer with an
    inventory cover target (config `inventory_cover`, days) orders toward it and uses stock
    (MineralMarket.plan_inventories / use_inventories, for all buyers at once); its stock, t, is
    `stock`.
    """

    def __init__(self, model: mesa.Model, name: str, region: int, share: float):
        super().__init__(model)
        self.name = name
        self.region = region
        self.share = share
        self.slot: int | None = None   # index into the model's buyer arrays

    @property
    def received(self) -> float:
        """t this step."""
        return float(self.model.buyer_received[self.slot]) if self.slot is not None else 0.0

    @property
    def stock(self) -> float:
        """t held in inventory."""
        return float(self.model.buyer_stock[self.slot]) if self.slot is not None else 0.0

    @property
    def spent(self) -> float:
        """USD this step."""
        return float(self.model.buyer_spent[self.slot]) if self.slot is not None else 0.0

    def take_delivery(self, tonnes: float, money: float) -> None:
        self.model.buyer_received[self.slot] = tonnes
        self.model.buyer_spent[self.slot] = money
