"""Method of simulated moments recovers a known model parameter; moments of a history."""

from __future__ import annotations

import numpy as np
import pytest

from abm.calibration.moments import fit_moments, price_moments, simulated_moments
from abm.calibration.shocks import fit_ar1
from abm.experiment import experiment_from_dict
from abm.simulate import simulate

TRUE_SHOCK_SD = 0.08


def market(steps: int = 96) -> dict:
    """A market with a fine-grained merit order (40 refiners, 30-88.5 USD/kg) and AR(1) demand."""
    return {
        "experiment": {"name": "msm", "steps": steps},
        "market": {"demand": {"reference_price": 60.0, "reference_quantity": 90_000,
                              "elasticity": -0.4, "shock_sd": TRUE_SHOCK_SD,
                              "shock_persistence": 0.7}},
        "regions": [{"name": "China", "market_economy": False}, {"name": "US", "club": True}],
        "producers": [{"name": f"P{i}", "region": "China" if i % 2 else "US",
                       "stage": "refinery", "capacity": 4000.0, "unit_cost": 30 + 1.5 * i}
                      for i in range(40)],
        "buyers": [{"name": "Buyers", "region": "US", "share": 1.0}],
    }


def test_moments_fit_recovers_demand_shock_sd_from_independent_simulated_data():
    names = ["price_volatility", "price_mean"]
    # "data": the true model at seeds the fit never sees
    targets, _ = simulated_moments(market(), {}, names=names, seeds=range(100, 108))
    fit = fit_moments(market(), {"market.demand.shock_sd": (0.01, 0.3)}, targets,
                      seeds=range(1, 4), n_start=4, xtol=3e-3)
    assert fit.parameters["market.demand.shock_sd"] == pytest.approx(TRUE_SHOCK_SD, rel=0.15)
    assert fit.table()["relative_error"].abs().max() < 0.05
    assert fit.jacobian["price_volatility"]["market.demand.shock_sd"] > 0  # identified


def test_moments_fit_with_common_random_numbers_recovers_parameter_exactly():
    seeds = [7, 8]
    targets, _ = simulated_moments(market(), {}, names=["price_volatility"], seeds=seeds)
    start = market()
    start["market"]["demand"]["shock_sd"] = 0.2  # the base value is overridden by the fit
    fit = fit_moments(start, {"market.demand.shock_sd": (0.01, 0.3)}, targets, seeds=seeds,
                      n_start=4, xtol=1e-4)
    assert fit.parameters["market.demand.shock_sd"] == pytest.approx(TRUE_SHOCK_SD, abs=2e-3)
    assert fit.objective < 1e-4


def test_moments_fit_standard_error_covers_truth_given_target_covariance():
    names = ["price_volatility"]
    _, sd = simulated_moments(market(), {}, names=names, seeds=range(100, 106))
    targets, _ = simulated_moments(market(), {}, names=names, seeds=[100])  # one "history"
    fit = fit_moments(market(), {"market.demand.shock_sd": (0.01, 0.3)}, targets,
                      seeds=range(1, 4), n_start=4, xtol=3e-3,
                      target_cov=np.array([[sd[names[0]] ** 2]]))
    se = fit.std_errors["market.demand.shock_sd"]
    assert 0 < se < 0.05
    assert abs(fit.parameters["market.demand.shock_sd"] - TRUE_SHOCK_SD) < 3 * se


def test_moments_fit_needs_as_many_moments_as_parameters():
    with pytest.raises(ValueError, match="at least as many"):
        fit_moments(market(), {"market.demand.shock_sd": (0.01, 0.3),
                               "market.demand.elasticity": (-1, -0.1)},
                    {"price_volatility": 0.1}, seeds=[1])


def test_price_moments_of_a_known_history():
    price = np.array([10.0, 20.0, 10.0, 20.0, 10.0])
    m = price_moments(price, steps_per_year=12)
    assert m["price_mean"] == pytest.approx(14.0)
    assert m["price_volatility"] == pytest.approx(np.log(2) * np.sqrt(4 / 3) * np.sqrt(12))
    assert m["price_autocorr"] < -0.5  # alternating prices are negatively autocorrelated


def test_ar1_fit_recovers_the_models_demand_shock_process():
    raw = market(steps=600)
    config = experiment_from_dict(raw).scenario("base")
    shock = simulate(config, 3).series["demand_shock"].to_numpy()
    fit = fit_ar1(shock, trend=False)
    assert fit.sigma == pytest.approx(TRUE_SHOCK_SD, rel=0.1)
    assert fit.rho == pytest.approx(0.7, abs=4 * fit.std_errors["rho"])
