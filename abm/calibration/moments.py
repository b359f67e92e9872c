"""Method of simulated moments: choose uncertain parameters so the model's moments match targets.

Parameters are dotted config keys (``"market.demand.shock_sd"``) with bounds. Every evaluation
runs the model at the *same seeds* (common random numbers), so the objective is a deterministic,
mostly smooth function of the parameters and an optimiser can work on it. The objective is

    J(theta) = sum_k w_k ((m_k(theta) - target_k) / scale_k)^2

with m_k the mean of moment k over the seeds, ``scale_k`` = |target_k| by default (relative
deviations, so moments in different units can be mixed) and weights ``w_k`` (default 1).

Optimiser: a Latin-hypercube scan of the box (seeded), then bounded Brent (one parameter) or
bounded Nelder-Mead (several) from the best scan point. With ``target_cov`` (covariance of the
target moments as estimated from data), standard errors are the MSM sandwich

    V = (1 + 1/R) (G'WG)^-1 G'W S W G (G'WG)^-1,   W = diag(w / scale^2),

with G the Jacobian of the simulated moments (central differences) and R the number of seeds
(each a simulated history as long as the data). Without it the Jacobian is still reported: a
column near zero means the moments do not identify that parameter.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
from scipy import optimize
from scipy.stats import qmc

# --------------------------------------------------------------------------------------------------
# moments of one history: pure functions on numpy arrays
# --------------------------------------------------------------------------------------------------


def price_volatility(price: np.ndarray, steps_per_year: int) -> float:
    """Annualised standard deviation of per-step log price changes (as the run metric)."""
    r = np.diff(np.log(price))
    return float(np.std(r, ddof=1) * math.sqrt(steps_per_year)) if len(r) > 1 else 0.0


def autocorrelation(x: np.ndarray, lag: int = 1) -> float:
    """Lag autocorrelation of a series (0 for a constant series)."""
    x = np.asarray(x, dtype=float) - np.mean(x)
    denom = float(np.dot(x, x))
    return float(np.dot(x[lag:], x[:-lag]) / denom) if denom > 0 and len(x) > lag else 0.0


def price_moments(price: np.ndarray, steps_per_year: int = 12) -> dict[str, float]:
    """Moments a price history alone gives: mean, annualised volatility of log changes and the
    lag-1 autocorrelation of the log price (persistence). Use these as targets from data."""
    price = np.asarray(price, dtype=float)
    if price.ndim != 1 or len(price) < 3 or np.any(~np.isfinite(price)) or np.any(price <= 0):
        raise ValueError("need a 1-D price series of at least 3 positive values")
    return {"price_mean": float(price.mean()),
            "price_volatility": price_volatility(price, steps_per_year),
            "price_autocorr": autocorrelation(np.log(price))}


def _capacity_utilisation(series: pl.DataFrame, steps_per_year: int) -> float:
    """Refined output per year over refining capacity (t/yr), averaged over steps."""
    output = (series["production_market"] + series["production_nonmarket"]).to_numpy()
    capacity = (series["capacity_market"] + series["capacity_nonmarket"]).to_numpy()
    ok = capacity > 0
    return float(np.mean(output[ok] * steps_per_year / capacity[ok])) if ok.any() else 0.0


MomentFn = Callable[[pl.DataFrame, int], float]
MOMENTS: dict[str, MomentFn] = {
    "price_mean": lambda s, k: float(s["price"].mean()),
    "price_volatility": lambda s, k: price_volatility(s["price"].to_numpy(), k),
    "price_autocorr": lambda s, k: autocorrelation(np.log(s["price"].to_numpy())),
    "capacity_utilisation": _capacity_utilisation,
    "consumption_mean": lambda s, k: float(s["consumption"].mean()) * k,  # t/yr
}


def series_moments(series: pl.DataFrame, names: Sequence[str], *, steps_per_year: int = 12,
                   burn_in: int = 0,
                   extra: Mapping[str, MomentFn] | None = None) -> dict[str, float]:
    """Named moments of one run's series (steps before ``burn_in`` dropped)."""
    table = {**MOMENTS, **(extra or {})}
    unknown = [n for n in names if n not in table]
    if unknown:
        raise ValueError(f"unknown moment {', '.join(unknown)}; allowed: {', '.join(table)}")
    kept = series.filter(pl.col("step") >= burn_in)
    return {n: table[n](kept, steps_per_year) for n in names}


# --------------------------------------------------------------------------------------------------
# simulated moments
# --------------------------------------------------------------------------------------------------


def _run_series(config, seed: int) -> pl.DataFrame:
    from abm.simulate import simulate

    return simulate(config, seed).series


