"""The validation claims: each builds a small purpose-made scenario, runs the model (seeded) and
judges the outcome against an analytic result or a historical episode.

Every claim is a function returning a `ClaimResult`; `CLAIMS` lists them in page order. Runs are
split from judgements (`judge_*`) so tests can show that a judgement fails on output that does
not have the claimed property. Tolerances are stated, with their reason, where they are used.

Units: prices in the scenario's price unit (USD/kg unless a claim says USD/t); quantities in
tonnes per step (monthly steps); money in USD. Numbers marked ASSUMPTION are modelling choices;
the others cite docs/sources.md (the project's sourced facts, with their addresses).
"""

from __future__ import annotations

import numpy as np

from abm.investment import trigger_price
from abm.validation import stockholders
from abm.validation.base import (
    Check,
    ClaimResult,
    Plot,
    lag1_autocorrelation,
    paired_gain,
    pct,
    rel_close,
    run_model,
    skewness,
)
from abm.validation.episodes import antimony, cobalt, dysprosium, gallium

# Floating-point tolerance for quantities the model computes exactly (merit-order prices,
# accounting identities): relative 1e-9 leaves room for summation order only.
EXACT = 1e-9


def _raw(name: str, steps: int, demand: dict, regions: list, producers: list, buyers: list,
         price_unit: str = "USD/kg", **tables) -> dict:
    """A raw experiment dict (the TOML structure) for the scenarios below."""
    raw = {"experiment": {"name": name, "steps": steps, "seed": 1},
           "market": {"price_unit": price_unit, "demand": demand},
           "regions": regions, "producers": producers, "buyers": buyers}
    raw.update(tables)
    return raw


def _refinery(name: str, region: str, capacity: float, unit_cost: float) -> dict:
    return {"name": name, "region": region, "stage": "refinery", "capacity": capacity,
            "unit_cost": unit_cost}


def _listed(x) -> list:
    """A series as a JSON-friendly list (NaN -> None)."""
    return [None if not np.isfinite(v) else float(v) for v in np.asarray(x, dtype=float)]


# ================================================================================================
# 1. merit-order curtailment
# ================================================================================================

MERIT_COSTS = np.arange(20.0, 80.0, 3.0)     # USD/kg: 20 producers, one every 3 USD/kg (ASSUMPTION)
MERIT_CAPACITY = 1200.0                      # t/yr each (ASSUMPTION)
MERIT_STEPS = 48


def merit_config() -> dict:
    """A downturn: demand shrinks 30% a year for four years (with small AR(1) noise)."""
    producers = [_refinery(f"Producer {i + 1:02d}", "Market", MERIT_CAPACITY, float(c))
                 for i, c in enumerate(MERIT_COSTS)]
    demand = {"reference_price": 70.0, "reference_quantity": 0.97 * MERIT_CAPACITY * len(MERIT_COSTS),
              "elasticity": -0.5, "growth": -0.3, "shock_sd": 0.02, "shock_persistence": 0.5}
    return _raw("merit_order", MERIT_STEPS, demand, [{"name": "Market"}], producers,
                [{"name": "Buyers", "region": "Market", "share": 1.0}])


def merit_order_curtailment(seed: int = 11) -> ClaimResult:
    model, output = run_model(merit_config(), seed, record_output=True)
    return judge_merit(model.series()["price"].to_numpy(), output, MERIT_COSTS,
                        MERIT_CAPACITY / model.steps_per_year)


def judge_merit(price: np.ndarray, output: np.ndarray, costs: np.ndarray,
                 capacity: float) -> ClaimResult:
    """`output[t, i]`: tonnes producer i sold in step t; `costs[i]` its cash cost."""
    order = np.argsort(costs)
    running = output > 1e-9 * capacity
    # dispatch: below the price every producer runs flat out, above it none runs (exact, up to
    # floating point; abm.market.clear dispatches offers at the price pro rata)
    tol = EXACT * price[:, None]
    below = costs[None, :] < price[:, None] - tol
    above = costs[None, :] > price[:, None] + tol
    full = output >= capacity * (1 - EXACT)
    merit_ok = bool(np.all(full[below]) and not np.any(running[above]))
    # the step each producer first idles (never: the horizon)
    idle = np.where((~running).any(axis=0), np.argmax(~running, axis=0), len(price))
    idle_sorted = idle[order]
    idle_ok = bool(np.all(np.diff(idle_sorted) <= 0))      # costlier never idles later
    n_idled = int((idle < len(price)).sum())
    # the marginal surviving producer in each step of the final year and the price above it
    step = float(np.min(np.diff(np.sort(costs))))
    last = slice(len(price) - 12, len(price))
    marginal = np.array([costs[running[t]].max() for t in range(len(price))[last]])
    gap = price[last] - marginal
    near_ok = bool(np.all(gap >= -EXACT * marginal) and np.all(gap <= step * (1 + EXACT)))
    checks = [
        Check("dispatch", "Every step, producers with cash cost below the price run at capacity and "
              "those above it sell nothing (exact up to floating point)", merit_ok,
              f"{len(price)} steps x {len(costs)} producers"),
        Check("idle_order", "Higher-cost capacity idles first: a costlier producer never idles "
              "later than a cheaper one, and the downturn idles at least 5 producers", idle_ok
              and n_idled >= 5, f"{n_idled} producers idled; first-idle steps by rising cost: "
              f"{idle_sorted.tolist()}"),
        Check("price_near_marginal_cost", "In the final year the price lies between the cash cost "
              f"of the marginal running producer and one cost step ({step:g}) above it: the "
              "resolution of the cost curve, since on a vertical segment of the merit order the "
              "price sits between the marginal ask and the next", near_ok,
              f"gap to marginal cost {gap.min():.3g} to {gap.max():.3g}, mean "
              f"{float(np.mean(gap / marginal)):.2%} of it"),
    ]
    all_marginal = np.array([costs[running[t]].max() if running[t].any() else np.nan
                             for t in range(len(price))])
    steps = list(range(len(price)))
    return ClaimResult(
        "merit_order", "Merit-order curtailment in a downturn",
        "Standard merit-order (cost-curve) economics; docs/sources.md: lithium 2024, high-cost mines (Mt "
        "Cattlin, Bald Hill) mothballed first",
        "In a downturn the highest-cost capacity idles first and the price settles near the cash "
        "cost of the marginal surviving capacity.",
        {"producers idled": n_idled, "price at start (USD/kg)": float(price[0]),
         "price at end (USD/kg)": float(price[-1]),
         "marginal cash cost at end (USD/kg)": float(marginal[-1]),
         "mean gap price - marginal cost, final year (share)": float(np.mean(gap / marginal))},
        checks,
        Plot("Price and the marginal running producer's cash cost", "month", "USD/kg",
             {"price": (steps, _listed(price)), "marginal cash cost": (steps, _listed(all_marginal))},
             y2_label="producers running",
             lines2={"producers running": (steps, running.sum(axis=1).tolist())}))


# ================================================================================================
# 2. buffer-stock floor with a finite budget: the 1985 tin collapse
# ================================================================================================

