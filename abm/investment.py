"""Investment under uncertainty: the revenue distribution a project faces and its trigger price.

Pure functions (numpy, scipy.special) used by the `Developer` agents, and the price view they
share (`PriceExpectation`):

* A project's realised price at the assessment horizon is lognormal, log-mean m and log-sd
  s = sigma * sqrt(h), from the developers' price expectation and perceived volatility.
* Protection changes that distribution in closed form: a floor F is a put, R = max(P, F); a CFD
  with upside share u pays R = F + (1 - u) (P - F)+; an offtake of share theta at price P_o mixes
  in a fixed price. Its mean and standard deviation give an effective (median) price and an
  effective volatility (the lognormal with the same coefficient of variation).
* Dixit-Pindyck (1994, ch. 5) with a zero-drift price (delta = r): invest when
  P >= beta / (beta - 1) * (c + r I), beta = 1/2 + sqrt(1/4 + 2 r / sigma^2). With sigma -> 0
  the trigger falls to the NPV break-even c + r I; it rises with volatility.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr


@dataclass(frozen=True)
class Protection:
    """Revenue protection a project would enjoy (all off by default)."""

    floor: float = 0.0          # price floor level (0: none)
    upside_share: float = 0.0   # share of the price above the floor given up (CFD)
    offtake_share: float = 0.0  # share of output sold at the offtake price
    offtake_price: float = 0.0  # contract price of the offtake share


def protected_moments(log_mean: float, log_sd: float, p: Protection) -> tuple[float, float]:
    """Mean and standard deviation of realised revenue per tonne R under protection `p` when the
    market price is lognormal(log_mean, log_sd)."""
    m, s = log_mean, max(log_sd, 1e-12)
    ex = np.exp(m + s * s / 2)
    ex2 = np.exp(2 * m + 2 * s * s)
    if p.floor > 0:
        lf = np.log(p.floor)
        prob_above = ndtr((m - lf) / s)
        e_x_above = ex * ndtr((m + s * s - lf) / s)
        e_x2_above = ex2 * ndtr((m + 2 * s * s - lf) / s)
        call = e_x_above - p.floor * prob_above                     # E[(P - F)+]
        call2 = e_x2_above - 2 * p.floor * e_x_above + p.floor**2 * prob_above
        b = 1.0 - p.upside_share
        mean = p.floor + b * call
        second = p.floor**2 + 2 * p.floor * b * call + b * b * call2
    else:
        mean, second = ex, ex2
    sd = float(np.sqrt(max(second - mean * mean, 0.0)))
    theta = p.offtake_share
    if theta > 0:
        mean = theta * p.offtake_price + (1 - theta) * mean
        sd = (1 - theta) * sd
    return float(mean), sd


def effective_price(expected_median: float, sigma: float, horizon: float,
                    p: Protection) -> tuple[float, float]:
    """(effective median price, effective annual volatility) of a project's revenue.

    Without protection this returns (expected_median, sigma) exactly.
    """
    if sigma <= 0 or horizon <= 0:
        s = 0.0
    else:
        s = sigma * np.sqrt(horizon)
    if s == 0.0:
        price = expected_median
        if p.floor > 0:
            price = max(price, p.floor) if price <= p.floor else p.floor + (1 - p.upside_share) * (
                price - p.floor)
        price = p.offtake_share * p.offtake_price + (1 - p.offtake_share) * price
        return float(price), 0.0
    mean, sd = protected_moments(np.log(expected_median), s, p)
    s_eff = np.sqrt(np.log1p((sd / mean) ** 2)) if mean > 0 else 0.0
    return float(mean * np.exp(-s_eff * s_eff / 2)), float(s_eff / np.sqrt(horizon))


def real_options_multiple(rate: float, sigma: float) -> float:
    """beta / (beta - 1) of Dixit-Pindyck with delta = r (1 when sigma = 0)."""
    if sigma <= 1e-9:
        return 1.0
    beta = 0.5 + np.sqrt(0.25 + 2.0 * rate / sigma**2)
    return float(beta / (beta - 1.0))


def trigger_price(unit_cost: float, capital_charge: float, rate: float, sigma: float,
                  rule: str = "real_options", volatility_premium: float = 0.0,
                  life_years: float = 20.0) -> float:
    """Price at which a project is started.

    `capital_charge` is capex per annual tonne in price units (e.g. USD/kg per kg/yr).
    real_options: beta/(beta-1) * (c + r I). npv: c + I * annuity factor at r + premium * sigma.
    """
    if rule == "npv":
        r = rate + volatility_premium * sigma
        annuity = r / (1.0 - (1.0 + r) ** (-life_years))
        return float(unit_cost + capital_charge * annuity)
    return real_options_multiple(rate, sigma) * (unit_cost + rate * capital_charge)


def pipeline_adjusted_price(price: float, consumption: float, under_construction: float,
                            elasticity: float) -> float:
    """Price developers expect once the capacity under construction is producing: demand must
    absorb the extra tonnes, so P' = P (1 + K / Q)^(1 / eps)."""
    if consumption <= 0 or under_construction <= 0:
        return price
    return float(price * (1.0 + under_construction / consumption) ** (1.0 / elasticity))


class PriceExpectation:
    """Exponentially weighted mean of log price and of squared log changes (developers' view)."""

    def __init__(self, initial_price: float, prior_sigma: float, halflife: float,
                 steps_per_year: int):
        self.alpha = 1.0 - 0.5 ** (1.0 / halflife)
        self.log_mean = math.log(initial_price)
        self.var_step = prior_sigma**2 / steps_per_year
        self.steps_per_year = steps_per_year
        self.last_log = None

    def update(self, price: float) -> None:
        if not price > 0:
            return
        lp = math.log(price)
        self.log_mean += self.alpha * (lp - self.log_mean)
        if self.last_log is not None:
            self.var_step += self.alpha * ((lp - self.last_log) ** 2 - self.var_step)
        self.last_log = lp

    @property
    def median(self) -> float:
        """Expected (median) price."""
        return math.exp(self.log_mean)

    @property
    def sigma(self) -> float:
        """Perceived annualised volatility."""
        return math.sqrt(self.var_step * self.steps_per_year)
