"""Competitive storage with rational expectations: the exact benchmark for stockholders.

Pure numpy/scipy (no Mesa, no I/O). The Gustafson / Wright-Williams / Deaton-Laroque model as
RECS writes it (Gouel's solver, demos sto1FX and sto2), with quantities in units of the mean
harvest and prices in units of the reference price (demand 1 at price 1):

* availability  A_t = (1 - delta) (S_{t-1} + G_{t-1}) + h_t,  h_t ~ N(1, sd^2) i.i.d.
  (S private stock, G public stock, both carried over and decaying at rate delta per period);
* demand        D(P) = P^elasticity, so P_t = (A_t - S_t - G_t)^(1 / elasticity);
* stockholders  S_t >= 0,  P_t + cost >= (1 - delta) E_t[P_{t+1}] / (1 + interest),
  with equality when S_t > 0 (cost: price units per unit stored per period);
* the agency (optional, RECS sto2) holds 0 <= G_t <= floor_capacity and keeps P_t = floor while
  it can: G_t = 0 if P_t > floor, G_t = floor_capacity if P_t < floor.

Only total availability is a state: everything is a function of A. Write X(A) = S + G for the
total carry-over and Psi(X) = (1 - delta) E[P((1 - delta) X + h)] / (1 + interest) - cost for
the price at which a stockholder is indifferent to carrying X. Psi does not increase in X, and

* X = 0 while A <= A0 (nobody stores; P = A^(1/elasticity));
* where stockholders store, P = Psi(X) and A = X + Psi(X)^elasticity (the endogenous grid: X is
  the grid, A follows without solving anything);
* with a floor PF, the attack threshold X_a solves Psi(X_a) = PF (X_a = 0 if Psi(0) <= PF). Below
  it stockholders hold everything (G = 0, P = Psi(X) > PF); from X_a to the capacity the agency
  holds everything at P = PF (A = X + PF^elasticity); then G = capacity with P falling from PF
  to Psi(capacity) while X = capacity, and beyond, private stocks on top of the full agency
  stock (P = Psi(X) <= PF). So the public stock falls continuously to min(X_a, capacity) and is
  then taken by stockholders in one period (Salant 1983); with X_a = 0 there is no attack.

`solve` iterates on Psi (time iteration with the endogenous grid) until the price rule moves by
less than `tol`. The harvest integral is exact to quadrature precision: it is split at every
kink of P(A) and each smooth piece gets Gauss-Legendre nodes times the normal density (truncated
at +-8.5 sd, renormalised). The stationary distribution of A is the fixed point of the density
on Gauss-Legendre panels split at the same kinks (a Nystrom discretisation of the transition
kernel), and `moments` integrates against it. `salant_attack_stock` gives the
perfect-foresight attack threshold in closed form.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.interpolate import CubicSpline
from scipy.optimize import brentq
from scipy.special import erf

TRUNCATION = 8.5    # harvest normal truncated at +-8.5 sd (mass lost 2e-17), then renormalised


@dataclass(frozen=True)
class StorageModel:
    """Parameters (see the module docstring for the equations)."""

    elasticity: float        # demand elasticity, < 0
    harvest_sd: float        # sd of the harvest, in units of its mean (1)
    cost: float              # physical storage cost, reference-price units per unit per period
    decay: float             # share of the stock lost per period
    interest: float          # interest rate per period
    floor: float | None = None           # price the agency defends (reference-price units)
    floor_capacity: float | None = None  # most the agency holds (units of the mean harvest)

    @property
    def discount(self) -> float:
        """(1 - decay) / (1 + interest): what a unit carried into next period is worth now."""
        return (1.0 - self.decay) / (1.0 + self.interest)


class _Quadrature:
    """E[f(shift + h)] over h ~ N(1, sd^2), split at the kinks of f (`breaks`)."""

    def __init__(self, sd: float, nodes: int):
        self.sd = sd
        self.t, self.w = np.polynomial.legendre.leggauss(nodes)
        self.mass = float(erf(TRUNCATION / math.sqrt(2.0)))

    def nodes(self, shift: np.ndarray, breaks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Harvest-shifted points (len(shift), pieces, nodes) and their probability weights."""
        n = len(shift)
        z_breaks = np.clip((breaks[None, :] - 1.0 - shift[:, None]) / self.sd,
                           -TRUNCATION, TRUNCATION)
        ends = np.full((n, 1), TRUNCATION)
        edges = np.concatenate([-ends, np.sort(z_breaks, axis=1), ends], axis=1)
        half = (edges[:, 1:] - edges[:, :-1]) / 2.0
        z = (edges[:, 1:] + edges[:, :-1])[..., None] / 2.0 + half[..., None] * self.t
        weight = half[..., None] * self.w * np.exp(-z * z / 2.0) / math.sqrt(2 * math.pi)
        return shift[:, None, None] + 1.0 + self.sd * z, weight / self.mass

    def expect(self, f, shift, breaks: np.ndarray) -> np.ndarray:
        points, weight = self.nodes(np.atleast_1d(np.asarray(shift, float)), breaks)
        return (f(points.ravel()).reshape(points.shape) * weight).sum(axis=(1, 2))


