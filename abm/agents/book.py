"""ProducerBook: the state of every producer (mine, refinery, recycler), one row each.

A structure of numpy arrays, so that offers and settlements are array operations
(`abm.agents.producers.Producers`); each `Miner`, `Refiner` or `Recycler` agent is a view onto one
row. It knows nothing of the model: policies read it as `model.book`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class ProducerBook:
    """Structure of arrays, one row per producer ever created (exited rows stay, inactive).

    Rows are added with `add` and closed with `deactivate`; both bump `version`, which
    `Producers.structure` uses to cache what depends only on which producers exist (merit order,
    masks, capacity sums). Change `stage`, `region`, `capacity`, `unit_cost`, `fixed_cost`, `active`,
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
    cost: np.ndarray = field(default_factory=lambda: np.zeros(0))          # USD this step
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
               "loss_streak": 0, "output": 0.0, "revenue": 0.0, "cost": 0.0}
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
        """Say that rows were changed in place (invalidates what was cached of the rows)."""
        self.version += 1

    def __len__(self) -> int:
        return len(self.name)
