"""Validation claims for private stockholders in the market ([storage]; issue 20 part 2).

The market is the competitive-storage benchmark put into the ABM: annual steps, one zero-cost
producer of 1,000 t/yr whose output is shocked by an i.i.d. factor h ~ N(1, 0.05^2)
([market.supply_shock]), demand D(P) = 1,000 (P / 1 USD/t)^-0.2 t/yr, and RECS sto1FX's
storage parameters (cost 0.06 USD/t a year, decay 2%, interest 3%; Gouel's RECS demo, cited in
docs/validation.md). Each claim is judged against the same market with storage switched off
(same seeds), so each fails without stockholders: prices are then h^-5, i.i.d., and nobody
holds stock.

Monte Carlo errors are batch-means standard errors (batches of BATCH steps, long against the
price's autocorrelation of about 0.19); agreement is within MC_SE of them.
"""

from __future__ import annotations

import functools

import numpy as np

from abm import storage
from abm.validation.base import (
    Check,
    ClaimResult,
    Plot,
    lag1_autocorrelation,
    paired_gain,
    run_model,
    skewness,
)

STO1 = dict(elasticity=-0.2, harvest_sd=0.05, cost=0.06, decay=0.02, interest=0.03)
HARVEST = 1000.0            # t/yr, the producer's capacity = demand at 1 USD/t
SEEDS = (1, 2, 3, 4)
STEPS = 1500                # years per seed
BURN_IN = 20                # years dropped (runs start with no stock; the mean stock is 14 t)
BATCH = 50                  # years per batch for the batch-means standard error
MC_SE = 3.0                 # agreement within 3 standard errors
GAIN_SE = 2.0               # a paired gain counts when above 2 standard errors
LOW_FLOOR, HIGH_FLOOR = 0.9, 1.02   # USD/t: below / above Psi(0) = 0.961 (tests/test_storage.py)
FLOOR_CAPACITY = 400.0      # t: RECS sto2's public capacity 0.4 x the mean harvest
ATTACK_STEPS = 400


def benchmark_config(enabled: bool = True, steps: int = STEPS, floor: float | None = None,
                     rule: str = "rational", capacity: float | None = None,
                     price: float = 1.0) -> dict:
    """The benchmark market (module docstring), with the reference price (and the storage cost
    with it) at `price` USD/t; `floor`: an open-market buffer stock buying at and releasing at
    `floor` USD/t within FLOOR_CAPACITY (RECS sto2's agency); `capacity`: the stockholders'."""
    raw = {"experiment": {"name": "stockholders", "steps": steps, "steps_per_year": 1,
                          "seed": 1},
           "market": {"price_unit": "USD/t",
                      "demand": {"reference_price": price, "reference_quantity": HARVEST,
                                 "elasticity": STO1["elasticity"]},
                      "supply_shock": {"sd": STO1["harvest_sd"]}},
           "regions": [{"name": "World"}],
           "producers": [{"name": "Farm", "region": "World", "stage": "refinery",
                          "capacity": HARVEST, "unit_cost": 0.0}],
           "buyers": [{"name": "Users", "region": "World", "share": 1.0}],
           "storage": {"enabled": enabled, "cost": STO1["cost"] * price, "decay": STO1["decay"],
                       "interest": STO1["interest"], "rule": rule}}
    if capacity is not None:
        raw["storage"]["capacity"] = capacity
    if floor is not None:
        raw["policy"] = {"floor": {"mechanism": "purchase", "level": floor,
                                   "release_price": floor, "capacity": FLOOR_CAPACITY,
                                   "buy_from": "any", "covers": ["World"]}}
    return raw


@functools.lru_cache(maxsize=2)
def runs(seeds=SEEDS, steps: int = STEPS) -> list:
    """(series with stockholders, series without) per seed (kept: two claims judge them)."""
    return [(run_model(benchmark_config(True, steps), s).series(),
             run_model(benchmark_config(False, steps), s).series()) for s in seeds]


def batch_se(x: np.ndarray) -> float:
    """Standard error of the mean of x by batch means (batches of BATCH)."""
    n = len(x) // BATCH
    means = np.asarray(x[: n * BATCH], dtype=float).reshape(n, BATCH).mean(axis=1)
    return float(means.std(ddof=1) / np.sqrt(n))


# ================================================================================================
# 1. storage makes prices autocorrelated and skewed
# ================================================================================================