def base_raw(base: Any) -> dict:
    """The raw experiment dict of an Experiment, a path to an experiment file, or a dict."""
    if isinstance(base, dict):
        return base
    if hasattr(base, "raw"):
        return base.raw
    from abm.experiment import load_experiment

    return load_experiment(base).raw


def simulated_moments(base: Any, values: Mapping[str, float], *, names: Sequence[str],
                      seeds: Sequence[int], burn_in: int = 0,
                      extra: Mapping[str, MomentFn] | None = None,
                      run: Callable[[Any, int], pl.DataFrame] = _run_series
                      ) -> tuple[dict[str, float], dict[str, float]]:
    """Mean and standard deviation across ``seeds`` of each moment, with ``values`` (dotted keys)
    applied to the base experiment. ``run(config, seed) -> series`` is the model run."""
    from abm.experiment import experiment_from_dict

    config = experiment_from_dict(base_raw(base), overrides=dict(values)).scenario("base")
    k = config.experiment.steps_per_year
    rows = np.array([[m[n] for n in names] for m in (
        series_moments(run(config, int(s)), names, steps_per_year=k, burn_in=burn_in, extra=extra)
        for s in seeds)])
    sd = rows.std(axis=0, ddof=1) if len(seeds) > 1 else np.zeros(len(names))
    return dict(zip(names, rows.mean(axis=0).tolist(), strict=True)), dict(
        zip(names, sd.tolist(), strict=True))


@dataclass
class MomentsFit:
    """Result of :func:`fit_moments` (parameters in their config units)."""

    parameters: dict[str, float]
    bounds: dict[str, tuple[float, float]]
    targets: dict[str, float]
    simulated: dict[str, float]
    simulated_sd: dict[str, float]
    weights: dict[str, float]
    scales: dict[str, float]
    objective: float
    evaluations: int
    success: bool
    message: str
    seeds: list[int]
    jacobian: dict[str, dict[str, float]] = field(default_factory=dict)  # moment -> param -> dm/dp
    std_errors: dict[str, float] | None = None

    def table(self) -> pl.DataFrame:
        """One row per moment: target, simulated mean, its sd across seeds, relative error."""
        names = list(self.targets)
        target = np.array([self.targets[n] for n in names])
        sim = np.array([self.simulated[n] for n in names])
        return pl.DataFrame({
            "moment": names, "target": target, "simulated": sim,
            "simulated_sd": [self.simulated_sd[n] for n in names],
            "difference": sim - target,
            "relative_error": (sim - target) / np.array([self.scales[n] for n in names]),
        })

    def as_dict(self) -> dict:
        return {"parameters": self.parameters, "std_errors": self.std_errors,
                "bounds": {k: list(v) for k, v in self.bounds.items()},
                "moments": self.table().to_dicts(), "objective": self.objective,
                "evaluations": self.evaluations, "success": self.success,
                "message": self.message, "seeds": self.seeds, "jacobian": self.jacobian}


