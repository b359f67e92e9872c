"""Recyclers: secondary supply that answers the price with a lag, up to a capacity."""

import copy

import numpy as np
import pytest
from helpers import BASE, run

RECYCLER = {"name": "R", "region": "US", "capacity": 600.0, "unit_cost": 30.0, "scrap": 240.0}


def config(producers, recyclers, **market) -> dict:
    raw = copy.deepcopy(BASE)
    raw["producers"] = producers
    raw["recyclers"] = recyclers
    raw["market"]["demand"].update(market)
    return raw


REFINERY = {"name": "A", "region": "US", "stage": "refinery", "capacity": 1200.0,
            "unit_cost": 50.0}


def test_first_step_equilibrium_with_recycled_supply_is_hand_computed():
    # demand 100 t/step at 60, elasticity -0.5: D(P) = 100 (P/60)^-0.5. Offers: 20 t recycled at
    # 30 (scrap 240 t/yr at the reference price), 100 t refined at 50. D(50) = 109.54 > 20, and
    # 120 >= 109.54: the refinery is marginal, P = 50, the recycler sells its 20 t.
    model = run(config([REFINERY], [RECYCLER]), steps=1)
    s = model.series()
    demand_50 = 100.0 * (50.0 / 60.0) ** -0.5
    assert s["price"][0] == pytest.approx(50.0, rel=1e-12)
    assert s["recycled"][0] == pytest.approx(20.0, rel=1e-12)
    assert s["consumption"][0] == pytest.approx(demand_50, rel=1e-12)
    assert s["production_market"][0] == pytest.approx(demand_50, rel=1e-12)
    assert s["club_production"][0] == pytest.approx(demand_50, rel=1e-12)


def test_collection_follows_the_price_collection_lag_steps_earlier():
    # two refineries with limited capacity and demand shocks: the price moves; a recycler with
    # no cost sells all it collects, scrap/12 x P[t-2]/60 (elasticity 1), reference price first
    producers = [dict(REFINERY, capacity=720.0, unit_cost=40.0),
                 dict(REFINERY, name="B", capacity=720.0, unit_cost=70.0)]
    recycler = dict(RECYCLER, unit_cost=0.0, capacity=5000.0, collection_elasticity=1.0,
                    collection_lag=2)
    s = run(config(producers, [recycler], shock_sd=0.2, shock_persistence=0.5)).series()
    price = s["price"].to_numpy()
    assert np.ptp(price) > 1.0                       # the price did move
    expected = np.concatenate([[20.0, 20.0], 20.0 * price[:-2] / 60.0])
    np.testing.assert_allclose(s["recycled"].to_numpy(), expected, rtol=1e-12)


def test_recycled_supply_is_capped_by_processing_capacity():
    recycler = dict(RECYCLER, capacity=120.0, scrap=2400.0)
    s = run(config([REFINERY], [recycler]), steps=3).series()
    np.testing.assert_allclose(s["recycled"].to_numpy(), 10.0, rtol=1e-12)


def test_recycler_above_the_price_sells_nothing_and_changes_nothing():
    without = run(config([REFINERY], [])).series()
    dear = run(config([REFINERY], [dict(RECYCLER, unit_cost=200.0)])).series()
    assert (dear["recycled"] == 0).all()
    np.testing.assert_allclose(dear["price"].to_numpy(), without["price"].to_numpy(), rtol=1e-12)


def test_recycled_product_needs_no_concentrate():
    producers = [{"name": "M", "region": "US", "stage": "mine", "capacity": 2000.0,
                  "unit_cost": 10.0},
                 dict(REFINERY, unit_cost=20.0)]
    model = run(config(producers, [RECYCLER]))
    s = model.series(accounts=True)
    assert (s["recycled"] > 0).all()
    intensity = model.intensity
    np.testing.assert_allclose(s["concentrate_used"].to_numpy(),
                               ((s["production"] - s["recycled"]) * intensity).to_numpy(),
                               rtol=1e-12)
    np.testing.assert_allclose(s["concentrate_output"].to_numpy(),
                               s["concentrate_used"].to_numpy(), rtol=1e-9)
    # the recycler is paid the product price and pays no concentrate
    row = int(model.recycler_rows[0])
    last = model.book
    assert last.revenue[row] == pytest.approx(
        float(s["recycled"][-1]) * float(s["price"][-1]) * model.money_per_price_tonne, rel=1e-9)


def test_club_recycling_lowers_club_import_reliance():
    producers = [dict(REFINERY, capacity=300.0, unit_cost=40.0),
                 dict(REFINERY, name="B", region="China", capacity=2000.0, unit_cost=45.0)]
    recycler = dict(RECYCLER, unit_cost=20.0, scrap=300.0)
    without = run(config(producers, [])).metrics()
    with_recycling = run(config(producers, [recycler])).metrics()
    assert without["recycled_share"] == 0.0
    assert with_recycling["recycled_share"] > 0.1
    assert with_recycling["import_reliance"] < without["import_reliance"] - 0.1


def test_cfd_floor_covers_recyclers_in_covered_regions():
    # a large uncovered EU refinery sets the price at 40; a US recycler costing 45 sells nothing
    # unless a CFD at 50 covers it (covered producers with cost at or below the floor offer at
    # any price); it then sells what it collects (reference price for the first 6 steps, then
    # 20 x (40/60)^0.5) and is topped up by (50 - 40) per tonne
    producers = [dict(REFINERY, region="EU", capacity=5000.0, unit_cost=40.0)]
    recycler = dict(RECYCLER, unit_cost=45.0)
    plain_raw = config(producers, [recycler])
    plain_raw["regions"] = [*plain_raw["regions"], {"name": "EU"}]
    plain = run(plain_raw).series()
    raw = copy.deepcopy(plain_raw)
    raw["policy"] = {"floor": {"mechanism": "cfd", "level": 50.0, "covers": ["US"],
                               "upside_share": 0.0}}
    model = run(raw)
    covered = model.series()
    assert (plain["recycled"] == 0).all()
    np.testing.assert_allclose(covered["price"].to_numpy(), 40.0, rtol=1e-12)
    expected = np.r_[np.full(6, 20.0), np.full(18, 20.0 * (40.0 / 60.0) ** 0.5)]
    np.testing.assert_allclose(covered["recycled"].to_numpy(), expected, rtol=1e-12)
    government = model.governments[0]
    assert government.ledger["topup"] == pytest.approx(10.0 * expected.sum() * 1000.0, rel=1e-9)


def test_recycler_collects_nothing_before_its_start_step():
    s = run(config([REFINERY], [dict(RECYCLER, start=5)]), steps=8).series()
    np.testing.assert_allclose(s["recycled"].to_numpy(), [0, 0, 0, 0, 0, 20, 20, 20], rtol=1e-12)
