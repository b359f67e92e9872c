"""Mines, refineries and recyclers.

Per-step state (capacity, cost, cash, output, outages) lives in the model's `ProducerBook`, a
structure of numpy arrays, so that offers and settlements are array operations; each `Miner` and
`Refiner` agent is a view onto one row of it with small verb methods for its discrete decisions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import mesa
import numpy as np

MINE, REFINERY, RECYCLER = 0, 1, 2
STAGES = {"mine": MINE, "refinery": REFINERY}   # (recyclers come from [[recyclers]])


@dataclass
class ProducerBook:
    """Structure of arrays, one row per producer ever created (exited rows stay, inactive).

    Rows are added with `add` and closed with `deactivate`; both bump `version`, which the model
    uses to cache what depends only on which producers exist (merit order, masks, capacity
    sums). Change `stage`, `region`, `capacity`, `unit_cost`, `fixed_cost`, `active`,
    `market_economy` or `club` only through these methods (or call `touch()` after). Each array
    is a view onto a larger buffer, so adding a row costs O(1) amortised, not a copy of the book.
    """

    name: list[str] = field(default_factory=list)
    stage: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int8))
    region: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    capacity: np.ndarray = field(default_factory=lambda: np.zeros(0))      # t/yr
    unit_cost: np.ndarray = field(default_factory=lambda: np.zeros(0))     # price unit per t
    fixed_cost: np.ndarray = field(default_factory=lambda: np.zeros(0))    # USD/yr
    cash: np.ndarray = field(default_factory=lambda: np.zeros(0))          # USD
    active: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    market_economy: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    club: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    is_new: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))  # from pipeline
    outage: np.ndarray = field(default_factory=lambda: np.zeros(0))        # share of capacity out
    loss_streak: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    output: np.ndarray = field(default_factory=lambda: np.zeros(0))        # t this step
    revenue: np.ndarray = field(default_factory=lambda: np.zeros(0))       # USD this step
    version: int = 0
    _buffers: dict = field(default_factory=dict, repr=False, compare=False)

    def add(self, name: str, stage: int, region: int, capacity: float, unit_cost: float,
            fixed_cost: float, cash: float, market_economy: bool, club: bool,
            is_new: bool) -> int:
        """Append one producer; returns its row."""
        self.name.append(name)
        row = {"stage": stage, "region": region, "capacity": capacity, "unit_cost": unit_cost,
               "fixed_cost": fixed_cost, "cash": cash, "active": True,
               "market_economy": market_economy, "club": club, "is_new": is_new, "outage": 0.0,
               "loss_streak": 0, "output": 0.0, "revenue": 0.0}
        n = len(self.name) - 1
        buffers = self._buffers
        for key, value in row.items():
            arr = getattr(self, key)
            buf = buffers.get(key)
            # the attribute may have been replaced by a new array (e.g. `b.outage = ...`)
            if buf is None or arr.base is not buf or len(buf) <= n:
                buf = np.empty(max(2 * n, 16), dtype=arr.dtype)
                buf[:n] = arr
                buffers[key] = buf
            buf[n] = value
            setattr(self, key, buf[: n + 1])
        self.version += 1
        return n

    def deactivate(self, row: int) -> None:
        """Close row `row` for good."""
        self.active[row] = False
        self.version += 1

    def touch(self) -> None:
        """Say that rows were changed in place (invalidates what the model cached)."""
        self.version += 1

    def __len__(self) -> int:
        return len(self.name)


class Producer(mesa.Agent):
    """A producer: a view onto row `row` of the model's ProducerBook."""

    stage_code = -1

    def __init__(self, model: mesa.Model, row: int):
        super().__init__(model)
        self.row = row

    @property
    def name(self) -> str:
        return self.model.book.name[self.row]

    @property
    def capacity(self) -> float:
        return float(self.model.book.capacity[self.row])

    @property
    def unit_cost(self) -> float:
        return float(self.model.book.unit_cost[self.row])

    @property
    def cash(self) -> float:
        return float(self.model.book.cash[self.row])

    @property
    def active(self) -> bool:
        return bool(self.model.book.active[self.row])

    def exit_market(self) -> None:
        """Close for good after sustained losses: capacity leaves the merit order."""
        self.model.book.deactivate(self.row)
        self.model.producer_exits += 1
        self.remove()


class Miner(Producer):
    """A mine: offers concentrate at its cash cost."""

    stage_code = MINE


class Refiner(Producer):
    """A refinery: turns concentrate into product (or, without mines, buys feed in its cost)."""

    stage_code = REFINERY


class Recycler(Producer):
    """A recycler: offers product made from the scrap it collected (no concentrate needed).

    Collection answers the price with a lag (MineralMarket.collect_scrap, for all recyclers at
    once); what it collected, up to its capacity, is offered at its unit cost."""

    stage_code = RECYCLER


AGENT_CLASS = {MINE: Miner, REFINERY: Refiner, RECYCLER: Recycler}
