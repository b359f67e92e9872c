"""Investment decisions see the price a project will actually get (issue 12): the club border
(tariffs, a minimum import price that holds only while the club imports), concessional finance
that lowers the cost of capital, one valuation of floors and offtakes bounded by their terms and
money, and exits on expected avoidable losses."""

import numpy as np
import pytest
from helpers import raw, run

from abm.investment import (
    Protection,
    discounted_share,
    effective_price,
    trigger_price,
)

# A world market priced at China's flat supply: 5,000 t/yr offered at 30 against demand of
# 1,200 (P / 60)^-0.5 t/yr (1,697 t/yr at 30), so the world price is 30 whatever the club does.
# Club (US) demand is half: D_c(P) = 600 (P / 60)^-0.5 t/yr. Developers see prices without
# noise (prior volatility 0, a one-step half-life) and the projects become available at step 24,
# once the expectation has settled at 30.
CLUB_PROJECT_COST = 35.0


def border_config(n_projects: int = 5, **changes):
    cfg = raw(**{"experiment.steps": 120, "investment.rule": "npv", "investment.hurdle_rate": 0.1,
                 "investment.volatility_prior": 0.0, "investment.expectation_halflife": 1.0,
                 "investment.review_every": 1, **changes})
    cfg["producers"] = [{"name": "China", "region": "China", "stage": "refinery",
                         "capacity": 5000.0, "unit_cost": 30.0}]
    cfg["investment"]["projects"] = [
        {"name": f"club {i}", "region": "US", "capacity": 200.0, "unit_cost": CLUB_PROJECT_COST,
         "capex": 0.0, "lead_time": 12, "available_from": 24} for i in range(n_projects)]
    return cfg


def started_capacity(model) -> float:
    return sum(d.project.capacity for d in model.developers if d.status != "candidate")


def test_world_price_is_the_chinese_ask_in_the_border_config():
    model = run(border_config())
    assert model.series()["price"].to_numpy()[24:] == pytest.approx(30.0)


def test_a_club_tariff_raises_club_investment_and_tariff_zero_changes_nothing():
    plain = run(border_config())
    zero = run(border_config(**{"policy.trade.tariff": 0.0}))
    assert started_capacity(zero) == started_capacity(plain) == 0.0
    assert zero.metrics()["capacity_added_market"] == plain.metrics()["capacity_added_market"]
    added = [started_capacity(run(border_config(**{"policy.trade.tariff": t})))
             for t in (0.0, 0.1, 0.25, 0.5)]
    # 30 x 1.1 = 33 < 35: no project; 30 x 1.25 = 37.5 and 30 x 1.5 = 45 > 35 clear the cost
    assert added[1] == 0.0
    assert all(np.diff(added) >= 0), added
    assert added[2] > 0 and added[3] >= added[2]


def test_the_mip_protects_only_what_the_club_can_absorb_at_the_floor():
    """MIP at 40: the club pays 40 while it imports; club demand at 40 is
    600 (40/60)^-0.5 = 734.8 t/yr. The club's own clearing price with K t/yr of club capacity is
    60 (K / 600)^-2: 60 at 600 t/yr, 33.75 at 800. A project of cost 35 is worth starting while
    the club price it would get, min(40, own price), is above 35: three 200 t/yr projects
    (600 t/yr), not all eight (1,600 t/yr, twice what the club can absorb at 40)."""
    model = run(border_config(8, **{"policy.floor.mechanism": "mip", "policy.floor.level": 40.0}))
    demand_at_floor = 600.0 * (40.0 / 60.0) ** -0.5
    assert 0 < started_capacity(model) <= demand_at_floor
    assert started_capacity(model) == pytest.approx(600.0)


@pytest.mark.parametrize("rule", ["real_options", "npv"])
def test_cheaper_finance_never_raises_the_trigger(rule):
    for sigma in np.linspace(0.1, 0.8, 8):
        for r in np.linspace(0.03, 0.2, 8):
            base = trigger_price(40.0, 120.0, r, sigma, rule, 0.1, 20.0)
            finance = [trigger_price(40.0, 120.0, r, sigma, rule, 0.1, 20.0, finance_rate=f)
                       for f in np.linspace(0.005, r, 6)]
            assert all(t <= base * (1 + 1e-12) for t in finance)
            assert all(np.diff(finance) >= -1e-9 * base)     # lower rate, lower trigger


