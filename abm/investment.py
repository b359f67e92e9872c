"""Investment under uncertainty: the revenue a project expects and its trigger price.

Pure functions (numpy, scipy.special) used by the `Developer` agents, and the price view they
share (`PriceExpectation`). docs/ODD.md section 7.13 has the equations.

* The world price at the assessment horizon h is lognormal with mean P' (the developers'
  expected price, zero drift) and log-sd sigma sqrt(h).
* A project's revenue per tonne is a continuous piecewise-linear function of that price
  (`revenue_function`): the club border (tariff, minimum import price, capped by the club's own
  clearing price), a floor on the sale price (CFD with upside share, purchase floor) over the
  part of the project's life its term and money cover, an offtake (fixed, cost-plus or collar;
  take-or-pay or not). `Revenue` holds it as a + bP + sum c_k (P - K_k)+, so its mean and
  variance are exact (`moments`). The decision price is E[R] (one valuation: a floor is counted
  once) and the volatility the trigger sees is that of R (`effective_price`).
* Dixit-Pindyck (1994, ch. 6) with convenience yield delta (default r):
  P* = beta / (beta - 1) delta (c / r + I'); NPV: c + I' A(r + premium sigma). Concessional
  finance lowers only the capital, I' = I A(r_f) / A(r) (`trigger_price`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr


@dataclass(frozen=True)
class Protection:
    """What announced instruments would do to a project's revenue (all off by default).

    Prices are in the experiment's price unit; the project's revenue per tonne is a function of
    the world price P (see `revenue_function`):

    * the club border (club projects): a tariff lets club producers sell at up to P (1 + tariff),
      a minimum import price at `border_floor`, but only while the club still imports: once the
      club's own capacity covers its demand its price falls to `autarky` (its own clearing
      price), and never below P (it can export);
    * a floor on the price the project sells at: a CFD or purchase floor at `floor`, with
      `upside_share` of the price above it given up, on `floor_weight` of the output (volume
      limits), from `floor_start` to `floor_end` years after first output, and only while the
      money left lasts (`floor_budget`, USD, spent in order by `floor_capacity` t/yr of covered
      capacity at the expected outlay per tonne; `floor_pays` "topup" or "purchase"): the share
      of the project's discounted output (at `discount_rate` over `life` years) in that span;
    * an offtake of `offtake_share` of output at `offtake_price` (a collar: the market price
      clipped to [`offtake_price`, `offtake_ceiling`]), for `offtake_weight` of the project's
      discounted output: take-or-pay (`offtake_firm`) pays the contract price; without it the
      buyer walks away when the market price is lower, so the producer gets min(P, contract).
    """

    floor: float = 0.0              # price floor level (0: none)
    upside_share: float = 0.0       # share of the price above the floor given up (CFD)
    offtake_share: float = 0.0      # share of output sold under the offtake
    offtake_price: float = 0.0      # contract price of the offtake share
    offtake_firm: bool = True       # take-or-pay
    offtake_weight: float = 1.0     # share of the project's discounted output within the tenor
    offtake_ceiling: float = math.nan   # collar: highest price paid (nan: a fixed price)
    floor_weight: float = 1.0       # share of its output the floor covers (volume limits)
    floor_start: float = 0.0        # years from first output until the floor starts
    floor_end: float = math.inf     # years from first output until the floor ends
    floor_budget: float = math.inf  # USD the floor may still spend
    floor_capacity: float = 0.0     # t/yr of covered capacity sharing the budget (this included)
    discount_rate: float = 0.1      # the developers' rate r, 1/yr (to weigh years of output)
    life: float = 20.0              # project life, years
    floor_pays: str = "topup"       # "topup" (CFD: F - P per tonne) or "purchase" (F per tonne)
    tariff: float = 0.0             # club tariff on imports (club projects)
    border_floor: float = 0.0       # minimum import price (club projects)
    autarky: float = math.inf       # club price once the club no longer imports

    @property
    def none(self) -> bool:
        return self == NONE


NONE = Protection()


class Revenue:
    """A continuous piecewise-linear function R(P), P >= 0, from a callable and its kinks.

    Held as R(P) = a + b P + sum_k c_k (P - K_k)+, exact for any continuous piecewise-linear
    function whose kinks are among K_k, so its moments under a lognormal P have closed forms
    (`moments`)."""

    def __init__(self, fn, kinks):
        self.fn = fn
        k = np.unique(np.array([x for x in kinks if np.isfinite(x) and x > 0], dtype=float))
        self.kinks = k
        # (the point past the last kink doubles it: k + 1 == k for k above ~1e16)
        points = np.concatenate([[0.0], k, [2.0 * k[-1] + 1.0 if len(k) else 1.0]])
        values = np.array([float(fn(x)) for x in points])
        slopes = np.diff(values) / np.diff(points)
        self.a, self.b, self.c = float(values[0]), float(slopes[0]), np.diff(slopes)

    def __call__(self, p):
        return self.fn(p)

    def preimages(self, levels) -> list[float]:
        """Points P at which this nondecreasing function crosses each of `levels`."""
        points = np.concatenate([[0.0], self.kinks])
        values = np.array([float(self.fn(x)) for x in points])
        last_slope = self.b + float(self.c.sum())
        out = []
        for v in levels:
            if not np.isfinite(v):
                continue
            for i in range(len(points) - 1):
                if values[i] < v < values[i + 1]:
                    out.append(points[i] + (v - values[i]) * (points[i + 1] - points[i])
                               / (values[i + 1] - values[i]))
            if v > values[-1] and last_slope > 0:
                out.append(points[-1] + (v - values[-1]) / last_slope)
        return out


def _partial(n: int, m: float, s: float, k: np.ndarray) -> np.ndarray:
    """E[P^n; P > k] for P lognormal(m, s), elementwise in k (k <= 0: the full moment)."""
    full = np.exp(n * m + 0.5 * n * n * s * s)
    k = np.asarray(k, dtype=float)
    with np.errstate(divide="ignore"):
        z = (m + n * s * s - np.log(np.where(k > 0, k, 1.0))) / s
    return np.where(k > 0, full * ndtr(z), full)


def moments(r: Revenue, m: float, s: float) -> tuple[float, float]:
    """(E[R], sd R) for P lognormal with log-mean m and log-sd s > 0 (exact)."""
    e1, e2 = float(_partial(1, m, s, 0.0)), float(_partial(2, m, s, 0.0))
    k, c = r.kinks, r.c
    q0, q1, q2 = _partial(0, m, s, k), _partial(1, m, s, k), _partial(2, m, s, k)
    call = q1 - k * q0                       # E[(P - K)+]
    pcall = q2 - k * q1                      # E[P (P - K)+]
    mean = r.a + r.b * e1 + float(c @ call)
    # E[(P - Ki)+ (P - Kj)+] = E[P^2; P > K] - (Ki + Kj) E[P; P > K] + Ki Kj Pr(P > K),
    # K = max(Ki, Kj) (the kinks are sorted, so that is the later index)
    j = np.maximum.outer(np.arange(len(k)), np.arange(len(k)))
    cross = q2[j] - (k[:, None] + k[None, :]) * q1[j] + np.outer(k, k) * q0[j]
    second = (r.a ** 2 + 2 * r.a * r.b * e1 + r.b ** 2 * e2 + 2 * r.a * float(c @ call)
              + 2 * r.b * float(c @ pcall) + float(c @ cross @ c))
    return float(mean), float(np.sqrt(max(second - mean * mean, 0.0)))


def sale_price_function(p: Protection) -> Revenue:
    """The price a project sells at as a function of the world price P (the club border, as the
    market clears it: imports pay max(P, F_mip) (1 + tariff), capped by the club's own clearing
    price, never below P)."""
    t, f, a = p.tariff, p.border_floor, p.autarky
    if t <= 0 and f <= 0:
        return Revenue(lambda x: x, [])

    def sale(x):
        return max(x, min(max(f, x) * (1.0 + t), a))

    return Revenue(sale, [f, a, a / (1.0 + t)])


def revenue_function(p: Protection, floor_weight: float | None = None) -> Revenue:
    """Revenue per tonne as a function of the world price P under protection `p` (the floor
    weighted by `floor_weight`, default `p.floor_weight`)."""
    sale = sale_price_function(p)
    w = p.floor_weight if floor_weight is None else floor_weight
    f, u = p.floor, p.upside_share
    theta = p.offtake_share * p.offtake_weight
    po, hi = p.offtake_price, p.offtake_ceiling

    def floored(s):
        if f <= 0 or w <= 0:
            return s
        return s + w * (max(f - s, 0.0) - u * max(s - f, 0.0))

    def revenue(x):
        s = sale(x)
        rest = floored(s)
        if theta <= 0:
            return rest
        contract = po if not np.isfinite(hi) else min(max(s, po), hi)
        if not p.offtake_firm:
            contract = min(contract, s)      # the buyer walks away when the market is lower
        return theta * contract + (1.0 - theta) * rest

    return Revenue(revenue, list(sale.kinks) + sale.preimages([f, po, hi]))


def floor_weight(p: Protection, m: float, s: float, money_per_price_tonne: float) -> float:
    """Share of the project's discounted output the floor protects: the years from `floor_start`
    to the earlier of `floor_end` and when the money runs out, the budget left being spent in
    order at the expected yearly outlay of the covered capacity (top-ups E[(F - S)+], or
    purchases F Pr(S < F), per tonne of covered output); times `floor_weight` (volume). More
    money or a longer term never protects less."""
    if p.floor <= 0:
        return 0.0
    end = p.floor_end
    if np.isfinite(p.floor_budget):
        sale = sale_price_function(p)
        f = p.floor
        if p.floor_pays == "purchase":
            # F x Pr(S < F): S is nondecreasing in P, so S < F exactly below its preimage of F
            if float(sale(0.0)) >= f:
                expected = 0.0
            else:
                cut = sale.preimages([f])
                expected = f * (float(ndtr((np.log(cut[0]) - m) / s)) if cut else 1.0)
        else:
            per_tonne = Revenue(lambda x: max(f - sale(x), 0.0),
                                sale.kinks.tolist() + sale.preimages([f]))
            expected, _ = moments(per_tonne, m, s)
        yearly = expected * p.floor_capacity * money_per_price_tonne     # USD/yr
        if yearly > 0:
            end = min(end, max(p.floor_start, 0.0) + p.floor_budget / yearly)
    return p.floor_weight * discounted_share(p.discount_rate, p.floor_start, end, p.life)


def protected_moments(log_mean: float, log_sd: float, p: Protection) -> tuple[float, float]:
    """Mean and standard deviation of realised revenue per tonne R under protection `p` when the
    world price is lognormal(log_mean, log_sd)."""
    return moments(revenue_function(p), log_mean, max(log_sd, 1e-12))


def effective_price(expected_price: float, sigma: float, horizon: float, p: Protection,
                    money_per_price_tonne: float = 1000.0) -> tuple[float, float]:
    """(decision price, effective annual volatility) of a project's revenue under `p`.

    The developers expect the world price to stay at `expected_price` on average (zero drift,
    as the trigger's default convenience yield delta = r assumes): at the horizon h it is
    lognormal with mean P', log-sd s = sigma sqrt(h), log-mean ln P' - s^2/2. One valuation, so
    a floor is counted once: the decision price is the expected revenue per tonne E[R] (in the
    ratio form P' E[R] / E[P], so no protection gives P' exactly); a floor whose expected value
    to the producer is negative (a low floor with a high upside share), or a fixed offtake price
    below P', lowers it. The volatility is that of the protected revenue (the lognormal with its
    coefficient of variation, per sqrt(h)), which enters the trigger's real-options or risk
    premium. Without protection this returns (expected_price, sigma) exactly.
    """
    if p.none:
        return float(expected_price), float(sigma)
    s = sigma * np.sqrt(horizon) if sigma > 0 and horizon > 0 else 0.0
    if s == 0.0 or not expected_price > 0:
        m = float(np.log(expected_price)) if expected_price > 0 else -np.inf
        weight = floor_weight(p, m if np.isfinite(m) else 0.0, 1e-12, money_per_price_tonne)
        return float(revenue_function(p, weight)(max(expected_price, 0.0))), 0.0
    m = float(np.log(expected_price)) - 0.5 * s * s
    weight = floor_weight(p, m, s, money_per_price_tonne)
    mean, sd = moments(revenue_function(p, weight), m, s)
    market_mean = float(np.exp(m + 0.5 * s * s))          # = expected_price, up to rounding
    s_eff = np.sqrt(np.log1p((sd / mean) ** 2)) if mean > 0 else 0.0
    price = expected_price * mean / market_mean
    if not (np.isfinite(price) and np.isfinite(s_eff)):
        # (beyond floating point: log-sd past ~26) the protection cannot be valued; none
        return float(expected_price), float(sigma)
    return float(price), float(s_eff / np.sqrt(horizon))


def discounted_share(rate: float, start_years: float, end_years: float, life_years: float) -> float:
    """Share of a project's discounted output (continuous discounting at `rate` over
    `life_years` from first output) that falls between `start_years` and `end_years` after first
    output: how much of the project's life an instrument with a term covers."""
    a = min(max(start_years, 0.0), life_years)
    b = min(max(end_years, 0.0), life_years)
    if b <= a:
        return 0.0
    if rate <= 0:
        return (b - a) / life_years
    return float((math.exp(-rate * a) - math.exp(-rate * b)) / -math.expm1(-rate * life_years))


