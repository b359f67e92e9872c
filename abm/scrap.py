"""The scrap market: collected scrap cleared against recyclers' processing capacity (pure functions).

Scrap arises where recyclers collect it (their region) and, with `market.scrap_trade`, is sold to
whichever recyclers value it most, wherever they are. A recycler bids for scrap up to its value
of a tonne (the product price it last saw less its unit cost, price units per tonne of product
the scrap yields), for as many tonnes as it can process this step. One uniform scrap price clears
the market: the value of the lowest-valued recycler that gets scrap when all scrap is bought, 0
when some scrap finds no bidder (free disposal), the highest bid when there is no scrap.

A scrap export control (`[[shocks]] kind = "scrap_export_control"`) splits the market in two:
the controlling side (the controlling region and the regions it does not target) and the
targeted side. The control caps the controlling side's net scrap exports at (1 - cut) x what
they would be without it; each side then clears on its own scrap, and the scrap price falls on
the controlling side and rises on the targeted side. The exporters keep the gap between the two
prices on what they may still export (they sell it at the importers' price).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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
                       home: np.ndarray | None = None, cut: float = 0.0) -> ScrapOutcome:
    """The scrap market of one step: recyclers' `collected` scrap (t), their `value` and `room`
    as in `clear_scrap`; `home` marks the recyclers on a scrap export control's controlling side
    (None: no control in force), `cut` the share of its net scrap exports withheld.

    Without a binding control (none, cut 0, or a controlling side that imports scrap) one price
    clears the world's scrap and the outcome is exactly the uncontrolled one."""
    supply = float(collected.sum())
    price, bought = clear_scrap(supply, value, room)
    withheld = 0.0
    if home is not None and cut > 0.0:
        away = ~home
        home_supply, away_supply = float(collected[home].sum()), float(collected[away].sum())
        # net exports of the controlling side = net imports of the other (when scrap is left
        # over, each side's recyclers are taken to use their own scrap first)
        exports = min(home_supply - float(bought[home].sum()),
                      float(bought[away].sum()) - away_supply)
        if exports > 0.0:
            allowed = (1.0 - cut) * exports
            withheld = exports - allowed
            home_price, bought_home = clear_scrap(home_supply - allowed, value[home], room[home])
            away_price, bought_away = clear_scrap(away_supply + allowed, value[away], room[away])
            bought = np.zeros(len(value))
            bought[home], bought[away] = bought_home, bought_away
            prices = np.where(home, home_price, away_price)
            # exporters sell at home what stays, and the allowed exports at the importers'
            # price, pro rata to what each collected
            share = collected / home_supply if home_supply > 0 else np.zeros(len(value))
            receipts = np.where(home, home_price * (collected - share * allowed)
                                + away_price * share * allowed, away_price * collected)
            return ScrapOutcome(prices, bought, receipts, home_price, away_price, withheld)
    prices = np.full(len(value), price)
    return ScrapOutcome(prices, bought, price * collected, price, price, withheld)
