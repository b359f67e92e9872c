"""What the government stores took into stock in a clearing, per region: tonnes of a region's
supply that are not its exports (the recorder's net exports, an export control's
counterfactual). No model types are imported here, so the recorder can use it without an
import circle through abm.protocol."""

from __future__ import annotations

import numpy as np


def held_at_home(model, out, offers=None, exclude=()) -> np.ndarray:
    """t per region a stockpile's and the state reserves' purchases took into store in the
    clearing `out` (a state reserve's in its region, a stockpile's in its regions in
    proportion to their buyers' shares), less, with the step's offers `offers`, what their
    releases sold (in the region they were offered in): the tonnes of a region's supply
    that are not its exports, and those of its purchases that are not its imports
    (abm.recorder; abm.policies.trade.ExportControl._measured_exports_in; rv3 R9: a state
    reserve's home purchases were counted as exports). A stockpile's purchases are not held
    in the regions `exclude` (an export control's counterfactual: its bid clears in the
    market the controlling region exports to, not at home; review rv5 V5)."""
    n = len(model.region_names)
    took = np.zeros(n)
    for region, (tonnes, _) in out.reserve_bought.items():
        took[region] += tonnes
    holders = [p for p in model.stock_owners if p.name in ("stockpile", "state_reserve")]
    took += stockpile_held(model, out.bid_filled, exclude)
    if offers is not None:
        for p in holders:
            mine = offers.owner == p.owner
            if mine.any():
                took -= np.bincount(offers.region[mine], weights=out.sold[mine], minlength=n)
    return took


def stockpile_held(model, bought: float, exclude=()) -> np.ndarray:
    """t per region of the `bought` t a stockpile's bid took in a clearing, booked in its
    regions in proportion to their buyers' shares (not in the regions `exclude`; see
    `held_at_home`)."""
    took = np.zeros(len(model.region_names))
    stockpiles = [p for p in model.stock_owners if p.name == "stockpile"]
    if bought <= 0 or not stockpiles:
        return took
    for p in stockpiles:
        weights = p.home_weights(model)
        if len(exclude):
            kept = weights.copy()
            kept[list(exclude)] = 0.0
            if kept.sum() > 0:
                weights = kept / kept.sum()
        took += bought / len(stockpiles) * weights
    return took
