"""Sweep designs (grid, Latin hypercube, Sobol/Saltelli) and Sobol sensitivity indices.

Design points are dicts of dotted config key -> value, in the order `Experiment.design()` numbers
them (`point` 0, 1, ...). The Sobol design follows Saltelli (2002, 2010): two independent base
matrices A and B (N x D) from one scrambled Sobol sequence of dimension 2D, and the "radial" mixes
AB_i (A with column i taken from B) and BA_i (B with column i taken from A). Point block j holds,
in this order::

    A_j, AB_j^1 .. AB_j^D, BA_j^1 .. BA_j^D, B_j          (2D + 2 points)

so the design has N(2D+2) points and `sobol_indices` needs the model output in that order.

Indices are estimated here (no SALib dependency):
- first order S_i: Saltelli et al. (2010), V_i = E[f(B) (f(AB_i) - f(A))];
- total order ST_i: Jansen (1999), VT_i = E[(f(A) - f(AB_i))^2] / 2;
both also computed with the roles of A and B swapped (using BA_i) and averaged, which uses every
run of the design. Confidence half-widths come from a bootstrap over the N blocks.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
import polars as pl
from scipy.stats import norm, qmc

from abm.config import Range, Sweep

# Spawn key that separates the design's random stream from the run seeds, which use the
# replication index (< 1e6) as their spawn key under the same root seed.
DESIGN_STREAM = 2**31 - 1


def design_rng(seed: int) -> np.random.Generator:
    """The random stream of sweep designs, derived from the experiment's root seed."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(DESIGN_STREAM,)))


def _engine(cls: type, d: int, seed: int, **kwargs) -> qmc.QMCEngine:
    rng = design_rng(seed)
    try:  # scipy >= 1.15 names the argument `rng`; older versions call it `seed`
        return cls(d, rng=rng, **kwargs)
    except TypeError:
        return cls(d, seed=rng, **kwargs)


def _bounds(sweep: Sweep) -> tuple[np.ndarray, np.ndarray]:
    ranges = list(sweep.parameters.values())
    if not all(isinstance(r, Range) for r in ranges):
        raise ValueError(f"{sweep.design} design needs {{low, high}} ranges for every parameter")
    return (np.array([r.low for r in ranges], dtype=float),
            np.array([r.high for r in ranges], dtype=float))


def saltelli_matrix(unit: np.ndarray) -> np.ndarray:
    """The N(2D+2) x D Saltelli design from an N x 2D matrix of base points in [0, 1)."""
    n, two_d = unit.shape
    d = two_d // 2
    a, b = unit[:, :d], unit[:, d:]
    blocks = np.empty((n, 2 * d + 2, d))
    blocks[:, 0] = a
    for i in range(d):
        blocks[:, 1 + i] = a
        blocks[:, 1 + i, i] = b[:, i]
        blocks[:, 1 + d + i] = b
        blocks[:, 1 + d + i, i] = a[:, i]
    blocks[:, -1] = b
    return blocks.reshape(n * (2 * d + 2), d)


def design_matrix(sweep: Sweep, seed: int) -> np.ndarray:
    """Design points as an (n_points x D) array, columns in parameter order."""
    names = list(sweep.parameters)
    if sweep.design == "grid":
        values = [v if isinstance(v, list) else [v.low, v.high] for v in sweep.parameters.values()]
        return np.array(list(itertools.product(*values)), dtype=float).reshape(-1, len(names))
    low, high = _bounds(sweep)
    d = len(names)
    if sweep.design == "lhs":
        unit = _engine(qmc.LatinHypercube, d, seed).random(sweep.samples)
        return qmc.scale(unit, low, high)
    if sweep.design == "sobol":
        base = _engine(qmc.Sobol, 2 * d, seed, scramble=True).random(sweep.samples)
        return low + saltelli_matrix(base) * (high - low)
    raise ValueError(f"unknown design '{sweep.design}'")


def design_points(sweep: Sweep, seed: int) -> list[dict[str, float]]:
    """The sweep's points, each a dict of dotted config key -> value (parameter order kept).

    grid: the full cross product of the value lists (last parameter varies fastest);
    lhs: `sweep.samples` Latin-hypercube points scaled to the ranges;
    sobol: the Saltelli design of N(2D+2) points, N = `sweep.samples` (see the module docstring).
    The same seed gives the same points.
    """
    names = list(sweep.parameters)
    matrix = design_matrix(sweep, seed)
    return [dict(zip(names, map(float, row), strict=True)) for row in matrix]


