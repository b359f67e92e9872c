"""Claim: a purchase (buffer-stock) floor above the long-run price with a finite budget
accumulates stock, exhausts the budget, and the price falls back to the undefended level; the size
of the fall matches the 1985 tin collapse (free price ~40% of the defended level).

Tolerances: the held price, stock growth S(F) - D(F) and the post-collapse price (equal to the
free-market run on the same seed) are exact up to floating point (relative 1e-9, 1e-6 for summed
tonnes); the ratio after/floor is 0.40 +- 0.05, the rounding of the historical "about 40%"
(GBP 3,250 / 8,140 at the mid-1986 low).
"""

import pytest

from abm.validation import claims
from abm.validation.base import run_model


@pytest.fixture(scope="module")
def result():
    return claims.tin_collapse()


def test_price_is_held_at_the_floor_while_money_remains(result):
    check = result.check("held_at_floor")
    assert check.passed, check.detail


def test_stock_accumulates_supply_minus_demand_at_the_floor(result):
    check = result.check("stock_accumulates")
    assert check.passed, check.detail


def test_budget_is_exhausted(result):
    check = result.check("budget_exhausted")
    assert check.passed, check.detail


def test_price_falls_back_to_the_undefended_level(result):
    check = result.check("falls_to_undefended")
    assert check.passed, check.detail


def test_size_of_the_fall_matches_the_1985_tin_collapse(result):
    check = result.check("size_of_fall")
    assert check.passed, check.detail


def test_judgement_fails_on_an_undefended_market():
    # the free market judged as if it were defended: nothing is held, nothing is spent
    free = [(run_model(claims.tin_config(False), s).series(accounts=True),
             run_model(claims.tin_config(False), s).series()) for s in claims.TIN_SEEDS[:1]]
    wrong = claims.judge_tin(free)
    assert not wrong.check("held_at_floor").passed
    assert not wrong.check("budget_exhausted").passed
