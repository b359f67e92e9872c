"""Stockholders' backward induction over a known sequence of regimes (abm.stockholders).

An announced export control makes the coming regimes public: each future step's export caps
are known from its announcement (abm.policies.trade.ExportControl.cap_at), so the stockholders
know the regime of every step up to the last switch T, and that regime T then lasts. The value
of carrying stock is solved backward from T, whose rule is abm.storage's stationary one:

* P_T(A) = pbar_T P*(A / Q_T), P* the solved rule's price (units of pbar_T and Q_T);
* for k = T-1 down to t+1: the worth now of a tonne carried out of step k with S tonnes,
  W_k(S) = (1 - decay) E[P_k+1((1 - decay) S + Q_k+1 h)] / (1 + interest) - cost, and the
  step's price P_k(A) solves the market with storage: hold S = 0 and P_k(A) = pbar_k (A /
  Q_k)^(1 / elasticity) while that is at least W_k(0), else P_k(A) = W_k(S) where
  A = S + Q_k (W_k(S) / pbar_k)^elasticity (the endogenous grid in S);
* now (step t) the schedule is W_t(x): the stockholders hold x tonnes at price W_t(x).

With a lift hazard lam (`foresight = "uncertain"`, [storage] lift_hazard: the probability per step
that the announced controls are lifted and free trade returns for good) a tonne carried out of
step k meets the known path's step k+1 with probability 1 - lam and free trade with lam:
W_k(S) = (1 - decay) E[(1 - lam) P_k+1((1 - decay) S + Q_k+1 h) + lam P_free((1 - decay) S +
Q_free h)] / (1 + interest) - cost, P_free(A) = pbar_free P*_free(A / Q_free) the stationary
rule of the free regime (no export caps), each branch's availability the stock carried plus that
branch's own supply. Once lifted the free regime lasts, so its stationary rule is its price
(exact); lam = 0 is the known path (foresight "full") exactly. The terminal regime T (after the
last known control's end) is taken as is: it has no hazard left when it is the free regime.

Approximated as in the stationary rule (docs/ODD.md 7.17): supply vertical at each regime's Q_k
times the shock h ~ N(1, sd^2) truncated at +-8.5 sd as in abm.storage (integrated by
Gauss-Hermite nodes, which smooth the stock-out kink), demand isoelastic through (pbar_k, Q_k),
the future regimes read from this step's offers with the future caps; a buffer stock is in the
terminal rule only.
Units: tonnes, price units per t (cost per t per step), decay and interest per step.
"""

from __future__ import annotations

import numpy as np

from abm import storage

NODES = 48          # Gauss-Hermite nodes for the shock
POINTS = 257        # stock grid points per step ...
RANGE = 3.0         # ... for stocks up to RANGE x the largest Q on the known path


def shock_nodes(sd: float) -> tuple[np.ndarray, np.ndarray]:
    """Nodes h and weights of the harvest N(1, sd^2) truncated at +-storage.TRUNCATION sd, as
    in abm.storage: the Gauss-Hermite nodes beyond it (|z| > 8.5, weights 1e-18 in all) are
    dropped and the rest renormalised, so h >= 1 - 8.5 sd > 0 (sd < 1 / 8.5). (Nodes below
    1 / sd sd were once cut to a harvest of 0, which the lowest, -12.69 sd, is for sd above
    0.079: with nothing carried that is availability 0, an infinite price under isoelastic
    demand, and the induction spread the infinite worth from no stock to every stock within
    three steps back.)"""
    if not 0 < sd < 1.0 / storage.TRUNCATION:
        raise ValueError(f"sd must be in (0, {1 / storage.TRUNCATION:.4f}), got {sd}")
    z, w = np.polynomial.hermite_e.hermegauss(NODES)
    inside = np.abs(z) <= storage.TRUNCATION
    return 1.0 + sd * z[inside], w[inside] / w[inside].sum()


def stock_grid(q: float) -> np.ndarray:
    """Stocks 0 .. RANGE q, denser near none (where the worth falls fastest), t. `q` is the
    largest Q on the path: a grid cut at the next step's Q would stop stocks from growing
    exactly when a supply cut makes that Q small."""
    return RANGE * q * np.linspace(0.0, 1.0, POINTS) ** 2


def carry_worth(regimes: list[tuple[float, float]], terminal, elasticity: float, sd: float,
                decay: float, interest: float, cost: float, hazard: float = 0.0,
                free=None) -> tuple[np.ndarray, np.ndarray]:
    """(x, W_t(x)): stocks (t) and what a tonne carried out of this step with x is worth now
    (price units per t). `regimes`: (pbar_k, Q_k) of steps t+1 .. T-1; `terminal`: (pbar_T,
    Q_T, P*) with P* the stationary rule's price of normalised availability; `hazard`: the
    probability per step (1/step) that the controls are lifted for good, to the free regime
    `free` = (pbar_free, Q_free, P*_free) (needed when hazard > 0; module docstring)."""
    if not 0.0 <= hazard <= 1.0:
        raise ValueError(f"hazard must be in [0, 1], got {hazard}")
    h, w = shock_nodes(sd)
    discount = (1.0 - decay) / (1.0 + interest)
    pbar_t, q_t, rule = terminal

    def expected(price, carried: np.ndarray, q: float) -> np.ndarray:
        points = carried[:, None] + q * h[None, :]
        return (price(points.ravel()).reshape(points.shape) * w).sum(axis=1)

    qs = [q_t, *(q for _, q in regimes)]
    if hazard > 0.0:
        pbar_f, q_f, rule_f = free
        qs.append(q_f)
    stock = stock_grid(max(qs))
    carried = (1.0 - decay) * stock
    if hazard > 0.0:        # the free branch's expected price, the same at every step
        lifted = expected(lambda a: pbar_f * rule_f(a / q_f), carried, q_f)

    def worth_of(price, q_next: float) -> np.ndarray:
        kept = expected(price, carried, q_next)
        if hazard > 0.0:
            kept = (1.0 - hazard) * kept + hazard * lifted
        return discount * kept - cost

    price, q_next = (lambda a: pbar_t * rule(a / q_t)), q_t
    for pbar, q in reversed(regimes):
        worth = worth_of(price, q_next)
        price, q_next = _market_price(stock, worth, pbar, q, elasticity), q
    return stock, worth_of(price, q_next)


def _market_price(stock: np.ndarray, worth: np.ndarray, pbar: float, q: float,
                  elasticity: float):
    """P_k(A), availability A in t, given the worth W_k of the stock grid (module docstring)."""
    pos = worth > 0
    stock, worth = stock[pos], worth[pos]

    def demand_price(a):
        return pbar * (np.maximum(a, 1e-12 * q) / q) ** (1.0 / elasticity)

    if len(stock) == 0:
        return demand_price          # storing never pays: the price clears the step
    a_held = stock + q * (worth / pbar) ** elasticity      # rising in S (W falls in S)

    def price(a):
        a = np.asarray(a, float)
        # above the grid: the last stock held, the rest consumed
        return np.where(a <= a_held[0], demand_price(a),
                        np.where(a <= a_held[-1], np.interp(a, a_held, worth),
                                 demand_price(a - stock[-1])))

    return price
