"""A price on the corner of the supply curve: the offer whose tonnes the clearing counts is
dispatched (review of issue 15, finding 3: 15.07 t delivered that nobody sold)."""

import copy

import numpy as np
from test_conservation import assert_conserved
from test_shortfall_draws import exporter_and_importer

from abm import market

# step 29 of the finding's run (below): the producers' 960.71 t at 10 and the stockholders'
# sell ladder, against the buyers' demand 7,899.61 P^-0.5 (no bids left in the book)
ASKS = np.array([10.0, 65.98024028037759, 65.58969911970928, 64.61672824702586,
                 63.71637431370623, 62.88666404777897, 62.124575418864225, 61.42599050680338,
                 60.78580474610659, 60.1981987891927, 59.657029126092745, 59.1562502242278])
QTY = np.array([960.7127254283648, 4.738296286864622, 12.683775465477972, 13.081065017823658,
                13.492823408042163, 13.908662808550737, 14.316950555564006, 14.706237705896825,
                15.066883990430782, 15.392406392184341, 15.680096607619845, 6.369816049036331])
A = 7899.610269371553


def test_the_tranche_whose_tonnes_the_price_counts_is_sold():
    # By hand: supply through the tranche at 60.7858 is 960.71 + 6.37 + 15.68 + 15.39 + 15.07
    # = 1,013.22 t; demand at that ask is 7,899.61 / sqrt(60.7858) = 1,013.22 t, a rounding
    # (~1e-13 t) above the supply, so the clearing takes the vertical segment above it:
    # P = (7,899.61 / 1,013.22)^2 = 60.7858, which rounds to 1.4e-14 *below* the ask. The
    # tranche must be dispatched in full (before the fix it got 0 and 15.07 t were delivered
    # that nobody sold) and the price is not below the ask of an offer it sells.
    r = market.clear(ASKS, QTY, A, -0.5)
    np.testing.assert_allclose(r.quantity, 1013.2219284676363, rtol=1e-12)
    np.testing.assert_allclose(r.dispatched.sum(), r.quantity, rtol=1e-12)
    assert r.dispatched[8] == QTY[8]
    assert r.price >= ASKS[8]
    np.testing.assert_allclose(r.price, 60.7858047461066, rtol=1e-12)
    assert (r.dispatched[1:8] == 0).all() and (r.dispatched[9:] == QTY[9:]).all()


def test_stockholders_and_a_stockpile_over_an_announced_control_conserve_tonnes():
    # The finding's config: before the fix step 29 took in 998.155 t (production 960.713 +
    # stockholders' release 37.442) and delivered 1,013.222 t.
    raw = copy.deepcopy(exporter_and_importer(0.5))
    raw["experiment"]["steps"] = 30
    raw["shocks"][0].update(announce=5, start=15, duration=6)
    raw["market"]["supply_shock"] = {"sd": 0.08}
    raw["storage"] = {"enabled": True, "cost": 0.5, "interest": 0.01, "foresight": "exit"}
    raw["policy"] = {"stockpile": {"target_cover": 20.0, "max_rate": 0.2, "buy_below": 55.0,
                                   "release_above": 150.0}}
    assert_conserved(raw)