def test_convenience_yield_gives_the_dixit_pindyck_trigger():
    """P* = beta/(beta-1) delta (c/r + I), beta the root above 1 of
    sigma^2/2 b(b-1) + (r - delta) b - r = 0: with r = 0.1, delta = 0.07, sigma = 0.2, c = 40,
    I = 100: beta = 2 (0.02 x 2 x 1 + 0.03 x 2 - 0.1 = 0), so P* = 2 x 0.07 x 500 = 70."""
    assert trigger_price(40.0, 100.0, 0.1, 0.2, convenience_yield=0.07) == pytest.approx(70.0)
    # delta = r is today's rule: beta/(beta-1) (c + r I)
    beta = 0.5 + np.sqrt(0.25 + 2 * 0.1 / 0.09)
    assert trigger_price(40.0, 100.0, 0.1, 0.3) == pytest.approx(beta / (beta - 1) * 50.0)


def finance_config(**changes):
    """One club project under the real-options rule at a high, steady perceived volatility
    (0.8: a very long half-life keeps the prior): trigger 5 (c + 0.1 I) = 25 < 30 without
    finance (beta = 1.25 at r = 0.1); a 3% concessional loan makes I' = 30 x A(3%)/A(10%)."""
    # the same demand curve written around 30, so the expectation starts (and stays) at 30
    cfg = border_config(1, **{"investment.rule": "real_options", "investment.volatility_prior": 0.8,
                              "investment.expectation_halflife": 1e9,
                              "market.demand.reference_price": 30.0,
                              "market.demand.reference_quantity": 1200.0 * 2 ** 0.5, **changes})
    cfg["investment"]["projects"][0].update({"unit_cost": 2.0, "capex": 30000.0})
    return cfg


def start_step(model):
    d = model.developers[0]
    return d.started_step if d.started_step is not None else np.inf


def test_concessional_finance_never_delays_a_start():
    plain = start_step(run(finance_config()))
    assert np.isfinite(plain)
    for rate in (0.08, 0.05, 0.03):
        financed = start_step(run(finance_config(**{"policy.finance.hurdle_rate": rate})))
        assert financed <= plain


def test_a_floor_worth_less_than_nothing_lowers_the_decision_price():
    """A CFD at 40 with 90% of the upside above it given up, on a price expected at 60: the
    producer gives up far more above 40 than it gets below, so its expected revenue falls."""
    bare, _ = effective_price(60.0, 0.35, 5.0, Protection())
    floored, _ = effective_price(60.0, 0.35, 5.0, Protection(floor=40.0, upside_share=0.9))
    assert floored < bare
    generous, _ = effective_price(60.0, 0.35, 5.0, Protection(floor=60.0))
    assert generous > bare


def test_a_floor_is_counted_once_in_the_decision_price():
    """A CFD whose upside share makes its expected value to the producer zero,
    u = E[(F - P)+] / E[(P - F)+], leaves the decision price at the expected median (it only
    lowers the volatility the trigger sees); a median of the protected distribution would
    count the lower volatility a second time."""
    from scipy.stats import norm

    s = 0.35 * np.sqrt(5.0)
    m = np.log(60.0) - s * s / 2           # the expected price 60 is the lognormal's mean
    f = 60.0
    call = np.exp(m + s * s / 2) * norm.cdf((m - np.log(f)) / s + s) - f * norm.cdf((m - np.log(f)) / s)
    put = call - (np.exp(m + s * s / 2) - f)
    price, sigma = effective_price(60.0, 0.35, 5.0, Protection(floor=f, upside_share=put / call))
    assert price == pytest.approx(60.0, rel=1e-9)
    assert sigma < 0.35


def test_a_short_floor_is_worth_less_than_a_long_one():
    two = discounted_share(0.1, 0.0, 2.0, 20.0)
    twenty = discounted_share(0.1, 0.0, 20.0, 20.0)
    assert twenty == pytest.approx(1.0)
    assert two == pytest.approx((1 - np.exp(-0.2)) / (1 - np.exp(-2.0)))
    short, _ = effective_price(60.0, 0.35, 5.0, Protection(floor=70.0, floor_weight=two))
    long, _ = effective_price(60.0, 0.35, 5.0, Protection(floor=70.0, floor_weight=twenty))
    bare, _ = effective_price(60.0, 0.35, 5.0, Protection())
    assert bare < short < long


