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
            price = np.asarray(rec.column(column()), dtype=float)
            # (a restricting region's price exists only while its control is in force)
            return np.where(np.isfinite(price), price, rec.column("price"))
    return rec.column("price")


def last_year(x: np.ndarray, steps_per_year: int) -> np.ndarray:
    return x[-steps_per_year:]


def mean_defined(x: np.ndarray) -> float:
    """Mean over the steps where `x` is defined (not NaN); NaN when it never is."""
    x = np.asarray(x, dtype=float)
    defined = x[np.isfinite(x)]
    return float(defined.mean()) if len(defined) else float("nan")


def price_set(prefix: str, price: np.ndarray, floor_price: np.ndarray, floor: np.ndarray,
              steps_per_year: int) -> dict[str, float]:
    """The price metrics of one market (abm.names.price_metrics): `price` per step, and the
    share of steps in which `floor_price` was below the floor in force."""
    return {
        f"{prefix}price_mean": float(np.mean(price)),
        f"{prefix}price_volatility": annualised_volatility(price, steps_per_year),
        f"{prefix}price_p05": float(np.percentile(price, 5)),
        f"{prefix}price_p95": float(np.percentile(price, 95)),
        f"{prefix}max_drawdown": max_drawdown(price),
        f"{prefix}share_below_floor": share_below_floor(floor_price, floor),
    }


def export_region_price(model) -> np.ndarray:
    """The price inside a region restricting its exports, per step; the world price in steps
    without a restriction (the region then trades at the world price). NaN throughout when
    every export control is on concentrate: the region has no product market of its own (the
    price of its withheld concentrate at home: ExportControl.home_price)."""
    rec = model.recorder
    controls = [s.stage for s in model.config.shocks if s.kind == "export_control"]
    if controls and set(controls) == {"concentrate"}:
        return np.full(rec.filled, np.nan)
    restricted = np.asarray(rec.column("export_region_price"), dtype=float)
    return np.where(np.isfinite(restricted), restricted, rec.column("price"))


def covered_risk(model) -> dict[str, float]:
    """covered_price_volatility and covered_revenue_cv (abm.names), per period of
    `report.risk_period` steps from step 0, the same in every scenario so that a policy and its
    baseline are measured alike (a CFD's top-up paid at the end of a settlement period that
    nests in these periods is counted with the sales it pays for). The price is the covered
    producers' revenue (policy payments included) over their tonnes sold, its log changes taken
    between consecutive periods in which they sold; the revenue CV is over the periods in which
    any covered producer was active (an idle period's revenue is 0)."""
    n, mf = model.recorder.filled, model.money_per_price_tonne
    if n == 0:
        return {"covered_price_volatility": 0.0, "covered_revenue_cv": 0.0}
    period = model.config.report.risk_period
    group = np.arange(n) // period

    def per_period(name: str) -> np.ndarray:
        return np.bincount(group, weights=model.realised.column(name, n))

    revenue, output = per_period("covered_revenue"), per_period("covered_output")
    price = np.divide(revenue, output * mf, out=np.full(len(revenue), np.nan),
                      where=output > 0)
    changes = np.diff(np.log(price))
    changes = changes[np.isfinite(changes)]
    volatility = (float(np.std(changes, ddof=1) * np.sqrt(model.steps_per_year / period))
                  if len(changes) >= 2 else 0.0)
    revenue = revenue[per_period("covered_capacity") > 0]
    mean = float(np.mean(revenue)) if len(revenue) else 0.0
    cv = float(np.std(revenue, ddof=1) / mean) if len(revenue) >= 2 and mean > 0 else 0.0
    return {"covered_price_volatility": volatility, "covered_revenue_cv": cv}


def market_producers(model) -> dict[str, float]:
    """Market-economy product producers' realised price and margin per tonne over the run."""
    n, mf = model.recorder.filled, model.money_per_price_tonne
    tonnes = float(model.realised.column("market_output", n).sum())
    if tonnes <= 0:
        return {"market_realised_price_mean": float("nan"), "market_margin_mean": float("nan")}
    return {"market_realised_price_mean":
            float(model.realised.column("market_revenue", n).sum()) / (tonnes * mf),
            "market_margin_mean": float(model.realised.column("market_profit", n).sum())
            / (tonnes * mf)}


def stock_value(model) -> float:
    """USD the governments' stocks would fetch at the last step's price of the market each sits
    in: its separate market's price for a government of one separate-market region (abm.regional:
    its floor's releases are offered there), the club market's price for the club's government
    (its stock is bought and offered in the club's market), the world price for any other."""
    club = model.governments.club
    restricted = model.outcome.restricted_price if hasattr(model, "outcome") else float("nan")
    regional = model.outcome.region_prices if hasattr(model, "outcome") else {}

    restricting = {model.region_index[s.region] for s in model.config.shocks
                   if s.kind == "export_control" and s.stage == "product"}

    def price_of(g) -> float:
        if len(g.regions) == 1 and g.regions[0] in regional:
            return regional[g.regions[0]]
        if g is club:
            return model.club_market_price
        # a buffer stock in a region restricting its exports sits in that region's market
        home = bool(g.regions) and set(g.regions) <= restricting
        return restricted if home and np.isfinite(restricted) else model.price

    return sum(g.stock * price_of(g) for g in model.governments.policy_makers()) \
        * model.money_per_price_tonne


