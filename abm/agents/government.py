"""Governments: own policy instruments and a ledger of every cash flow and tonne they move."""

from __future__ import annotations

from collections import defaultdict

import mesa

# Ledger kinds and their sign in the government's net outlay (fiscal cost): outlays count +1,
# receipts -1.
OUTLAY = {"purchase": 1, "topup": 1, "guarantee": 1, "holding": 1, "offtake": 1,
          "stockpile_purchase": 1,
          "sale": -1, "upside": -1, "duty": -1, "stockpile_sale": -1, "offtake_resale": -1}


class Government(mesa.Agent):
    """A policy-setting region or the club; books every flow by kind."""

    def __init__(self, model: mesa.Model, name: str, regions: list[int]):
        super().__init__(model)
        self.name = name
        self.regions = regions
        self.stock = 0.0                      # t held
        self.stock_value = 0.0                # USD paid for what is held (for reporting)
        self.ledger: dict[str, float] = defaultdict(float)   # USD by kind, whole run
        self.tonnes: dict[str, float] = defaultdict(float)   # t by kind, whole run
        self.step_outlay = 0.0                # USD net outlay this step

    def book(self, kind: str, money: float, tonnes: float = 0.0) -> None:
        """Record a flow; `money` is positive USD, the sign comes from the kind."""
        if kind not in OUTLAY:
            raise ValueError(f"unknown ledger kind {kind!r}")
        self.ledger[kind] += money
        self.tonnes[kind] += tonnes
        self.step_outlay += OUTLAY[kind] * money

    @property
    def fiscal_cost(self) -> float:
        """Net outlay over the run: the signed sum of the ledger."""
        return sum(OUTLAY[k] * v for k, v in self.ledger.items())

    def start_step(self) -> None:
        self.step_outlay = 0.0
