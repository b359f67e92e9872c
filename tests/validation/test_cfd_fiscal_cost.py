"""Claim (US DoD - MP Materials, 2025: 110 USD/kg floor, quarterly settlement, 30% upside share):
the CFD pays nothing whenever the (quarterly mean) price is at or above the floor, and its fiscal
cost falls as the price path rises.

Tolerances: settlements are checked exactly against (F - P) x tonnes or 30% x (P - F) x tonnes
(relative 1e-9); with the same shocks at every demand level, the fiscal cost per seed may not
rise by more than 1e-9 of its largest magnitude (floating point), and its mean must fall.
"""

import pytest

from abm.validation import claims
from abm.validation.base import run_model


@pytest.fixture(scope="module")
def runs():
    return {lv: [run_model(claims.cfd_config(lv), s) for s in claims.CFD_SEEDS]
            for lv in claims.CFD_DEMAND}


@pytest.fixture(scope="module")
def result(runs):
    return claims.judge_cfd(runs)


def test_cfd_pays_nothing_when_the_price_is_at_or_above_the_floor(result):
    check = result.check("pays_nothing_at_or_above_floor")
    assert check.passed, check.detail


def test_cfd_fiscal_cost_falls_as_the_price_path_rises(result):
    check = result.check("fiscal_cost_falls_as_price_rises")
    assert check.passed, check.detail


def test_judgement_fails_when_the_price_paths_are_taken_in_reverse(runs):
    wrong = claims.judge_cfd(dict(reversed(list(runs.items()))))
    assert not wrong.check("fiscal_cost_falls_as_price_rises").passed
