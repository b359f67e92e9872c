"""Capacity-weighted cost curves: cumulative capacity share -> unit cash cost.

The cost curve of an industry is the quantile function of its capacity-weighted cost
distribution: Q(s) is the unit cost of the marginal tonne when the cheapest share ``s`` of capacity
is running. Two kinds of fit:

- parametric families (lognormal, gamma, Weibull, scale-only: location fixed at 0 because costs
  are positive) fitted by *capacity-weighted* maximum likelihood: each producer's log density
  counts in proportion to its capacity. The family is chosen by AIC. The likelihood is scaled to
  the Kish effective number of producers, ``(sum c)^2 / sum c^2``, so a table dominated by one
  giant producer does not claim the evidence of many small ones.
- a monotone non-parametric curve: PCHIP through the merit-order points (capacity midpoints,
  unit cost), flat beyond the first and last midpoint.

Units: capacities in tonnes per year; costs in the price unit of the table (e.g. USD/kg).
Shares are fractions in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

import numpy as np
from scipy import interpolate, optimize, stats

FAMILIES: tuple[str, ...] = ("lognormal", "gamma", "weibull")
# The shares at which `cost_at_share` reports the curve (the CLI contract: 0.05, 0.10, ..., 0.95).
REPORT_SHARES: np.ndarray = np.round(np.arange(1, 20) * 0.05, 2)
MIN_PRODUCERS = 3  # a two-parameter family fitted to fewer points says nothing


class Curve(Protocol):
    """Anything that maps cumulative capacity shares to unit costs."""

    def quantile(self, shares: np.ndarray) -> np.ndarray: ...


class MeritOrder(NamedTuple):
    """Producers sorted by unit cost, with their place on the cumulative capacity axis.

    All arrays have one entry per producer, in merit order (cheapest first).
    """

    order: np.ndarray      # indices into the input arrays
    cost: np.ndarray       # unit cost, price unit
    capacity: np.ndarray   # t/yr
    lower: np.ndarray      # cumulative capacity share where the block starts
    upper: np.ndarray      # cumulative capacity share where it ends
    mid: np.ndarray        # block midpoint share: where the step curve is compared with fits
    weight: np.ndarray     # capacity share of each block (sums to 1)

    @property
    def total(self) -> float:
        return float(self.capacity.sum())

    @property
    def n_effective(self) -> float:
        """Kish effective number of producers: n for equal capacities, ~1 for one giant."""
        return float(1.0 / np.sum(self.weight**2))


def merit_order(capacity: np.ndarray, unit_cost: np.ndarray) -> MeritOrder:
    """Sort producers by cost (stable, so ties keep table order) and place them on the share axis.

    Capacities must be positive and costs finite; :mod:`abm.calibration.table` checks user data.
    """
    capacity = np.asarray(capacity, dtype=float)
    unit_cost = np.asarray(unit_cost, dtype=float)
    if capacity.shape != unit_cost.shape or capacity.ndim != 1:
        raise ValueError("capacity and unit_cost must be 1-D arrays of the same length")
    if np.any(~np.isfinite(capacity)) or np.any(capacity <= 0):
        raise ValueError("capacities must be finite and > 0")
    if np.any(~np.isfinite(unit_cost)):
        raise ValueError("unit costs must be finite")
    order = np.argsort(unit_cost, kind="stable")
    cap = capacity[order]
    weight = cap / cap.sum()
    upper = np.cumsum(weight)
    upper[-1] = 1.0  # no rounding drift at the top of the curve
    lower = upper - weight
    return MeritOrder(order, unit_cost[order], cap, lower, upper, lower + weight / 2, weight)


def weighted_quantile(values: np.ndarray, weights: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """The step-curve value at each share: cost of the block that covers it (left-continuous)."""
    mo = merit_order(np.asarray(weights, float), np.asarray(values, float))
    idx = np.searchsorted(mo.upper, np.clip(shares, 0.0, 1.0), side="left")
    return mo.cost[np.minimum(idx, len(mo.cost) - 1)]


# --------------------------------------------------------------------------------------------------
# goodness of fit
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fit:
    """How well a curve passes through the merit-order points.

    ``r2_weighted``: 1 - sum w (c - Q(mid))^2 / sum w (c - mean_w c)^2 with capacity weights w;
    ``max_error``: largest |c - Q(mid)| in price units; ``rmse``: capacity-weighted root mean
    square error in price units.
    """

    r2_weighted: float
    max_error: float
    rmse: float

    def as_dict(self) -> dict[str, float]:
        return {"r2_weighted": self.r2_weighted, "max_error": self.max_error, "rmse": self.rmse}


def goodness_of_fit(mo: MeritOrder, fitted: np.ndarray) -> Fit:
    """Compare fitted costs at the block midpoints with the data (see :class:`Fit`)."""
    resid = mo.cost - fitted
    mean = np.sum(mo.weight * mo.cost)
    ss_tot = np.sum(mo.weight * (mo.cost - mean) ** 2)
    ss_res = np.sum(mo.weight * resid**2)
    if ss_tot > 1e-24 * max(mean**2, 1.0):
        r2 = 1.0 - ss_res / ss_tot
    else:  # all producers at one cost: a curve through that cost is perfect, anything else is not
        r2 = float(np.sqrt(ss_res) <= 1e-9 * max(abs(mean), 1.0))
    return Fit(float(r2), float(np.max(np.abs(resid))), float(np.sqrt(ss_res)))


# --------------------------------------------------------------------------------------------------
# parametric families by capacity-weighted maximum likelihood
# --------------------------------------------------------------------------------------------------


def _frozen(family: str, theta: np.ndarray):
    """scipy frozen distribution from (log-)parameters theta = (a, b) in the fitting space."""
    a, b = theta
    if family == "lognormal":  # a = mu (mean log cost), b = log sigma
        return stats.lognorm(s=np.exp(b), scale=np.exp(a))
    if family == "gamma":  # a = log shape, b = log scale
        return stats.gamma(a=np.exp(a), scale=np.exp(b))
    if family == "weibull":  # a = log shape, b = log scale
        return stats.weibull_min(c=np.exp(a), scale=np.exp(b))
    raise ValueError(f"unknown family '{family}'; allowed: {', '.join(FAMILIES)}")


def _logpdf(family: str, theta: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Log density without building a frozen distribution (that costs ~1 ms: the optimiser
    calls this hundreds of times)."""
    a, b = theta
    if family == "lognormal":
        return stats.lognorm.logpdf(x, np.exp(b), scale=np.exp(a))
    if family == "gamma":
        return stats.gamma.logpdf(x, np.exp(a), scale=np.exp(b))
    return stats.weibull_min.logpdf(x, np.exp(a), scale=np.exp(b))


