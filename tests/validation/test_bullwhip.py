"""Claim: buyers keeping inventory toward a demand-tracking target amplify demand shocks into
orders and prices (the bullwhip effect; abm.validation.claims.bullwhip).

Tolerances (abm.validation.claims.BULLWHIP_*): orders at least 10% more variable than use in
every seed and price volatility at least 5% higher, so sampling noise over six seeds cannot pass
the claim by itself; without demand shocks the inventories may raise volatility by at most 2%.
"""

import pytest

from abm.validation import claims


@pytest.fixture(scope="module")
def result():
    return claims.bullwhip()


def test_orders_vary_more_than_use(result):
    check = result.check("orders_more_variable_than_use")
    assert check.passed, check.detail


def test_price_volatility_rises_with_inventory_targets(result):
    check = result.check("price_more_volatile")
    assert check.passed, check.detail


def test_without_demand_shocks_inventories_add_no_volatility(result):
    check = result.check("no_shocks_no_amplification")
    assert check.passed, check.detail


def test_judgement_fails_without_inventories():
    # the judgement applied to runs that hold no inventory (the "with" runs replaced by the
    # "without" ones): orders equal use, so the claim must be rejected
    runs = {(cover, shocks): [claims.run_model(claims.bullwhip_config(0.0, shocks), s)
                              .series(accounts=True) for s in claims.BULLWHIP_SEEDS[:2]]
            for cover in (0.0, claims.BULLWHIP_COVER) for shocks in (True, False)}
    judged = claims.judge_bullwhip(runs)
    assert not judged.check("orders_more_variable_than_use").passed
    assert not judged.passed