USD_PER_GBP_1985 = 1.30           # ASSUMPTION (as experiments/tin_1985.toml)
TIN_FLOOR = 8140.0 * USD_PER_GBP_1985   # USD/t: LME tin at suspension, GBP 8,140/t (docs/sources.md)
TIN_BUDGET = 900e6 * USD_PER_GBP_1985   # USD: ~GBP 900m of loans (docs/sources.md)
TIN_RATIO = 0.40                  # free price / pre-collapse level (docs/sources.md: Anderson & Gilbert 1988)
# "about 40%": GBP 3,250 / 8,140 = 0.40 at the mid-1986 low; +-5 points covers the rounding of
# the historical figure (the model's ratio is set by the cost curve, not fitted to it)
TIN_RATIO_TOL = 0.05
TIN_UNDEFENDED = 4233.0           # USD/t: cost of the marginal member tranche (ASSUMPTION, = 0.40 F)
TIN_STEPS = 36
TIN_SEEDS = (1, 2, 3, 4)


def tin_config(defended: bool = True) -> dict:
    """ITA members' mines (covered) and a non-member fringe (Brazil, China: not covered).
    Capacities and costs are ASSUMPTIONS built so the undefended price is ~40% of the floor."""
    producers = [_refinery("Members low-cost", "ITA members", 120000, 2500.0),
                 _refinery("Members mid-cost", "ITA members", 110000, TIN_UNDEFENDED),
                 _refinery("Members high-cost", "ITA members", 50000, 7000.0),
                 _refinery("Non-members", "Non-members", 40000, 3000.0)]
    demand = {"reference_price": TIN_UNDEFENDED, "reference_quantity": 200000, "elasticity": -0.3,
              "shock_sd": 0.03, "shock_persistence": 0.8}        # ASSUMPTIONS
    raw = _raw("tin", TIN_STEPS, demand, [{"name": "ITA members", "club": True},
                                          {"name": "Non-members"}],
               producers, [{"name": "Tin users", "region": "Non-members", "share": 1.0}],
               price_unit="USD/t")
    if defended:
        # buy_from = "covered" (members' output bought at the floor): the checks below are the
        # accounting of that defence (the whole budget spent at F, the stock growing by S(F) -
        # D(F)); experiments/tin_1985.toml runs the open-market buffer stock ("any"), which
        # holds the same price until its money can no longer buy at F
        raw["policy"] = {"floor": {"mechanism": "purchase", "level": TIN_FLOOR,
                                   "covers": ["ITA members"], "budget": TIN_BUDGET}}
    return raw


def tin_collapse(seeds=TIN_SEEDS) -> ClaimResult:
    runs = [(run_model(tin_config(True), s).series(accounts=True),
             run_model(tin_config(False), s).series()) for s in seeds]
    return judge_tin(runs)


def judge_tin(runs: list) -> ClaimResult:
    """`runs`: (defended series with accounts, free-market series) per seed."""
    held, stocked, spent, fell, ratios, collapse, stock_end = [], [], [], [], [], [], []
    for defended, free in runs:
        price = defended["price"].to_numpy()
        spend = np.cumsum(defended["gov_purchase_spend"].to_numpy())
        done = np.flatnonzero(spend >= TIN_BUDGET * (1 - EXACT))
        k = int(done[0]) if len(done) else len(price)
        collapse.append(k)
        spent.append(spend[-1] / TIN_BUDGET)
        held.append(rel_close(price[:k], TIN_FLOOR))
        stock = defended["government_stock"].to_numpy()
        bought = defended["gov_purchases"].to_numpy()
        surplus = defended["production"].to_numpy() - defended["consumption"].to_numpy()
        stocked.append(bool(np.all(bought[:k] > 0)) and rel_close(bought[:k], surplus[:k], 1e-6)
                       and rel_close(np.diff(stock[: k + 1]), bought[1: k + 1], 1e-6))
        stock_end.append(stock[-1])
        after = slice(k + 1, len(price))
        fell.append(k + 1 < len(price) and rel_close(price[after], free["price"].to_numpy()[after]))
        ratios.append(float(np.mean(price[k + 1: k + 13]) / TIN_FLOOR) if k + 1 < len(price)
                      else np.nan)
    ratio = float(np.mean(ratios))
    checks = [
        Check("held_at_floor", "While money remains the price is held exactly at the floor",
              all(held), f"{sum(held)} of {len(runs)} runs"),
        Check("stock_accumulates", "While the floor binds the stock grows each month by supply at "
              "the floor minus demand at the floor, S(F) - D(F) (relative 1e-6)", all(stocked),
              f"{sum(stocked)} of {len(runs)} runs; final stock {np.mean(stock_end):,.0f} t"),
        Check("budget_exhausted", "The whole budget is spent within the run", all(
              abs(s - 1) < 1e-6 for s in spent), f"spent {min(spent):.4f}-{max(spent):.4f} of it; "
              f"money gone in month {min(collapse)}-{max(collapse)}"),
        Check("falls_to_undefended", "After the money is gone the price equals the undefended "
              "(free-market) price of the same seed every month", all(fell),
              f"{sum(fell)} of {len(runs)} runs"),
        Check("size_of_fall", f"The fall matches the tin collapse: price in the year after / floor "
              f"= {TIN_RATIO:.2f} +- {TIN_RATIO_TOL:.2f}", bool(abs(ratio - TIN_RATIO)
                                                                 <= TIN_RATIO_TOL),
              f"model {ratio:.3f}; tin 1985-86 {TIN_RATIO:.2f}"),
    ]
    defended, free = runs[0]
    steps = list(range(len(defended)))
    return ClaimResult(
        "tin_collapse", "A buffer-stock floor with a finite budget collapses (tin, 1985)",
        "Salant (1983); International Tin Agreement collapse, 24 Oct 1985 (Anderson & Gilbert, "
        "Economic Journal 1988; docs/sources.md)",
        "A floor above the long-run price defended by a finite stock: stock accumulates, the budget "
        "is exhausted, the price falls back to the undefended level; tin's free price fell to "
        "about 40% of the defended level.",
        {"floor (USD/t)": TIN_FLOOR, "budget (USD)": TIN_BUDGET,
         "month the money ran out (mean)": float(np.mean(collapse)),
         "stock at collapse (t, mean)": float(np.mean(stock_end)),
         "price after / floor (model)": ratio, "price after / floor (tin 1985-86)": TIN_RATIO},
        checks,
        Plot("Tin-like buffer stock (first seed)", "month", "USD/t",
             {"defended price": (steps, _listed(defended["price"])),
              "free-market price": (steps, _listed(free["price"]))},
             y2_label="buffer stock (t)",
             lines2={"buffer stock": (steps, _listed(defended["government_stock"]))},
             hlines={"floor": TIN_FLOOR}))


# ================================================================================================
# 3. export control by a dominant producer
# ================================================================================================

EC_START, EC_DURATION, EC_ANNOUNCE, EC_STEPS = 18, 12, 15, 36
EC_CUTS = (0.3, 0.5, 0.7)        # share of exports withheld (ASSUMPTIONS spanning mild to severe)
EC_HEADLINE_CUT = 0.3            # the cut shown beside antimony's numbers
EC_FRONT_RUN = 0.3               # importers buy 30% of a month's demand ahead each month (ASSUMPTION)
# a surge must be material, not rounding: exports up by more than 10% over their pre-announcement
# level (gallium, July 2023: +372% m/m; the model's size depends on front_run, a free parameter)
EC_SURGE_MIN = 0.10
ANTIMONY = {"Europe": 0.573, "China": -0.105}   # docs/sources.md: price change since the Sept 2024 controls


