"""Synthetic populations reproduce the curve they are drawn from and validate as config tables."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from abm.calibration.cost_curve import fit_cost_curve, weighted_quantile
from abm.calibration.population import (
    capital_charge,
    curve_from_bands,
    curve_from_points,
    producers_from_curve,
    projects_from_curve,
)
from abm.config import Producer, Project

CAPACITY = {"China": 60_000.0, "US": 10_000.0, "Australia": 15_000.0}


class Lognormal:
    """A known curve: lognormal quantiles (mu = log 50, sigma = 0.4)."""

    dist = stats.lognorm(s=0.4, scale=50.0)

    def quantile(self, shares):
        return self.dist.ppf(shares)


def arrays(agents: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    return (np.array([a["capacity"] for a in agents]), np.array([a["unit_cost"] for a in agents]))


def test_population_reproduces_the_fitted_curve():
    agents = producers_from_curve(Lognormal(), CAPACITY, agents_per_region=40, seed=3)
    capacity, cost = arrays(agents)
    refit = fit_cost_curve(capacity, cost)
    assert refit.best.family == "lognormal"
    assert refit.families["lognormal"].parameters["mu"] == pytest.approx(np.log(50), abs=0.02)
    assert refit.families["lognormal"].parameters["sigma"] == pytest.approx(0.4, abs=0.03)
    # the population's step curve matches the curve at interior shares
    shares = np.linspace(0.1, 0.9, 9)
    np.testing.assert_allclose(weighted_quantile(cost, capacity, shares),
                               Lognormal().quantile(shares), rtol=0.06)
    # block means keep the capacity-weighted mean cost of the curve
    assert np.sum(capacity * cost) / capacity.sum() == pytest.approx(Lognormal.dist.mean(),
                                                                      rel=0.01)


def test_population_keeps_each_regions_capacity():
    agents = producers_from_curve(Lognormal(), CAPACITY, agents_per_region={"China": 7, "US": 2,
                                                                          "Australia": 3}, seed=1)
    for region, total in CAPACITY.items():
        mine = [a for a in agents if a["region"] == region]
        assert sum(a["capacity"] for a in mine) == pytest.approx(total, rel=1e-6)
    assert [len([a for a in agents if a["region"] == r]) for r in CAPACITY] == [7, 2, 3]


def test_population_is_deterministic_for_a_seed():
    first = producers_from_curve(Lognormal(), CAPACITY, seed=42)
    assert producers_from_curve(Lognormal(), CAPACITY, seed=42) == first
    assert producers_from_curve(Lognormal(), CAPACITY, seed=43) != first


def test_population_dicts_have_exactly_the_producer_fields():
    agents = producers_from_curve(Lognormal(), CAPACITY, seed=0)
    for agent in agents:
        assert set(agent) <= set(Producer.model_fields)
        assert Producer.model_validate(agent).model_dump(exclude_none=True) == agent
    assert len({a["name"] for a in agents}) == len(agents)


def test_band_curve_puts_each_bands_share_of_capacity_in_its_cost_range():
    # Benchmark (~Q1 2024): 40% of the ex-China NdPr pipeline needs 75-85 USD/kg, 15% more
    bands = curve_from_bands([(0.45, 54, 75), (0.40, 75, 85), (0.15, 85, 100)])
    agents = producers_from_curve(bands, {"US": 20_000.0, "Australia": 30_000.0},
                                  agents_per_region=100, size_sd=0.0, seed=0)
    capacity, cost = arrays(agents)
    share = capacity / capacity.sum()
    assert share[(cost >= 75) & (cost <= 85)].sum() == pytest.approx(0.40, abs=0.02)
    assert share[cost > 85].sum() == pytest.approx(0.15, abs=0.02)
    assert cost.min() >= 54


def test_band_shares_must_add_up_to_one():
    with pytest.raises(ValueError, match="add up to 1"):
        curve_from_bands([(0.5, 50, 60), (0.3, 60, 70)])


def test_incentive_curve_projects_recover_incentive_price_from_cash_cost_and_capex():
    bands = curve_from_bands([(0.45, 54, 75), (0.40, 75, 85), (0.15, 85, 100)])
    projects = projects_from_curve(bands, {"US": 20_000.0}, capex=150_000.0, lead_time=60,
                                   agents_per_region=10, curve_kind="incentive", seed=2)
    charge = float(capital_charge(150_000.0, rate=0.10, years=20.0, price_unit="USD/kg"))
    assert 17 < charge < 18  # 150k USD per t/yr at 10% over 20 years ~ 17.6 USD/kg
    incentive = np.array([p["unit_cost"] for p in projects]) + charge
    assert incentive.min() >= 54 - 1e-9 and incentive.max() <= 100 + 1e-9
    for project in projects:
        assert Project.model_validate(project).model_dump(exclude_none=True) == project
        assert project["lead_time"] == 60


def test_incentive_curve_refuses_capex_above_the_incentive_price():
    bands = curve_from_bands([(1.0, 10, 12)])
    with pytest.raises(ValueError, match="capex"):
        projects_from_curve(bands, {"US": 1000.0}, capex=1e6, lead_time=12,
                            curve_kind="incentive")


def test_table_rows_become_producers_and_pipeline_rows_projects(tmp_path):
    from abm.calibration.population import agents_from_table
    from abm.calibration.table import read_producers

    path = tmp_path / "p.csv"
    path.write_text("name,region,stage,capacity,unit_cost,status,capex,lead_time\n"
                    "A,China,refinery,1000,40,operating,,\n"
                    "B,US,refinery,500,60,,,\n"
                    "C,US,refinery,700,55,planned,90000,4.5\n")
    producers, projects = agents_from_table(read_producers(path), steps_per_year=12)
    assert [p["name"] for p in producers] == ["A", "B"]
    assert projects == [Project.model_validate(
        {"name": "C", "region": "US", "stage": "refinery", "capacity": 700.0, "unit_cost": 55.0,
         "capex": 90000.0, "lead_time": 54}).model_dump(exclude_none=True)]


def test_anchor_points_give_a_monotone_curve_through_them_and_a_matching_population():
    curve = curve_from_points([0.0, 0.5, 0.9, 1.0], [30.0, 45.0, 70.0, 120.0])
    np.testing.assert_allclose(curve.quantile(np.array([0.0, 0.5, 0.9, 1.0])),
                               [30, 45, 70, 120])
    assert np.all(np.diff(curve.quantile(np.linspace(0, 1, 1001))) >= -1e-12)
    agents = producers_from_curve(curve, {"US": 50_000.0}, agents_per_region=200, size_sd=0.0)
    capacity, cost = arrays(agents)
    assert weighted_quantile(cost, capacity, np.array([0.5]))[0] == pytest.approx(45, rel=0.02)
    with pytest.raises(ValueError, match="must not decrease"):
        curve_from_points([0.0, 1.0], [50.0, 40.0])
