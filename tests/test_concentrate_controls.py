"""Export controls at the concentrate stage (`[[shocks]] stage = "concentrate"`, issue 15),
against hand-computed cases.

MINELAND: intensity k = 1, monthly steps, no shocks. Demand 12,000 t/yr at 60 (1,000 t/step),
elasticity -0.5, all of it in the EU: P = 60 (Q / 1000)^-2. Mines: DRC 10 (9,600 t/yr = 800
t/step; the DRC has no refinery), EU 40 (2,400 t/yr = 200 t/step); refinery: EU 10 (1e6 t/yr).
Free trade: the chain offers 800 t at 10 + 10 = 20 and 200 t at 10 + 40 = 50; at 50 buyers want
1000 (50/60)^-0.5 = 1,095 t > 1,000, so the market clears on the vertical at Q = 1,000, P = 60,
and the DRC ships all its 800 t of concentrate to the EU refinery.
"""

import copy

import numpy as np
import pytest
from helpers import run

MINELAND = {
    "experiment": {"name": "cc", "steps": 6, "seed": 1},
    "market": {"intensity": 1.0, "demand": {"reference_price": 60.0,
                                            "reference_quantity": 12000.0, "elasticity": -0.5}},
    "regions": [{"name": "EU", "club": True}, {"name": "DRC"}],
    "producers": [
        {"name": "Mine DRC", "region": "DRC", "stage": "mine", "capacity": 9600.0,
         "unit_cost": 10.0},
        {"name": "Mine EU", "region": "EU", "stage": "mine", "capacity": 2400.0,
         "unit_cost": 40.0},
        {"name": "Ref EU", "region": "EU", "stage": "refinery", "capacity": 1e6,
         "unit_cost": 10.0},
    ],
    "buyers": [{"name": "EU buyers", "region": "EU", "share": 1.0}],
}
MINE_DRC = 0


def controlled(cut: float | None, stage: str = "concentrate", **changes) -> dict:
    """MINELAND with the DRC's control in force in steps 2..4 (normal exports: the mean of steps
    0 and 1, 800 t/step), or none (cut None)."""
    raw = copy.deepcopy(MINELAND)
    if cut is not None:
        raw["shocks"] = [{"kind": "export_control", "region": "DRC", "start": 2,
                          "duration": 3, "cut": cut, "stage": stage}]
    for key, value in changes.items():
        raw["market"][key] = value
    return raw


def test_a_mine_only_regions_concentrate_ban_raises_the_product_price_by_hand():
    """Cut 0.5: the DRC ships 0.5 x 800 = 400 t/step; the chain offers 400 t at 20 and 200 t at
    50, buyers want 1,095 t at 50, so P = 60 (600 / 1000)^-2 = 166.67 on the vertical. The
    concentrate price is (P - c_r) / k = 156.67 (no spare concentrate: the DRC's quota and the
    EU mine are used up); the DRC's other 400 t go unsold (not mined): its revenue is 400 x
    156.67 against 800 x 50 under free trade (p_c = (60 - 10) / 1 = 50)."""
    model = run(controlled(0.5))
    s = model.series()
    high = 60.0 * (600.0 / 1000.0) ** -2
    np.testing.assert_allclose(s["price"], [60.0, 60.0, high, high, high, 60.0], rtol=1e-9)
    np.testing.assert_allclose(s["concentrate_price"],
                               [50.0, 50.0, high - 10, high - 10, high - 10, 50.0], rtol=1e-9)
    control = next(p for p in model.policies if p.name == "export_control")
    np.testing.assert_allclose(control.shipped, [800, 800, 400, 400, 400, 800], rtol=1e-12)
    assert model.book.output[MINE_DRC] == pytest.approx(800.0)   # step 5: the control is over
    ctl = run(controlled(0.5), steps=3)
    assert ctl.book.output[MINE_DRC] == pytest.approx(400.0)
    assert ctl.book.revenue[MINE_DRC] == pytest.approx(
        400.0 * (high - 10) * ctl.money_per_price_tonne, rel=1e-9)


