"""Trend and AR(1) shock process of a price or consumption history, by exact maximum likelihood.

Model of a positive series y_t (t = 0..n-1, one observation per period)::

    log y_t = a + g t + u_t,     u_t = rho u_{t-1} + e_t,     e_t ~ N(0, sigma^2)

with u_0 drawn from the stationary distribution N(0, sigma^2 / (1 - rho^2)) (exact Gaussian
likelihood, Prais-Winsten form). Standard errors from the inverse numerical Hessian of the log
likelihood at the optimum.

The model's demand shock (``market.demand.shock_sd``, ``shock_persistence``) is this AR(1) in log
demand per step, and ``market.demand.growth`` the yearly trend growth: a consumption history at
the model's step length maps onto them directly (:meth:`AR1Fit.config_overrides`). A price
history measures the *price* shock; :func:`demand_shock_from_price` gives the demand shock that
would produce it with a given demand and supply elasticity, and the method of simulated moments
(:mod:`abm.calibration.moments`) does the same inside the full model. :func:`rescale_ar1` moves an
AR(1) fitted on yearly data to monthly steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize

PARAMS = ("intercept", "trend", "rho", "sigma")


def _loglik(params: np.ndarray, logy: np.ndarray, t: np.ndarray) -> float:
    a, g, rho, sigma = params
    if not (-1 < rho < 1) or sigma <= 0:
        return -np.inf
    u = logy - a - g * t
    e = u[1:] - rho * u[:-1]
    n = len(u)
    ss = (1 - rho**2) * u[0] ** 2 + np.sum(e**2)
    return float(-0.5 * n * np.log(2 * np.pi * sigma**2) + 0.5 * np.log(1 - rho**2)
                 - ss / (2 * sigma**2))


def _hessian(f, x: np.ndarray) -> np.ndarray:
    """Central-difference Hessian with relative steps."""
    k = len(x)
    h = 1e-4 * np.maximum(np.abs(x), 1e-2)
    hess = np.empty((k, k))
    for i in range(k):
        for j in range(i, k):
            ei, ej = np.eye(k)[i] * h[i], np.eye(k)[j] * h[j]
            value = (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej) + f(x - ei - ej))
            hess[i, j] = hess[j, i] = value / (4 * h[i] * h[j])
    return hess


@dataclass(frozen=True)
class AR1Fit:
    """Estimates (per period of the data) with standard errors.

    ``intercept``: log level at t = 0; ``trend``: log growth per period; ``rho``: AR(1)
    coefficient; ``sigma``: sd of the innovation in logs. ``periods_per_year`` converts the trend
    to ``growth_per_year`` = exp(trend x periods_per_year) - 1.
    """

    estimates: dict[str, float]
    std_errors: dict[str, float]
    loglik: float
    n: int
    periods_per_year: float
    converged: bool
    residuals: np.ndarray

    @property
    def rho(self) -> float:
        return self.estimates["rho"]

    @property
    def sigma(self) -> float:
        return self.estimates["sigma"]

    @property
    def growth_per_year(self) -> float:
        return float(np.expm1(self.estimates["trend"] * self.periods_per_year))

    @property
    def growth_per_year_se(self) -> float:
        """Delta-method standard error of ``growth_per_year``."""
        return float(np.exp(self.estimates["trend"] * self.periods_per_year)
                     * self.periods_per_year * self.std_errors["trend"])

    def config_overrides(self) -> dict[str, float]:
        """Dotted config keys for a *consumption* history sampled at the model's step length."""
        return {"market.demand.growth": self.growth_per_year,
                "market.demand.shock_sd": self.sigma,
                "market.demand.shock_persistence": self.rho}

    def as_dict(self) -> dict:
        return {"estimates": self.estimates, "std_errors": self.std_errors,
                "growth_per_year": self.growth_per_year,
                "growth_per_year_se": self.growth_per_year_se, "loglik": self.loglik,
                "n": self.n, "periods_per_year": self.periods_per_year,
                "converged": self.converged}


