"""Claim (Williams & Wright; Deaton & Laroque) for the strategic stockpile ([policy.stockpile],
abm.policies.stockpile.Stockpile) with the same 58/62 USD/kg triggers as the buffer-stock band:
prices positively autocorrelated and right-skewed, spikes only at stockouts; and the stockpile,
which bids at a reservation price, buys when the market is below its trigger and never pays above
it.

Tolerances as in test_storage_stylized_facts.py. (These were strict xfails until the stockpile
bid got its reservation price inside the step and in linked markets.)
"""

import numpy as np
import pytest

from abm import market
from abm.validation import claims
from abm.validation.base import run_model


@pytest.fixture(scope="module")
def result():
    return claims.judge_storage(claims.storage_runs("stockpile", claims.STORAGE_SEEDS), "stockpile")


def test_stockpile_makes_prices_positively_autocorrelated(result):
    check = result.check("positive_autocorrelation")
    assert check.passed, check.detail


def test_stockpile_makes_prices_right_skewed(result):
    check = result.check("right_skew")
    assert check.passed, check.detail


def test_stockpile_price_spikes_happen_only_when_its_stock_has_run_out(result):
    check = result.check("spikes_at_stockouts")
    assert check.passed, check.detail


def test_stockpile_buys_when_the_market_clears_below_its_trigger():
    check = claims.stockpile_bid_check(claims.STORAGE_SEEDS[0])
    assert check.passed, check.detail


def test_bid_above_the_price_of_a_market_cleared_beyond_its_last_offer_is_filled():
    # one offer, 1000 t at 10; demand D(P) = 1000 (P / 29.82)^-0.5, so without the bid the price
    # is 29.82 with all capacity sold. A bid for 500 t at up to 58 must set the price at 58 and
    # take what demand leaves at 58: 1000 - D(58) = 1000 - 1000 (58 / 29.82)^-0.5 = 283.0 t.
    A = float(market.demand_scale(1000.0, 29.82, -0.5))
    cleared, got = market.clear_with_bid(np.array([10.0]), np.array([1000.0]), A, -0.5, 500.0, 58.0)
    assert cleared.price == pytest.approx(58.0)
    assert got == pytest.approx(1000.0 - 1000.0 * (58.0 / 29.82) ** -0.5, rel=1e-9)


def test_stockpile_pays_at_most_its_trigger_in_one_world_market():
    s = run_model(claims.bid_config(0.0), 1).series(accounts=True)
    bought = s["gov_purchases"].to_numpy()
    assert bought.sum() > 0
    assert s["gov_purchase_spend"].sum() <= bought.sum() * claims.STORAGE_BUY * 1000 * (1 + 1e-9)


def test_stockpile_pays_at_most_its_trigger_when_a_tariff_separates_the_club():
    check = claims.stockpile_price_check()
    assert check.passed, check.detail
