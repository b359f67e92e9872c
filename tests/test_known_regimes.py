"""The stockholders' backward induction over known regimes (abm.known_regimes), as pure functions."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from abm import known_regimes, storage

ELASTICITY, SD, INTEREST = -0.3, 0.1, 0.05 / 12     # the antimony repro's market (monthly steps)
DISCOUNT = 1.0 / (1.0 + INTEREST)                   # no decay, no cost
# The antimony 2024 episode (abm.validation.episodes.ANTIMONY) with rational stockholders,
# foresight "full", a supply shock of sd 0.1: the regimes (pbar USD/kg, Qbar t a month) its
# stockholders read at the announcement (step 12) for steps 13 .. 24, rounded: two licence
# months, ten more of the cut, then the pre-control market, which lasts (the terminal regime)
ANTIMONY_PATH = [(86.61, 5500.6)] * 2 + [(50.46, 6025.0)] * 10
ANTIMONY_END = (22.01, 6916.7)


@pytest.fixture(scope="module")
def stationary():
    return storage.solve(ELASTICITY, SD, 0.0, 0.0, INTEREST)


def worth(regimes, terminal, rule):
    pbar, q = terminal
    return known_regimes.carry_worth(regimes, (pbar, q, rule), ELASTICITY, SD, 0.0, INTEREST,
                                     0.0)


def test_the_shock_nodes_stay_inside_the_harvests_truncation_at_the_largest_sd():
    # The harvest is N(1, sd^2) truncated at +-8.5 sd (abm.storage), and sd is at most 0.11
    # (the schema), so it is at least 1 - 8.5 x 0.11 = 0.065 > 0. The 48 Gauss-Hermite nodes
    # reach -12.69 sd: 1 - 12.69 x 0.11 = -0.396, once cut to a harvest of 0, where the price
    # (A^(1 / -0.3), A = 0 with no stock) and so every expectation was infinite
    h, w = known_regimes.shock_nodes(0.11)
    assert h.min() >= 1.0 - 8.5 * 0.11 and h.max() <= 1.0 + 8.5 * 0.11
    assert w.sum() == pytest.approx(1.0, abs=1e-15) and (w > 0).all()
    # the truncated normal's mean 1 and variance sd^2 (the mass beyond 8.5 sd is 2e-17)
    assert w @ h == pytest.approx(1.0, abs=1e-14)
    assert w @ (h - 1.0) ** 2 == pytest.approx(0.11**2, rel=1e-12)
    with pytest.raises(ValueError):     # 1 - 8.5 x 0.12 = -0.02: no positive harvest
        known_regimes.shock_nodes(0.12)


def test_regimes_like_the_last_one_give_the_stationary_worth(stationary):
    # Three known steps that are the terminal regime itself (pbar 1, Q 1) change nothing: the
    # worth of a carried tonne is the stationary rule's Psi(x) = E[P*(x + h)] / (1 + r)
    # (abm.storage's own quadrature), 1.2539 at x = 0; the sd 0.1 harvest once made it infinite.
    # To the Gauss-Hermite nodes' error at the stock-out kink (1e-3), and up to a stock of 2:
    # above it the induction's grid (3 Q) holds its top stock where the stationary rule would
    # hold more, so its worth falls below Psi there (3.8% at x = 3)
    x, w = worth([(1.0, 1.0)] * 3, (1.0, 1.0), stationary.price)
    psi = stationary._solver.psi(stationary.rule, x)
    assert psi[0] == pytest.approx(1.2539, abs=1e-4)
    assert np.isfinite(w).all()
    inside = x <= 2.0
    np.testing.assert_allclose(w[inside], psi[inside], rtol=2e-3)


def market_prices(stationary):
    """Each known step's price function P_k (abm.known_regimes._market_price) on the antimony
    path, with its (pbar_k, Q_k), and the stock grid: built as carry_worth builds them."""
    out = []
    for i, (pbar, q) in enumerate(ANTIMONY_PATH):
        x, w = worth(ANTIMONY_PATH[i + 1:], ANTIMONY_END, stationary.price)   # W_k, k = 13 + i
        out.append((known_regimes._market_price(x, w, pbar, q, ELASTICITY), pbar, q, x, w))
    return out


def test_on_the_antimony_path_every_step_consumes_and_its_price_is_finite(stationary):
    # At every known step k, availability A (t) splits into the stock carried X_k(A) and
    # consumption Q_k (P_k / pbar_k)^(-1 / 0.3): X_k = A - Q_k (P_k / pbar_k)^-0.3 must be in
    # [0, A) with P_k finite, from the least availability (no stock, the lowest harvest,
    # 0.15 Q_k = 1 - 8.5 x 0.1) to beyond the top of the grid (3 x 6916.7 t)
    for price, pbar, q, x, w in market_prices(stationary):
        assert np.isfinite(w).all() and (np.diff(w) <= 0).all()
        a = np.concatenate([q * np.linspace(0.15, 1.0, 50), np.linspace(q, 1.2 * x[-1], 400)])
        p = price(a)
        assert np.isfinite(p).all() and (p > 0).all()
        carried = a - q * (p / pbar) ** ELASTICITY
        assert (carried >= -1e-9 * a).all() and (carried < a).all()
        # at A = Q_k demand alone clears at pbar_k: nobody carries if that is at least the
        # worth of a first tonne, W_k(0); else they carry some, at a price between the two
        at_q = price(np.array([q]))[0]
        if pbar >= w[0]:
            assert at_q == pytest.approx(pbar, rel=1e-12)
        else:
            assert pbar < at_q < w[0]


# (quad meets the kinks of P_13's interpolation, one at each grid point, as roundoff)
@pytest.mark.filterwarnings("ignore::scipy.integrate.IntegrationWarning")
def test_the_announcements_worth_is_the_discounted_expected_next_price(stationary):
    # W_12(x) = E[P_13(x + Q_13 h)] / (1 + r), h the truncated normal: checked against scipy's
    # adaptive quadrature over the truncated density at a few stocks (t), independent of the
    # Gauss-Hermite nodes (to 1e-6, split at P_13's stock-out kink, where the stock held begins:
    # A0 = Q_13 (W_13(0) / pbar_13)^-0.3). To the nodes' error at that kink: 9e-4 with no stock
    x, w = worth(ANTIMONY_PATH, ANTIMONY_END, stationary.price)
    price, pbar, q, _, w_next = market_prices(stationary)[0]
    stock_out = q * (w_next[0] / pbar) ** ELASTICITY
    lo, hi = 1 - storage.TRUNCATION * SD, 1 + storage.TRUNCATION * SD
    density = stats.truncnorm(-storage.TRUNCATION, storage.TRUNCATION, loc=1.0, scale=SD)
    for stock in (0.0, 2000.0, 8000.0, 15000.0):
        kink = (stock_out - stock) / q
        by_quad = integrate.quad(lambda h, s=stock: float(price(np.array([s + q * h]))[0])
                                 * density.pdf(h), lo, hi, points=[kink] if lo < kink < hi
                                 else None, limit=1000, epsabs=0, epsrel=1e-6)[0]
        got = float(np.interp(stock, x, w))
        assert math.isfinite(got)
        assert got == pytest.approx(DISCOUNT * by_quad, rel=2e-3), stock