def stylized_facts(seeds=SEEDS) -> ClaimResult:
    return judge_stylized(runs(seeds))


def judge_stylized(pairs: list) -> ClaimResult:
    """`pairs`: (series with stockholders, control series) per seed."""
    ac = np.array([[lag1_autocorrelation(s["price"].to_numpy()[BURN_IN:]),
                    lag1_autocorrelation(c["price"].to_numpy()[BURN_IN:])] for s, c in pairs])
    sk = np.array([[skewness(s["price"].to_numpy()[BURN_IN:]),
                    skewness(c["price"].to_numpy()[BURN_IN:])] for s, c in pairs])
    d_ac, se_ac = paired_gain(ac[:, 0], ac[:, 1])
    d_sk, se_sk = paired_gain(sk[:, 0], sk[:, 1])
    checks = [
        Check("positive_autocorrelation", "With i.i.d. output shocks, stockholders make the lag-1 "
              "autocorrelation of log price positive, above the no-storage control (same seeds) "
              f"by more than {GAIN_SE:g} standard errors",
              bool(d_ac > GAIN_SE * se_ac and ac[:, 0].mean() > 0),
              f"storage {ac[:, 0].mean():+.3f}, control {ac[:, 1].mean():+.3f}; paired gain "
              f"{d_ac:+.3f} (se {se_ac:.3f})"),
        Check("more_right_skew", "Prices are right-skewed, more so than without storage (gain "
              f"above {GAIN_SE:g} standard errors: stocks cut the troughs, stock-outs keep the "
              "spikes)", bool(d_sk > GAIN_SE * se_sk and sk[:, 0].mean() > 0),
              f"skewness storage {sk[:, 0].mean():.2f}, control {sk[:, 1].mean():.2f}; paired "
              f"gain {d_sk:+.2f} (se {se_sk:.2f})"),
    ]
    s, c = pairs[0]
    years = list(range(100))
    return ClaimResult(
        "stockholders_stylized", "Private stockholders: autocorrelated, right-skewed prices from "
        "i.i.d. shocks",
        "Deaton & Laroque (1992) 'On the behaviour of commodity prices', Review of Economic "
        "Studies 59(1); Williams & Wright (1991) Storage and Commodity Markets; RECS (Gouel) "
        "sto1FX (docs/validation.md)",
        "With competitive storage, i.i.d. supply shocks give positively autocorrelated prices "
        "and more right skew than without storage.",
        {"lag-1 autocorrelation, storage": float(ac[:, 0].mean()),
         "lag-1 autocorrelation, control": float(ac[:, 1].mean()),
         "skewness, storage": float(sk[:, 0].mean()), "skewness, control": float(sk[:, 1].mean())},
        checks,
        Plot("Price with and without stockholders (first seed, 100 years)", "year", "USD/t",
             {"with stockholders": (years, s["price"][:100].to_list()),
              "no storage": (years, c["price"][:100].to_list())},
             y2_label="private stock (t)",
             lines2={"stock": (years, s["private_stock"][:100].to_list())}))


# ================================================================================================
# 2. the market run reproduces the solver
# ================================================================================================

def benchmark(seeds=SEEDS) -> ClaimResult:
    return judge_benchmark([s for s, _ in runs(seeds)], storage.solve(**STO1).moments())