def export_control_config(cut: float, announce: int | None = None,
                          front_run: float = 0.0) -> dict:
    """Antimony-like market in USD/t: China dominant and low-cost (non-market), a small high-cost
    European industry (club) and the rest of the world. Costs, capacities and shares: ASSUMPTIONS."""
    producers = [_refinery("China 1", "China", 60000, 8000.0),
                 _refinery("China 2", "China", 40000, 11000.0),
                 _refinery("China 3", "China", 20000, 14000.0),
                 _refinery("Europe", "Europe", 5000, 15000.0),
                 _refinery("Rest of world", "RoW", 15000, 12500.0)]
    shock = {"kind": "export_control", "region": "China", "start": EC_START,
             "duration": EC_DURATION, "cut": cut, "front_run": front_run}
    if announce is not None:
        shock["announce"] = announce
    return _raw("export_control", EC_STEPS,
                {"reference_price": 12000.0, "reference_quantity": 120000, "elasticity": -0.3},
                [{"name": "China", "market_economy": False}, {"name": "Europe", "club": True},
                 {"name": "RoW"}], producers,
                [{"name": "China users", "region": "China", "share": 0.55},
                 {"name": "European users", "region": "Europe", "share": 0.20},
                 {"name": "Other users", "region": "RoW", "share": 0.25}],
                price_unit="USD/t", shocks=[shock])


def export_control(cuts=EC_CUTS) -> ClaimResult:
    """Deterministic runs (no demand shocks): price effects are exact before/after comparisons."""
    runs = {cut: run_model(export_control_config(cut), 1) for cut in cuts}
    announced = run_model(export_control_config(EC_HEADLINE_CUT, EC_ANNOUNCE, EC_FRONT_RUN), 1)
    return judge_export_control(runs, announced)


def judge_export_control(runs: dict, announced) -> ClaimResult:
    window = slice(EC_START, EC_START + EC_DURATION)
    moves = {}
    for cut, model in runs.items():
        s = model.series()
        before = float(s["price"][EC_START - 1])
        china = float(np.mean(s["export_region_price"].to_numpy()[window])) / before - 1
        club = float(np.mean(s["club_price"].to_numpy()[window])) / before - 1
        moves[cut] = (china, club)
    china_ok = all(m[0] < 0 for m in moves.values())
    club_ok = all(m[1] > 0 for m in moves.values())
    asym_ok = all(m[1] > -m[0] for m in moves.values())
    exports = announced.region_net_exports[:, announced.region_index["China"]]
    normal = float(np.mean(exports[EC_ANNOUNCE - 12: EC_ANNOUNCE]))
    ahead = float(np.mean(exports[EC_ANNOUNCE: EC_START]))
    surge = ahead / normal - 1 if normal > 0 else 0.0
    during = float(np.mean(exports[window])) / normal - 1 if normal > 0 else 0.0
    detail = "; ".join(f"cut {c:.0%}: China {pct(m[0])}, club {pct(m[1])}" for c, m in moves.items())
    checks = [
        Check("restricting_price_falls", "The restricting region's domestic price falls during the "
              "control (every cut tried)", china_ok, detail),
        Check("club_price_rises", "The club's price rises during the control (every cut tried)",
              club_ok, detail),
        Check("club_rise_exceeds_china_fall", "The club's rise exceeds the restricting region's fall "
              f"(antimony: Europe {pct(ANTIMONY['Europe'])}, China {pct(ANTIMONY['China'])})",
              asym_ok, detail),
        Check("exports_surge_before_deadline", "Announced three months ahead (front_run "
              f"{EC_FRONT_RUN}), the restricting region's exports rise by more than "
              f"{EC_SURGE_MIN:.0%} before the deadline, then fall once it bites", surge > EC_SURGE_MIN
              and during < 0, f"exports before the deadline {pct(surge)}, during the control "
              f"{pct(during)} (gallium July 2023: +372% m/m)"),
    ]
    s = announced.series()
    steps = list(range(len(s)))
    mid = moves.get(EC_HEADLINE_CUT, next(iter(moves.values())))
    return ClaimResult(
        "export_control", "Export control by a dominant producer",
        "docs/sources.md: antimony controls from 15 Sep 2024 (Europe +57.3%, China -10.5%); gallium and "
        "germanium controls announced 3 Jul 2023, effective 1 Aug 2023 (July exports +372% m/m)",
        "The restricting region's price falls while the club's rises; with an announcement lead, "
        "exports surge before the deadline.",
        {f"China price change, cut {EC_HEADLINE_CUT:.0%}": mid[0],
         f"club price change, cut {EC_HEADLINE_CUT:.0%}": mid[1],
         "China price change, antimony": ANTIMONY["China"],
         "Europe price change, antimony": ANTIMONY["Europe"],
         "export surge before the deadline (share)": surge},
        checks,
        Plot(f"Announced export control, {EC_HEADLINE_CUT:.0%} cut", "month", "USD/t",
             {"club (and world) price": (steps, _listed(s["club_price"])),
              "price inside China": (steps, _listed(s["export_region_price"]))},
             y2_label="China net exports (t/month)",
             lines2={"China net exports": (steps, _listed(exports))},
             vlines={"announced": EC_ANNOUNCE, "in force": EC_START}),
        notes=["The cuts and China's cost curve are assumptions; the checks are directions and the "
               "asymmetry, which hold for every cut tried, not the antimony magnitudes."])


# ================================================================================================
# 4. investment threshold: the NdPr pipeline against Benchmark's incentive prices
# ================================================================================================

# The ex-China pipeline and investment settings of experiments/baseline.toml (a test checks they
# agree): (name, region, capacity t/yr, unit cost USD/kg); capex 60,000 USD per t/yr, 60 months;
# fixed cost 3,000 USD per t/yr (3 USD/kg: ASSUMPTION, Lynas's ratio), so unit cost + 3 + capex
# annuity is each project's incentive price.
NDPR_PIPELINE = [("Pipeline A", "Australia", 4000, 49.4), ("Pipeline B", "US", 5000, 55.4),
                 ("Pipeline C", "EU", 3000, 59.4), ("Pipeline D", "Australia", 4000, 63.4),
                 ("Pipeline E", "US", 4000, 67.4), ("Pipeline F", "Japan", 3000, 71.4),
                 ("Pipeline G", "EU", 3000, 82.4)]
NDPR_CAPEX, NDPR_LEAD = 60000.0, 60
NDPR_FIXED_PER_T = 3000.0                  # USD/yr per t/yr of capacity
NDPR_INVESTMENT = {"rule": "npv", "hurdle_rate": 0.15, "volatility_premium": 0.10,
                   "volatility_prior": 0.35, "expectation_halflife": 24, "project_life": 20,
                   "review_every": 3}
NDPR_LEVELS = (54.0, 75.0, 80.0, 85.0)     # USD/kg held; Benchmark's thresholds (docs/sources.md)
NDPR_CFD = 110.0                           # USD/kg: DoD-MP floor (docs/sources.md)
NDPR_CFD_MARKET = 60.0                     # USD/kg: market held below the floor (~63 at signing)
NDPR_STEPS = 120                           # ten years of monthly reviews
# Benchmark shares are rounded ("~40%", "~15%") and the pipeline has 7 projects of >= 11.5% of
# its capacity each, so a share cannot match closer than about half a project: +-6 points
BENCHMARK_TOL = 0.06
CLUB = ["US", "Australia", "Japan", "EU"]


