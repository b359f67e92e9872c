"""Per-run metrics from the recorded series (DESIGN section 4; names and units in abm.names)."""

from __future__ import annotations

import numpy as np

from abm.names import METRICS


def annualised_volatility(price: np.ndarray, steps_per_year: int) -> float:
    """Standard deviation of per-step log price changes, times sqrt(steps per year)."""
    p = price[np.isfinite(price) & (price > 0)]
    if len(p) < 3:
        return 0.0
    return float(np.std(np.diff(np.log(p)), ddof=1) * np.sqrt(steps_per_year))


def max_drawdown(price: np.ndarray) -> float:
    """Largest fall from a running peak, as a share of the peak (0 = never fell)."""
    if len(price) == 0:
        return 0.0
    peak = np.maximum.accumulate(price)
    return float(np.max(1.0 - price / peak))


def share_below_floor(price: np.ndarray, floor: np.ndarray) -> float:
    """Share of steps with a floor in force in which the price was below it (0 without one)."""
    in_force = np.isfinite(floor)
    if not in_force.any():
        return 0.0
    return float(np.mean(price[in_force] < floor[in_force] * (1 - 1e-9)))


def floor_market_price(model) -> np.ndarray:
    """The per-step price a floor is compared with: the price at the floor's stage in the market
    where it acts (abm.policies.floor.FloorPolicy.price_column; the world price without one)."""
    rec = model.recorder
    for policy in model.policies:
        column = getattr(policy, "price_column", None)
        if column is not None:
            return np.asarray(rec.column(column()), dtype=float)
    return rec.column("price")


def last_year(x: np.ndarray, steps_per_year: int) -> np.ndarray:
    return x[-steps_per_year:]


def run_metrics(model) -> dict[str, float]:
    """Every metric of abm.names.METRICS for a finished (or stopped) model run."""
    rec = model.recorder
    spy = model.steps_per_year
    price = rec.column("price")
    prod_m = last_year(rec.column("production_market"), spy).sum()
    prod_n = last_year(rec.column("production_nonmarket"), spy).sum()
    club_cons = last_year(rec.column("club_consumption"), spy).sum()
    club_prod = last_year(rec.column("club_production"), spy).sum()
    reliance = (club_cons - club_prod) / club_cons if club_cons > 0 else 0.0
    out = {
        "price_mean": float(np.mean(price)),
        "price_volatility": annualised_volatility(price, spy),
        "price_p05": float(np.percentile(price, 5)),
        "price_p95": float(np.percentile(price, 95)),
        "max_drawdown": max_drawdown(price),
        "share_below_floor": share_below_floor(floor_market_price(model), rec.column("floor")),
        "capacity_added_market": model.producers.capacity_added(market_economy=True),
        "capacity_added_nonmarket": model.producers.capacity_added(market_economy=False),
        "investment_capex": float(model.pipeline.capex),
        "projects_started": float(model.pipeline.started),
        "producer_exits": float(model.producers.exits),
        "market_economy_share": float(prod_m / (prod_m + prod_n)) if prod_m + prod_n > 0 else 0.0,
        "import_reliance": float(np.clip(reliance, 0.0, 1.0)),
        "fiscal_cost": float(sum(g.fiscal_cost for g in model.governments)),
        "stockpile_final": float(sum(g.stock for g in model.governments)),
        "unmet_demand": float(np.sum(rec.column("unmet_demand"))),
        "consumer_spend": float(np.sum(rec.column("consumer_spend"))),
        "recycled_share": (float(last_year(rec.column("recycled"), spy).sum() / (prod_m + prod_n))
                           if prod_m + prod_n > 0 else 0.0),
    }
    assert set(out) == set(METRICS), "metrics and abm.names.METRICS must list the same names"
    return out
