"""Claim: in a downturn the highest-cost capacity idles first and the price settles near the cash
cost of the marginal surviving capacity (abm.validation.claims.merit_order_curtailment).

Tolerances: dispatch is exact up to floating point (relative 1e-9), because abm.market.clear
computes the merit-order intersection exactly; "near" is one step of the cost curve (3 USD/kg),
because on a vertical segment of the merit order the price lies between the marginal ask and the
next one, so no finer statement is true.
"""

import pytest

from abm.validation import claims
from abm.validation.base import run_model


@pytest.fixture(scope="module")
def result():
    return claims.merit_order_curtailment()


def test_producers_below_the_price_run_flat_out_and_those_above_sell_nothing(result):
    check = result.check("dispatch")
    assert check.passed, check.detail


def test_highest_cost_capacity_idles_first(result):
    check = result.check("idle_order")
    assert check.passed, check.detail


def test_price_settles_within_one_cost_step_of_the_marginal_survivor(result):
    check = result.check("price_near_marginal_cost")
    assert check.passed, check.detail
    assert result.produced["price at end (USD/kg)"] < result.produced["price at start (USD/kg)"]


def test_judgement_fails_when_the_cost_ranking_is_reversed():
    # the same run judged against costs in the opposite order: the cheapest would be idling
    # first, so the claim must be rejected (the check can fail)
    model, output = run_model(claims.merit_config(), 11, record_output=True)
    wrong = claims.judge_merit(model.series()["price"].to_numpy(), output, claims.MERIT_COSTS[::-1],
                               claims.MERIT_CAPACITY / 12)
    assert not wrong.check("idle_order").passed
    assert not wrong.passed