def ndpr_config(level: float, cfd: float | None = None, cost_shift: float = 0.0) -> dict:
    """The price is held at `level`: a non-market producer with spare capacity at that cash cost
    is marginal whatever is built (deterministic demand)."""
    projects = [{"name": n, "region": r, "capacity": c, "unit_cost": u + cost_shift,
                 "capex": NDPR_CAPEX, "lead_time": NDPR_LEAD, "fixed_cost": NDPR_FIXED_PER_T * c}
                for n, r, c, u in NDPR_PIPELINE]
    raw = _raw("ndpr_threshold", NDPR_STEPS,
               {"reference_price": level, "reference_quantity": 80000, "elasticity": -0.4},
               [{"name": "China", "market_economy": False}] + [{"name": r, "club": True}
                                                               for r in CLUB],
               [_refinery("China (price setter)", "China", 200000, level)],
               [{"name": "Magnets China", "region": "China", "share": 0.6},
                {"name": "Magnets club", "region": "Japan", "share": 0.4}],
               investment={**NDPR_INVESTMENT, "projects": projects})
    if cfd is not None:
        raw["policy"] = {"floor": {"mechanism": "cfd", "level": cfd, "covers": CLUB,
                                   "upside_share": 0.3, "settlement": 3}}
    return raw


def incentive_prices() -> np.ndarray:
    """Each project's NPV trigger at zero volatility (USD/kg): its incentive price for a 15%
    return, as abm.investment.trigger_price computes it."""
    inv = NDPR_INVESTMENT
    return np.array([trigger_price(u + NDPR_FIXED_PER_T / 1000.0, NDPR_CAPEX / 1000.0,
                                   inv["hurdle_rate"], 0.0, inv["rule"],
                                   inv["volatility_premium"], inv["project_life"])
                     for _, _, _, u in NDPR_PIPELINE])


def investment_threshold(cost_shift: float = 0.0) -> ClaimResult:
    held = {lv: run_model(ndpr_config(lv, cost_shift=cost_shift), 1) for lv in NDPR_LEVELS}
    cfd = run_model(ndpr_config(NDPR_CFD_MARKET, NDPR_CFD, cost_shift), 1)
    return judge_threshold(held, cfd)


def _started(model) -> tuple[int, float]:
    """Projects started and their share of the pipeline's capacity."""
    cap = sum(d.project.capacity for d in model.developers)
    done = [d for d in model.developers if d.started_step is not None]
    return len(done), sum(d.project.capacity for d in done) / cap


def judge_threshold(held: dict, cfd) -> ClaimResult:
    capacity = np.array([c for _, _, c, _ in NDPR_PIPELINE], dtype=float)
    trig = incentive_prices()
    share = lambda sel: float(capacity[sel].sum() / capacity.sum())  # noqa: E731
    below54, band, above85 = share(trig <= 54), share((trig >= 75) & (trig <= 85)), share(trig > 85)
    n = {lv: _started(m) for lv, m in held.items()}
    n_cfd = _started(cfd)
    levels = sorted(n)
    lo, hi = levels[0], levels[-1]
    counts = [n[lv][0] for lv in levels]
    n_projects = len(NDPR_PIPELINE)
    checks = [
        Check("pipeline_matches_benchmark", "At zero volatility the pipeline's incentive prices "
              "give Benchmark's shares: none at 54, ~40% in 75-85, ~15% above 85 (+-6 points)",
              below54 == 0 and abs(band - 0.40) <= BENCHMARK_TOL
              and abs(above85 - 0.15) <= BENCHMARK_TOL,
              f"capacity share: <=54 {below54:.0%}, 75-85 {band:.0%}, >85 {above85:.0%}"),
        Check("none_at_54", f"Held at {lo:g} USD/kg for ten years, no project starts",
              n[lo][0] == 0, f"{n[lo][0]} started"),
        Check("more_through_75_85", "More projects start as the held price rises through 75-85 "
              "USD/kg (never fewer at a higher price; more at 85 than at 75 and at 75 than at 54)",
              bool(np.all(np.diff(counts) >= 0)) and n[75.0][0] > n[lo][0]
              and n[hi][0] > n[75.0][0],
              ", ".join(f"{lv:g}: {c}" for lv, c in zip(levels, counts, strict=True))),
        Check("most_under_cfd", f"Under a binding {NDPR_CFD:g} USD/kg CFD floor (market held at "
              f"{NDPR_CFD_MARKET:g}) most projects start: more than half of them and of the "
              "pipeline's capacity", n_cfd[0] > n_projects / 2 and n_cfd[1] > 0.5,
              f"{n_cfd[0]} of {n_projects} ({n_cfd[1]:.0%} of capacity)"),
    ]
    labels = [f"held at {lv:g}" for lv in levels] + [f"CFD {NDPR_CFD:g}, market {NDPR_CFD_MARKET:g}"]
    produced = {f"projects started, price held at {lv:g} USD/kg": float(n[lv][0]) for lv in levels}
    produced |= {f"capacity share started at {hi:g} USD/kg": n[hi][1],
                 f"projects started under the {NDPR_CFD:g} USD/kg CFD": float(n_cfd[0]),
                 "pipeline capacity share with an incentive price up to 85 USD/kg": 1 - above85}
    return ClaimResult(
        "investment_threshold", "Investment threshold: the NdPr pipeline",
        "Benchmark Mineral Intelligence incentive prices (~Q1 2024; docs/sources.md); DoD-MP 110 USD/kg "
        "floor (July 2025; docs/sources.md)",
        "Almost no ex-China projects start at 54 USD/kg, more start through 75-85 USD/kg, most "
        "start under a binding 110 USD/kg CFD floor.",
        produced, checks,
        Plot("Projects started in ten years (of 7 in the pipeline)", "price regime", "projects",
             {"projects started": (labels, counts + [n_cfd[0]])}, kind="bars"),
        notes=["Benchmark's figures are viability (a 15% return at a given price: ~85% of the "
               "pipeline at 85 USD/kg). The model's developers also expect the capacity already "
               "under construction to lower the price and add a volatility premium to the hurdle "
               "rate, so fewer projects start at a held 85 USD/kg within ten years than are "
               "viable there."])


# ================================================================================================
# 5. storage stylized facts (Williams & Wright; Deaton & Laroque)
# ================================================================================================

STORAGE_BUY, STORAGE_SELL = 58.0, 62.0     # USD/kg: the band (ASSUMPTION, around the 60 mean)
STORAGE_CAPACITY = 5000.0                  # t: five months of consumption (ASSUMPTION)
STORAGE_STEPS = 240
STORAGE_SEEDS = tuple(range(1, 9))
# a difference counts when the mean paired difference over the seeds exceeds two standard errors
# of that mean (about a 5% one-sided test with 8 paired replications)
STORAGE_SE = 2.0


def storage_config(storage: str | None) -> dict:
    """A fixed 'harvest' (12,000 t/yr at low cost) against i.i.d. demand shocks; a tiny costly
    fringe outside the club keeps supply defined above the harvest. `storage`: None (control),
    "band" (a buffer stock buying at 58 and selling at 62 within its capacity), or "stockpile"
    (the strategic stockpile, [policy.stockpile], with the same triggers)."""
    raw = _raw("storage", STORAGE_STEPS,
               {"reference_price": 60.0, "reference_quantity": 12000, "elasticity": -0.5,
                "shock_sd": 0.1, "shock_persistence": 0.0},
               [{"name": "Club", "club": True}, {"name": "Fringe"}],
               [_refinery("Harvest", "Club", 12000, 10.0), _refinery("Fringe", "Fringe", 10, 500.0)],
               [{"name": "Users", "region": "Club", "share": 1.0}])
    if storage == "band":
        # a competitive storer buys from whoever offers at its price (open market)
        raw["policy"] = {"floor": {"mechanism": "purchase", "level": STORAGE_BUY,
                                   "release_price": STORAGE_SELL, "capacity": STORAGE_CAPACITY,
                                   "covers": ["Club"], "buy_from": "any"}}
    elif storage == "stockpile":
        raw["policy"] = {"stockpile": {"buy_below": STORAGE_BUY, "release_above": STORAGE_SELL,
                                       "target_cover": 150.0, "capacity": STORAGE_CAPACITY,
                                       "max_rate": 0.3}}
    return raw


