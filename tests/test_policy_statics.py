"""Paired Monte Carlo comparative statics on the NdPr baseline (same seeds in both arms).

Small runs (8 replications, 120 to 180 steps) keep this fast; each claim is about the sign of a
paired difference that is large relative to its Monte Carlo noise in these settings.
"""

from pathlib import Path

import numpy as np

import abm
from abm.experiment import run_seed

ROOT = Path(__file__).parent.parent
CLUB = ["US", "Australia", "Japan", "EU"]
SEEDS = [run_seed(20260115, r) for r in range(8)]


def runs(overrides, steps=180):
    exp = abm.load_experiment(ROOT / "experiments" / "baseline.toml",
                              {"experiment.steps": steps, **overrides})
    out = []
    for seed in SEEDS:
        model = abm.MineralMarket(exp.scenario(), rng=seed)
        model.run()
        out.append((model.metrics(), model.series()))
    return out


def cfd(level):
    return {"policy.floor.mechanism": "cfd", "policy.floor.level": level,
            "policy.floor.covers": CLUB, "policy.floor.upside_share": 0.3}


def test_a_higher_cfd_floor_adds_more_market_capacity_and_costs_more():
    low, high = runs(cfd(70.0)), runs(cfd(110.0))
    cap = np.array([h[0]["capacity_added_market"] - lo[0]["capacity_added_market"]
                    for lo, h in zip(low, high, strict=True)])
    cost = np.array([h[0]["fiscal_cost"] - lo[0]["fiscal_cost"]
                     for lo, h in zip(low, high, strict=True)])
    assert cap.mean() > 0 and (cap >= 0).mean() >= 0.75
    assert cost.mean() > 0 and (cost > 0).all()


def test_a_stockpile_lowers_the_club_price_peak_during_an_export_control():
    control = {"shocks": [{"kind": "export_control", "region": "China", "start": 60,
                           "duration": 24, "cut": 0.6}]}
    stock = {**control, "policy.stockpile.buy_below": 75.0,
             "policy.stockpile.release_above": 100.0, "policy.stockpile.target_cover": 90.0,
             "policy.stockpile.max_rate": 0.2}
    without, with_stock = runs(control, steps=96), runs(stock, steps=96)
    window = slice(60, 84)
    peaks = np.array([(a[1]["club_price"].to_numpy()[window].max(),
                       b[1]["club_price"].to_numpy()[window].max())
                      for a, b in zip(without, with_stock, strict=True)])
    assert (peaks[:, 1] <= peaks[:, 0] + 1e-9).all()
    # (where the stock was already spent before the peak, the peaks are equal)
    assert (peaks[:, 1] < peaks[:, 0]).mean() >= 0.5
    assert (peaks[:, 0] - peaks[:, 1]).mean() > 0


def test_a_minimum_import_price_raises_the_club_price_and_the_market_economy_share_of_club_supply():
    mip = {"policy.floor.mechanism": "mip", "policy.floor.level": 80.0, "policy.floor.covers": CLUB}
    base, with_mip = runs({}, steps=120), runs(mip, steps=120)
    for (mb, sb), (mm, sm) in zip(base, with_mip, strict=True):
        assert sm["club_price"].mean() > sb["club_price"].mean()
        # market-economy share of club supply: club production over club consumption, last year
        share_b = sb["club_production"][-12:].sum() / sb["club_consumption"][-12:].sum()
        share_m = sm["club_production"][-12:].sum() / sm["club_consumption"][-12:].sum()
        assert share_m > share_b
        assert mm["import_reliance"] < mb["import_reliance"]
