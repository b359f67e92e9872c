"""Claim (EU minimum import price on Chinese solar modules, 2013-2018): a MIP with an annual
volume cap keeps the club price near the MIP while it binds and lets it fall to the world price
when removed (floor `end`); while in force, club producers sell more.

Tolerances: "near" is within 2% of the MIP in at least 90% of binding months; the exceptions are
months after the annual cap (110% of expected imports) is used up, when the model stops imports
and the club price rises above the MIP. After removal the club price equals the world price up to
floating point (relative 1e-9).
"""

import pytest

from abm.validation import claims


@pytest.fixture(scope="module")
def result():
    return claims.mip_removal()


def test_club_price_stays_near_the_mip_while_it_binds(result):
    check = result.check("club_price_near_mip")
    assert check.passed, check.detail


def test_club_price_falls_to_the_world_price_when_the_mip_ends(result):
    check = result.check("falls_to_world_price")
    assert check.passed, check.detail


def test_mip_shifts_club_purchases_to_club_producers(result):
    check = result.check("shifts_purchases_to_club_producers")
    assert check.passed, check.detail


def test_judgement_fails_when_the_mip_is_never_removed():
    wrong = claims.mip_removal(end=None, seeds=claims.MIP_SEEDS[:1])
    assert not wrong.check("falls_to_world_price").passed
