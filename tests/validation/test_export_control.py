"""Claim: an export control by a dominant producer lowers its domestic price and raises the
club's (antimony 2024: Europe +57%, China -10.5%); announced ahead with front-running importers,
exports surge before the deadline (gallium 2023).

Tolerances: the runs are deterministic, so the directions are exact comparisons; a surge must
exceed 10% of pre-announcement exports so that it is material, not rounding (its size follows the
free front_run parameter, so the gallium +372% is not a target).
"""

import pytest

from abm.validation import claims


@pytest.fixture(scope="module")
def result():
    return claims.export_control()


def test_restricting_regions_price_falls(result):
    check = result.check("restricting_price_falls")
    assert check.passed, check.detail


def test_club_price_rises(result):
    check = result.check("club_price_rises")
    assert check.passed, check.detail


def test_club_rise_exceeds_the_restricting_regions_fall_as_for_antimony(result):
    check = result.check("club_rise_exceeds_china_fall")
    assert check.passed, check.detail


def test_exports_surge_between_announcement_and_deadline(result):
    check = result.check("exports_surge_before_deadline")
    assert check.passed, check.detail


def test_judgement_fails_when_nothing_is_withheld():
    # cut = 0: exports are capped at their normal level, so the club's price does not rise
    wrong = claims.export_control(cuts=(0.0,))
    assert not wrong.check("club_price_rises").passed
