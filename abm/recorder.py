"""Per-step series in preallocated numpy arrays, handed out as one polars DataFrame."""

from __future__ import annotations

import numpy as np

from abm.names import REGION_CAPACITY_PREFIX, SERIES

# Columns kept beside the public series for accounting checks (conservation of tonnes and money).
# Tonnes: production + gov_sales + private_release = consumption + gov_purchases + private_stocking.
# Money (USD): buyer_payments + gov_purchase_spend
#            = producer_revenue + gov_sales_revenue + private_sales_revenue + duties;
# top-ups and upside payments (gov_payments_to_producers, gov_receipts_from_producers) are transfers
# between governments and producers, booked in the ledger.
ACCOUNTS = ("production", "gov_purchases", "gov_sales", "private_stocking", "private_release",
            "buyer_payments", "producer_revenue", "gov_purchase_spend",
            "gov_payments_to_producers", "gov_receipts_from_producers", "gov_sales_revenue",
            "private_sales_revenue", "duties", "concentrate_output", "concentrate_used")


class Recorder:
    """Fixed-size arrays, one per column, written by step index.

    The columns are views onto one (steps x columns) table, so a step whose values come in the
    table's column order (*SERIES, *ACCOUNTS) is written as one row.
    """

    def __init__(self, steps: int, regions: list[str]):
        self.steps = steps
        self.names = (*SERIES, *ACCOUNTS)
        self.table = np.full((steps, len(self.names)), np.nan)
        self.columns: dict[str, np.ndarray] = {
            name: self.table[:, j] for j, name in enumerate(self.names)}
        self.region_names = list(regions)
        self.region_capacity = np.zeros((steps, len(regions)))
        self.filled = 0
        # called before the columns are read: lets the model complete columns it fills for many
        # steps at once (MineralMarket.flush_record)
        self.before_read = None

    def record(self, step: int, values: dict[str, float], region_capacity: np.ndarray) -> None:
        if len(values) == len(self.names) and tuple(values) == self.names:
            self.table[step] = tuple(values.values())
        else:
            for key, value in values.items():
                self.columns[key][step] = value
        self.region_capacity[step] = region_capacity
        self.filled = step + 1

    def column(self, name: str) -> np.ndarray:
        if self.before_read is not None:
            self.before_read()
        return self.columns[name][: self.filled]

    def frame(self, accounts: bool = False):
        import polars as pl

        if self.before_read is not None:
            self.before_read()
        n = self.filled
        data: dict[str, object] = {"step": np.arange(n, dtype=np.int64)}
        names = (*SERIES, *ACCOUNTS) if accounts else SERIES
        for name in names:
            data[name] = np.ascontiguousarray(self.columns[name][:n])
        for j, region in enumerate(self.region_names):
            data[REGION_CAPACITY_PREFIX + region] = self.region_capacity[:n, j]
        frame = pl.DataFrame(data)
        # NaN marks "not applicable" (no floor in force, no concentrate market): store as null.
        return frame.with_columns(pl.col("floor", "concentrate_price", "export_region_price").fill_nan(None))
