"""Buyers' inventory cover targets: stock adjustment toward days of use."""

import copy

import numpy as np
from helpers import BASE, run

# one refinery with ample capacity at 50 USD/kg: the price is 50 every step (horizontal supply);
# demand D(P) = 100 g_t (P/60)^-0.5 t/step (g_t: trend growth), split 50/50 between the US and
# China buyers; only the US buyer holds inventory
FLAT = [{"name": "A", "region": "US", "stage": "refinery", "capacity": 1e6, "unit_cost": 50.0}]
STEPS_OF_USE = 30 * 12 / 365          # a 30-day cover in monthly steps


def config(cover: float, adjust: float, growth: float = 0.0, max_draw: float = 0.5) -> dict:
    raw = copy.deepcopy(BASE)
    raw["producers"] = FLAT
    raw["market"]["demand"]["growth"] = growth
    raw["buyers"][0].update(inventory_cover=cover, inventory_adjust=adjust,
                            inventory_max_draw=max_draw)
    return raw


def expected_stock(adjust: float, growth: float, steps: int, max_draw: float = 0.5,
                   cover_steps: float = STEPS_OF_USE):
    """By hand: U_t = 50 g^(t/12) is the US buyer's use at the reference price, the target
    T_t = cover x U_t; the buyer orders (1 + x_t) D(50) with x_t = max(adjust (T_t - S_t) / U_t,
    -max_draw); it uses D(50) = U_t (50/60)^-0.5, so its stock changes by x_t D(50)."""
    stock, path = cover_steps * 50.0, []
    for t in range(steps):
        use_ref = 50.0 * (1.0 + growth) ** (t / 12)
        x = max(adjust * (cover_steps * use_ref - stock) / use_ref, -max_draw)
        stock += x * use_ref * (50.0 / 60.0) ** -0.5
        path.append(stock)
    return np.array(path)


def test_at_a_steady_demand_the_stock_stays_at_its_target_and_nothing_changes():
    with_stock = run(config(30.0, 0.5), steps=12).series(accounts=True)
    plain = run(config(0.0, 0.5), steps=12).series(accounts=True)
    np.testing.assert_allclose(with_stock["buyer_stock"], STEPS_OF_USE * 50.0, rtol=1e-12)
    for column in ("price", "consumption", "production"):
        np.testing.assert_allclose(with_stock[column], plain[column], rtol=1e-12)
    assert (plain["buyer_stock"] == 0).all()


def test_growing_demand_builds_stock_toward_the_rising_target():
    s = run(config(30.0, 0.5, growth=0.3), steps=12).series(accounts=True)
    np.testing.assert_allclose(s["price"], 50.0, rtol=1e-12)
    stock = expected_stock(0.5, 0.3, 12)
    np.testing.assert_allclose(s["buyer_stock"].to_numpy(), stock, rtol=1e-12)
    # buyers use their demand at the price; production also fills the stock building
    use = 100.0 * 1.3 ** (np.arange(12) / 12) * (50.0 / 60.0) ** -0.5
    built = np.diff(np.r_[STEPS_OF_USE * 50.0, stock])
    np.testing.assert_allclose(s["consumption"].to_numpy(), use, rtol=1e-12)
    np.testing.assert_allclose(s["production"].to_numpy(), use + built, rtol=1e-12)
    np.testing.assert_allclose(s["private_stocking"].to_numpy(), built, rtol=1e-12)
    assert (built[1:] > 0).all() and built[0] == 0.0     # (no growth before step 1)


def test_falling_demand_draws_stock_down_at_most_max_draw_of_use_a_step():
    # a year's cover, demand falling 50% a year, adjust 1: the gap exceeds half a step's use,
    # so the buyer draws exactly half its use from stock each step
    s = run(config(365.0, 1.0, growth=-0.5), steps=6).series(accounts=True)
    stock = expected_stock(1.0, -0.5, 6, cover_steps=12.0)
    np.testing.assert_allclose(s["buyer_stock"].to_numpy(), stock, rtol=1e-12)
    released = -np.diff(np.r_[12.0 * 50.0, stock])
    np.testing.assert_allclose(s["private_release"].to_numpy(), released, rtol=1e-12,
                               atol=1e-12)
    use = 50.0 * 0.5 ** (np.arange(6) / 12) * (50.0 / 60.0) ** -0.5
    np.testing.assert_allclose(released[1:], 0.5 * use[1:], rtol=1e-12)   # the cap binds


def test_cover_targets_that_track_demand_amplify_price_volatility_bullwhip():
    # Forrester (1961); Lee, Padmanabhan and Whang (1997): orders that chase a target tied to
    # demand swing more than demand. Paired seeds, baseline market with its demand shocks;
    # without shocks the same inventories add no volatility.
    import abm
    from abm.model import MineralMarket

    def volatility(cover: float, shocks: bool) -> float:
        overrides = {f"buyers.{i}.inventory_cover": cover for i in range(5)}
        if not shocks:
            overrides.update({"market.demand.shock_sd": 0.0})
        config = abm.load_experiment("experiments/baseline.toml", overrides=overrides).scenario()
        return float(np.mean([MineralMarket(config, rng=seed).run().metrics()["price_volatility"]
                              for seed in range(6)]))

    assert volatility(60.0, True) > 1.15 * volatility(0.0, True)
    assert volatility(60.0, False) <= 1.02 * volatility(0.0, False)


def test_safety_stock_is_drawn_during_an_export_control_and_rebuilt_after():
    # China (state-directed, 120 t/month at 30) supplies most of the US club (20 t/month at 60)
    # and cuts its exports by 80% for a year from month 12. Club buyers holding 90 days draw
    # their stock (target zero while the control is in force, at most half their use a month),
    # which lowers the club's price during the control; they rebuild it afterwards, which
    # raises it then.
    # (BASE: US is the club, China state-directed; demand 100 t/month at 60, elasticity -0.5)
    raw = copy.deepcopy(BASE)
    raw["experiment"]["steps"] = 36
    raw["producers"] = [dict(FLAT[0], name="W", region="China", capacity=1440.0, unit_cost=30.0),
                        dict(FLAT[0], name="C", region="US", capacity=240.0, unit_cost=60.0)]
    raw["nonmarket"] = {"strategy": "competitive"}
    raw["shocks"] = [{"kind": "export_control", "region": "China", "start": 12, "duration": 12,
                      "cut": 0.8}]
    held = copy.deepcopy(raw)
    held["buyers"][0]["inventory_cover"] = 90.0
    plain, stocked = run(raw).series(), run(held).series()
    during, after = slice(12, 24), slice(24, 36)
    assert stocked["club_price"][during].mean() < 0.75 * plain["club_price"][during].mean()
    assert stocked["club_price"][during].max() < plain["club_price"][during].max()
    stock = stocked["buyer_stock"].to_numpy()
    assert stock[23] < 0.2 * stock[11]                 # drawn down during the control
    assert stock[35] > 0.9 * stock[11]                 # and rebuilt after it
    assert stocked["club_price"][after].mean() > plain["club_price"][after].mean()