def storage_runs(kind: str, seeds) -> list:
    return [(run_model(storage_config(kind), s).series(), run_model(storage_config(None), s)
             .series()) for s in seeds]


def storage_stylized_facts(seeds=STORAGE_SEEDS) -> ClaimResult:
    return judge_storage(storage_runs("band", seeds), "band")


def stockpile_storage(seeds=STORAGE_SEEDS) -> ClaimResult:
    result = judge_storage(storage_runs("stockpile", seeds), "stockpile")
    result.checks.append(stockpile_bid_check(seeds[0]))
    result.checks.append(stockpile_price_check())
    return result


def bid_config(tariff: float) -> dict:
    """Two months of a market where the stockpile's bid (up to a month of club demand) is large
    enough to set the price; a tariff (however small) separates the club's market."""
    raw = _raw("stockpile_bid", 2, {"reference_price": 50.0, "reference_quantity": 12000,
                                    "elasticity": -0.5},
               [{"name": "Club", "club": True}, {"name": "World"}],
               [_refinery("World", "World", 12000, 10.0), _refinery("Fringe", "World", 100, 500.0)],
               [{"name": "Club users", "region": "Club", "share": 0.5},
                {"name": "World users", "region": "World", "share": 0.5}],
               policy={"stockpile": {"buy_below": STORAGE_BUY, "release_above": 200.0,
                                     "target_cover": 365.0, "max_rate": 1.0}})
    if tariff > 0:
        raw["policy"]["trade"] = {"tariff": tariff}
    return raw


def stockpile_price_check() -> Check:
    """The stockpile bids at a reservation price: it never pays more than its trigger, whether
    the club trades in one world market or in its own (a 1% tariff)."""
    worst = {}
    for tariff in (0.0, 0.01):
        s = run_model(bid_config(tariff), 1).series(accounts=True)
        bought = s["gov_purchases"].to_numpy()
        paid = s["gov_purchase_spend"].to_numpy() / np.where(bought > 0, bought * 1000.0, 1.0)
        worst[tariff] = float(paid[bought > 0].max()) if (bought > 0).any() else 0.0
    ok = all(v <= STORAGE_BUY * (1 + EXACT) for v in worst.values())
    return Check("pays_at_most_trigger", f"The stockpile never pays more than its {STORAGE_BUY:g} "
                 "USD/kg trigger, in one world market and when a 1% tariff separates the club's "
                 "market", ok, ", ".join(f"tariff {t:.0%}: highest price paid {v:,.4g} USD/kg"
                                          for t, v in worst.items()))


def stockpile_bid_check(seed: int) -> Check:
    """Does the stockpile buy when its bid is above the market price? Here the harvest is the only
    offer, so the market clears beyond the last offer (all capacity sold, price set by demand)."""
    raw = storage_config("stockpile")
    raw["producers"] = raw["producers"][:1]
    s = run_model(raw, seed).series(accounts=True)
    price, bought = s["price"].to_numpy(), s["gov_purchases"].to_numpy()
    before = np.r_[60.0, price[:-1]]                     # the price the stockpile decides on
    stock_before = np.r_[0.0, s["government_stock"].to_numpy()[:-1]]
    # a bid is placed when the last price was below the trigger and the stock is well below its
    # target (~4,900 t: 150 days of ~1,000 t/month, capped at 5,000 t)
    bids = (before < STORAGE_BUY) & (stock_before < 0.5 * STORAGE_CAPACITY)
    cases = bids & (price < STORAGE_BUY * (1 - EXACT))
    missed = int((cases & (bought <= 0)).sum())
    return Check("bid_filled_below_trigger", "Whenever the stockpile bids (last price below "
                 f"{STORAGE_BUY:g}, stock under half its capacity) and the market still clears "
                 f"below {STORAGE_BUY:g}, it buys: here the harvest is the only offer, so the "
                 "market clears beyond the last ask", missed == 0,
                 f"{int(cases.sum())} such months, {missed} with nothing bought")


def judge_storage(runs: list, kind: str) -> ClaimResult:
    """`runs`: (series with storage, control series without it) per seed."""
    ac = np.array([[lag1_autocorrelation(s["price"].to_numpy()),
                    lag1_autocorrelation(c["price"].to_numpy())] for s, c in runs])
    sk = np.array([[skewness(s["price"].to_numpy()), skewness(c["price"].to_numpy())]
                   for s, c in runs])
    d_ac, se_ac = paired_gain(ac[:, 0], ac[:, 1])
    d_sk, se_sk = paired_gain(sk[:, 0], sk[:, 1])
    spikes = stocked_out = 0
    for s, _ in runs:
        spike = s["price"].to_numpy() > STORAGE_SELL * (1 + EXACT)
        spikes += int(spike.sum())
        stocked_out += int((s["government_stock"].to_numpy()[spike] <= 1e-6).sum())
    checks = [
        Check("positive_autocorrelation", "Storage raises the lag-1 autocorrelation of log price "
              "above the no-storage control (same seeds) by more than two standard errors, and "
              "leaves it positive", d_ac > STORAGE_SE * se_ac and ac[:, 0].mean() > 0,
              f"storage {ac[:, 0].mean():+.3f}, control {ac[:, 1].mean():+.3f}; paired gain "
              f"{d_ac:+.3f} (se {se_ac:.3f})"),
        Check("right_skew", "Prices are right-skewed and more so than without storage (gain above "
              "two standard errors)", d_sk > STORAGE_SE * se_sk and sk[:, 0].mean() > 0,
              f"skewness storage {sk[:, 0].mean():.2f}, control {sk[:, 1].mean():.2f}; paired gain "
              f"{d_sk:+.2f} (se {se_sk:.2f})"),
        Check("spikes_at_stockouts", "Every spike above the release price happens with the stock "
              "run out (stock below 1e-6 t), and spikes do happen", spikes > 0
              and stocked_out == spikes, f"{spikes} spike months, {stocked_out} at a stockout"),
    ]
    s, c = runs[0]
    steps = list(range(120))
    title = {"band": "Storage stylized facts: a buffer stock trading a price band",
             "stockpile": "Storage stylized facts: the strategic stockpile"}[kind]
    return ClaimResult(
        f"storage_{kind}", title,
        "Williams & Wright (1991); Deaton & Laroque (1992, 1996); RECS (Gouel) sto4: a public "
        "stock defending a price band (docs/sources.md)",
        "With inventories prices are positively autocorrelated and right-skewed, with spikes when "
        "stocks run out (compared with a no-storage control on the same seeds).",
        {"lag-1 autocorrelation, storage": float(ac[:, 0].mean()),
         "lag-1 autocorrelation, control": float(ac[:, 1].mean()),
         "skewness, storage": float(sk[:, 0].mean()), "skewness, control": float(sk[:, 1].mean()),
         "spike months above the release price": float(spikes)},
        checks,
        Plot("Price with and without storage (first seed, ten years)", "month", "USD/kg",
             {"with storage": (steps, _listed(s["price"][:120])),
              "no storage": (steps, _listed(c["price"][:120]))},
             y2_label="stock (t)", lines2={"stock": (steps, _listed(s["government_stock"][:120]))},
             hlines={"buy": STORAGE_BUY, "sell": STORAGE_SELL}))


