"""Governments: own policy instruments and a ledger of every cash flow and tonne they move.

`Government` (a Mesa agent) acts on its own ledger and stock: `book` records one flow,
`start_step` clears its net outlay of the step. `Governments`, the population (a list of them),
acts on all at once (`start_step`) and finds the government that runs an instrument
(`government_for`, what `model.governments.government_for` answers to policies).
"""

from __future__ import annotations

from collections import defaultdict

import mesa
import numpy as np

# Ledger kinds and their sign in the government's net outlay (fiscal cost): outlays count +1,
# receipts -1; memo items 0 (exporter_rent: the MIP wedge exporters keep under a price
# undertaking, which the club would otherwise collect as duty).
OUTLAY = {"purchase": 1, "topup": 1, "guarantee": 1, "holding": 1, "offtake": 1,
          "stockpile_purchase": 1, "reserve_purchase": 1, "predatory_subsidy": 1,
          "sale": -1, "upside": -1, "duty": -1, "stockpile_sale": -1, "offtake_resale": -1,
          "reserve_sale": -1, "exporter_rent": 0}


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
        # the state of a state-directed region (its reserve, its subsidies): its outlays are
        # `state_outlay`, not the policy-making governments' fiscal cost
        self.state = False

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


class Governments(list):
    """The population of governments, a list of `Government` agents in the order they were made:
    the club's (when any region is a club member) and one for each other group of regions an
    instrument covers. Methods here act on all governments (`start_step`) or find one
    (`government_for`); a `Government`'s own methods (`book`, `start_step`) act on its ledger."""

    def __init__(self, model: mesa.Model, region_club):
        super().__init__()
        self.model = model                 # the Mesa model new governments register with
        self.region_club = region_club
        club_regions = list(np.flatnonzero(region_club))
        self.club = Government(model, "club", club_regions) if club_regions else None
        if self.club is not None:
            self.append(self.club)

    def government_for(self, regions: list[int], name: str) -> Government:
        """The government that runs an instrument covering `regions`: the club's when they are
        all club members, else one made for them."""
        if self.club is not None and all(self.region_club[r] for r in regions):
            return self.club
        for government in self:
            if government.regions == regions:
                return government
        government = Government(self.model, name, regions)
        self.append(government)
        return government

    def state_for(self, regions: list[int], name: str) -> Government:
        """The state of state-directed `regions` (its reserve, its subsidies): a government of
        its own, never the club's, even for a region that is both (its outlays are not the
        club's fiscal cost)."""
        for government in self:
            if government.state and government.regions == regions:
                return government
        government = Government(self.model, name, regions)
        government.state = True
        self.append(government)
        return government

    def policy_makers(self) -> list[Government]:
        """The governments whose outlays are the fiscal cost (all but the states of
        state-directed regions)."""
        return [g for g in self if not g.state]

    def start_step(self) -> None:
        for government in self:
            government.start_step()