def _named(family: str, theta: np.ndarray) -> dict[str, float]:
    a, b = (float(x) for x in theta)
    if family == "lognormal":
        return {"mu": a, "sigma": float(np.exp(b))}
    return {"shape": float(np.exp(a)), "scale": float(np.exp(b))}


def _start(family: str, cost: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted method-of-moments starting values (exact MLE for the lognormal)."""
    logc = np.log(cost)
    mu = np.sum(w * logc)
    sd_log = max(np.sqrt(np.sum(w * (logc - mu) ** 2)), 1e-6)
    if family == "lognormal":
        return np.array([mu, np.log(sd_log)])
    mean = np.sum(w * cost)
    var = max(np.sum(w * (cost - mean) ** 2), (1e-6 * mean) ** 2)
    if family == "gamma":
        shape = mean**2 / var
        return np.array([np.log(shape), np.log(var / mean)])
    # Weibull: the log of a Weibull variable has sd pi / (shape sqrt 6)
    shape = np.pi / (sd_log * np.sqrt(6.0))
    return np.array([np.log(shape), mu + np.euler_gamma / shape])


@dataclass(frozen=True)
class ParametricFit:
    """One family fitted to a merit order. ``parameters``: lognormal ``mu`` (mean log cost) and
    ``sigma``; gamma and Weibull ``shape`` and ``scale`` (price unit). ``loglik`` is the
    capacity-weighted log likelihood scaled to ``n_effective`` producers;
    ``aic = 2k - 2 loglik``."""

    family: str
    theta: tuple[float, float]
    parameters: dict[str, float]
    loglik: float
    aic: float
    n_effective: float
    fit: Fit
    converged: bool

    def quantile(self, shares: np.ndarray) -> np.ndarray:
        """Unit cost at cumulative capacity shares (price unit)."""
        return _frozen(self.family, np.array(self.theta)).ppf(np.asarray(shares, dtype=float))

    def cdf(self, cost: np.ndarray) -> np.ndarray:
        """Share of capacity with unit cost at or below ``cost``."""
        return _frozen(self.family, np.array(self.theta)).cdf(np.asarray(cost, dtype=float))

    def mean(self) -> float:
        """Capacity-weighted mean unit cost (price unit)."""
        return float(_frozen(self.family, np.array(self.theta)).mean())

    def as_dict(self) -> dict:
        return {"parameters": self.parameters, "loglik": self.loglik, "aic": self.aic,
                "n_effective": self.n_effective, "converged": self.converged,
                **self.fit.as_dict(), "cost_at_share": cost_at_share(self)}


def fit_family(mo: MeritOrder, family: str) -> ParametricFit:
    """Capacity-weighted maximum likelihood of one family (location fixed at zero).

    Needs positive costs. The optimiser works on log parameters, so no bounds are needed.
    """
    if np.any(mo.cost <= 0):
        raise ValueError("parametric cost curves need unit costs > 0")
    n_eff = mo.n_effective
    w = mo.weight * n_eff  # weights summing to the effective number of producers

    def nll(theta: np.ndarray) -> float:
        with np.errstate(all="ignore"):  # trial points far out overflow; they are just rejected
            value = -np.sum(w * _logpdf(family, theta, mo.cost))
        return float(value) if np.isfinite(value) else 1e300

    start = _start(family, mo.cost, mo.weight)
    if family == "lognormal":  # closed form: the weighted MLE is the moment estimate in logs
        theta, converged = start, True
    else:
        res = optimize.minimize(nll, start, method="Nelder-Mead",
                                options={"xatol": 1e-9, "fatol": 1e-12, "maxiter": 4000})
        theta, converged = res.x, bool(res.success)
    loglik = -nll(theta)
    fit = goodness_of_fit(mo, _frozen(family, theta).ppf(mo.mid))
    n_params = 2
    return ParametricFit(family, (float(theta[0]), float(theta[1])), _named(family, theta),
                         loglik, 2 * n_params - 2 * loglik, n_eff, fit, converged)


# --------------------------------------------------------------------------------------------------
# monotone non-parametric curve
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PchipCurve:
    """Monotone cubic (PCHIP) through the merit-order points (midpoint share, unit cost); flat
    outside the first and last midpoint. Monotone because merit-order costs never decrease."""

    knots: np.ndarray
    costs: np.ndarray

    def quantile(self, shares: np.ndarray) -> np.ndarray:
        shares = np.clip(np.asarray(shares, dtype=float), self.knots[0], self.knots[-1])
        if len(self.knots) == 1:
            return np.full_like(shares, self.costs[0])
        return interpolate.PchipInterpolator(self.knots, self.costs)(shares)

    def leave_one_out(self) -> Fit:
        """Out-of-sample fit: each interior point predicted by the curve through the others.

        In-sample the curve passes through every point, so this is the honest measure of how
        well the shape between the points is pinned down."""
        n = len(self.knots)
        if n < 3:
            return Fit(float("nan"), float("nan"), float("nan"))
        pred = np.array([interpolate.PchipInterpolator(np.delete(self.knots, i),
                                                       np.delete(self.costs, i))(self.knots[i])
                         for i in range(1, n - 1)])
        resid = self.costs[1:-1] - pred
        dev = self.costs[1:-1] - self.costs[1:-1].mean()
        ss_tot = np.sum(dev**2)
        r2 = 1 - np.sum(resid**2) / ss_tot if ss_tot > 0 else float(np.all(resid == 0))
        return Fit(float(r2), float(np.max(np.abs(resid))), float(np.sqrt(np.mean(resid**2))))


def fit_pchip(mo: MeritOrder) -> PchipCurve:
    return PchipCurve(mo.mid.copy(), mo.cost.copy())


# --------------------------------------------------------------------------------------------------
# the whole fit
# --------------------------------------------------------------------------------------------------


def cost_at_share(curve: Curve, shares: np.ndarray = REPORT_SHARES) -> dict[str, float]:
    """{"0.05": cost, ..., "0.95": cost}: keys are the shares as decimal strings."""
    shares = np.asarray(shares, dtype=float)
    return {f"{s:.2f}": float(c) for s, c in zip(shares, curve.quantile(shares), strict=True)}


@dataclass(frozen=True)
class CostCurveFit:
    """Every family fitted to one merit order, the AIC choice, and the PCHIP curve."""

    data: MeritOrder
    families: dict[str, ParametricFit]
    pchip: PchipCurve
    names: list[str] = field(default_factory=list)  # producer names in merit order, if known

    @property
    def best(self) -> ParametricFit:
        """The family with the lowest AIC among those that converged."""
        fits = [f for f in self.families.values() if f.converged] or list(self.families.values())
        return min(fits, key=lambda f: f.aic)

    def quantile(self, shares: np.ndarray) -> np.ndarray:
        return self.best.quantile(shares)

    def as_dict(self) -> dict:
        """JSON-ready summary (the ``cost_curve.json`` contract)."""
        best = self.best
        aic_min = best.aic
        return {
            "family": best.family,
            "parameters": best.parameters,
            "goodness_of_fit": best.fit.as_dict(),
            "cost_at_share": cost_at_share(best),
            "families": {name: {**fit.as_dict(), "delta_aic": fit.aic - aic_min}
                         for name, fit in self.families.items()},
            "pchip": {
                "cost_at_share": cost_at_share(self.pchip),
                "knots": {"share": self.pchip.knots.tolist(), "cost": self.pchip.costs.tolist()},
                "leave_one_out": self.pchip.leave_one_out().as_dict(),
            },
            "data": {
                "producers": len(self.data.cost),
                "total_capacity": self.data.total,
                "n_effective": self.data.n_effective,
                "mean_cost": float(np.sum(self.data.weight * self.data.cost)),
                "min_cost": float(self.data.cost.min()),
                "max_cost": float(self.data.cost.max()),
            },
        }


def fit_cost_curve(capacity: np.ndarray, unit_cost: np.ndarray,
                   families: tuple[str, ...] = FAMILIES,
                   names: list[str] | None = None) -> CostCurveFit:
    """Fit every family and the PCHIP curve to producers' capacities (t/yr) and unit costs.

    Raises ValueError with fewer than :data:`MIN_PRODUCERS` producers or non-positive costs.
    """
    mo = merit_order(capacity, unit_cost)
    if len(mo.cost) < MIN_PRODUCERS:
        raise ValueError(f"a cost curve needs at least {MIN_PRODUCERS} producers "
                         f"(got {len(mo.cost)})")
    fits = {family: fit_family(mo, family) for family in families}
    ordered = [names[i] for i in mo.order] if names is not None else []
    return CostCurveFit(mo, fits, fit_pchip(mo), ordered)