def fit_ar1(values: np.ndarray, *, periods_per_year: float = 12.0, trend: bool = True) -> AR1Fit:
    """Fit the trend + AR(1) model to a positive series (one value per period, no gaps).

    ``trend = False`` fixes the trend at 0 (its standard error is then 0). Needs at least 8
    observations; raises ValueError on non-positive or non-finite values.
    """
    y = np.asarray(values, dtype=float)
    if y.ndim != 1 or len(y) < 8:
        raise ValueError("need a 1-D series of at least 8 observations")
    if np.any(~np.isfinite(y)) or np.any(y <= 0):
        raise ValueError("values must be finite and > 0 (the model is in logs)")
    logy = np.log(y)
    t = np.arange(len(y), dtype=float)
    # start: least squares trend, then least squares AR(1) of its residuals
    design = np.column_stack([np.ones_like(t), t]) if trend else np.ones((len(t), 1))
    coef = np.linalg.lstsq(design, logy, rcond=None)[0]
    u = logy - design @ coef
    rho0 = float(np.clip(np.dot(u[1:], u[:-1]) / max(np.dot(u[:-1], u[:-1]), 1e-300),
                         -0.95, 0.95))
    sigma0 = float(max(np.std(u[1:] - rho0 * u[:-1]), 1e-8))

    def unpack(z: np.ndarray) -> np.ndarray:  # unconstrained -> (a, g, rho, sigma)
        g = z[1] if trend else 0.0
        return np.array([z[0], g, np.tanh(z[2]), np.exp(z[3])])

    z0 = np.array([coef[0], coef[1] if trend else 0.0, np.arctanh(rho0), np.log(sigma0)])
    res = optimize.minimize(lambda z: -_loglik(unpack(z), logy, t), z0, method="BFGS",
                            options={"gtol": 1e-8, "maxiter": 2000})
    # BFGS may stop on precision loss at an optimum; polish with Nelder-Mead
    res2 = optimize.minimize(lambda z: -_loglik(unpack(z), logy, t), res.x,
                             method="Nelder-Mead",
                             options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 4000})
    best = res2 if res2.fun <= res.fun else res
    params = unpack(best.x)
    free = [0, 1, 2, 3] if trend else [0, 2, 3]

    def ll_free(p: np.ndarray) -> float:
        full = params.copy()
        full[free] = p
        return _loglik(full, logy, t)

    hess = _hessian(ll_free, params[free])
    cov = np.linalg.pinv(-hess)
    se_free = np.sqrt(np.clip(np.diag(cov), 0, None))
    se = np.zeros(4)
    se[free] = se_free
    u = logy - params[0] - params[1] * t
    return AR1Fit(dict(zip(PARAMS, map(float, params), strict=True)),
                  dict(zip(PARAMS, map(float, se), strict=True)),
                  float(-best.fun), len(y), float(periods_per_year),
                  bool(res.success or res2.success), u[1:] - params[2] * u[:-1])


def simulate_ar1(n: int, *, rho: float, sigma: float, intercept: float = 0.0,
                 trend: float = 0.0, seed: int = 0) -> np.ndarray:
    """A series exp(a + g t + u_t) from the model above (stationary start), for tests and demos."""
    rng = np.random.default_rng(seed)
    e = rng.normal(0.0, sigma, n)
    u = np.empty(n)
    u[0] = e[0] / np.sqrt(1 - rho**2)
    for i in range(1, n):  # recursive: each value needs the previous one
        u[i] = rho * u[i - 1] + e[i]
    return np.exp(intercept + trend * np.arange(n) + u)


def rescale_ar1(rho: float, sigma: float, steps_per_period: int) -> tuple[float, float]:
    """An AR(1) per data period -> per model step when each period has ``steps_per_period`` steps
    (yearly data, monthly model: 12). Matches the persistence at the period horizon
    (rho_step^k = rho) and the stationary variance; needs 0 < rho < 1."""
    if not 0 < rho < 1:
        raise ValueError("rescaling needs 0 < rho < 1")
    rho_step = rho ** (1.0 / steps_per_period)
    sigma_step = sigma * np.sqrt((1 - rho_step**2) / (1 - rho**2))
    return float(rho_step), float(sigma_step)


def demand_shock_from_price(price_sigma: float, elasticity: float,
                            supply_elasticity: float = 0.0) -> float:
    """SD of the log demand shock that moves the log price by ``price_sigma`` when isoelastic
    demand (``elasticity`` < 0) meets isoelastic supply (``supply_elasticity`` >= 0): the price
    moves by the shock divided by (supply_elasticity - elasticity). A first guess only: in the
    model the merit order's kinks, capacity limits and inventories change the mapping."""
    if elasticity >= 0 or supply_elasticity < 0:
        raise ValueError("need elasticity < 0 and supply_elasticity >= 0")
    return float(price_sigma * (supply_elasticity - elasticity))