def fit_moments(base: Any, parameters: Mapping[str, tuple[float, float]],
                targets: Mapping[str, float], *, seeds: Sequence[int],
                weights: Mapping[str, float] | None = None,
                scales: Mapping[str, float] | None = None, burn_in: int = 0,
                start: Mapping[str, float] | None = None, n_start: int = 6,
                xtol: float = 1e-3, max_evaluations: int = 200, seed: int = 0,
                target_cov: np.ndarray | None = None,
                extra: Mapping[str, MomentFn] | None = None,
                run: Callable[[Any, int], pl.DataFrame] = _run_series) -> MomentsFit:
    """Estimate ``parameters`` (dotted key -> (low, high)) so simulated moments match
    ``targets`` (moment name -> value; names from :data:`MOMENTS` or ``extra``).

    ``base``: an Experiment, a path to an experiment file, or a raw experiment dict; the
    parameters override it. ``seeds``: the common random numbers, the same at every evaluation.
    ``xtol``: tolerance as a share of each parameter's range. ``target_cov``: covariance matrix
    of the targets (in the order of ``targets``) for standard errors.
    """
    if not parameters:
        raise ValueError("no parameters to estimate")
    if not targets:
        raise ValueError("no target moments")
    keys = list(parameters)
    names = list(targets)
    low = np.array([parameters[k][0] for k in keys], dtype=float)
    high = np.array([parameters[k][1] for k in keys], dtype=float)
    if np.any(~(high > low)):
        raise ValueError("each parameter needs bounds (low, high) with high > low")
    if len(names) < len(keys):
        raise ValueError(f"{len(keys)} parameters need at least as many target moments "
                         f"(got {len(names)})")
    target = np.array([targets[n] for n in names], dtype=float)
    w = np.array([(weights or {}).get(n, 1.0) for n in names], dtype=float)
    scale = np.array([(scales or {}).get(n, abs(targets[n]) or 1.0) for n in names], dtype=float)
    raw = base_raw(base)
    seeds = [int(s) for s in seeds]
    cache: dict[tuple, tuple[dict, dict]] = {}

    def moments_at(theta: np.ndarray) -> tuple[dict, dict]:
        key = tuple(np.round(theta, 12))
        if key not in cache:
            cache[key] = simulated_moments(raw, dict(zip(keys, map(float, theta), strict=True)),
                                           names=names, seeds=seeds, burn_in=burn_in,
                                           extra=extra, run=run)
        return cache[key]

    def objective_unit(x: np.ndarray) -> float:
        theta = low + np.clip(x, 0.0, 1.0) * (high - low)
        sim = np.array([moments_at(theta)[0][n] for n in names])
        return float(np.sum(w * ((sim - target) / scale) ** 2))

    # 1. scan: Latin hypercube (seeded) plus the given start
    candidates = list(qmc.LatinHypercube(d=len(keys), seed=seed).random(max(n_start, 1)))
    if start is not None:
        candidates.append((np.array([start[k] for k in keys], float) - low) / (high - low))
    scores = [objective_unit(x) for x in candidates]
    x0 = np.clip(candidates[int(np.argmin(scores))], 0.0, 1.0)
    # 2. local search from the best scan point
    if len(keys) == 1:
        width = 1.0 / max(n_start, 1)
        lo, hi = max(0.0, x0[0] - width), min(1.0, x0[0] + width)
        res = optimize.minimize_scalar(lambda v: objective_unit(np.array([v])), bounds=(lo, hi),
                                       method="bounded",
                                       options={"xatol": xtol, "maxiter": max_evaluations})
        x_best, success, message = np.array([res.x]), bool(res.success), str(res.message)
    else:
        simplex = np.vstack([x0] + [np.clip(x0 + np.eye(len(keys))[i] * (
            0.5 / max(n_start, 1)) * (1 if x0[i] < 0.5 else -1), 0, 1) for i in range(len(keys))])
        res = optimize.minimize(objective_unit, x0, method="Nelder-Mead",
                                bounds=[(0.0, 1.0)] * len(keys),
                                options={"xatol": xtol, "fatol": 1e-10, "initial_simplex": simplex,
                                         "maxfev": max_evaluations})
        x_best, success, message = res.x, bool(res.success), str(res.message)
    if objective_unit(x0) < objective_unit(x_best):  # never return worse than the scan found
        x_best = x0
    theta = low + np.clip(x_best, 0, 1) * (high - low)
    mean, sd = moments_at(theta)
    jac = _jacobian(moments_at, theta, low, high, names)
    std_errors = None
    if target_cov is not None:
        std_errors = _sandwich(jac, np.diag(w / scale**2), np.asarray(target_cov, float),
                               len(seeds), keys)
    return MomentsFit(
        parameters=dict(zip(keys, map(float, theta), strict=True)),
        bounds={k: (float(a), float(b)) for k, a, b in zip(keys, low, high, strict=True)},
        targets=dict(zip(names, map(float, target), strict=True)), simulated=mean,
        simulated_sd=sd, weights=dict(zip(names, map(float, w), strict=True)),
        scales=dict(zip(names, map(float, scale), strict=True)),
        objective=objective_unit(x_best), evaluations=len(cache), success=success,
        message=message, seeds=seeds,
        jacobian={n: dict(zip(keys, map(float, jac[i]), strict=True))
                  for i, n in enumerate(names)},
        std_errors=std_errors)


def _jacobian(moments_at, theta: np.ndarray, low: np.ndarray, high: np.ndarray,
              names: list[str]) -> np.ndarray:
    """d moment / d parameter by central differences (one-sided at a bound), 2% of the range."""
    jac = np.zeros((len(names), len(theta)))
    for j in range(len(theta)):
        h = 0.02 * (high[j] - low[j])
        up, down = theta.copy(), theta.copy()
        up[j] = min(theta[j] + h, high[j])
        down[j] = max(theta[j] - h, low[j])
        m_up = np.array([moments_at(up)[0][n] for n in names])
        m_down = np.array([moments_at(down)[0][n] for n in names])
        jac[:, j] = (m_up - m_down) / (up[j] - down[j])
    return jac


def _sandwich(jac: np.ndarray, weight: np.ndarray, cov: np.ndarray, replications: int,
              keys: list[str]) -> dict[str, float]:
    bread = np.linalg.pinv(jac.T @ weight @ jac)
    meat = jac.T @ weight @ cov @ weight @ jac
    v = (1.0 + 1.0 / replications) * bread @ meat @ bread
    return dict(zip(keys, np.sqrt(np.clip(np.diag(v), 0, None)).tolist(), strict=True))
