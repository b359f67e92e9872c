"""Cost curves: weighted maximum likelihood recovers known families; PCHIP is monotone and exact."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from abm.calibration.cost_curve import (
    REPORT_SHARES,
    cost_at_share,
    fit_cost_curve,
    merit_order,
    weighted_quantile,
)


def synthetic_table(dist, n: int = 400, seed: int = 11) -> tuple[np.ndarray, np.ndarray]:
    """Producers with random capacities (t/yr) and costs drawn from `dist` independently."""
    rng = np.random.default_rng(seed)
    capacity = rng.uniform(500, 5000, n)
    cost = dist.rvs(size=n, random_state=rng)
    return capacity, cost


def test_lognormal_costs_recover_parameters_and_win_by_aic():
    capacity, cost = synthetic_table(stats.lognorm(s=0.35, scale=50.0))
    fit = fit_cost_curve(capacity, cost)
    lognormal = fit.families["lognormal"].parameters
    assert lognormal["mu"] == pytest.approx(np.log(50.0), abs=0.05)
    assert lognormal["sigma"] == pytest.approx(0.35, abs=0.04)
    assert fit.best.family == "lognormal"


def test_gamma_costs_recover_parameters_and_win_by_aic():
    capacity, cost = synthetic_table(stats.gamma(a=4.0, scale=12.0), seed=5)
    fit = fit_cost_curve(capacity, cost)
    gamma = fit.families["gamma"].parameters
    assert gamma["shape"] == pytest.approx(4.0, rel=0.2)
    assert gamma["scale"] == pytest.approx(12.0, rel=0.2)
    assert gamma["shape"] * gamma["scale"] == pytest.approx(48.0, rel=0.05)  # the mean cost
    assert fit.best.family == "gamma"


def test_weibull_fit_recovers_parameters():
    capacity, cost = synthetic_table(stats.weibull_min(c=2.5, scale=60.0), seed=3)
    weibull = fit_cost_curve(capacity, cost).families["weibull"].parameters
    assert weibull["shape"] == pytest.approx(2.5, rel=0.15)
    assert weibull["scale"] == pytest.approx(60.0, rel=0.05)


def test_fit_weights_producers_by_capacity():
    # a few large cheap producers hold most capacity; many small ones are expensive
    capacity = np.r_[np.full(5, 20_000.0), np.full(45, 200.0)]
    cost = np.r_[np.linspace(28, 32, 5), np.linspace(85, 95, 45)]
    fit = fit_cost_curve(capacity, cost)
    median = float(fit.best.quantile(np.array([0.5]))[0])
    assert median < 40  # unweighted, the median producer costs about 88
    assert fit.data.n_effective < 10  # the likelihood does not claim 50 producers' evidence


def test_exact_curve_gives_perfect_goodness_of_fit():
    shares = (np.arange(60) + 0.5) / 60
    dist = stats.gamma(a=3.0, scale=20.0)
    fit = fit_cost_curve(np.ones(60), dist.ppf(shares))
    gamma = fit.families["gamma"]
    assert gamma.fit.r2_weighted > 0.999
    assert gamma.fit.max_error < 0.05 * dist.ppf(0.99)


def test_goodness_of_fit_reports_error_in_price_units():
    capacity, cost = synthetic_table(stats.lognorm(s=0.35, scale=50.0), n=100)
    fit = fit_cost_curve(capacity, cost * 1000)  # the same table in USD/t instead of USD/kg
    base = fit_cost_curve(capacity, cost)
    assert fit.best.fit.max_error == pytest.approx(1000 * base.best.fit.max_error, rel=1e-3)
    assert fit.best.fit.r2_weighted == pytest.approx(base.best.fit.r2_weighted, abs=1e-4)


def test_pchip_is_monotone_and_passes_through_the_data():
    rng = np.random.default_rng(2)
    capacity = rng.uniform(100, 1000, 30)
    cost = np.round(rng.lognormal(3.5, 0.5, 30))  # rounded: ties make flat stretches
    fit = fit_cost_curve(capacity, cost)
    mo = fit.data
    np.testing.assert_allclose(fit.pchip.quantile(mo.mid), mo.cost, rtol=1e-12)
    grid = np.linspace(0, 1, 5001)
    values = fit.pchip.quantile(grid)
    assert np.all(np.diff(values) >= -1e-12)
    assert values[0] == mo.cost[0] and values[-1] == mo.cost[-1]


def test_merit_order_places_blocks_by_capacity_share():
    mo = merit_order(np.array([300.0, 100.0, 600.0]), np.array([50.0, 10.0, 30.0]))
    np.testing.assert_allclose(mo.cost, [10, 30, 50])
    np.testing.assert_allclose(mo.lower, [0.0, 0.1, 0.7])
    np.testing.assert_allclose(mo.upper, [0.1, 0.7, 1.0])
    np.testing.assert_allclose(mo.mid, [0.05, 0.4, 0.85])
    np.testing.assert_allclose(weighted_quantile(np.array([50.0, 10.0, 30.0]),
                                                 np.array([300.0, 100.0, 600.0]),
                                                 np.array([0.05, 0.5, 0.71])), [10, 30, 50])


def test_cost_at_share_keys_are_decimal_strings_from_five_to_ninety_five_percent():
    capacity, cost = synthetic_table(stats.lognorm(s=0.35, scale=50.0), n=50)
    table = cost_at_share(fit_cost_curve(capacity, cost).best)
    assert list(table) == [f"{s:.2f}" for s in REPORT_SHARES]
    assert list(table)[:3] == ["0.05", "0.10", "0.15"] and list(table)[-1] == "0.95"
    values = np.array(list(table.values()))
    assert np.all(np.diff(values) > 0)


def test_too_few_producers_is_refused():
    with pytest.raises(ValueError, match="at least 3 producers"):
        fit_cost_curve(np.array([1.0, 2.0]), np.array([10.0, 20.0]))


def test_non_positive_capacity_is_refused():
    with pytest.raises(ValueError, match="capacities"):
        fit_cost_curve(np.array([1.0, 0.0, 2.0]), np.array([10.0, 20.0, 30.0]))