def design_size(sweep: Sweep) -> int:
    """Number of points of the sweep's design, counted without building it (a grid of ten
    lists of 20 values has 20^10 points: counting must not enumerate them)."""
    if sweep.design == "grid":
        return math.prod(len(values) for values in sweep.parameters.values())
    if sweep.design == "sobol":
        return sobol_size(len(sweep.parameters), sweep.samples)
    return sweep.samples


def sobol_size(n_params: int, samples: int) -> int:
    """Number of points of a Sobol (Saltelli) design: N(2D+2)."""
    return samples * (2 * n_params + 2)


def _estimates(fa: np.ndarray, fb: np.ndarray, fab: np.ndarray,
               fba: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """S1 and ST for each parameter; leading axes of the inputs are bootstrap replicates.

    fa, fb: (..., N); fab, fba: (..., N, D).
    """
    var = np.var(np.concatenate([fa, fb], axis=-1), axis=-1)[..., None]
    fa_, fb_ = fa[..., None], fb[..., None]
    s1_ab = np.mean(fb_ * (fab - fa_), axis=-2)          # Saltelli 2010
    s1_ba = np.mean(fa_ * (fba - fb_), axis=-2)          # same, roles of A and B swapped
    st_ab = 0.5 * np.mean((fa_ - fab) ** 2, axis=-2)     # Jansen 1999
    st_ba = 0.5 * np.mean((fb_ - fba) ** 2, axis=-2)
    with np.errstate(divide="ignore", invalid="ignore"):
        return 0.5 * (s1_ab + s1_ba) / var, 0.5 * (st_ab + st_ba) / var


def sobol_indices(parameters: Sequence[str] | Sweep, y: np.ndarray, *, n_boot: int = 1000,
                  level: float = 0.95, seed: int = 0) -> pl.DataFrame:
    """First-order and total Sobol indices from model outputs on the Saltelli design.

    `parameters`: the parameter names in design order (or the Sweep); `y`: one output per design
    point, in design order (length N(2D+2)). Blocks with a non-finite output (e.g. every run of a
    point failed) are dropped. Returns columns parameter, S1, S1_conf, ST, ST_conf, where *_conf is
    the half-width of the `level` confidence interval (normal approximation to a bootstrap over
    the N blocks, as SALib reports it). Indices are null when the output has no variance.
    """
    names = list(parameters.parameters) if isinstance(parameters, Sweep) else list(parameters)
    d = len(names)
    y = np.asarray(y, dtype=float).ravel()
    width = 2 * d + 2
    if d == 0 or y.size % width:
        raise ValueError(f"y has {y.size} values; a Sobol design over {d} parameters has a "
                         f"multiple of {width}")
    blocks = y.reshape(-1, width)
    blocks = blocks[np.isfinite(blocks).all(axis=1)]
    n = blocks.shape[0]
    if n < 2:
        nan = [None] * d
        return pl.DataFrame({"parameter": names, "S1": nan, "S1_conf": nan, "ST": nan,
                             "ST_conf": nan}, schema=_SCHEMA)
    # Centre the output: the estimators are shift-invariant in expectation, but centring cuts
    # the rounding error and the variance of the S1 estimator when the mean is large.
    blocks = blocks - blocks.mean()
    split = lambda b: (b[..., 0], b[..., -1], b[..., 1:1 + d], b[..., 1 + d:1 + 2 * d])  # noqa: E731
    s1, st = _estimates(*split(blocks))
    rng = np.random.default_rng(seed)
    s1_boot = np.empty((n_boot, d))
    st_boot = np.empty((n_boot, d))
    chunk = max(1, 2_000_000 // (n * width))   # bootstrap replicates per vectorised pass
    for start in range(0, n_boot, chunk):
        stop = min(n_boot, start + chunk)
        idx = rng.integers(0, n, size=(stop - start, n))
        s1_boot[start:stop], st_boot[start:stop] = _estimates(*split(blocks[idx]))
    z = norm.ppf(0.5 + level / 2)
    finite = np.isfinite(s1).all()

    def col(values: np.ndarray) -> list[float | None]:
        return [float(v) if finite and np.isfinite(v) else None for v in values]

    return pl.DataFrame({
        "parameter": names,
        "S1": col(s1), "S1_conf": col(z * s1_boot.std(axis=0, ddof=1)),
        "ST": col(st), "ST_conf": col(z * st_boot.std(axis=0, ddof=1)),
    }, schema=_SCHEMA)


_SCHEMA = {"parameter": pl.String, "S1": pl.Float64, "S1_conf": pl.Float64, "ST": pl.Float64,
           "ST_conf": pl.Float64}
