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


# -- a chance that the control is lifted (foresight "uncertain", [storage] lift_hazard) -------------

def test_no_lift_hazard_is_the_known_path_exactly(stationary):
    # lift_hazard 0 (foresight "uncertain") must give foresight "full"'s schedule bit for bit,
    # whatever free regime is passed
    x0, w0 = worth(ANTIMONY_PATH, ANTIMONY_END, stationary.price)
    pbar, q = ANTIMONY_END
    x, w = known_regimes.carry_worth(ANTIMONY_PATH, (pbar, q, stationary.price), ELASTICITY, SD,
                                     0.0, INTEREST, 0.0, 0.0, (pbar, q, stationary.price))
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(w, w0)


def test_with_a_lift_hazard_the_worth_mixes_the_known_next_price_with_free_trades():
    # A tiny path by hand: one control step (pbar_1 4, Q_1 0.5 t), then free trade (pbar 1,
    # Q 1 t, lasting), demand elasticity -0.5 (price = pbar (A / Q)^-2), and as free trade's
    # stationary rule the demand curve itself, P_free(A) = A^-2; interest 0.25 (discount 0.8),
    # no decay or cost, sd 1e-4 (E[P(A)] = P(E A) to 3e-8), hazard 0.5.
    # Out of the control step the next is free trade whether lifted or not:
    #   W_1(S) = 0.8 P_free(S + 1) = 0.8 / (1 + S)^2, so W_1(0) = 0.8 < pbar_1 = 4: nobody
    #   stores at A = Q_1, and while 1 / A^2 >= 0.8 (A <= 1.118) P_1(A) = 4 (A / 0.5)^-2 = 1 / A^2.
    # Now: W_t(S) = 0.8 [0.5 P_1(S + 0.5) + 0.5 P_free(S + 1)]:
    #   S = 0:        0.8 (0.5 x 4 + 0.5 x 1) = 2.0 (known path: 0.8 x 4 = 3.2)
    #   S = 0.1875:   P_1(0.6875) = 2.115702, P_free(1.1875) = 0.709141 -> 1.129938
    #   S = 0.421875: P_1(0.921875) = 1.176672, P_free(1.421875) = 0.494626 -> 0.668520
    # (0.1875 and 0.421875 are points of the stock grid, 3 x (64 / 256)^2 and 3 x (96 / 256)^2)
    def demand(a):
        return np.asarray(a, float) ** -2.0

    def schedule(hazard):
        return known_regimes.carry_worth([(4.0, 0.5)], (1.0, 1.0, demand), -0.5, 1e-4, 0.0, 0.25,
                                         0.0, hazard, (1.0, 1.0, demand))

    x, w = schedule(0.5)
    for stock, by_hand in ((0.0, 2.0), (0.1875, 1.129938), (0.421875, 0.668520)):
        assert stock in x
        assert float(w[x == stock][0]) == pytest.approx(by_hand, abs=2e-6), stock
    x, w = schedule(0.0)
    assert float(w[0]) == pytest.approx(3.2, rel=1e-7)
    with pytest.raises(ValueError):
        schedule(1.5)


def test_a_larger_lift_hazard_never_makes_a_tonne_carried_into_the_antimony_cut_worth_more(
        stationary):
    # On the antimony path every known step's price is above free trade's at the same
    # availability (the cut's pbar 86.61 and 50.46 against 22.01, less supply), so the mixture
    # (1 - lam) P_k+1 + lam P_free falls in lam at every stock, step by step back to now: the
    # announcement's schedule W_12(x) never rises with the hazard (so they never hold more)
    pbar, q = ANTIMONY_END
    free = (pbar, q, stationary.price)
    last = None
    for hazard in (0.0, 1 / 36, 1 / 24, 1 / 12, 1 / 6, 0.5, 1.0):
        x, w = known_regimes.carry_worth(ANTIMONY_PATH, free, ELASTICITY, SD, 0.0, INTEREST, 0.0,
                                         hazard, free)
        if last is not None:
            assert (w <= last * (1 + 1e-12)).all(), hazard
            assert w[0] < last[0]
        last = w
    # a hazard of 1: carried into free trade for sure, the stationary worth
    psi = stationary._solver.psi(stationary.rule, x / q) * pbar
    inside = x <= 2.0 * q
    np.testing.assert_allclose(last[inside], psi[inside], rtol=2e-3)