def decision_price(cfg) -> float:
    model = run(cfg, steps=30)
    return model.developers[0].margin(model)[1]


def test_a_cfd_ending_soon_raises_the_decision_price_less_than_one_lasting():
    """The project would first produce at step 30 + 1 + 12 = 43: a CFD at 45 ending at step 67
    covers its first two years, one ending at step 283 its twenty."""
    base = {"policy.floor.mechanism": "cfd", "policy.floor.level": 45.0}
    bare = decision_price(border_config(1))
    short = decision_price(border_config(1, **base, **{"policy.floor.end": 67}))
    long = decision_price(border_config(1, **base, **{"policy.floor.end": 283}))
    assert bare < short < long
    assert long == pytest.approx(45.0)


def test_a_purchase_floor_with_little_money_is_worth_little():
    base = {"policy.floor.mechanism": "purchase", "policy.floor.level": 45.0}
    bare = decision_price(border_config(1))
    rich = decision_price(border_config(1, **base))
    poor = decision_price(border_config(1, **base, **{"policy.floor.budget": 1000.0}))
    assert rich == pytest.approx(45.0)
    assert bare <= poor < bare + 0.01 * (rich - bare)


def test_an_offtake_without_take_or_pay_is_not_a_firm_price():
    firm = Protection(offtake_share=0.5, offtake_price=60.0)
    walk = Protection(offtake_share=0.5, offtake_price=60.0, offtake_firm=False)
    bare, _ = effective_price(60.0, 0.35, 5.0, Protection())
    p_firm, s_firm = effective_price(60.0, 0.35, 5.0, firm)
    p_walk, _ = effective_price(60.0, 0.35, 5.0, walk)
    assert p_walk < bare        # min(P, 60) on half the output: the buyer keeps the upside
    assert p_walk < p_firm and s_firm < 0.35


def test_no_incumbent_exits_in_the_baseline_without_shocks():
    from abm.experiment import load_experiment
    from abm.model import MineralMarket

    exp = load_experiment("experiments/baseline.toml", overrides={
        "market.demand.shock_sd": 0.0, "outages.probability": 0.0})
    for seed in range(3):
        model = MineralMarket(exp.scenario(), rng=seed).run()
        assert model.metrics()["producer_exits"] == 0


def exit_config(fixed_cost: float, **changes):
    """One market-economy refinery (cost 40, 1,200 t/yr) selling at 50 (the price where the
    state's 2,400 t/yr at 50 meets demand): a 10 USD/kg margin on 1,200 t/yr earns 12 m USD a
    year against its fixed cost."""
    cfg = raw(**{"experiment.steps": 60, "exits.loss_steps": 6, "exits.horizon": 5.0,
                 "investment.volatility_prior": 0.0, "investment.expectation_halflife": 1.0,
                 "investment.enabled": False, **changes})
    cfg["producers"] = [
        {"name": "A", "region": "US", "stage": "refinery", "capacity": 1200.0, "unit_cost": 40.0,
         "fixed_cost": fixed_cost},
        {"name": "B", "region": "China", "stage": "refinery", "capacity": 2400.0,
         "unit_cost": 50.0}]
    return cfg


def test_exit_weighs_expected_margin_against_the_fixed_cost_avoided():
    keep = run(exit_config(11e6))          # 12 m USD/yr margin covers 11 m
    close = run(exit_config(13e6))         # ... not 13 m: exits after 6 steps of expected loss
    assert keep.metrics()["producer_exits"] == 0
    assert close.metrics()["producer_exits"] == 1
    loss = keep.producers.expected_avoidable_loss(keep, keep.config.exits)
    assert loss[0] == pytest.approx(5 * (11e6 - 12e6), rel=1e-6)


@pytest.mark.parametrize("changes", [{}, {"exits.idle_fixed_share": 0.6, "exits.horizon": 4.5,
                                          "investment.volatility_prior": 0.4},
                                     {"investment.volatility_prior": 0.4}])