def fiscal(model, cash: float, capacity_added: float) -> dict[str, float]:
    """fiscal_cost_net, fiscal_cost_npv and fiscal_cost_per_capacity (abm.names): flows at the
    end of their step, the stock valued at the end of the last step, discounted at
    report.discount_rate per year."""
    flows = np.asarray(model.recorder.column("fiscal_flow"), dtype=float)
    n, spy = len(flows), model.steps_per_year
    value = stock_value(model)
    rate = model.config.report.discount_rate
    discount = (1.0 + rate) ** (-np.arange(1, n + 1) / spy)
    net = cash - value
    return {
        "fiscal_cost_net": float(net),
        "fiscal_cost_npv": float(flows @ discount - value * (1.0 + rate) ** (-n / spy)),
        "fiscal_cost_per_capacity": float(net / capacity_added) if capacity_added > 0
        else float("nan"),
    }


def component_metrics(model) -> dict[str, float]:
    """The component stage's metrics: the club's share of component output in the last year (0
    when nothing was made) and the mean world component price; NaN without component makers."""
    if not model.components.any:
        return {"club_component_share": float("nan"), "component_price_mean": float("nan")}
    rec, spy = model.recorder, model.steps_per_year
    made = float(last_year(rec.column("component_output"), spy).sum())
    club = float(last_year(rec.column("club_component_output"), spy).sum())
    return {"club_component_share": club / made if made > 0 else 0.0,
            "component_price_mean": float(np.mean(rec.column("component_price")))}


def regional_metrics(model) -> dict[str, float]:
    """regional_price_mean and regional_price_spread (abm.names): each separate market's price
    per step (abm.regional), and that price less the world price, averaged over the steps and
    the separate markets weighted by the tonnes their buyers bought (a market, or a step, where
    they bought nothing carries no weight); NaN without separate markets or purchases in them."""
    rec = model.recorder
    columns = [c for _, c in rec.region_prices]
    nan = {"regional_price_mean": float("nan"), "regional_price_spread": float("nan")}
    if not columns or rec.filled == 0:
        return nan
    prices = np.array([rec.column(c) for c in columns])          # markets x steps
    tonnes = rec.region_bought[: rec.filled].T                     # markets x steps
    total = float(tonnes.sum())
    if not total > 0:
        return nan
    bought = tonnes > 0                          # (a market with no buyers may have no price)
    spend = np.where(bought, prices * tonnes, 0.0).sum()
    premium = np.where(bought, (prices - rec.column("price")) * tonnes, 0.0).sum()
    return {"regional_price_mean": float(spend / total),
            "regional_price_spread": float(premium / total)}


def run_metrics(model) -> dict[str, float]:
    """Every metric of abm.names.METRICS for a finished (or stopped) model run."""
    rec = model.recorder
    spy = model.steps_per_year
    price = rec.column("price")
    prod_m = last_year(rec.column("production_market"), spy).sum()
    prod_n = last_year(rec.column("production_nonmarket"), spy).sum()
    club_cons = last_year(rec.column("club_consumption"), spy).sum()
    # (with component makers club buyers buy components: reliance is on components, the club's
    # own component output against what its buyers took, not product tonnes against components)
    club_prod = last_year(rec.column("club_component_output" if model.components.any
                                     else "club_production"), spy).sum()
    reliance = (club_cons - club_prod) / club_cons if club_cons > 0 else 0.0
    floor = rec.column("floor")
    club_price = rec.column("club_price")
    region_price = export_region_price(model)
    capacity_added = model.producers.capacity_added(market_economy=True)
    cash = float(sum(g.fiscal_cost for g in model.governments.policy_makers()))
    out = {
        **price_set("", price, floor_market_price(model), floor, spy),
        "capacity_added_market": capacity_added,
        "capacity_added_nonmarket": model.producers.capacity_added(market_economy=False),
        "investment_capex": float(model.pipeline.capex),
        "projects_started": float(model.pipeline.started),
        "producer_exits": float(model.producers.exits),
        "market_economy_share": float(prod_m / (prod_m + prod_n)) if prod_m + prod_n > 0 else 0.0,
        "import_reliance": float(np.clip(reliance, 0.0, 1.0)),
        "fiscal_cost": cash,
        "stockpile_final": float(sum(g.stock for g in model.governments.policy_makers())),
        "state_outlay": float(sum(g.fiscal_cost for g in model.governments if g.state)),
        "unmet_demand": float(np.sum(rec.column("unmet_demand"))),
        "consumer_spend": float(np.sum(rec.column("consumer_spend"))),
        "recycled_share": (float(last_year(rec.column("recycled"), spy).sum() / (prod_m + prod_n))
                           if prod_m + prod_n > 0 else 0.0),
        **price_set("club_", club_price, club_price, floor, spy),
        **(price_set("export_region_", region_price, region_price, floor, spy)
           if np.isfinite(region_price).any() else   # (no product market of its own)
           dict.fromkeys(price_set("export_region_", price, price, floor, spy), np.nan)),
        **covered_risk(model),
        **market_producers(model),
        **fiscal(model, cash, capacity_added),
        "exporter_rent": float(np.sum(rec.column("exporter_rent"))),
        "transshipped": float(np.sum(rec.column("transshipped"))),
        "club_recycled_share": (float(last_year(rec.column("club_recycled"), spy).sum())
                                / club_cons if club_cons > 0 else 0.0),
        "club_scrap_price_mean": mean_defined(rec.column("club_scrap_price")),
        "private_stock_mean": float(np.mean(rec.column("private_stock"))),
        **component_metrics(model),
        **regional_metrics(model),
    }
    assert set(out) == set(METRICS), "metrics and abm.names.METRICS must list the same names"
    return out
