"""Recyclers: secondary supply from scrap collected in answer to past prices.

`RecyclerPool` is the population's collection: one entry per `[[recyclers]]` table (in config
order), and its method `collect` acts on all recyclers at once. A recycler is also a producer: its
capacity, costs, cash and output are a row of the `ProducerBook` (`rows`), its Mesa agent is
`abm.agents.producers.Recycler`, and `Producers.available` caps what it offers at what it
collected, or, with `market.scrap_trade`, at the scrap it bought in the step's scrap market
(`trade`, abm/scrap.py).
"""

from __future__ import annotations

import numpy as np

from abm.scrap import CLUB, ScrapOutcome, clear_scrap_market


class RecyclerPool:
    """What each recycler collects: scrap at the reference price (t of product per step), the
    collection elasticity and lag, the start step, whether it sees the club's price."""

    def __init__(self, config, rows: np.ndarray, club: np.ndarray, region: np.ndarray,
                 region_index: dict[str, int]):
        rc = config.recyclers
        self.rows = rows                      # their rows in the ProducerBook
        self.any = len(rows) > 0
        self.reference_price = config.market.demand.reference_price
        self.scrap = np.array([r.scrap for r in rc]) / config.experiment.steps_per_year  # t/step
        self.elasticity = np.array([r.collection_elasticity for r in rc])
        self.lag = np.array([r.collection_lag for r in rc], dtype=int)
        self.start = np.array([r.start for r in rc], dtype=int)
        self.club = club
        # recyclers in separate-market regions (abm.regional) see their region's price:
        # (position in the recorder's regional price columns, mask of those recyclers), set by
        # `see_regional_prices`
        self.region = region
        self.regional: list[tuple[int, np.ndarray]] = []
        self.collected = np.zeros(len(rc))    # t of product per step
        # the scrap market (market.scrap_trade): recyclers' unit costs, the scrap export
        # controls as (first step, end step, controller's recyclers, targets' recyclers, cut),
        # this step's outcome
        self.trades = bool(config.market.scrap_trade) and self.any
        self.unit_cost = np.array([r.unit_cost for r in rc])
        self.controls = []
        for s in config.shocks:
            if s.kind == "scrap_export_control":
                home = club.copy() if s.region == CLUB and s.region not in region_index else (
                    region == region_index[s.region])
                targeted = np.isin(region, [region_index[n] for n in s.targets]) if s.targets \
                    else ~home
                self.controls.append((s.start, s.start + s.duration, home, targeted, s.cut))
        self.outcome: ScrapOutcome | None = None

    @property
    def supply(self) -> np.ndarray:
        """The scrap each recycler can process this step, t of product: what it bought in the
        scrap market when scrap is traded, else what it collected."""
        return self.outcome.bought if self.outcome is not None else self.collected

    def see_regional_prices(self, regions: list[int]) -> None:
        """Recyclers in region `regions[j]` see that separate market's price (column j of the
        recorder's regional prices; the outcome's region_prices), not the world's or club's."""
        self.regional = [(j, self.region == r) for j, r in enumerate(regions)
                         if (self.region == r).any()]
        self.regional_regions = list(regions)

    def trade(self, t: int, price: float, club_market_price: float, room: np.ndarray,
              region_prices: dict[int, float] | None = None) -> None:
        """Clear this step's scrap market (market.scrap_trade): recyclers bid for scrap up to
        the product price they last saw (the club market's for club recyclers) less their unit cost,
        for `room` t (what they can process this step); a scrap export control in force splits
        the market (abm.scrap)."""
        if not self.trades:
            return
        value = np.where(self.club, club_market_price, price)
        if region_prices:                 # (last step's prices: none before the first step)
            for j, mask in self.regional:
                value[mask] = region_prices[self.regional_regions[j]]
        value = value - self.unit_cost
        room = np.where(t >= self.start, room, 0.0)     # (no plant before its start step)
        home = targeted = None
        cut = 0.0
        for start, end, controller, targets, share in self.controls:
            if start <= t < end:
                home, targeted, cut = controller, targets, share
        self.outcome = clear_scrap_market(self.collected, value, room, home, cut, targeted)

    def scrap_money(self) -> np.ndarray:
        """Each recycler's net receipts from the scrap market this step, price units x t: paid
        for the scrap it collected, paying for the scrap it bought (it pays for what it bought
        even if its product does not all sell: scrap is not stocked)."""
        o = self.outcome
        return o.receipts - o.price * o.bought

    def collect(self, t: int, columns: dict[str, np.ndarray],
                regional: np.ndarray | None = None,
                club_market: np.ndarray | None = None) -> None:
        """Recyclers collect scrap in answer to the price `collection_lag` steps ago (the club's
        market's price for club recyclers, `club_market`, else the recorder's `columns`): scrap x (P /
        reference price) ^ elasticity, t per step (none before a recycler's start step)."""
        if not self.any:
            return
        reference = self.reference_price
        seen = t - self.lag
        price = np.full(len(seen), reference)
        past = seen >= 0
        if past.any():
            # (the price columns are written every step: recyclers turn deferred recording off)
            club = columns["club_price"] if club_market is None else club_market
            price[past] = np.where(self.club[past], club[seen[past]],
                                   columns["price"][seen[past]])
            for j, mask in self.regional:           # regional: recorder.region_price
                sel = past & mask
                price[sel] = regional[seen[sel], j]
        collected = self.scrap * (np.maximum(price, 0.0) / reference) ** self.elasticity
        self.collected = np.where(t >= self.start, collected, 0.0)
