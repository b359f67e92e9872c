"""Claim (Dixit & Pindyck 1994): the price that triggers investment rises with volatility, so
higher demand volatility means fewer and later project starts under the real-options rule, and a
floor covering the projects brings investment forward.

Tolerances: means over 4 seeds (common random numbers: the same shock draws scaled by each sd);
the monotone comparisons are strict only between the lowest and highest volatility, so noise
between neighbouring levels cannot fail the claim spuriously but a flat response does.
"""

import pytest

from abm.validation import claims


@pytest.fixture(scope="module")
def result():
    return claims.real_options()


def test_higher_volatility_means_fewer_starts(result):
    check = result.check("fewer_with_volatility")
    assert check.passed, check.detail


def test_higher_volatility_means_later_starts(result):
    check = result.check("later_with_volatility")
    assert check.passed, check.detail


def test_a_floor_covering_the_projects_brings_investment_forward(result):
    check = result.check("floor_brings_forward")
    assert check.passed, check.detail


def test_judgement_fails_for_an_npv_rule_that_ignores_volatility():
    # NPV at a fixed hurdle rate with no volatility premium: volatility does not delay anything
    wrong = claims.real_options(rule="npv", seeds=claims.RO_SEEDS[:2])
    assert not wrong.check("fewer_with_volatility").passed
