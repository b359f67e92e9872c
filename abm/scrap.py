"""The scrap market: collected scrap cleared against recyclers' processing capacity (pure functions).

Scrap arises where recyclers collect it (their region) and, with `market.scrap_trade`, is sold to
whichever recyclers value it most, wherever they are. A recycler bids for scrap up to its value
of a tonne (the product price it last saw less its unit cost, price units per tonne of product
the scrap yields), for as many tonnes as it can process this step. One uniform scrap price clears
the market: the value of the lowest-valued recycler that gets scrap when all scrap is bought, 0
when some scrap finds no bidder (free disposal), the highest bid when there is no scrap.

A scrap export control (`[[shocks]] kind = "scrap_export_control"`) splits the market in two.
The controller (one region, or the club's regions together) may export to the targeted regions
at most (1 - cut) x what it would export to them without the control: its net scrap exports in
the uncontrolled market, times the targets' share of all net imports (exports are attributed to
importers pro rata, as in one pooled market). Bystanders (regions neither controlling nor
targeted) trade freely with both sides: their recyclers buy where scrap is cheap (the
controller's side) and their collectors sell where it is dear (the targeted side), so a
bystander's own scrap can replace the controller's withheld exports (leakage; re-exporting the
controller's scrap is not modelled). When the bystanders' own scrap covers what the targets would
import beyond the allowed exports, the uncontrolled allocation is still feasible and one price
clears everything as without the control; else the control binds and each side clears on its own
scrap. The controller's exporters keep the gap between the two prices on what they may still
export (they sell it at the importers' price).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# a scrap export control's `region` naming the club's regions together (unless a region is
# called so)
CLUB = "club"


def clear_scrap(supply: float, value: np.ndarray, room: np.ndarray) -> tuple[float, np.ndarray]:
    """(scrap price, tonnes bought by each recycler) for `supply` t of scrap offered to
    recyclers valuing a tonne at `value` (price units/t) with `room` t of capacity each.

    Recyclers with a negative value or no room bid nothing. Scrap goes to the highest values
    first; recyclers valuing it equally share what is left pro rata to their room."""
    bought = np.zeros(len(value))
    bids = (value >= 0.0) & (room > 0.0)
    if not bids.any():
        return 0.0, bought
    left = max(float(supply), 0.0)
    if left <= 0.0:
        return float(value[bids].max()), bought
    price = 0.0
    for v in np.unique(value[bids])[::-1]:          # highest value first
        tier = bids & (value == v)
        wanted = float(room[tier].sum())
        if wanted <= left:
            bought[tier] = room[tier]
            left -= wanted
        else:
            bought[tier] = room[tier] * (left / wanted)
            left = 0.0
        price = float(v)
        if left <= 0.0:
            return price, bought
    return 0.0, bought                               # scrap left over: worth nothing


@dataclass
class ScrapOutcome:
    """One step's scrap market: per recycler its scrap price (price units/t), the scrap it
    bought (t) and what it was paid for the scrap it collected (price units x t); totals."""

    price: np.ndarray
    bought: np.ndarray
    receipts: np.ndarray
    home_price: float           # on the controlling side (= outside_price without a control)
    outside_price: float        # on the targeted side (the only price without a control)
    withheld: float             # t of scrap exports the control kept at home


def clear_scrap_market(collected: np.ndarray, value: np.ndarray, room: np.ndarray,
                       home: np.ndarray | None = None, cut: float = 0.0,
                       targeted: np.ndarray | None = None) -> ScrapOutcome:
    """The scrap market of one step: recyclers' `collected` scrap (t), their `value` and `room`
    as in `clear_scrap`; `home` marks the recyclers of a scrap export control's controller
    (None: no control in force), `targeted` those of its targets (None: every other recycler),
    `cut` the share of the controller's exports to the targets withheld.

    Without a binding control (none, cut 0, a controller that exports nothing to the targets,
    or bystanders' scrap enough to replace what it withholds) one price clears the world's
    scrap and the outcome is exactly the uncontrolled one."""
    supply = float(collected.sum())
    price, bought = clear_scrap(supply, value, room)
    if home is not None and cut > 0.0:
        split = _split(collected, value, room, bought, home,
                       ~home if targeted is None else targeted & ~home, cut)
        if split is not None:
            return split
    prices = np.full(len(value), price)
    return ScrapOutcome(prices, bought, price * collected, price, price, 0.0)


def _split(collected, value, room, bought, home, targeted, cut) -> ScrapOutcome | None:
    """The two-sided market of a binding control, or None when the control does not bind."""
    other = ~home & ~targeted                        # bystanders
    # net positions in the uncontrolled market (when scrap is left over, each region's
    # recyclers are taken to use their own scrap first)
    exports = float(collected[home].sum()) - float(bought[home].sum())
    imports_t = float(bought[targeted].sum()) - float(collected[targeted].sum())
    imports_o = float(bought[other].sum()) - float(collected[other].sum())
    if exports <= 0.0 or imports_t <= 0.0:
        return None
    # the controller's exports to the targets: its exports (no more than all importers take)
    # pro rata to the importers' needs
    imports = imports_t + max(imports_o, 0.0)
    to_targets = min(exports, imports) * imports_t / imports
    allowed = (1.0 - cut) * to_targets
    if float(collected[other].sum()) >= imports_t - allowed:
        # the uncontrolled allocation is still feasible: the bystanders send the targets their
        # own scrap in place of what the controller withholds and buy the controller's
        return None
    home_supply = float(collected[home].sum())
    cheap, dear = home | other, targeted             # where each side's recyclers buy
    home_price, bought_cheap = clear_scrap(home_supply - allowed, value[cheap], room[cheap])
    away_supply = float(collected[targeted].sum()) + float(collected[other].sum()) + allowed
    away_price, bought_dear = clear_scrap(away_supply, value[dear], room[dear])
    bought = np.zeros(len(value))
    bought[cheap], bought[dear] = bought_cheap, bought_dear
    prices = np.where(cheap, home_price, away_price)
    # the controller's collectors sell at home what stays and the allowed exports at the
    # importers' price, pro rata to what each collected; everyone else's sell at the dear price
    share = np.where(home, collected / home_supply, 0.0)
    receipts = np.where(home, home_price * (collected - share * allowed)
                        + away_price * share * allowed, away_price * collected)
    return ScrapOutcome(prices, bought, receipts, home_price, away_price, to_targets - allowed)