# ================================================================================================
# 6. investment under uncertainty (Dixit & Pindyck)
# ================================================================================================

RO_SDS = (0.0, 0.02, 0.04)        # monthly log demand shock sd (AR(1), persistence 0.9)
RO_SEEDS = (1, 2, 3, 4)
RO_STEPS = 180
RO_FLOOR = 60.0                   # USD/kg: a CFD at the reference price covering the projects


def real_options_config(shock_sd: float, floor: float | None = None,
                        rule: str = "real_options") -> dict:
    """Six small club projects (cost + r I from 38 to 53 USD/kg against a 60 USD/kg market with a
    fixed world supply); developers start with a 35% volatility prior (ASSUMPTIONS)."""
    projects = [{"name": f"Project {k + 1}", "region": "Club", "capacity": 300.0, "unit_cost": c,
                 "capex": 100000.0, "lead_time": 24}
                for k, c in enumerate([28.0, 31.0, 34.0, 37.0, 40.0, 43.0])]
    raw = _raw("real_options", RO_STEPS,
               {"reference_price": 60.0, "reference_quantity": 12000, "elasticity": -0.5,
                "shock_sd": shock_sd, "shock_persistence": 0.9},
               [{"name": "Club", "club": True}, {"name": "World"}],
               [_refinery("World supply", "World", 12000, 10.0)],
               [{"name": "Users", "region": "World", "share": 1.0}],
               investment={"rule": rule, "hurdle_rate": 0.10, "volatility_prior": 0.35,
                           "expectation_halflife": 24, "review_every": 3, "projects": projects})
    if floor is not None:
        raw["policy"] = {"floor": {"mechanism": "cfd", "level": floor, "covers": ["Club"]}}
    return raw


def _timing(model) -> tuple[int, int]:
    """(projects started, step of the first start; the horizon when none started)."""
    steps = [d.started_step for d in model.developers if d.started_step is not None]
    return len(steps), min(steps) if steps else model.n_steps


def real_options(rule: str = "real_options", seeds=RO_SEEDS) -> ClaimResult:
    runs = {(sd, fl): [_timing(run_model(real_options_config(sd, fl, rule), s)) for s in seeds]
            for sd in RO_SDS for fl in (None, RO_FLOOR)}
    return judge_real_options(runs)


def judge_real_options(runs: dict) -> ClaimResult:
    """`runs[(sd, floor)]`: (started, first start step) per seed."""
    sds = sorted({sd for sd, _ in runs})
    started = {k: np.mean([r[0] for r in v]) for k, v in runs.items()}
    first = {k: np.mean([r[1] for r in v]) for k, v in runs.items()}
    s0 = [started[(sd, None)] for sd in sds]
    f0 = [first[(sd, None)] for sd in sds]
    hi = sds[-1]
    paired = list(zip(runs[(hi, None)], runs[(hi, RO_FLOOR)], strict=True))
    checks = [
        Check("fewer_with_volatility", "Higher demand volatility means fewer starts (mean over "
              "seeds never rises with volatility and is lower at the highest than at the lowest)",
              bool(np.all(np.diff(s0) <= 0)) and s0[-1] < s0[0],
              ", ".join(f"sd {sd:g}: {v:.2f}" for sd, v in zip(sds, s0, strict=True))),
        Check("later_with_volatility", "Higher demand volatility means later starts (mean first "
              "start, the horizon if none, never earlier with volatility and later at the highest)",
              bool(np.all(np.diff(f0) >= 0)) and f0[-1] > f0[0],
              ", ".join(f"sd {sd:g}: month {v:.1f}" for sd, v in zip(sds, f0, strict=True))),
        Check("floor_brings_forward", f"A {RO_FLOOR:g} USD/kg CFD floor covering the projects "
              "brings the first start forward in every seed at the highest volatility, and more "
              "projects start", all(b[1] < a[1] for a, b in paired)
              and started[(hi, RO_FLOOR)] > started[(hi, None)],
              f"first start without / with floor: {[a[1] for a, _ in paired]} / "
              f"{[b[1] for _, b in paired]}; started {started[(hi, None)]:.2f} / "
              f"{started[(hi, RO_FLOOR)]:.2f}"),
    ]
    produced = {f"mean starts, shock sd {sd:g}": started[(sd, None)] for sd in sds}
    produced |= {f"mean first start (month), shock sd {sd:g}": first[(sd, None)] for sd in sds}
    produced |= {f"mean first start with the floor (month), shock sd {hi:g}": first[(hi, RO_FLOOR)]}
    return ClaimResult(
        "real_options", "Investment under uncertainty",
        "Dixit & Pindyck (1994), Investment under Uncertainty, ch. 5",
        "The price that triggers investment rises with volatility, so higher volatility delays "
        "investment; a floor that truncates the downside brings it forward.",
        produced, checks,
        Plot("First project start by demand volatility (mean over seeds)", "monthly demand shock sd",
             "month of first start", {"no floor": (sds, f0),
                                      "CFD floor": (sds, [first[(sd, RO_FLOOR)] for sd in sds])}))


# ================================================================================================
# 7. MP-style CFD: pays nothing at or above the floor; cost falls as prices rise
# ================================================================================================

CFD_FLOOR, CFD_UPSIDE, CFD_SETTLEMENT = 110.0, 0.3, 3     # docs/sources.md: DoD-MP, July 2025
CFD_DEMAND = (0.7, 0.8, 0.9, 1.0, 1.1, 1.2)               # demand level multipliers (price paths)
CFD_SEEDS = (1, 2, 3)
CFD_STEPS = 120


def cfd_config(demand_level: float) -> dict:
    """An NdPr-like market: a Chinese cost curve 40-140 USD/kg and a covered US producer (6 kt/yr
    at 70 USD/kg); AR(1) demand shocks. Costs and capacities are ASSUMPTIONS."""
    producers = [_refinery(f"China {i + 1}", "China", 15000, c)
                 for i, c in enumerate([40.0, 60.0, 80.0, 100.0, 120.0, 140.0])]
    producers.append(_refinery("US producer", "US", 6000, 70.0))
    return _raw("cfd", CFD_STEPS,
                {"reference_price": 100.0, "reference_quantity": 80000 * demand_level,
                 "elasticity": -0.4, "shock_sd": 0.06, "shock_persistence": 0.9},
                [{"name": "US", "club": True}, {"name": "China", "market_economy": False}],
                producers, [{"name": "US users", "region": "US", "share": 0.1},
                            {"name": "China users", "region": "China", "share": 0.9}],
                policy={"floor": {"mechanism": "cfd", "level": CFD_FLOOR, "covers": ["US"],
                                  "upside_share": CFD_UPSIDE, "settlement": CFD_SETTLEMENT}})


def cfd_fiscal_cost(levels=CFD_DEMAND, seeds=CFD_SEEDS) -> ClaimResult:
    runs = {lv: [run_model(cfd_config(lv), s) for s in seeds] for lv in levels}
    return judge_cfd(runs)


