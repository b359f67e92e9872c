"""Investment: the revenue distribution under protection, the trigger, lead times, comparative statics."""

import numpy as np
import pytest
from helpers import raw

from abm.experiment import experiment_from_dict
from abm.investment import (
    Protection,
    effective_price,
    pipeline_adjusted_price,
    protected_moments,
    real_options_multiple,
    trigger_price,
)
from abm.model import MineralMarket


def test_unprotected_project_sees_the_market_distribution_unchanged():
    price, sigma = effective_price(70.0, 0.35, 5.0, Protection())
    assert price == pytest.approx(70.0, rel=1e-12)
    assert sigma == pytest.approx(0.35, rel=1e-12)


def test_floor_moments_match_monte_carlo():
    rng = np.random.default_rng(0)
    m, s = np.log(60.0), 0.5
    x = np.exp(m + s * rng.standard_normal(2_000_000))
    for p in (Protection(floor=70.0), Protection(floor=50.0, upside_share=0.3),
              Protection(floor=55.0, offtake_share=0.4, offtake_price=65.0)):
        r = p.floor + (1 - p.upside_share) * np.maximum(x - p.floor, 0.0)
        r = p.offtake_share * p.offtake_price + (1 - p.offtake_share) * r
        mean, sd = protected_moments(m, s, p)
        assert mean == pytest.approx(r.mean(), rel=2e-3)
        assert sd == pytest.approx(r.std(), rel=5e-3)


def test_a_floor_raises_the_effective_price_and_lowers_effective_volatility():
    bare = effective_price(60.0, 0.4, 5.0, Protection())
    floored = effective_price(60.0, 0.4, 5.0, Protection(floor=60.0))
    assert floored[0] > bare[0]
    assert floored[1] < bare[1]


def test_trigger_rises_with_volatility_and_falls_to_npv_breakeven_without_it():
    assert real_options_multiple(0.1, 0.0) == 1.0
    triggers = [trigger_price(40.0, 100.0, 0.1, s) for s in (0.0, 0.1, 0.3, 0.6)]
    assert triggers[0] == pytest.approx(40.0 + 0.1 * 100.0)
    assert all(np.diff(triggers) > 0)
    # npv rule: unit cost + capex x annuity factor; the premium raises it with volatility
    annuity = 0.15 / (1 - 1.15**-20)
    assert trigger_price(52.4, 60.0, 0.15, 0.0, "npv") == pytest.approx(52.4 + 60 * annuity)
    assert trigger_price(52.4, 60.0, 0.15, 0.3, "npv", 0.1) > trigger_price(52.4, 60.0, 0.15, 0.0,
                                                                             "npv", 0.1)


def test_pipeline_capacity_lowers_the_expected_price_by_inverse_demand():
    assert pipeline_adjusted_price(80.0, 1000.0, 0.0, -0.5) == 80.0
    assert pipeline_adjusted_price(80.0, 1000.0, 210.0, -0.5) == pytest.approx(80.0 * 1.21 ** -2)


def pipeline_config(**changes):
    cfg = raw(**{"experiment.steps": 60, "investment.rule": "npv", "investment.hurdle_rate": 0.1,
                 "investment.volatility_prior": 0.0, "investment.review_every": 1, **changes})
    cfg["investment"]["projects"] = [
        {"name": f"J{i}", "region": "US", "capacity": 120.0, "unit_cost": c, "capex": 0.0,
         "lead_time": 18} for i, c in enumerate((50.0, 60.0, 70.0, 80.0, 90.0))]
    return cfg


def run(cfg):
    return MineralMarket(experiment_from_dict(cfg).scenario(), rng=3).run()


def test_new_capacity_appears_only_after_its_lead_time():
    model = run(pipeline_config())
    started = [d for d in model.developers if d.status != "candidate"]
    assert started, "the scarce market (price 240) must attract projects"
    s = model.series()
    cap = s["capacity_market"].to_numpy()
    first_start = min(d.started_step for d in started)
    # nothing new before first_start + 1 + lead_time; capacity jumps exactly then
    assert np.all(cap[: first_start + 18] == cap[0])
    assert cap[first_start + 19] > cap[0]
    for d in started:
        assert d.online_step == d.started_step + 1 + 18


def test_a_higher_expected_price_brings_more_projects():
    low = run(pipeline_config(**{"market.demand.reference_quantity": 700.0}))
    high = run(pipeline_config(**{"market.demand.reference_quantity": 1400.0}))
    assert high.metrics()["projects_started"] > low.metrics()["projects_started"]
    assert high.metrics()["capacity_added_market"] > low.metrics()["capacity_added_market"]
