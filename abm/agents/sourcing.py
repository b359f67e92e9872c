"""Rules of origin that move supply: club refiners' choice of compliant feed.

Without a rule of origin the chain curve (abm.market.chain_curve) pairs the cheapest refinery
with the cheapest mine wherever they are. Under a rule of origin `R` (the club's share of an
offer's value added, refining margin and concentrate, that club treatment needs), a club
refinery fed with non-club concentrate sells outside the club unless its own margin reaches
`R`. When the club's price stood above the world price last step, club refiners that fail the
rule with non-club feed buy club-mined (compliant) concentrate instead where that pays (also a
club refinery the usual curve leaves without feed):

* a club refinery needs compliant feed when c_r < R (c_r + k p_n): its value share with
  non-club feed at last step's (non-compliant) concentrate price p_n misses the rule;
* a club mine's concentrate pays for it when c_m <= p_n + (P_club - P_world) / k, last step's
  prices: the extra feed cost is covered by the club premium the product then earns.

Those refineries and mines form their own chain curve (`compliant`: merit order with merit
order); whatever capacity it leaves, with every other refinery and mine, forms the usual one.
When no club refinery fails the rule with non-club feed (a rule that does not bind), or no club
mine's feed pays, the offers are the usual curve's, unchanged.
The offers' club value follows the pairs actually made, and concentrate changes hands at two
prices (abm.agents.producers.Producers.concentrate_price): the non-compliant one of the usual
curve and the compliant one of the compliant curve (never below the non-compliant: a club mine
can always sell to anyone).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from abm import market


@dataclass
class CompliantPool:
    """This step's compliant chain: its curve, the rows behind it and where its offers start."""

    curve: market.ChainCurve
    refs: np.ndarray        # producer rows of the club refineries in it
    mines: np.ndarray       # producer rows of the club mines in it
    mine_qty: np.ndarray    # t of concentrate those mines had available this step
    start: int              # index of its first offer (after the usual chain's)


def club_value(club: np.ndarray, ref_rows: np.ndarray, mine_rows: np.ndarray, asks: np.ndarray,
               mine_ask: np.ndarray, intensity: float) -> np.ndarray:
    """Share of each chain offer's value (its ask) added in club regions: the refining margin
    of a club refinery and the concentrate of a club mine (a club refinery's own share when
    the ask is 0)."""
    conc_value = intensity * mine_ask
    value = np.where(club[ref_rows], asks - conc_value, 0.0) + np.where(
        club[mine_rows], conc_value, 0.0)
    return np.divide(value, asks, out=club[ref_rows].astype(float), where=asks > 0)


def compliant_candidates(ask: np.ndarray, club: np.ndarray, refs: np.ndarray, mines: np.ndarray,
                         intensity: float, rule: float, premium: float, p_n: float):
    """(club refinery rows that need compliant feed, club mine rows whose feed pays for them),
    or None when there is no premium to earn or nobody to pair; see the module docstring."""
    if not (premium > 0 and np.isfinite(p_n)):
        return None
    c_r = ask[refs]
    need = refs[club[refs] & (c_r < rule * (c_r + intensity * p_n))]
    worth = mines[club[mines] & (ask[mines] <= p_n + premium / intensity)]
    if not len(need) or not len(worth):
        return None
    return need, worth


def compliant_price(pool: CompliantPool, club_price: float, sold: np.ndarray, ask: np.ndarray,
                    intensity: float, non_compliant: float) -> float:
    """Price of compliant concentrate: abm.market.concentrate_price on the compliant curve at the
    club price, never below the non-compliant price; NaN when none of it sold."""
    n = len(pool.curve.asks)
    part = sold[pool.start:pool.start + n]
    if not (part > 1e-12).any():
        return float("nan")
    price = market.concentrate_price(club_price, pool.curve, part, ask[pool.refs],
                                     ask[pool.mines], pool.mine_qty, intensity)
    return max(price, non_compliant) if np.isfinite(non_compliant) else price
