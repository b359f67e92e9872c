"""A synthetic results folder in the engine's exact layout (docs/architecture.md), for the report.

No model is run: plausible numbers are drawn with numpy from a fixed seed, with common random
numbers across scenarios (replication k sees the same demand shocks in every scenario), so paired
differences are tight as in real runs. The manifest and summaries are written by the engine's own
functions (abm.engine.manifest.build, abm.summary.write_summaries), so the layout cannot drift
from what `abm run` writes.

Scenarios: "baseline" (no floor), "cfd_110" (a CFD floor at 110 USD/kg: lower and calmer prices,
top-ups paid by the government, more market-economy capacity), "purchase_90" (a buffer stock
defending 90 USD/kg until its capacity is full). With `recycling=True` every scenario but the
baseline also has recyclers: 3 kt/yr of capacity from year 2, collecting more scrap at higher prices.
With `inventories=True` the club buyers of every scenario but the baseline hold 90 days of their use.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl

from abm.names import METRICS, REGION_CAPACITY_PREFIX

XSS_TITLE = "Floors <script>alert(1)</script> & \"quotes\""
REGIONS = {"US": (True, True), "EU": (True, True), "China": (False, False)}  # market, club
SCENARIOS = ("baseline", "cfd_110", "purchase_90")


QUESTION = "Do price floors <b>calm</b> prices, and at what cost?"


def config(scenarios: tuple[str, ...], replications: int, steps: int, sweep: str | None,
           samples: int, title: str, question: str = QUESTION) -> dict:
    """A valid experiment config (checked by abm.experiment) for the synthetic results."""
    overrides = {
        "baseline": {},
        "cfd_110": {"policy.floor": {"mechanism": "cfd", "level": 110.0, "covers": ["US", "EU"],
                                     "upside_share": 0.3}},
        "purchase_90": {"policy.floor": {"mechanism": "purchase", "level": 90.0,
                                         "covers": ["US", "EU"], "capacity": 50000.0}},
    }
    raw = {
        "experiment": {"name": "synthetic", "title": title, "steps": steps,
                       "replications": replications, "seed": 20260115,
                       "question": question},
        "market": {"price_unit": "USD/kg",
                   "demand": {"reference_price": 80.0, "reference_quantity": 90000.0,
                              "elasticity": -0.4, "shock_sd": 0.04, "shock_persistence": 0.9}},
        "regions": [{"name": n, "market_economy": m, "club": c} for n, (m, c) in REGIONS.items()],
        "producers": [
            {"name": "US refinery", "region": "US", "stage": "refinery", "capacity": 10000.0,
             "unit_cost": 60.0},
            {"name": "EU refinery", "region": "EU", "stage": "refinery", "capacity": 5000.0,
             "unit_cost": 65.0},
            {"name": "China refining", "region": "China", "stage": "refinery",
             "capacity": 90000.0, "unit_cost": 35.0},
        ],
        "buyers": [{"name": "Club buyers", "region": "US", "share": 0.4},
                   {"name": "Others", "region": "China", "share": 0.6}],
        "scenarios": {s: overrides[s] for s in scenarios},
    }
    if sweep is not None:
        ranges = {"market.demand.elasticity": {"low": -0.8, "high": -0.2},
                  "investment.hurdle_rate": {"low": 0.06, "high": 0.14}}
        if sweep == "grid":
            ranges = {"market.demand.elasticity": [-0.8, -0.6, -0.4, -0.2],
                      "investment.hurdle_rate": [0.06, 0.10, 0.14]}
        raw["sweep"] = {"design": sweep, "samples": samples, "parameters": ranges}
    return raw


def make_results(out: Path, *, scenarios: tuple[str, ...] = SCENARIOS, replications: int = 40,
                 steps: int = 240, sweep: str | None = None, samples: int = 8,
                 title: str = XSS_TITLE, question: str = QUESTION, failed: int = 2,
                 layout: str = "per_run", summaries: bool = True, seed: int = 7,
                 recycling: bool = False, inventories: bool = False) -> Path:
    """Write a results folder at `out` and return it.

    layout: "per_run" (one parquet per run, as while running) or "parts" (compacted parts).
    summaries: write summary/*.parquet with abm.summary (as the engine does); False leaves them
    out, so the report must compute them.
    recycling: recycled supply in every scenario but the baseline (else `recycled` is zero).
    inventories: buyers' inventories in every scenario but the baseline (else `buyer_stock` is 0).
    """
    from abm.engine import manifest as manifest_io
    from abm.experiment import experiment_from_dict

    out = Path(out)
    for sub in ("runs", "series"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    exp = experiment_from_dict(config(scenarios, replications, steps, sweep, samples, title,
                                      question))
    specs = exp.design()
    manifest = manifest_io.build(exp, specs, executor={"kind": "local", "workers": 1,
                                                       "scheduler": None})
    manifest.update(status="complete", counts={"planned": len(specs), "computed": len(specs),
                                               "reused": 0, "failed": failed})
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")

    design = pl.DataFrame([{"run_id": s.run_id, "scenario": s.scenario, "point": s.point,
                            "replication": s.replication, "seed": s.seed, **s.params}
                           for s in specs])
    runs, series = simulate(design, list(exp.scenario_names), steps, seed, recycling, inventories)
    # a few failed runs: a row with the error, no metrics, no series (as the engine writes them)
    bad = np.random.default_rng(seed + 1).choice(design.height, size=failed, replace=False)
    is_bad = pl.Series(np.isin(np.arange(design.height), bad))
    runs = runs.with_columns(
        status=pl.when(is_bad).then(pl.lit("failed")).otherwise(pl.lit("ok")),
        error=pl.when(is_bad).then(pl.lit("RuntimeError: synthetic <failure> & co")),
        traceback=pl.when(is_bad).then(pl.lit("Traceback (most recent call last): ...")),
        **{m: pl.when(is_bad).then(None).otherwise(pl.col(m)) for m in METRICS})
    bad_ids = set(runs.filter(is_bad)["run_id"].to_list())
    series = series.filter(~pl.col("run_id").is_in(list(bad_ids)))
    write(out, runs, series, layout)
    if summaries:
        from abm.summary import write_summaries

        write_summaries(out, exp.baseline)
    return out


def write(out: Path, runs: pl.DataFrame, series: pl.DataFrame, layout: str) -> None:
    if layout == "per_run":
        for (run_id,), part in runs.group_by("run_id"):
            part.write_parquet(out / "runs" / f"{run_id.replace('/', '__')}.parquet")
        for (run_id,), part in series.group_by("run_id"):
            part.drop("run_id").write_parquet(
                out / "series" / f"{run_id.replace('/', '__')}.parquet")
        return
    size = 250_000  # rows per compacted part
    runs.write_parquet(out / "runs" / "part-0.parquet")
    series = series.drop("run_id")
    for k in range(0, series.height, size):
        series.slice(k, size).write_parquet(out / "series" / f"part-{k // size}.parquet")


RECYCLING_CAPACITY = 3000.0  # t/yr of recyclers in each scenario but the baseline (recycling=True)
RECYCLING_START = 24  # step the recyclers start
INVENTORY_COVER = 3  # steps (90 days) of club use held by club buyers (inventories=True)
INVENTORY_ADJUST = 0.25  # share of the gap to the target closed in a step


def simulate(design: pl.DataFrame, scenarios: list[str], steps: int, seed: int,
             recycling: bool = False,
             inventories: bool = False) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Plausible series and metrics for every run of the design, vectorised over runs."""
    n = design.height
    rep = design["replication"].to_numpy()
    scen = np.array([scenarios.index(s) for s in design["scenario"]])
    rng = np.random.default_rng(seed)
    n_rep = int(rep.max()) + 1
    # common random numbers: one AR(1) demand-shock path per replication, shared by scenarios
    eps = rng.standard_normal((n_rep, steps))
    z = np.zeros_like(eps)
    for t in range(1, steps):
        z[:, t] = 0.9 * z[:, t - 1] + 0.44 * eps[:, t]
    z = z[rep]
    elasticity = (design["market.demand.elasticity"].to_numpy()
                  if "market.demand.elasticity" in design.columns else np.full(n, -0.4))
    hurdle = (design["investment.hurdle_rate"].to_numpy()
              if "investment.hurdle_rate" in design.columns else np.full(n, 0.10))
    sigma = 0.22 * np.sqrt(0.4 / np.abs(elasticity))[:, None]
    name = np.array(scenarios)[scen]
    is_cfd = (name == "cfd_110")[:, None]
    is_buy = (name == "purchase_90")[:, None]
    free = 80.0 * np.exp(sigma * z)
    price = np.where(is_cfd, 70.0 * np.exp(0.75 * sigma * z), free)

    # buffer stock: buys while the free price is below 90 and the store is not full
    buy = np.where(is_buy & (free < 90.0), (90.0 - free) / 90.0 * 4000.0, 0.0)
    stock = np.minimum(np.cumsum(buy, axis=1), 50000.0)
    defending = is_buy & (np.cumsum(buy, axis=1) <= 50000.0)
    bought = np.diff(stock, axis=1, prepend=0.0)
    price = np.where(defending, np.maximum(price, 90.0), price)
    floor = np.where(is_cfd, 110.0, np.where(is_buy, 90.0, np.nan))

    # investment: projects of 5 kt/yr coming online at random steps; more under a floor
    k_max = 6
    lam = np.where(name == "cfd_110", 3.0, np.where(name == "purchase_90", 1.6, 1.0))
    lam = lam * (0.10 / hurdle)
    n_proj = np.minimum(rng.poisson(lam), k_max)
    online = rng.integers(36, steps + 60, size=(n, k_max))
    region = rng.integers(0, 2, size=(n, k_max))  # 0 US, 1 EU
    live = np.arange(k_max)[None, :] < n_proj[:, None]
    t = np.arange(steps)[None, :, None]
    arrived = (online[:, None, :] <= t) & live[:, None, :]
    us = 10000.0 + 5000.0 * (arrived & (region[:, None, :] == 0)).sum(axis=2)
    eu = 5000.0 + 5000.0 * (arrived & (region[:, None, :] == 1)).sum(axis=2)
    china = 90000.0 + 1500.0 * (np.arange(steps)[None, :] // 60) * (1 + (rep[:, None] % 3))
    cap_market = us + eu

    demand = 90000.0 / 12 * (price / 80.0) ** elasticity[:, None] * np.exp(0.04 * z)
    production_market = np.minimum(cap_market / 12, demand * cap_market / (cap_market + china))
    production_market = np.where(is_cfd, np.minimum(cap_market / 12, production_market * 1.3),
                                 production_market)
    # recyclers (market-economy supply, no random draws: results without them are unchanged)
    recycled = np.zeros((n, steps))
    if recycling:
        scrap = 0.8 * RECYCLING_CAPACITY / 12 * np.sqrt(price / 80.0)
        running = (name != "baseline")[:, None] & (np.arange(steps) >= RECYCLING_START)[None, :]
        recycled = np.where(running, np.minimum(RECYCLING_CAPACITY / 12, scrap), 0.0)
    production_market = production_market + recycled
    production_nonmarket = np.maximum(demand + bought - production_market, 0.0)
    consumption = demand
    club_consumption = 0.4 * consumption
    club_production = production_market
    # buyers' safety stocks: start at the target (cover x use), close a share of the gap a step;
    # no random draws and no feedback on the other series (results without them are unchanged)
    buyer_stock = np.zeros((n, steps))
    if inventories:
        target = np.where((name != "baseline")[:, None], INVENTORY_COVER * club_consumption, 0.0)
        buyer_stock[:, 0] = target[:, 0]
        for k in range(1, steps):
            buyer_stock[:, k] = buyer_stock[:, k - 1] + INVENTORY_ADJUST * (
                target[:, k] - buyer_stock[:, k - 1])
    covered = production_market * 1000.0  # kg per step of covered (club) output
    fiscal = np.where(is_cfd, np.where(price < 110.0, (110.0 - price) * covered,
                                       -0.3 * (price - 110.0) * covered), 0.0)
    fiscal = fiscal + bought * 1000.0 * 90.0
    spend = price * consumption * 1000.0
    years = steps / 12

    keys = design.select("run_id", "scenario", "point", "replication")
    cols = {
        "price": price, "club_price": price, "floor": floor,
        "concentrate_price": np.full((n, steps), np.nan),
        "demand": demand, "consumption": consumption, "production_market": production_market,
        "production_nonmarket": production_nonmarket, "club_consumption": club_consumption,
        "club_production": club_production, "government_stock": stock, "fiscal_flow": fiscal,
        "unmet_demand": np.zeros((n, steps)), "consumer_spend": spend,
        "capacity_market": cap_market, "capacity_nonmarket": china,
        "demand_shock": np.exp(0.04 * z), "recycled": recycled,
        "buyer_stock": buyer_stock,
        REGION_CAPACITY_PREFIX + "US": us, REGION_CAPACITY_PREFIX + "EU": eu,
        REGION_CAPACITY_PREFIX + "China": china,
    }
    series = keys.select(pl.all().repeat_by(steps).explode()).with_columns(
        step=pl.Series(np.tile(np.arange(steps), n)),
        **{c: pl.Series(np.broadcast_to(v, (n, steps)).reshape(-1)) for c, v in cols.items()})
    series = series.with_columns(pl.col("floor").fill_nan(None),
                                 pl.col("concentrate_price").fill_nan(None))

    last = slice(max(steps - 12, 0), steps)
    logret = np.diff(np.log(price), axis=1)
    peak = np.maximum.accumulate(price, axis=1)
    with np.errstate(invalid="ignore"):
        below = np.where(np.isnan(floor), 0.0, price < floor).mean(axis=1)
    metrics = {
        "price_mean": price.mean(axis=1),
        "price_volatility": logret.std(axis=1, ddof=1) * np.sqrt(12),
        "price_p05": np.percentile(price, 5, axis=1),
        "price_p95": np.percentile(price, 95, axis=1),
        "max_drawdown": ((peak - price) / peak).max(axis=1),
        "share_below_floor": below,
        "capacity_added_market": cap_market[:, -1] - 15000.0,
        "capacity_added_nonmarket": china[:, -1] - 90000.0,
        "investment_capex": n_proj * 5000.0 * 30000.0,
        "projects_started": n_proj.astype(float),
        "producer_exits": rng.poisson(0.3, n).astype(float),
        "market_economy_share": production_market[:, last].sum(1) / (
            production_market[:, last].sum(1) + production_nonmarket[:, last].sum(1)),
        "import_reliance": np.clip(1 - club_production[:, last].sum(1)
                                   / club_consumption[:, last].sum(1), 0, 1),
        "fiscal_cost": fiscal.sum(axis=1),
        "stockpile_final": stock[:, -1],
        "unmet_demand": np.zeros(n),
        "consumer_spend": spend.sum(axis=1),
        "recycled_share": recycled[:, last].sum(1) / (
            production_market[:, last].sum(1) + production_nonmarket[:, last].sum(1)),
    }
    # the club pays the world price here (no MIP or tariff), no region restricts its exports
    for prefix in ("club_", "export_region_"):
        metrics.update({prefix + k: metrics[k] for k in (
            "price_mean", "price_volatility", "price_p05", "price_p95", "max_drawdown",
            "share_below_floor")})
    # covered (club) producers realise the price plus the CFD's net payment per kg
    realised = price + np.divide(fiscal - bought * 1000.0 * 90.0, covered,
                                 out=np.zeros_like(price), where=covered > 0)
    revenue = realised * covered
    stock_value = stock[:, -1] * price[:, -1] * 1000.0
    discount = 1.035 ** (-np.arange(1, steps + 1) / 12)
    metrics.update({
        "covered_price_volatility": np.diff(np.log(realised), axis=1).std(axis=1, ddof=1)
        * np.sqrt(12),
        "covered_revenue_cv": revenue.std(axis=1, ddof=1) / revenue.mean(axis=1),
        "market_realised_price_mean": revenue.sum(1) / (production_market.sum(1) * 1000.0),
        "market_margin_mean": revenue.sum(1) / (production_market.sum(1) * 1000.0) - 45.0,
        "fiscal_cost_net": fiscal.sum(axis=1) - stock_value,
        "fiscal_cost_npv": fiscal @ discount - stock_value * 1.035 ** (-steps / 12),
        "exporter_rent": np.zeros(n),
        "transshipped": np.zeros(n),
        "state_outlay": np.zeros(n),
    })
    added = metrics["capacity_added_market"]
    metrics["fiscal_cost_per_capacity"] = np.where(
        added > 0, metrics["fiscal_cost_net"] / np.where(added > 0, added, 1.0), np.nan)
    metrics["club_recycled_share"] = np.zeros(n)      # (no recyclers here)
    metrics["club_scrap_price_mean"] = np.full(n, np.nan)     # (no traded scrap)
    metrics["private_stock_mean"] = np.zeros(n)       # (no private stockholders here)
    # (no component makers here: the component stage's metrics are NaN, as a run records them)
    metrics["club_component_share"] = np.full(n, np.nan)
    metrics["component_price_mean"] = np.full(n, np.nan)
    # (no separate markets here: the regional price metrics are NaN, as a run records them)
    metrics["regional_price_mean"] = np.full(n, np.nan)
    metrics["regional_price_spread"] = np.full(n, np.nan)
    del years
    params = [c for c in design.columns if "." in c]
    runs = design.select("run_id", "scenario", "point", "replication", "seed").with_columns(
        status=pl.lit("ok"), error=pl.lit(None, pl.String), traceback=pl.lit(None, pl.String),
        duration_s=pl.lit(0.5)).with_columns(
        *[design[p] for p in params], **{m: pl.Series(metrics[m]) for m in METRICS})
    return runs, series