class _Carryover:
    """The total carry-over X(A) = S + G: 0 below breaks[0], then one interpolant per piece."""

    def __init__(self, pieces: list[tuple[np.ndarray, np.ndarray]]):
        self.breaks = np.array([a[0] for a, _ in pieces])
        self.top = float(pieces[-1][0][-1]) if pieces else -math.inf
        # a cubic through the endogenous-grid points; straight lines stay straight
        self.fits = [CubicSpline(a, x) if len(a) > 2 else _Line(a, x) for a, x in pieces]

    def __call__(self, a) -> np.ndarray:
        a = np.asarray(a, float)
        out = np.zeros_like(a)
        piece = np.searchsorted(self.breaks, a, side="right") - 1
        for i, fit in enumerate(self.fits):
            here = piece == i
            if here.any():
                out[here] = fit(a[here])
        return np.maximum(out, 0.0)   # a cubic may dip below 0 just above the stock-out


@dataclass(frozen=True)
class _Line:
    a: np.ndarray
    x: np.ndarray

    def __call__(self, a):
        slope = (self.x[1] - self.x[0]) / (self.a[1] - self.a[0])
        return self.x[0] + slope * (a - self.a[0])


def _grid(lo: float, hi: float, n: int) -> np.ndarray:
    """n points from lo to hi, denser near lo (where the stationary mass and curvature are)."""
    return lo + (hi - lo) * np.linspace(0.0, 1.0, max(n, 2)) ** 1.5


class _Solver:
    """One step of time iteration: the carry-over rule implied by the current price rule."""

    def __init__(self, model: StorageModel, grid_points: int, nodes: int, x_max: float):
        self.model = model
        self.quad = _Quadrature(model.harvest_sd, nodes)
        self.n = grid_points
        self.x_max = x_max

    def price(self, rule: _Carryover, a) -> np.ndarray:
        a = np.asarray(a, float)
        return (a - rule(a)) ** (1.0 / self.model.elasticity)

    def psi(self, rule: _Carryover, x) -> np.ndarray:
        """Psi(X): the price at which carrying X into next period just pays."""
        m = self.model
        shift = (1.0 - m.decay) * np.atleast_1d(np.asarray(x, float))
        return m.discount * self.quad.expect(lambda a: self.price(rule, a), shift,
                                             rule.breaks) - m.cost

    def step(self, rule: _Carryover) -> tuple[_Carryover, float]:
        """The next carry-over rule and attack threshold X_a (0 without a floor or attack)."""
        m, alpha = self.model, self.model.elasticity

        def euler_branch(lo: float, hi: float, pin: float | None = None):
            xs = _grid(lo, hi, self.n)
            p = self.psi(rule, xs)
            if pin is not None:
                p[-1] = pin          # Psi(X_a) = PF exactly, not to brentq's tolerance
            # nobody carries X with Psi(X) <= 0: A -> infinity as Psi -> 0, so X stays below
            keep = np.cumprod(p > 0).astype(bool)
            return (xs[keep] + p[keep] ** alpha, xs[keep]) if keep.sum() > 1 else None

        if m.floor is None:   # (no piece when storage never pays: Psi(0) <= 0)
            return _Carryover([p for p in [euler_branch(0.0, self.x_max)] if p]), 0.0
        floor, cap = m.floor, m.floor_capacity
        x_attack = 0.0
        if self.psi(rule, 0.0)[0] > floor:
            gap = lambda x: self.psi(rule, x)[0] - floor  # noqa: E731
            hi = cap if gap(cap) <= 0 else self.x_max
            if gap(hi) > 0:
                raise ValueError(f"floor {floor} is below every price the grid reaches "
                                 f"(raise x_max above {self.x_max})")
            x_attack = brentq(gap, 0.0, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps)
        consumed_at_floor = floor ** alpha
        pieces = []
        if x_attack > 0:     # stockholders alone, P = Psi(X) > PF
            pieces.append(euler_branch(0.0, x_attack, pin=floor))
        if x_attack < cap:   # the agency alone at P = PF, then full with P falling from PF
            pieces.append((np.array([x_attack, cap]) + consumed_at_floor,
                           np.array([x_attack, cap])))
            at_cap = self.psi(rule, cap)[0]    # <= 0: nobody stores beyond the agency, ever
            full_at = cap + at_cap ** alpha if at_cap > 0 else math.inf
            if full_at > cap + consumed_at_floor:
                pieces.append((np.array([cap + consumed_at_floor, full_at]),
                               np.array([cap, cap])))
        pieces.append(euler_branch(max(x_attack, cap), self.x_max))
        return _Carryover([p for p in pieces if p]), x_attack


