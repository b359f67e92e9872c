"""Claim (Williams & Wright; Deaton & Laroque): with inventories, prices are positively
autocorrelated and right-skewed, with spikes when stocks run out, compared with a no-storage
control on the same seeds. Inventories here: a buffer stock buying at 58 and selling at 62 USD/kg
within a 5,000 t capacity (a Miranda-Helmberger price band, as RECS sto4), against i.i.d.
demand shocks and a fixed harvest.

Tolerances: a storage effect counts when the mean paired difference over 8 seeds exceeds two
standard errors of that mean (about a 5% one-sided test); "at a stockout" means a stock below
1e-6 t.
"""

import pytest

from abm.validation import claims


@pytest.fixture(scope="module")
def runs():
    return claims.storage_runs("band", claims.STORAGE_SEEDS)


@pytest.fixture(scope="module")
def result(runs):
    return claims.judge_storage(runs, "band")


def test_storage_makes_prices_positively_autocorrelated(result):
    check = result.check("positive_autocorrelation")
    assert check.passed, check.detail


def test_storage_makes_prices_right_skewed(result):
    check = result.check("right_skew")
    assert check.passed, check.detail


def test_price_spikes_happen_only_when_the_stock_has_run_out(result):
    check = result.check("spikes_at_stockouts")
    assert check.passed, check.detail


def test_judgement_fails_on_the_no_storage_control(runs):
    # the control judged against itself: no gain in autocorrelation or skewness
    wrong = claims.judge_storage([(control, control) for _, control in runs], "band")
    assert not wrong.check("positive_autocorrelation").passed
    assert not wrong.check("right_skew").passed
