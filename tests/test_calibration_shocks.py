"""Trend + AR(1) fits recover known coefficients, with honest standard errors."""

from __future__ import annotations

import numpy as np
import pytest

from abm.calibration.shocks import (
    demand_shock_from_price,
    fit_ar1,
    rescale_ar1,
    simulate_ar1,
)


@pytest.mark.parametrize("rho", [0.3, 0.85])
def test_ar1_fit_recovers_known_coefficients(rho):
    series = simulate_ar1(1200, rho=rho, sigma=0.06, intercept=np.log(60.0), trend=0.001,
                          seed=4)
    fit = fit_ar1(series, periods_per_year=12)
    est, se = fit.estimates, fit.std_errors
    assert fit.converged
    assert abs(est["rho"] - rho) < 4 * se["rho"] and se["rho"] < 0.05
    assert est["sigma"] == pytest.approx(0.06, rel=0.08)
    assert abs(est["trend"] - 0.001) < 4 * se["trend"]
    assert fit.growth_per_year == pytest.approx(np.expm1(12 * est["trend"]))


def test_ar1_standard_errors_match_the_sampling_spread():
    fits = [fit_ar1(simulate_ar1(240, rho=0.7, sigma=0.05, seed=s), trend=False)
            for s in range(40)]
    rhos = np.array([f.rho for f in fits])
    mean_se = np.mean([f.std_errors["rho"] for f in fits])
    assert 0.6 < mean_se / rhos.std() < 1.6
    assert abs(rhos.mean() - 0.7) < 0.05


def test_ar1_without_trend_fixes_trend_at_zero():
    fit = fit_ar1(simulate_ar1(300, rho=0.5, sigma=0.1, trend=0.01, seed=1), trend=False)
    assert fit.estimates["trend"] == 0.0 and fit.std_errors["trend"] == 0.0
    # the omitted trend is absorbed as near-unit-root persistence
    assert fit.rho > 0.9


def test_config_overrides_use_the_model_keys():
    fit = fit_ar1(simulate_ar1(240, rho=0.6, sigma=0.04, trend=0.002, seed=9))
    keys = fit.config_overrides()
    assert set(keys) == {"market.demand.growth", "market.demand.shock_sd",
                         "market.demand.shock_persistence"}
    assert keys["market.demand.shock_persistence"] == fit.rho


def test_fit_refuses_non_positive_values():
    with pytest.raises(ValueError, match="> 0"):
        fit_ar1(np.r_[np.ones(10), 0.0])


def test_rescale_yearly_ar1_to_monthly_keeps_yearly_persistence_and_variance():
    rho_m, sigma_m = rescale_ar1(0.5, 0.2, 12)
    assert rho_m**12 == pytest.approx(0.5)
    assert sigma_m**2 / (1 - rho_m**2) == pytest.approx(0.2**2 / (1 - 0.5**2))


def test_demand_shock_from_price_scales_by_elasticities():
    assert demand_shock_from_price(0.1, -0.4) == pytest.approx(0.04)
    assert demand_shock_from_price(0.1, -0.4, supply_elasticity=0.6) == pytest.approx(0.1)