class StorageSolution:
    """The solved rules (functions of availability A, vectorised) and their stationary moments.

    Units: availability and stocks in units of the mean harvest; prices in reference-price units.
    """

    def __init__(self, model: StorageModel, solver: _Solver, rule: _Carryover,
                 x_attack: float, iterations: int, panel_width: float, panel_nodes: int):
        self.model = model
        self.rule = rule
        self.attack_threshold = x_attack   # X_a: Psi(X_a) = floor (0: no attack)
        self.iterations = iterations
        self._solver = solver
        self._panels = (panel_width, panel_nodes)
        self._moments: dict[str, float] | None = None

    def price(self, a) -> np.ndarray:
        """P(A) = (A - S(A) - G(A))^(1 / elasticity)."""
        return self._solver.price(self.rule, a)

    def public_stock(self, a) -> np.ndarray:
        """G(A): the agency's stock (zeros without a floor)."""
        m, a = self.model, np.asarray(a, float)
        if m.floor is None:
            return np.zeros_like(a)
        held = np.minimum(self.rule(a), m.floor_capacity)
        return np.where(a >= self.attack_availability, held, 0.0)

    def stock(self, a) -> np.ndarray:
        """S(A): the stockholders' stock."""
        return self.rule(a) - self.public_stock(a)

    @property
    def attack_availability(self) -> float:
        """The availability below which the agency holds nothing: X_a + floor^elasticity."""
        m = self.model
        if m.floor is None:
            return math.inf
        return self.attack_threshold + m.floor ** m.elasticity

    def expected_price(self, a) -> np.ndarray:
        """E[P_{t+1} | A_t = a], exact to quadrature precision."""
        return self.price_after((1.0 - self.model.decay) * self.rule(a))

    def price_after(self, carried) -> np.ndarray:
        """E[P(carried + h)]: the expected price of a period into which `carried` (after
        decay, units of the mean harvest) is brought, exact to quadrature precision."""
        return self._solver.quad.expect(self.price, carried, self.rule.breaks)

    def euler_residual(self, a) -> np.ndarray:
        """P + cost - (1 - decay) E[P'] / (1 + interest): 0 where S > 0, >= 0 elsewhere."""
        m = self.model
        return self.price(a) + m.cost - m.discount * self.expected_price(a)

    def stationary(self) -> tuple[np.ndarray, np.ndarray]:
        """Nodes of A and their probabilities under the stationary distribution.

        The density f solves f(A') = int phi_sd(A' - 1 - (1 - delta) X(A)) f(A) dA on
        Gauss-Legendre panels split at the kinks of X(A) (and of G(A)), from the lowest harvest
        1 - 8.5 sd up to where the stationary mass ends: the domain grows by half until its top
        tenth holds less than 1e-13 of it (or reaches the top of the support, the fixed point of
        A = (1 - delta) X(A) + 1 + 8.5 sd).
        """
        m, sd = self.model, self.model.harvest_sd
        lo = 1.0 - TRUNCATION * sd
        support = 1.0 + TRUNCATION * sd
        for _ in range(10_000):
            new = (1.0 - m.decay) * float(self.rule(support)) + 1.0 + TRUNCATION * sd
            if abs(new - support) < 1e-13:
                break
            support = new
        hi = (1.0 - m.decay) * float(self.rule(1.0 + TRUNCATION * sd)) + 1.0 + TRUNCATION * sd
        while True:
            hi = min(hi, support)
            if self.rule.fits and hi > self.rule.top:
                raise ValueError(f"availability reaches {hi:.3f} beyond the grid's "
                                 f"{self.rule.top:.3f} (raise x_max)")
            a, prob = self._density(lo, hi)
            if hi >= support or prob[a > hi - (hi - lo) / 10].sum() < 1e-13:
                return a, prob
            hi = lo + 1.5 * (hi - lo)

    def _density(self, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
        m, sd = self.model, self.model.harvest_sd
        width, per_panel = self._panels
        cuts = [lo, *sorted(b for b in [*self.rule.breaks, self.attack_availability]
                            if lo < b < hi), hi]
        t, w = np.polynomial.legendre.leggauss(per_panel)
        nodes, weights = [], []
        for left, right in zip(cuts[:-1], cuts[1:], strict=True):
            edges = np.linspace(left, right, max(1, math.ceil((right - left) / width)) + 1)
            half = np.diff(edges)[:, None] / 2.0
            nodes.append(((edges[:-1, None] + edges[1:, None]) / 2.0 + half * t).ravel())
            weights.append((half * w).ravel())
        a, w = np.concatenate(nodes), np.concatenate(weights)
        z = (a[:, None] - 1.0 - (1.0 - m.decay) * self.rule(a)[None, :]) / sd
        kernel = np.exp(-z * z / 2.0) / (sd * math.sqrt(2 * math.pi) * self._solver.quad.mass)
        system = np.eye(len(a)) - kernel * w[None, :]
        system[0] = w                          # f = K f has a line of solutions: int f = 1
        rhs = np.zeros(len(a))
        rhs[0] = 1.0
        return a, np.linalg.solve(system, rhs) * w

    def moments(self) -> dict[str, float]:
        """Stationary moments (see `solve`)."""
        if self._moments is None:
            self._moments = self._compute_moments()
        return dict(self._moments)

    def _compute_moments(self) -> dict[str, float]:
        m = self.model
        a, prob = self.stationary()
        price, stock, public = self.price(a), self.stock(a), self.public_stock(a)
        mean = float(prob @ price)
        dev = price - mean
        var = float(prob @ dev**2)
        out = {"price_mean": mean, "price_sd": math.sqrt(var),
               "price_skew": float(prob @ dev**3) / var**1.5,
               "price_ac1": (float(prob @ (price * self.expected_price(a))) - mean**2) / var,
               "prob_no_stock": float(prob @ (stock <= 0.0)),
               "stock_mean": float(prob @ stock)}
        if m.floor is None:
            return out
        cap, consumed = m.floor_capacity, m.floor ** m.elasticity
        pegged = (a >= self.attack_threshold + consumed) & (a < cap + consumed)
        holds = public > 0.0
        out |= {"prob_floor_defended": float(prob @ pegged),
                "public_stock_mean": float(prob @ public),
                "attack_stock": min(self.attack_threshold, cap), "prob_attack": 0.0}
        if self.attack_threshold > 0.0 and prob @ holds > 0.0:
            shift = (1.0 - m.decay) * self.rule(a[holds])
            z = (self.attack_availability - 1.0 - shift) / m.harvest_sd
            falls = (1.0 + erf(z / math.sqrt(2.0))) / 2.0
            out["prob_attack"] = float(prob[holds] @ falls) / float(prob @ holds)
        return out

    def simulate(self, periods: int, chains: int = 1, seed: int = 0,
                 burn: int = 100) -> dict[str, np.ndarray]:
        """Monte Carlo paths of the solved rules, (chains, periods) arrays, after `burn` periods.

        Every chain starts at A = 1; the harvest is N(1, sd^2), untruncated.
        """
        m = self.model
        rng = np.random.default_rng(seed)
        a = np.ones(chains)
        path = np.empty((chains, periods))
        for t in range(burn + periods):
            if t >= burn:
                path[:, t - burn] = a
            a = (1.0 - m.decay) * self.rule(a) + rng.normal(1.0, m.harvest_sd, chains)
        return {"availability": path, "price": self.price(path), "stock": self.stock(path),
                "public_stock": self.public_stock(path)}


def solve(elasticity: float, harvest_sd: float, cost: float, decay: float, interest: float,
          floor: float | None = None, floor_capacity: float | None = None, *,
          grid_points: int = 300, nodes: int = 40, x_max: float = 3.0, tol: float = 1e-12,
          max_iter: int = 5000, panel_width: float = 0.02,
          panel_nodes: int = 12) -> StorageSolution:
    """Solve the competitive-storage model (module docstring) by time iteration on Psi.

    elasticity < 0; harvest_sd in units of the mean harvest (0 < sd < 1/8.5, so the truncated
    harvest stays positive); cost >= 0 in reference-price units per unit stored per period;
    0 <= decay < 1 and interest > -1 per period; floor (reference-price units) and floor_capacity
    (units of the mean harvest) both or neither. Numerical settings: `grid_points` endogenous-grid
    points per piece of X(A) on [0, x_max], `nodes` Gauss-Legendre nodes per smooth piece of the
    harvest integral, `tol` on the largest change of P(A) between iterations, `panel_width` and
    `panel_nodes` for the stationary density.

    The solution's `moments()` are stationary: price_mean, price_sd, price_skew, price_ac1
    (first-order autocorrelation), prob_no_stock (share of periods with no private stock),
    stock_mean (private); with a floor also prob_floor_defended (share with P = floor),
    public_stock_mean, attack_stock (the public stock stockholders take in one period:
    min(X_a, capacity), 0 without attack) and prob_attack (given a positive public stock this
    period, the probability that the next has none; 0 without attack). With X_a > 0 the agency
    can never sell its stock down below X_a, so a public stock always ends in one period: the
    agency's carry-over enters the next period's availability and stockholders carry whatever
    of the total is not consumed (nothing if the harvest is short enough to stock out).
    """
    if not elasticity < 0:
        raise ValueError(f"elasticity must be negative, got {elasticity}")
    if not 0 < harvest_sd < 1 / TRUNCATION:
        raise ValueError(f"harvest_sd must be in (0, {1 / TRUNCATION:.4f}), got {harvest_sd}")
    if cost < 0 or not 0 <= decay < 1 or interest <= -1:
        raise ValueError("need cost >= 0, 0 <= decay < 1, interest > -1")
    if (floor is None) != (floor_capacity is None):
        raise ValueError("give floor and floor_capacity together")
    if floor is not None and (floor <= 0 or not 0 < floor_capacity < x_max):
        raise ValueError("need floor > 0 and 0 < floor_capacity < x_max")
    model = StorageModel(elasticity, harvest_sd, cost, decay, interest, floor, floor_capacity)
    solver = _Solver(model, grid_points, nodes, x_max)
    sd = harvest_sd
    check = np.linspace(1.0 - 6 * sd, 1.0 + 6 * sd + x_max / 2, 400)
    rule, x_attack = _Carryover([]), 0.0        # start from no storage
    before = solver.price(rule, check)
    for iteration in range(1, max_iter + 1):
        rule, x_attack = solver.step(rule)
        after = solver.price(rule, check)
        if np.max(np.abs(after - before)) < tol:
            return StorageSolution(model, solver, rule, x_attack, iteration, panel_width,
                                   panel_nodes)
        before = after
    raise RuntimeError(f"storage rule did not converge in {max_iter} iterations")


def salant_attack_stock(a: float, b: float, production: float, interest: float,
                        ceiling: float) -> float:
    """Perfect-foresight public stock at which speculators take all of it (Salant 1983).

    Linear demand a - b P, constant production q, interest r (continuous time), no storage cost,
    a ceiling Pbar defended by selling from the public stock, below the no-stock price
    P_c = (a - q) / b. At the attack speculators hold the whole stock X and the price must not
    jump (no arbitrage), so it starts at Pbar and rises at r, P(t) = Pbar e^(rt), until the stock
    is gone exactly when P reaches P_c, at T = ln(P_c / Pbar) / r. The stock consumed meanwhile
    is the gap between demand and production:
        X* = int_0^T [a - b P(t) - q] dt = int_0^T b (P_c - Pbar e^(rt)) dt
           = b [P_c T - Pbar (e^(rT) - 1) / r] = (b / r) [P_c ln(P_c / Pbar) - (P_c - Pbar)].
    A larger stock would need a price below Pbar after the attack (speculators lose), a smaller
    one a jump above it (they gain), so the attack comes when the stock falls to X*.
    """
    choke = (a - production) / b
    if not 0 < ceiling < choke or interest <= 0 or b <= 0:
        raise ValueError("need 0 < ceiling < (a - q) / b, interest > 0 and b > 0")
    return b / interest * (choke * math.log(choke / ceiling) - (choke - ceiling))
