"""Recyclers: secondary supply from scrap collected in answer to past prices.

`RecyclerPool` is the population's collection: one entry per `[[recyclers]]` table (in config
order), and its method `collect` acts on all recyclers at once. A recycler is also a producer: its
capacity, costs, cash and output are a row of the `ProducerBook` (`rows`), its Mesa agent is
`abm.agents.producers.Recycler`, and `Producers.available` caps what it offers at what it
collected.
"""

from __future__ import annotations

import numpy as np


class RecyclerPool:
    """What each recycler collects: scrap at the reference price (t of product per step), the
    collection elasticity and lag, the start step, whether it sees the club's price."""

    def __init__(self, config, rows: np.ndarray, club: np.ndarray):
        rc = config.recyclers
        self.rows = rows                      # their rows in the ProducerBook
        self.any = len(rows) > 0
        self.reference_price = config.market.demand.reference_price
        self.scrap = np.array([r.scrap for r in rc]) / config.experiment.steps_per_year  # t/step
        self.elasticity = np.array([r.collection_elasticity for r in rc])
        self.lag = np.array([r.collection_lag for r in rc], dtype=int)
        self.start = np.array([r.start for r in rc], dtype=int)
        self.club = club
        self.collected = np.zeros(len(rc))    # t of product per step

    def collect(self, t: int, columns: dict[str, np.ndarray]) -> None:
        """Recyclers collect scrap in answer to the price `collection_lag` steps ago (the club's
        price for club recyclers, as recorded in the recorder's `columns`): scrap x (P /
        reference price) ^ elasticity, t per step (none before a recycler's start step)."""
        if not self.any:
            return
        reference = self.reference_price
        seen = t - self.lag
        price = np.full(len(seen), reference)
        past = seen >= 0
        if past.any():
            # (the price columns are written every step: recyclers turn deferred recording off)
            price[past] = np.where(self.club[past], columns["club_price"][seen[past]],
                                   columns["price"][seen[past]])
        collected = self.scrap * (np.maximum(price, 0.0) / reference) ** self.elasticity
        self.collected = np.where(t >= self.start, collected, 0.0)
