"""What producers realise: per step, the revenue and tonnes of the covered producers and of the
market-economy product producers, for the producers' price-risk metrics (abm.metrics).

Recorded after the instruments settled (`RealisedPrices.record`), so a step's revenue includes
its policy payments: CFD top-ups less upside payments, EBITDA guarantees, an offtake's
contract-price transfers, a buffer stock's purchases at the floor. Revenue here is sales
revenue: a refinery fed by mines pays for its feed out of its book revenue
(abm.agents.producers.Producers.settle), which is added back so that revenue per tonne is the
price it realised for its product.
"""

from __future__ import annotations

import numpy as np

from abm.kinds import MINE, RECYCLER, REFINERY

# columns of RealisedPrices.table (USD, t, t/yr of active covered producers)
COLUMNS = ("covered_revenue", "covered_output", "covered_capacity", "market_revenue",
           "market_output", "market_profit")


class RealisedPrices:
    """One row per step of the columns in COLUMNS."""

    def __init__(self, steps: int):
        self.table = np.zeros((steps, len(COLUMNS)))
        self._market_cache = (None, None)       # (book version, market-economy product rows)
        # without a covering instrument: (book version, covered rows, their capacity, t/yr)
        self._covered_cache = (None, None, 0.0)

    def column(self, name: str, steps: int) -> np.ndarray:
        return self.table[:steps, COLUMNS.index(name)]

    @staticmethod
    def covered_rows(model) -> np.ndarray:
        """Active rows of the producers the scenario's floor covers; without a floor, the
        product-stage producers a floor with default coverage would cover (the club's regions,
        or every region without a club), so a scenario and its baseline compare the same
        producers."""
        # the floor's producers first: an offtake's contracted producers only without a floor
        covering = [p for p in model.policies if hasattr(p, "covered_rows")]
        covering.sort(key=lambda p: p.name != "floor")
        if covering:
            return covering[0].covered_rows(model)
        b = model.book
        club = np.asarray(model.region_club, dtype=bool)
        region = club[b.region] if club.any() else np.ones(len(b), dtype=bool)
        return b.active & (b.stage != MINE) & region

    def covered(self, model) -> tuple[np.ndarray, float]:
        """`covered_rows` and their capacity (t/yr); cached per book version when no instrument
        covers producers (the rows then depend only on which producers exist)."""
        b = model.book
        if any(hasattr(p, "covered_rows") for p in model.policies):
            rows = self.covered_rows(model)
            return rows, b.capacity[rows].sum()
        version, rows, capacity = self._covered_cache
        if version != b.version:
            rows = self.covered_rows(model)
            capacity = b.capacity[rows].sum()
            self._covered_cache = (b.version, rows, capacity)
        return rows, capacity

    def market_rows(self, model) -> np.ndarray:
        b = model.book
        version, rows = self._market_cache
        if version != b.version:
            rows = b.market_economy & ((b.stage == REFINERY) | (b.stage == RECYCLER))
            self._market_cache = (b.version, rows)
        return rows

    def record(self, model) -> None:
        """Write step `model.t` (after the instruments' settlement, before exits)."""
        b, mf = model.book, model.money_per_price_tonne
        sales = b.revenue
        if model.has_mines:   # add back the feed refineries bought at the concentrate price
            sales = sales + np.where(b.stage == REFINERY, b.output, 0.0) * (
                model.intensity * model.concentrate_price * mf)
        covered, capacity = self.covered(model)
        market = self.market_rows(model)
        self.table[model.t] = (sales[covered].sum(), b.output[covered].sum(),
                               capacity, sales[market].sum(),
                               b.output[market].sum(),
                               (b.revenue - b.cost)[market].sum())