def real_options_multiple(rate: float, sigma: float, convenience_yield: float | None = None) -> float:
    """beta / (beta - 1) of Dixit-Pindyck (1 when sigma = 0): beta is the root above 1 of
    sigma^2/2 b (b - 1) + (r - delta) b - r = 0, delta the convenience yield (default r)."""
    if sigma <= 1e-9:
        return 1.0
    delta = rate if convenience_yield is None else convenience_yield
    v = sigma * sigma
    x = (rate - delta) / v - 0.5
    beta = -x + np.sqrt(x * x + 2.0 * rate / v)
    return float(beta / (beta - 1.0))


def annuity_factor(rate: float, life_years: float) -> float:
    """Yearly payment per unit of capital repaid over `life_years` at `rate`."""
    if rate <= 0:
        return 1.0 / life_years
    return rate / (1.0 - (1.0 + rate) ** (-life_years))


def trigger_price(unit_cost: float, capital_charge: float, rate: float, sigma: float,
                  rule: str = "real_options", volatility_premium: float = 0.0,
                  life_years: float = 20.0, convenience_yield: float | None = None,
                  finance_rate: float | None = None) -> float:
    """Price at which a project is started, in price units.

    `capital_charge` is capex per annual tonne in price units (e.g. USD/kg per kg/yr), `rate`
    the developers' discount rate r, `finance_rate` a concessional loan rate for the capex
    (default: r). Concessional finance lowers the cost of the capital: the capex becomes the
    present value at r of the loan's annuity at the finance rate, I' = I A(r_f) / A(r) (A the
    annuity factor over the project life), and nothing else; so cheaper finance never raises
    the trigger under either rule.

    real_options: Dixit-Pindyck (1994, ch. 6) for a project with operating cost c and a price
    with convenience yield delta (default r: zero expected drift, the developers' expectation):
    P* = beta / (beta - 1) x delta x (c / r + I'). npv: c + I' x A(r + premium x sigma).
    """
    capex = capital_charge
    if finance_rate is not None and finance_rate < rate:
        capex = capital_charge * annuity_factor(finance_rate, life_years) / annuity_factor(
            rate, life_years)
    if rule == "npv":
        return float(unit_cost + capex * annuity_factor(rate + volatility_premium * sigma,
                                                        life_years))
    delta = rate if convenience_yield is None else convenience_yield
    multiple = real_options_multiple(rate, sigma, delta)
    if convenience_yield is None:
        return multiple * (unit_cost + rate * capex)     # delta = r: c + r I'
    return float(multiple * delta * (unit_cost / rate + capex))


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
