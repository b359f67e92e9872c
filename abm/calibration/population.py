"""Synthetic producer and project populations from aggregates.

When a user has only aggregates (capacity per region, a fitted cost curve, or a few anchor bands
such as "40% of the pipeline needs $75-85/kg"), agents are made by *quantiles of the curve*:

1. each region's capacity is split into ``agents_per_region`` blocks (sizes lognormally
   dispersed around equal shares, ``size_sd`` = 0 gives equal blocks);
2. all blocks are put in a random merit order (seeded) on the cumulative capacity axis [0, 1];
3. a block covering shares [a, b] gets the mean of the curve over [a, b] as its unit cost.

Step 3 keeps the population's capacity-weighted mean cost equal to the curve's, and its step
curve passes through the curve at every block. Same seed, same inputs: same agents.

Output: lists of dicts with exactly the fields of :class:`abm.config.Producer` /
:class:`abm.config.Project`, each validated by that model. Units: capacities t/yr, costs in the
price unit, capex USD per t/yr, lead times in steps.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from abm.calibration.cost_curve import Curve
from abm.config import Producer, Project

# Gauss-Legendre nodes on [0, 1]: interior points, so curves with Q(0) = 0 or Q(1) = inf (the
# parametric families) average finitely over the first and last block.
_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(24)
_NODES, _WEIGHTS = (_NODES + 1) / 2, _WEIGHTS / 2
KG_PER_T = 1000.0


@dataclass(frozen=True)
class BandCurve:
    """A cost curve from anchor bands: ``share`` of capacity needs a cost between ``low`` and
    ``high``, spread evenly within each band (a piecewise-linear quantile function).

    Bands are sorted by cost; their shares must add up to 1 (a band may have low == high)."""

    shares: np.ndarray
    lows: np.ndarray
    highs: np.ndarray

    def quantile(self, shares: np.ndarray) -> np.ndarray:
        s = np.clip(np.asarray(shares, dtype=float), 0.0, 1.0)
        upper = np.cumsum(self.shares)
        k = np.minimum(np.searchsorted(upper, s, side="left"), len(upper) - 1)
        lower = upper[k] - self.shares[k]
        within = np.where(self.shares[k] > 0, (s - lower) / np.where(self.shares[k] > 0,
                                                                     self.shares[k], 1), 0.0)
        return self.lows[k] + (self.highs[k] - self.lows[k]) * np.clip(within, 0.0, 1.0)


def curve_from_bands(bands: Sequence[tuple[float, float, float]]) -> BandCurve:
    """``[(share, low, high), ...]`` -> :class:`BandCurve`.

    Example (Benchmark, ~Q1 2024, ex-China NdPr pipeline; the 100 USD/kg top is an assumption):
    ``[(0.45, 54, 75), (0.40, 75, 85), (0.15, 85, 100)]``.
    """
    arr = np.asarray(bands, dtype=float)
    if arr.ndim != 2 or arr.shape[1] != 3 or len(arr) == 0:
        raise ValueError("bands must be a non-empty list of (share, low, high)")
    order = np.argsort(arr[:, 1], kind="stable")
    shares, lows, highs = arr[order].T
    if np.any(shares < 0) or abs(shares.sum() - 1.0) > 1e-6:
        raise ValueError(f"band shares must be >= 0 and add up to 1 (they add up to "
                         f"{shares.sum():g})")
    if np.any(highs < lows) or np.any(lows < 0):
        raise ValueError("each band needs 0 <= low <= high")
    if np.any(lows[1:] < highs[:-1] - 1e-9):
        raise ValueError("bands overlap: sort them so each starts at or above the last one's "
                         "high")
    return BandCurve(shares / shares.sum(), lows, highs)


def curve_from_points(shares: Sequence[float], costs: Sequence[float]):
    """A monotone (PCHIP) curve through anchor points (cumulative capacity share, unit cost),
    e.g. ``[0, 0.5, 1], [30, 45, 90]``; flat beyond the first and last point, so give shares 0
    and 1 to pin the ends. Shares must increase and costs must not decrease."""
    from abm.calibration.cost_curve import PchipCurve

    x = np.asarray(shares, dtype=float)
    y = np.asarray(costs, dtype=float)
    if x.ndim != 1 or x.shape != y.shape or len(x) < 2:
        raise ValueError("need at least two (share, cost) points")
    if np.any(np.diff(x) <= 0) or x[0] < 0 or x[-1] > 1:
        raise ValueError("shares must increase within [0, 1]")
    if np.any(np.diff(y) < 0) or np.any(~np.isfinite(y)):
        raise ValueError("costs must be finite and must not decrease along the curve")
    return PchipCurve(x, y)


def block_means(curve: Curve, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Mean of the curve over each share interval [lower, upper] (Gauss-Legendre, 24 nodes)."""
    lower = np.asarray(lower, dtype=float)[:, None]
    width = np.asarray(upper, dtype=float)[:, None] - lower
    points = lower + width * _NODES[None, :]
    values = curve.quantile(points.ravel()).reshape(points.shape)
    return values @ _WEIGHTS


