"""Export controls on concentrate: a region's mines ship at most a capped tonnage to refiners
elsewhere (`[[shocks]] kind = "export_control"`, `stage = "concentrate"`; the DRC's 2025 ban
and quotas on cobalt hydroxide).

Without a control the chain curve (abm.market.chain_curve) pairs the cheapest refinery with the
cheapest mine wherever they are. Under a cap C (t of concentrate per step) on region r's mines,
which have A t available this step (C < A: the cap binds):

* each of r's mines offers the share C / A of its concentrate to the usual (world) chain, where
  any refinery may buy it (export licences pro rata to output: ASSUMPTION, the simplest
  allocation of a national quota among its miners);
* the rest stays home: r's own refineries pair with it first, on a chain curve of their own
  (`HomePool`), and whatever of their capacity it leaves joins the world chain. What r's
  refineries cannot take is not sold: the model holds no concentrate stocks, so an unsold
  tonne is not mined this step (the mines' output and revenue fall by it; DRC hydroxide piled
  up at the mines instead, which the model does not carry over).

Concentrate then changes hands at two prices: the world chain's (abm.market.concentrate_price)
and, in each home pool, its own, by the same rule on the home curve at the product price (the
scarce stage earns the rent; with more withheld feed than home refining, the home mines' cost).
A region's own refineries may also buy its exportable share in the world chain, so its
shipments abroad are at most C (exactly C for a region without refineries).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from abm import market


@dataclass
class HomePool:
    """A controlling region's withheld concentrate and its own refineries: their chain curve,
    the rows behind it, where its offers start, and the price its concentrate changes hands at."""

    curve: market.ChainCurve
    refs: np.ndarray        # producer rows of the region's refineries
    mines: np.ndarray       # producer rows of the region's mines
    mine_qty: np.ndarray    # t of withheld concentrate those mines had this step
    start: int = 0          # index of its first offer
    price: float = float("nan")   # price units per t of concentrate

    def sold(self, sold: np.ndarray) -> np.ndarray:
        """The part of the step's sales `sold` (t product per offer) that is this pool's."""
        return sold[self.start:self.start + len(self.curve.asks)]


def withhold(ask: np.ndarray, avail: np.ndarray, region: np.ndarray, refs: np.ndarray,
             mines: np.ndarray, caps: dict[int, float],
             intensity: float) -> tuple[np.ndarray, list[HomePool]]:
    """(availability per producer row left for the world chain, the home pools) under the
    concentrate caps `caps` (region -> t of concentrate per step); see the module docstring."""
    world = avail.copy()
    pools = []
    for r, cap in caps.items():
        home_mines = mines[region[mines] == r]
        total = float(avail[home_mines].sum())
        if total <= cap:
            continue                      # the cap does not bind this step
        world[home_mines] = avail[home_mines] * (cap / total)
        kept = avail[home_mines] - world[home_mines]
        home_refs = refs[region[refs] == r]
        if not len(home_refs):
            continue                      # a mine-only region: the withheld tonnes go unsold
        curve = market.chain_curve(ask[home_refs], avail[home_refs], ask[home_mines], kept,
                                   intensity)
        if not len(curve.asks):
            continue
        world[home_refs] -= np.bincount(curve.refinery, weights=curve.quantity,
                                        minlength=len(home_refs))
        pools.append(HomePool(curve, home_refs, home_mines, kept))
    world[world <= 1e-12 * np.maximum(avail, 1.0)] = 0.0      # (rounding of the sums)
    return world, pools


def home_prices(pools: list[HomePool], price: float, sold: np.ndarray, ask: np.ndarray,
                intensity: float) -> None:
    """Set each pool's concentrate price behind product price `price` (abm.market
    .concentrate_price on its curve; its home mines' cheapest cost when none of it sold)."""
    for pool in pools:
        pool.price = market.concentrate_price(price, pool.curve, pool.sold(sold),
                                              ask[pool.refs], ask[pool.mines], pool.mine_qty,
                                              intensity)