def judge_benchmark(series: list, moments: dict) -> ClaimResult:
    """`series`: market runs (one per seed) of the benchmark; `moments`: the solver's."""
    price = np.concatenate([s["price"].to_numpy()[BURN_IN:] for s in series])
    none = np.concatenate([(s["private_stock"].to_numpy()[BURN_IN:] <= 0).astype(float)
                           for s in series])
    se_p = np.sqrt(np.mean([batch_se(s["price"].to_numpy()[BURN_IN:]) ** 2 for s in series])
                   / len(series))
    se_n = np.sqrt(np.mean([batch_se((s["private_stock"].to_numpy()[BURN_IN:] <= 0)
                                     .astype(float)) ** 2 for s in series]) / len(series))
    gap_p = price.mean() - moments["price_mean"]
    gap_n = none.mean() - moments["prob_no_stock"]
    checks = [
        Check("mean_price", f"The market's mean price is the solver's within {MC_SE:g} Monte "
              "Carlo standard errors", bool(abs(gap_p) <= MC_SE * se_p),
              f"market {price.mean():.4f}, solver {moments['price_mean']:.4f} USD/t; gap "
              f"{gap_p:+.4f} (se {se_p:.4f})"),
        Check("stock_out_probability", "The share of years with no private stock is the solver's "
              f"stock-out probability within {MC_SE:g} Monte Carlo standard errors",
              bool(abs(gap_n) <= MC_SE * se_n),
              f"market {none.mean():.4f}, solver {moments['prob_no_stock']:.4f}; gap "
              f"{gap_n:+.4f} (se {se_n:.4f})"),
    ]
    return ClaimResult(
        "stockholders_benchmark", "Private stockholders: the market run reproduces the "
        "rational-expectations storage model",
        "Gustafson (1958); Wright & Williams (1982); Deaton & Laroque (1992); RECS (Gouel) "
        "sto1FX, solved by abm.storage (docs/validation.md)",
        "A market configured as the benchmark (one zero-cost producer with the supply shock, "
        "annual steps, rule = 'rational') has the solver's stationary mean price and stock-out "
        "probability.",
        {"mean price, market (USD/t)": float(price.mean()),
         "mean price, solver (USD/t)": float(moments["price_mean"]),
         "share of years without stock, market": float(none.mean()),
         "stock-out probability, solver": float(moments["prob_no_stock"])},
        checks)


# ================================================================================================
# 3. the speculative attack on a buffer stock (Salant 1983)
# ================================================================================================

def attack(seed: int = SEEDS[0]) -> ClaimResult:
    return judge_attack({level: run_model(benchmark_config(True, ATTACK_STEPS, level), seed)
                         .series() for level in (LOW_FLOOR, HIGH_FLOOR)})


def emptied(s) -> np.ndarray:
    """Years (from the second) in which the buffer stock went from holding stock to none."""
    public = s["government_stock"].to_numpy()
    return (public[:-1] > 1e-9) & (public[1:] <= 1e-9)


def attacks(s) -> int:
    """Years in which the buffer stock sold all it had and stockholders, who held nothing the
    year before, bought: its stock passed to them in one year (what consumers did not take)."""
    private = s["private_stock"].to_numpy()
    return int((emptied(s) & (private[:-1] <= 1e-9) & (private[1:] > 1e-9)).sum())


def judge_attack(series: dict) -> ClaimResult:
    """`series[floor level]`: a run of the benchmark with an open-market buffer stock there."""
    low, high = attacks(series[LOW_FLOOR]), attacks(series[HIGH_FLOOR])
    checks = [
        Check("attack_at_low_floor", f"At a floor of {LOW_FLOOR:g} USD/t (below the price "
              "0.961 at which stockholders start storing) the buffer stock's whole stock passes "
              "to stockholders in one year, at least once", low > 0,
              f"{low} attacks in {ATTACK_STEPS} years"),
        Check("no_attack_at_high_floor", f"At a floor of {HIGH_FLOOR:g} USD/t (above that price) "
              "it never does, though its stock runs out (it is run down instead)",
              high == 0 and bool(emptied(series[HIGH_FLOOR]).any()),
              f"{high} attacks in {ATTACK_STEPS} years; the stock ran out "
              f"{int(emptied(series[HIGH_FLOOR]).sum())} times"),
    ]
    s = series[LOW_FLOOR]
    years = list(range(120))
    return ClaimResult(
        "stockholders_attack", "Private stockholders: the speculative attack on a buffer stock",
        "Salant (1983) 'The vulnerability of price stabilization schemes to speculative attack', "
        "Journal of Political Economy 91(1); RECS (Gouel) sto2",
        "A buffer stock defending a floor below the price at which speculators start storing "
        "loses its whole stock to them in one period; above that price it is run down without "
        "an attack.",
        {f"attacks, floor {LOW_FLOOR:g}": float(low),
         f"attacks, floor {HIGH_FLOOR:g}": float(high),
         f"stock run out, floor {HIGH_FLOOR:g}": float(emptied(series[HIGH_FLOOR]).sum())},
        checks,
        Plot(f"Public and private stocks, floor {LOW_FLOOR:g} USD/t (120 years)", "year", "t",
             {"buffer stock": (years, s["government_stock"][:120].to_list()),
              "stockholders": (years, s["private_stock"][:120].to_list())}))