def judge_cfd(runs: dict) -> ClaimResult:
    """`runs[demand level]`: finished models per seed (same seeds at every level)."""
    quarters_above = quarters_below = wrong = 0
    for models in runs.values():
        for model in models:
            s = model.series(accounts=True)
            price, volume = s["price"].to_numpy(), s["club_production"].to_numpy()
            paid = s["gov_payments_to_producers"].to_numpy()
            got = s["gov_receipts_from_producers"].to_numpy()
            for q in range(len(price) // CFD_SETTLEMENT):
                span = slice(q * CFD_SETTLEMENT, (q + 1) * CFD_SETTLEMENT)
                mean, tonnes, at = price[span].mean(), volume[span].sum(), (q + 1) * CFD_SETTLEMENT - 1
                money = model.money_per_price_tonne * tonnes
                if mean >= CFD_FLOOR:
                    quarters_above += 1
                    ok = paid[at] == 0 and rel_close(got[at], CFD_UPSIDE * (mean - CFD_FLOOR) * money,
                                                     abs_tol=1e-6)
                else:
                    quarters_below += 1
                    ok = rel_close(paid[at], (CFD_FLOOR - mean) * money) and got[at] == 0
                wrong += not ok
    levels = list(runs)
    cost = np.array([[m.metrics()["fiscal_cost"] for m in runs[lv]] for lv in levels])  # lv x seed
    mean_price = [float(np.mean([m.metrics()["price_mean"] for m in runs[lv]])) for lv in levels]
    per_seed = bool(np.all(np.diff(cost, axis=0) <= 1e-9 * np.abs(cost).max()))
    falls = per_seed and bool(np.all(np.diff(cost.mean(axis=1)) < 0))
    checks = [
        Check("pays_nothing_at_or_above_floor", "In every quarter whose mean price is at or above "
              f"the {CFD_FLOOR:g} USD/kg floor the government pays nothing (it receives "
              f"{CFD_UPSIDE:.0%} of the upside), and below it pays exactly (F - P) per tonne "
              "(relative 1e-9)", wrong == 0 and quarters_above > 0 and quarters_below > 0,
              f"{quarters_above} quarters at or above, {quarters_below} below, {wrong} wrong"),
        Check("fiscal_cost_falls_as_price_rises", "With the same shocks, the fiscal cost never "
              "rises when demand (so the whole price path) is higher, and its mean falls at every "
              "step", falls, ", ".join(f"{p:.0f} USD/kg: {c / 1e6:,.1f} m USD" for p, c in zip(
                  mean_price, cost.mean(axis=1), strict=True))),
    ]
    return ClaimResult(
        "cfd_cost", "MP-style CFD floor: pays nothing above the floor",
        "US DoD - MP Materials price protection, July 2025: 110 USD/kg NdPr floor, quarterly "
        "settlement, 30% of the upside to the government (docs/sources.md); no top-up was due at ~123 "
        "USD/kg in Feb 2026",
        "The CFD pays nothing whenever the price is at or above the floor, and its fiscal cost "
        "falls as the price path rises.",
        {f"fiscal cost (USD m), mean price {p:.0f} USD/kg": float(c / 1e6)
         for p, c in zip(mean_price, cost.mean(axis=1), strict=True)},
        checks,
        Plot("Fiscal cost over ten years against the mean price", "mean price (USD/kg)",
             "net fiscal cost (USD m)", {"fiscal cost": (mean_price,
                                                         _listed(cost.mean(axis=1) / 1e6))},
             vlines={"floor": CFD_FLOOR}))


# ================================================================================================
# 8. EU-style minimum import price with a volume cap
# ================================================================================================

MIP_LEVEL, MIP_END, MIP_STEPS = 52.0, 48, 72
MIP_SEEDS = (1, 2, 3, 4)
MIP_CAP_SLACK = 1.10     # annual cap = 110% of expected imports at the MIP (ASSUMPTION; EU 7 GW/yr)
MIP_EXCESS_DUTY = 0.476   # imports beyond the cap pay duties averaging 47.6% (docs/sources.md: EU solar)
# "near": within 2% of the MIP in at least 90% of in-force months; months after an annual cap is
# used up are the exception (imports then pay the full duties and the club price rises to them)
MIP_NEAR, MIP_SHARE = 0.02, 0.90
EU_CLUB_SHARE, EU_CAPACITY = 0.3, 6000.0


def mip_config(end: int | None = MIP_END) -> dict:
    """A solar-module-like market: a Chinese cost curve 30-50 (USD per unit), EU makers at 47,
    EU buyers 30% of demand; the MIP 52 sits ~20% above the ~42 world price, as the EU's stayed
    ~30% above market (docs/sources.md). Quantities and costs are ASSUMPTIONS."""
    producers = [_refinery(f"China {i + 1}", "China", 25000, c)
                 for i, c in enumerate([30.0, 34.0, 38.0, 42.0, 46.0, 50.0])]
    producers.append(_refinery("EU makers", "EU", EU_CAPACITY, 47.0))
    demand = {"reference_price": 40.0, "reference_quantity": 100000, "elasticity": -0.8,
              "shock_sd": 0.08, "shock_persistence": 0.8}
    imports = EU_CLUB_SHARE * demand["reference_quantity"] * (MIP_LEVEL / 40.0) ** -0.8 - EU_CAPACITY
    floor = {"mechanism": "mip", "level": MIP_LEVEL, "volume_cap": MIP_CAP_SLACK * imports,
             "excess_duty": MIP_EXCESS_DUTY}
    if end is not None:
        floor["end"] = end
    return _raw("mip", MIP_STEPS, demand,
                [{"name": "EU", "club": True}, {"name": "China", "market_economy": False},
                 {"name": "RoW"}], producers,
                [{"name": "EU buyers", "region": "EU", "share": EU_CLUB_SHARE},
                 {"name": "China buyers", "region": "China", "share": 0.5},
                 {"name": "Other buyers", "region": "RoW", "share": 0.2}],
                policy={"floor": floor})


def mip_removal(end: int | None = MIP_END, seeds=MIP_SEEDS) -> ClaimResult:
    return judge_mip([run_model(mip_config(end), s).series() for s in seeds])


def judge_mip(runs: list) -> ClaimResult:
    near, club_above_world, equal_after, falls, prod_in, prod_out, over = [], [], [], [], [], [], 0
    for s in runs:
        club, world = s["club_price"].to_numpy(), s["price"].to_numpy()
        production = s["club_production"].to_numpy()
        on, off = slice(0, MIP_END), slice(MIP_END, len(club))
        binding = world[on] < MIP_LEVEL
        near.extend(np.abs(club[on][binding] / MIP_LEVEL - 1) <= MIP_NEAR)
        over += int((club[on] > MIP_LEVEL * (1 + MIP_NEAR)).sum())
        club_above_world.append(bool(np.all(club[on] >= world[on] * (1 - EXACT))))
        equal_after.append(rel_close(club[off], world[off]))
        falls.append(float(club[off][:12].mean() / club[on][-12:].mean() - 1))
        prod_in.append(production[on].mean())
        prod_out.append(production[off].mean())
    share_near = float(np.mean(near)) if near else 0.0
    checks = [
        Check("club_price_near_mip", f"While the MIP binds, the club price is within "
              f"{MIP_NEAR:.0%} of it in at least {MIP_SHARE:.0%} of months, and never below the "
              "world price", share_near >= MIP_SHARE and all(club_above_world),
              f"{share_near:.1%} of binding months near the MIP; {over} months above it (annual "
              "cap used up)"),
        Check("falls_to_world_price", "After the MIP ends the club price equals the world price "
              "every month", all(equal_after) and max(falls) < 0,
              f"club price change over the removal: {', '.join(pct(f) for f in falls)}"),
        Check("shifts_purchases_to_club_producers", "While the MIP is in force club producers sell "
              "more than after it ends", bool(np.mean(prod_in) > np.mean(prod_out)),
              f"club production {np.mean(prod_in):,.0f} t/month with the MIP, "
              f"{np.mean(prod_out):,.0f} after"),
    ]
    s = runs[0]
    steps = list(range(len(s)))
    return ClaimResult(
        "mip_removal", "EU-style minimum import price with a volume cap",
        "EU minimum import price on Chinese solar modules, Aug 2013 - Sept 2018: 0.56 EUR/W, 7 GW/yr "
        "cap, ~30% above market in 2017, prices expected to fall up to 10% on expiry (docs/sources.md)",
        "A MIP with a volume cap keeps the club price near the MIP while it binds and lets it fall "
        "toward the world price when removed.",
        {"share of binding months within 2% of the MIP": share_near,
         "club price change on removal (mean)": float(np.mean(falls)),
         "club production with the MIP (t/month)": float(np.mean(prod_in)),
         "club production after (t/month)": float(np.mean(prod_out))},
        checks,
        Plot("Club and world prices (first seed)", "month", "price (USD per unit)",
             {"club price": (steps, _listed(s["club_price"])), "world price": (steps, _listed(
                 s["price"]))}, hlines={"MIP": MIP_LEVEL}, vlines={"MIP ends": MIP_END}))


# ================================================================================================
# 10. the bullwhip effect of buyers' inventory targets
# ================================================================================================

BULLWHIP_SEEDS = (1, 2, 3, 4, 5, 6)
BULLWHIP_STEPS = 120
BULLWHIP_COVER, BULLWHIP_ADJUST = 60.0, 0.25   # days; share of the gap a month (ASSUMPTIONS)
# amplification must be clear, not noise: orders at least 10% more variable than use in every
# seed, price volatility up at least 5% on average; without demand shocks it may not rise > 2%
# (a target following last month's price made orders oscillate on their own: that must not return)
BULLWHIP_ORDERS, BULLWHIP_PRICE, BULLWHIP_QUIET = 1.10, 1.05, 1.02


def bullwhip_config(cover: float, shocks: bool = True) -> dict:
    """A market with an upward cost curve (12 refineries 30-63 USD/kg, ASSUMPTION) and
    persistent demand shocks (monthly sd 0.06, AR(1) 0.8, ASSUMPTION); buyers hold `cover` days
    of inventory toward a target that tracks their demand."""
    producers = [_refinery(f"R{i + 1}", "World", 900.0, 30.0 + 3.0 * i) for i in range(12)]
    demand = {"reference_price": 50.0, "reference_quantity": 8000.0, "elasticity": -0.4,
              "shock_sd": 0.06 if shocks else 0.0, "shock_persistence": 0.8}
    buyers = [{"name": "Buyers", "region": "World", "share": 1.0, "inventory_cover": cover,
               "inventory_adjust": BULLWHIP_ADJUST}]
    return _raw("bullwhip", BULLWHIP_STEPS, demand, [{"name": "World"}], producers, buyers)


def bullwhip(seeds=BULLWHIP_SEEDS) -> ClaimResult:
    runs = {(cover, shocks): [run_model(bullwhip_config(cover, shocks), s).series(accounts=True)
                              for s in seeds]
            for cover in (0.0, BULLWHIP_COVER) for shocks in (True, False)}
    return judge_bullwhip(runs)


def _volatility(s) -> float:
    return float(np.diff(np.log(s["price"].to_numpy())).std(ddof=1) * np.sqrt(12))


def judge_bullwhip(runs: dict) -> ClaimResult:
    held = runs[(BULLWHIP_COVER, True)]
    # orders = what buyers bought: their use plus stock built, less stock drawn
    ratios = [float((s["consumption"] + s["private_stocking"] - s["private_release"]).std()
                    / s["consumption"].std()) for s in held]
    vol_with = np.array([_volatility(s) for s in held])
    vol_without = np.array([_volatility(s) for s in runs[(0.0, True)]])
    quiet_with = np.mean([_volatility(s) for s in runs[(BULLWHIP_COVER, False)]])
    quiet_without = np.mean([_volatility(s) for s in runs[(0.0, False)]])
    gain, se = paired_gain(vol_with, vol_without)
    checks = [
        Check("orders_more_variable_than_use", f"Buyers' orders vary at least "
              f"{BULLWHIP_ORDERS - 1:.0%} more than their use (standard deviation), in every seed",
              min(ratios) >= BULLWHIP_ORDERS,
              f"orders / use standard deviation: {', '.join(f'{r:.2f}' for r in ratios)}"),
        Check("price_more_volatile", f"Price volatility with the inventories is at least "
              f"{BULLWHIP_PRICE - 1:.0%} higher than without (paired seeds, mean)",
              bool(vol_with.mean() >= BULLWHIP_PRICE * vol_without.mean()),
              f"{vol_without.mean():.3f} without, {vol_with.mean():.3f} with; paired difference "
              f"{gain:+.3f} (s.e. {se:.3f})"),
        Check("no_shocks_no_amplification", f"Without demand shocks the same inventories create "
              f"no price swings of their own (no cobweb): volatility at most "
              f"{BULLWHIP_QUIET - 1:.0%} (+1e-6) above the run without them",
              bool(quiet_with <= BULLWHIP_QUIET * quiet_without + 1e-6),
              f"{quiet_without:.4f} without inventories, {quiet_with:.4f} with"),
    ]
    s = held[0]
    steps = list(range(len(s)))
    orders = s["consumption"] + s["private_stocking"] - s["private_release"]
    return ClaimResult(
        "bullwhip", "Buyers' inventory targets amplify demand shocks (the bullwhip effect)",
        "Forrester, J. W. (1961) Industrial Dynamics, MIT Press; Lee, H. L., Padmanabhan, V. and "
        "Whang, S. (1997) 'Information distortion in a supply chain: the bullwhip effect', "
        "Management Science 43(4): 546-558",
        "When a stage keeps inventory toward a target that follows its demand, the orders it "
        "places vary more than its demand; upstream prices swing more as a result.",
        {"orders / use standard deviation (mean over seeds)": float(np.mean(ratios)),
         "price volatility without inventories (1/yr^0.5)": float(vol_without.mean()),
         "price volatility with 60-day covers (1/yr^0.5)": float(vol_with.mean())},
        checks,
        Plot("Buyers' use and orders (first seed)", "month", "t/month",
             {"use": (steps, _listed(s["consumption"])), "orders": (steps, _listed(orders))}))


# ================================================================================================

CLAIMS = {
    "merit_order": merit_order_curtailment,
    "tin_collapse": tin_collapse,
    "export_control": export_control,
    "gallium_2023": gallium,
    "dysprosium_2025": dysprosium,
    "antimony_2024": antimony,
    "cobalt_2025": cobalt,
    "investment_threshold": investment_threshold,
    "storage_band": storage_stylized_facts,
    "storage_stockpile": stockpile_storage,
    "real_options": real_options,
    "cfd_cost": cfd_fiscal_cost,
    "mip_removal": mip_removal,
    "bullwhip": bullwhip,
    "stockholders_stylized": stockholders.stylized_facts,
    "stockholders_benchmark": stockholders.benchmark,
    "stockholders_attack": stockholders.attack,
}
