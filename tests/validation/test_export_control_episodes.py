"""Claims: the gallium (2023) and dysprosium (2025) export controls land within a factor of two
of the reported price moves, for the mechanism each claim names; switching that mechanism off
makes the claim fail. Gallium's spread in the first month in force is not reproduced (a known
failure, stated on the claim). The magnitudes follow from assumed cost tranches (the claims'
notes): these test mechanisms and directions, not a calibration.

Deterministic runs; the bands are stated in abm.validation.episodes.
"""

import dataclasses

import pytest

from abm.validation import episodes


@pytest.fixture(scope="module")
def gallium():
    return episodes.gallium()


@pytest.fixture(scope="module")
def dysprosium():
    return episodes.dysprosium()


@pytest.mark.parametrize("key", ["outside_price", "restricting_price"])
def test_gallium_2023_price_moves_within_the_reported_band(gallium, key):
    check = gallium.check(key)
    assert check.passed, check.detail


@pytest.mark.xfail(strict=True, reason=episodes.GALLIUM_SPREAD_FAILURE)
def test_gallium_2023_spread_in_the_first_month_in_force_is_the_reported_one(gallium):
    check = gallium.check("spread")
    assert check.passed, check.detail


def test_gallium_2023_says_why_it_fails(gallium):
    assert not gallium.passed and gallium.known_failure == episodes.GALLIUM_SPREAD_FAILURE


@pytest.mark.parametrize("key", ["outside_price", "restricting_price", "spread"])
def test_dysprosium_2025_price_moves_within_the_reported_band(dysprosium, key):
    check = dysprosium.check(key)
    assert check.passed, check.detail


def test_gallium_without_buying_ahead_the_outside_price_explodes_in_the_licence_months():
    # no stock bought ahead: in the licence months only the outside 1.2% of supply is left
    off = episodes.gallium(dataclasses.replace(episodes.GALLIUM, front_run=0.0))
    assert not off.check("outside_price").passed
    assert off.produced["outside price move (model)"] > 10 * episodes.BAND * 0.40


def test_gallium_with_a_state_producer_that_answers_no_price_the_home_price_collapses():
    # market_share: China's refiners ask 0 and produce at capacity, so withheld exports flood
    # the home market instead of idling its dearest capacity
    off = episodes.gallium(dataclasses.replace(episodes.GALLIUM, strategy="market_share"))
    assert not off.check("restricting_price").passed
    assert off.produced["China price move (model)"] < -0.18


def test_dysprosium_with_no_licences_flowing_the_outside_price_leaves_the_band():
    off = episodes.dysprosium(dataclasses.replace(episodes.DYSPROSIUM, licence_flow=0.0))
    assert not off.check("outside_price").passed


def test_dysprosium_without_japans_stocks_the_outside_price_leaves_the_band():
    buyers = tuple((n, r, s, 0.0) for n, r, s, _ in episodes.DYSPROSIUM.buyers)
    off = episodes.dysprosium(dataclasses.replace(episodes.DYSPROSIUM, buyers=buyers))
    assert not off.check("outside_price").passed


def test_dysprosium_with_chinas_capacity_on_a_rising_cost_curve_its_price_does_not_hold():
    # the marginal tranche's 400 t at 200 spread over eight 50 t tranches at 130, 140, ..., 200:
    # China's price is no longer held by idle capacity at one cost, so the withheld exports
    # push it down the curve
    low = [p for p in episodes.DYSPROSIUM.producers if p[0] != "China marginal"]
    curve = [(f"China {c}", "China", 50.0, float(c)) for c in range(130, 201, 10)]
    off = episodes.dysprosium(dataclasses.replace(episodes.DYSPROSIUM,
                                                  producers=tuple(low + curve)))
    assert not off.check("restricting_price").passed
    assert off.produced["China price move (model)"] < -episodes.HELD