def test_the_same_cut_on_product_changes_nothing_for_a_region_without_refineries():
    """A product control by the DRC caps net exports of product, of which it has none (no
    refinery): every price is the free-trade one (the mechanism is the concentrate stage)."""
    s = run(controlled(0.5, stage="product")).series()
    np.testing.assert_allclose(s["price"], np.full(6, 60.0), rtol=1e-12)


def test_withheld_concentrate_feeds_home_refiners_first_at_the_home_concentrate_price():
    """With a DRC refinery at 15 (3,600 t/yr = 300 t/step): under free trade it is idle (15 + 10
    = 25 > the EU refinery's 20 on DRC feed), so exports are 800 t. Cut 0.5: 400 t go to the
    world chain (400 t at 20, 200 t at 50), the 400 t withheld feed the DRC refinery's 300 t
    at 25 (home pool); 900 t in all, P = 60 (900 / 1000)^-2 = 74.07. World concentrate:
    (74.07 - 10) / 1 = 64.07; home concentrate: 100 t of it are spare at 10, so
    clip(74.07 - 15, 10, 10) = 10. The DRC mine sells 700 t: 400 x 64.07 + 300 x 10."""
    raw = controlled(0.5)
    raw["producers"].append({"name": "Ref DRC", "region": "DRC", "stage": "refinery",
                             "capacity": 3600.0, "unit_cost": 15.0})
    model = run(raw, steps=3)
    price = 60.0 * 0.9 ** -2
    assert model.price == pytest.approx(price, rel=1e-9)
    assert model.concentrate_price == pytest.approx(price - 10.0, rel=1e-9)
    assert model.producers.home_pools[0].price == pytest.approx(10.0)
    mf = model.money_per_price_tonne
    assert model.book.output[MINE_DRC] == pytest.approx(700.0)
    assert model.book.revenue[MINE_DRC] == pytest.approx(
        (400.0 * (price - 10.0) + 300.0 * 10.0) * mf, rel=1e-9)
    # the DRC refinery: sells 300 t at P, pays 300 x 10 for its feed
    assert model.book.revenue[3] == pytest.approx(300.0 * (price - 10.0) * mf, rel=1e-9)
    control = next(p for p in model.policies if p.name == "export_control")
    assert control.shipped[-1] == pytest.approx(400.0)


def test_a_concentrate_control_with_a_cut_of_0_changes_nothing():
    plain = run(controlled(None)).series()
    for s in (run(controlled(0.0)).series(), run(controlled(0.0, stage="product")).series()):
        assert s.columns == plain.columns
        assert s.equals(plain)      # every series, bit for bit


def test_the_outside_price_rises_with_the_concentrate_cut_on_paired_seeds():
    """Demand shocks (sd 0.1, the same draws on the same seed): the mean price over the
    control's steps rises with the cut, seed by seed; the control is the only difference."""
    cuts = (0.1, 0.3, 0.5, 0.7)
    for seed in (1, 2, 3):
        means = []
        for cut in cuts:
            raw = controlled(cut)
            raw["market"]["demand"]["shock_sd"] = 0.1
            s = run(raw, seed=seed).series()
            means.append(float(s["price"][2:5].mean()))
        assert all(a < b for a, b in zip(means, means[1:], strict=False)), (seed, means)


def test_a_licence_delay_ships_licence_flow_of_the_allowed_concentrate():
    """Cut 0.5, licence_delay 1, licence_flow 0.5: step 2 ships 0.5 x 400 = 200 t (P = 60 x
    (400 / 1000)^-2 = 375), steps 3 and 4 ship 400 t (P = 166.67)."""
    raw = controlled(0.5)
    raw["shocks"][0].update(licence_delay=1, licence_flow=0.5)
    s = run(raw).series()
    np.testing.assert_allclose(s["price"][2:5], [375.0, 60 / 0.36, 60 / 0.36], rtol=1e-9)
