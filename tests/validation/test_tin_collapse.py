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


def linked_defence_config(export_control: bool) -> dict:
    """A buffer stock at 40 USD/kg over a club producer (6 kt/yr at 30) and a non-market world
    producer (12 kt/yr at 20); from month 2 the world region caps its exports at their normal
    level (cut 0: nothing is withheld)."""
    raw = {"experiment": {"name": "linked_defence", "steps": 4, "seed": 1},
           "market": {"demand": {"reference_price": 50.0, "reference_quantity": 12000,
                                 "elasticity": -0.5}},
           "regions": [{"name": "Club", "club": True}, {"name": "World", "market_economy": False}],
           "producers": [{"name": "Club", "region": "Club", "stage": "refinery", "capacity": 6000,
                          "unit_cost": 30.0},
                         {"name": "World", "region": "World", "stage": "refinery",
                          "capacity": 12000, "unit_cost": 20.0}],
           "buyers": [{"name": "Club users", "region": "Club", "share": 0.5},
                      {"name": "World users", "region": "World", "share": 0.5}],
           "policy": {"floor": {"mechanism": "purchase", "level": 40.0, "covers": ["Club"]}}}
    if export_control:
        raw["shocks"] = [{"kind": "export_control", "region": "World", "start": 2, "duration": 2,
                          "cut": 0.0}]
    return raw


def test_buffer_stock_defends_the_floor_while_markets_are_linked():
    free = run_model(linked_defence_config(False), 1).series(accounts=True)
    linked = run_model(linked_defence_config(True), 1).series(accounts=True)
    # exports capped at their normal level change nothing: the floor holds as before
    assert free["price"].to_list() == pytest.approx([40.0] * 4)
    assert linked["price"][2:].to_list() == pytest.approx([40.0, 40.0])
    assert linked["gov_purchases"][2:].to_list() == pytest.approx(free["gov_purchases"][2:].to_list())