def test_the_exit_review_fast_path_gives_the_general_paths_numbers_bit_for_bit(changes):
    """Without floors, feed or several prices the review skips errstate, the finiteness masks,
    (0 - c)+ = 0, part-year weights of 1 and the USD/kg factor when it is 1: the same floats
    (checked against the general path on the same state, with idle share, a part year and
    volatility; `normal` off forces the general path)."""
    cfg = exit_config(11e6, **changes)
    cfg["producers"].append({"name": "C", "region": "US", "stage": "refinery", "capacity": 300.0,
                             "unit_cost": 45.0, "fixed_cost": 2e6})
    model = run(cfg, steps=4)       # (before any exit: losses count from the first step)
    producers, rules = model.producers, model.config.exits
    fast = producers.expected_avoidable_loss(model, rules)
    terms = producers._loss_terms(model, rules, producers.structure())
    assert terms.normal
    terms.normal = False
    general = producers.expected_avoidable_loss(model, rules)
    assert np.count_nonzero(general) == 2          # A and C, market-economy plants
    assert fast.tobytes() == general.tobytes()


def test_an_idle_plant_mothballs_and_avoids_part_of_its_fixed_cost():
    """A plant with cost 70 never runs at a price of 50: it pays (1 - 0.6) x 1.2 m USD/yr."""
    cfg = exit_config(0.0, **{"exits.idle_fixed_share": 0.6, "exits.enabled": True})
    cfg["producers"].append({"name": "C", "region": "US", "stage": "refinery", "capacity": 100.0,
                             "unit_cost": 70.0, "fixed_cost": 1.2e6})
    model = run(cfg, steps=3)
    assert model.book.output[2] == 0.0
    assert model.book.cost[2] == pytest.approx(0.4 * 1.2e6 / 12)
    assert model.book.cash[2] == pytest.approx(-3 * 0.4 * 1.2e6 / 12)


def test_entrants_pay_the_fixed_cost_of_their_project():
    cfg = border_config(1, **{"policy.trade.tariff": 0.5})
    cfg["investment"]["projects"][0]["fixed_cost"] = 2.4e5
    model = run(cfg)
    row = model.developers[0].producer_row
    assert row is not None and model.book.fixed_cost[row] == 2.4e5


# -- found by review (each a case where an earlier version of this change was wrong) ----------

def test_club_capacity_that_cannot_supply_at_the_floor_does_not_end_the_mip_premium():
    """A 2,000 t/yr club refinery at cost 100 never runs at the MIP's 40: the club still imports,
    so the three projects of the MIP test still start (600 t/yr)."""
    cfg = border_config(8, **{"policy.floor.mechanism": "mip", "policy.floor.level": 40.0})
    cfg["producers"].append({"name": "idle US", "region": "US", "stage": "refinery",
                             "capacity": 2000.0, "unit_cost": 100.0})
    assert started_capacity(run(cfg)) == pytest.approx(600.0)


def test_an_astronomical_autarky_price_is_valued_not_nan():
    price, sigma = effective_price(30.0, 0.3, 5.0, Protection(border_floor=40.0, autarky=1e16))
    same, _ = effective_price(30.0, 0.3, 5.0, Protection(border_floor=40.0))
    assert np.isfinite(price) and np.isfinite(sigma)
    assert price == pytest.approx(same, rel=1e-9)


def test_tariff_and_mip_together_value_the_duty_paid_price_the_market_clears():
    """Imports pay max(P, F) (1 + t): world 30, MIP 40, tariff 0.5 -> 60 (not max(40, 45))."""
    from abm.investment import sale_price_function

    sale = sale_price_function(Protection(tariff=0.5, border_floor=40.0))
    assert sale(30.0) == pytest.approx(60.0)
    assert sale(50.0) == pytest.approx(75.0)


def test_a_longer_term_with_the_same_budget_never_protects_less():
    """5 m USD for 1,000 t/yr at an expected top-up of ~11 USD/kg lasts under half a year:
    every term from one year on protects the same first months."""
    base = dict(floor=35.0, floor_budget=5e6, floor_capacity=1000.0)
    prices = [effective_price(30.0, 0.3, 5.0, Protection(**base, floor_end=t))[0]
              for t in (0.25, 1.0, 2.0, 20.0, np.inf)]
    assert all(np.diff(prices) >= -1e-12)
    assert prices[1] == pytest.approx(prices[-1], rel=1e-12)