def split_capacity(capacity_by_region: Mapping[str, float], agents_per_region: int
                   | Mapping[str, int], *, seed: int, size_sd: float = 0.5
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Regions and capacities (t/yr) of the blocks, in a random (seeded) merit order.

    Each region's blocks add up exactly to its capacity."""
    rng = np.random.default_rng(seed)
    regions = list(capacity_by_region)
    counts = np.array([agents_per_region[r] if isinstance(agents_per_region, Mapping)
                       else agents_per_region for r in regions], dtype=int)
    totals = np.array([capacity_by_region[r] for r in regions], dtype=float)
    if np.any(counts < 1):
        raise ValueError("every region needs at least one agent")
    if np.any(~np.isfinite(totals)) or np.any(totals <= 0):
        raise ValueError("every region's capacity must be finite and > 0")
    owner = np.repeat(np.arange(len(regions)), counts)
    raw = rng.lognormal(0.0, size_sd, owner.size) if size_sd > 0 else np.ones(owner.size)
    share_in_region = raw / np.bincount(owner, weights=raw)[owner]
    capacity = totals[owner] * share_in_region
    order = rng.permutation(owner.size)
    return np.array(regions, dtype=object)[owner][order], capacity[order]


def _place(curve: Curve, capacity: np.ndarray) -> np.ndarray:
    """Unit cost of blocks laid end to end on the share axis in the given order."""
    upper = np.cumsum(capacity) / capacity.sum()
    upper[-1] = 1.0
    lower = np.concatenate(([0.0], upper[:-1]))
    return block_means(curve, lower, upper)


def producers_from_curve(curve: Curve, capacity_by_region: Mapping[str, float], *,
                         stage: str = "refinery", agents_per_region: int | Mapping[str, int] = 5,
                         seed: int = 0, size_sd: float = 0.5, name_prefix: str = "",
                         digits: int = 6) -> list[dict]:
    """Existing producers whose capacity-weighted cost curve is ``curve``.

    ``capacity_by_region``: t/yr per region; ``curve``: cumulative share -> unit cost (anything
    with ``quantile``: a fitted family, a PCHIP or band curve)."""
    regions, capacity = split_capacity(capacity_by_region, agents_per_region, seed=seed,
                                       size_sd=size_sd)
    cost = _place(curve, capacity)
    return [Producer.model_validate(data).model_dump(exclude_none=True)
            for data in _rows(regions, capacity, cost, name_prefix, stage=stage, digits=digits)]


def _rows(regions, capacity, cost, prefix: str, *, stage: str, digits: int, kind: str = "",
          **extra) -> list[dict]:
    """Agent dicts named "<prefix><region> <stage> <kind><n>", n = 1, 2, ... within each region;
    capacities and costs rounded to `digits` decimals; `extra` keys added to every dict."""
    counter: dict[str, int] = {}
    out = []
    for region, cap, c in zip(regions, capacity, cost, strict=True):
        counter[region] = counter.get(region, 0) + 1
        out.append({"name": f"{prefix}{region} {stage} {kind}{counter[region]}", "region": region,
                    "stage": stage, "capacity": round(float(cap), digits),
                    "unit_cost": round(float(c), digits), **extra})
    return out


def capital_recovery_factor(rate: float, years: float) -> float:
    """Annuity factor: the yearly payment per unit of capital over ``years`` at ``rate``."""
    if rate == 0:
        return 1.0 / years
    return rate / (1.0 - (1.0 + rate) ** -years)


def capital_charge(capex: float | np.ndarray, *, rate: float, years: float,
                   price_unit: str = "USD/kg") -> np.ndarray:
    """Capital cost per unit of output in the price unit: capex (USD per t/yr) x CRF, per kg when
    ``price_unit`` is USD/kg."""
    per_tonne = np.asarray(capex, dtype=float) * capital_recovery_factor(rate, years)
    return per_tonne / KG_PER_T if price_unit == "USD/kg" else per_tonne


def projects_from_curve(curve: Curve, capacity_by_region: Mapping[str, float], *,
                        capex: float, lead_time: int, stage: str = "refinery",
                        agents_per_region: int | Mapping[str, int] = 3, seed: int = 0,
                        size_sd: float = 0.5, curve_kind: str = "cash",
                        hurdle_rate: float = 0.10, life_years: float = 20.0,
                        price_unit: str = "USD/kg", available_from: int = 0,
                        name_prefix: str = "", digits: int = 6) -> list[dict]:
    """A project pipeline whose costs follow ``curve``.

    ``curve_kind = "cash"``: the curve gives cash costs. ``"incentive"``: it gives incentive
    prices (the price a project needs to earn ``hurdle_rate`` over ``life_years``), and each
    project's cash cost is its incentive price minus the capital charge of ``capex``
    (USD per t/yr). ``lead_time`` is in model steps.
    """
    if curve_kind not in ("cash", "incentive"):
        raise ValueError("curve_kind must be 'cash' or 'incentive'")
    regions, capacity = split_capacity(capacity_by_region, agents_per_region, seed=seed,
                                       size_sd=size_sd)
    cost = _place(curve, capacity)
    if curve_kind == "incentive":
        cost = cost - capital_charge(capex, rate=hurdle_rate, years=life_years,
                                     price_unit=price_unit)
        if np.any(cost < 0):
            raise ValueError(f"capex {capex:g} USD per t/yr costs more than the lowest incentive "
                             f"price allows ({float(cost.min()):.4g} {price_unit} cash cost); "
                             "lower capex or the hurdle rate")
    rows = _rows(regions, capacity, cost, name_prefix, stage=stage, digits=digits,
                 kind="project ", capex=float(capex), lead_time=int(lead_time),
                 available_from=int(available_from))
    return [Project.model_validate(data).model_dump(exclude_none=True) for data in rows]


def agents_from_table(table, *, steps_per_year: int = 12) -> tuple[list[dict], list[dict]]:
    """Producers and projects from a checked producers table (:func:`abm.calibration.table.
    read_producers`): rows with status ``construction`` or ``planned`` become projects (they need
    ``capex`` and ``lead_time`` in years, converted to steps), all others existing producers.

    Raises ValueError naming the first pipeline row without capex or lead_time."""
    import polars as pl

    from abm.calibration.table import PIPELINE

    has_status = "status" in table.columns
    is_pipeline = (pl.col("status").is_in(list(PIPELINE)).fill_null(False) if has_status
                   else pl.lit(False))
    existing = table.filter(~is_pipeline)
    pipeline = table.filter(is_pipeline)
    producers = [Producer.model_validate({k: row[k] for k in ("name", "region", "stage",
                                                               "capacity", "unit_cost")}
                                         ).model_dump(exclude_none=True)
                 for row in existing.iter_rows(named=True)]
    projects = []
    for row in pipeline.iter_rows(named=True):
        if row.get("capex") is None or row.get("lead_time") is None:
            raise ValueError(f"pipeline row '{row['name']}' (line {row['line']}) needs capex and "
                             "lead_time")
        projects.append(Project.model_validate({
            "name": row["name"], "region": row["region"], "stage": row["stage"],
            "capacity": row["capacity"], "unit_cost": row["unit_cost"], "capex": row["capex"],
            "lead_time": int(round(row["lead_time"] * steps_per_year)),
        }).model_dump(exclude_none=True))
    return producers, projects