def test_exit_counts_the_feed_a_refinery_buys_from_mines():
    """Refinery cost 32 + concentrate 8 (a China mine at 8 sets it) = 40 > product price 38:
    it never earns a margin, so with a 1 m USD/yr fixed cost it exits."""
    cfg = raw(**{"experiment.steps": 60, "exits.loss_steps": 12, "investment.enabled": False,
                 "investment.volatility_prior": 0.0, "investment.expectation_halflife": 1.0})
    cfg["producers"] = [
        {"name": "US ref", "region": "US", "stage": "refinery", "capacity": 600.0,
         "unit_cost": 32.0, "fixed_cost": 1e6},
        {"name": "China ref", "region": "China", "stage": "refinery", "capacity": 5000.0,
         "unit_cost": 30.0},
        {"name": "China mine", "region": "China", "stage": "mine", "capacity": 8000.0,
         "unit_cost": 8.0}]
    model = run(cfg)
    assert model.book.output[0] == 0.0 or not model.book.active[0]
    assert model.metrics()["producer_exits"] == 1


def test_exit_sees_a_floor_end_and_the_upside_it_gives_up():
    """US plant, cost 29, 600 t/yr, price 30 (the exit config's B at 50 replaced by China at
    30). A CFD at 29.5 taking all upside (u = 1) leaves it 0.5 USD/kg: 300 k USD/yr against a
    450 k fixed cost -> it exits; without the upside share (u = 0) it earns 1 USD/kg (600 k) and
    stays."""
    def cfg(u):
        c = raw(**{"experiment.steps": 60, "exits.loss_steps": 6, "investment.enabled": False,
                   "investment.volatility_prior": 0.0, "investment.expectation_halflife": 1.0,
                   "policy.floor.mechanism": "cfd", "policy.floor.level": 29.5,
                   "policy.floor.covers": ["US"], "policy.floor.upside_share": u})
        c["producers"] = [
            {"name": "US", "region": "US", "stage": "refinery", "capacity": 600.0,
             "unit_cost": 29.0, "fixed_cost": 4.5e5},
            {"name": "China", "region": "China", "stage": "refinery", "capacity": 5000.0,
             "unit_cost": 30.0}]
        return c
    assert run(cfg(0.0)).metrics()["producer_exits"] == 0
    assert run(cfg(1.0)).metrics()["producer_exits"] == 1
    # a floor ending within the horizon counts only until it ends: the plant's loss at step 30
    # with the floor ending at step 36 is 4.5 fixed - 0.5 years of 0.3 m ... positive
    model = run({**cfg(1.0), "policy": {"floor": {"mechanism": "cfd", "level": 40.0,
                                                  "covers": ["US"], "end": 36}}}, steps=30)
    loss = model.producers.expected_avoidable_loss(model, model.config.exits)[0]
    # year 1 (mid-year step 35) covered: 11 USD/kg x 600 t = 6.6 m earned; years 2-5 at 30:
    # 1 USD/kg (0.6 m); fixed 0.45 m a year
    assert loss == pytest.approx(5 * 0.45e6 - 6.6e6 - 4 * 0.6e6, rel=1e-6)


def test_an_offtake_below_the_producers_cost_is_not_counted():
    cfg = border_config(1, **{"policy.trade.tariff": 0.5})
    bare = decision_price(cfg)
    cheap = decision_price(border_config(1, **{
        "policy.trade.tariff": 0.5, "policy.offtake.share": 0.5, "policy.offtake.price": 20.0,
        "policy.offtake.covers": ["US"]}))
    assert cheap == pytest.approx(bare)


def test_a_collar_offtake_is_valued_as_a_collar():
    rng = np.random.default_rng(1)
    s = 0.5 * np.sqrt(5.0)
    x = 30.0 * np.exp(s * rng.standard_normal(2_000_000) - s * s / 2)
    for lo, hi in ((25.0, 35.0), (40.0, 60.0)):
        price, sigma = effective_price(30.0, 0.5, 5.0, Protection(
            offtake_share=1.0, offtake_price=lo, offtake_ceiling=hi))
        r = np.clip(x, lo, hi)
        assert price == pytest.approx(r.mean(), rel=2e-3)
        assert sigma > 0.05
