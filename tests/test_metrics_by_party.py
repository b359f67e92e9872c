"""Metrics measured on the party they concern (issue 14): prices club buyers pay, covered
producers' price risk, the net and discounted fiscal cost, and who gets an MIP's rent.

Two regions as in test_policies: Club (club member) and World (non-club), both market economies;
demand per monthly step D(P) = q (P / 60)^-0.5 with q = share x Q_ref / 12; money in USD =
price (USD/kg) x t x 1000.
"""

import numpy as np
import polars as pl
import pytest
from helpers import run
from test_policies import D, config, export_control_config, stochastic

import abm
from abm.report import headlines

PRICE_METRICS = ("price_mean", "price_volatility", "price_p05", "price_p95", "max_drawdown",
                 "share_below_floor")


# -- 1. prices by who pays them -------------------------------------------------------------------

def test_club_buyers_pay_the_mip_while_the_world_price_sits_below_it():
    # club: 10 t @ 70; world: 200 t @ 30 -> world price 30; MIP 65 -> club price 65 every step,
    # imports D_c(65) > 0. Club set: mean 65, no volatility, never below the floor; world set:
    # mean 30, always below the floor; the export region (none restricts) is the world.
    raw = config([("Club", 10.0, 70.0), ("World", 200.0, 30.0)],
                 floor={"mechanism": "mip", "level": 65.0})
    model = run(raw)
    m = model.metrics()
    assert (model.series()["club_imports"].to_numpy() > 0).all()
    assert m["club_price_mean"] == pytest.approx(65.0, abs=1e-9)
    assert m["club_price_p05"] == pytest.approx(65.0, abs=1e-9)
    assert m["club_price_volatility"] == pytest.approx(0.0, abs=1e-9)
    assert m["club_max_drawdown"] == pytest.approx(0.0, abs=1e-9)
    assert m["club_share_below_floor"] == 0.0
    assert m["share_below_floor"] == 0.0       # the floor's own market: the club's
    assert m["price_mean"] == pytest.approx(30.0, abs=1e-9)
    assert m["export_region_share_below_floor"] == 1.0
    for name in PRICE_METRICS[:-1]:
        assert m["export_region_" + name] == pytest.approx(m[name], abs=1e-12)


def test_mip_experiment_club_metrics_show_the_floor_holding_while_imports_continue():
    """experiments/floor_mechanisms.toml, scenario mip, seed 0: the MIP binds (the world price is
    below the floor in some steps) and the club imports every step; club buyers never pay less
    than the floor, and their price is less volatile than the world's."""
    exp = abm.load_experiment("experiments/floor_mechanisms.toml")
    model = abm.MineralMarket(exp.scenario("mip"), rng=0).run()
    m, s = model.metrics(), model.series()
    floor, world = s["floor"].to_numpy().astype(float), s["price"].to_numpy()
    binds = world < floor
    assert binds.sum() >= 12 and (s["club_imports"].to_numpy() > 0).all()
    np.testing.assert_allclose(s["club_price"].to_numpy()[binds], floor[binds], rtol=1e-9)
    assert m["club_share_below_floor"] == 0.0
    assert m["export_region_share_below_floor"] == pytest.approx(binds.mean())
    assert m["club_price_volatility"] < m["price_volatility"]
    assert m["club_price_mean"] > m["price_mean"]


def test_export_region_price_is_the_restricted_price_during_a_control_and_the_world_price_else():
    model = run(export_control_config())
    s, m = model.series(), model.metrics()
    region = np.r_[s["price"].to_numpy()[:12], s["export_region_price"].to_numpy()[12:]]
    assert np.isnan(s["export_region_price"].to_numpy()[:12].astype(float)).all()
    assert m["export_region_price_mean"] == pytest.approx(region.mean(), rel=1e-12)
    assert m["export_region_price_mean"] < m["price_mean"]      # the control holds it down


# -- 2. producers' price risk ---------------------------------------------------------------------

def cfd_below_market(settlement: int, **floor):
    """Covered Club producer 60 t @ 50 (asks 0 under the CFD, so sells 60 t every step); World
    producer 100 t @ 40; demand shocks (sd 0.15, persistence 0.7) over 120 steps; floor 500,
    far above any price reached, so the market is always below it."""
    policy = {"floor": {"mechanism": "cfd", "level": 500.0, "covers": ["Club"],
                        "settlement": settlement, **floor}} if settlement else {}
    return run(stochastic(config([("Club", 60.0, 50.0), ("World", 100.0, 40.0)], club_q=50.0,
                                 world_q=50.0, **policy)))


@pytest.mark.parametrize("settlement", [1, 3])
def test_cfd_at_a_fixed_floor_above_the_market_leaves_covered_producers_no_price_risk(settlement):
    # per settlement period covered revenue = sum_t P_t q + (F - mean_t P_t) x sum_t q, with q
    # = 60 t constant: F x 3q (or F x q monthly) every period; read per quarter from step 0
    # (report.risk_period = 3, in which both settlement periods nest), the realised price is
    # F = 500 in every quarter: volatility and revenue CV ~0, while the world price moves
    model = cfd_below_market(settlement)
    m, s = model.metrics(), model.series()
    assert (s["price"].to_numpy() < 500.0).all()
    assert m["price_volatility"] > 0.1
    assert m["covered_price_volatility"] == pytest.approx(0.0, abs=1e-9)
    assert m["covered_revenue_cv"] == pytest.approx(0.0, abs=1e-9)


def test_without_a_cfd_the_same_producers_bear_the_market_price_risk():
    # no floor: the default coverage is the club's product producers (the Club refinery), who
    # realise the market price; its quarterly means (report.risk_period) move less than the
    # monthly price (0.09 against 0.31 a year here), far from the CFD's ~0
    m = cfd_below_market(0).metrics()
    assert 0.05 < m["covered_price_volatility"] < m["price_volatility"]
    assert m["covered_revenue_cv"] > 0.05


def test_market_producers_realised_price_and_margin_include_the_cfd_top_up():
    # as test_policies' CFD case: CFD 80 covers the Club producer (60 t @ 50), World 100 t @ 40;
    # D = 100 (P/60)^-0.5 -> P = 40; Club sells 60 t at 40 + top-up 40 = 80; World sells
    # D(40) - 60 = 122.47 - 60 = 62.47 t at 40. Both are market economies:
    # realised = (60 x 80 + 62.47 x 40) / 122.47; margin = (60 x (80 - 50) + 62.47 x 0) / 122.47
    raw = config([("Club", 60.0, 50.0), ("World", 100.0, 40.0)], club_q=50.0, world_q=50.0,
                 steps=3, floor={"mechanism": "cfd", "level": 80.0, "covers": ["Club"]})
    m = run(raw).metrics()
    world = D(100.0, 40.0) - 60.0
    total = 60.0 + world
    assert m["market_realised_price_mean"] == pytest.approx((60 * 80 + world * 40) / total)
    assert m["market_margin_mean"] == pytest.approx(60 * 30 / total)


# -- 3. net and discounted fiscal cost ------------------------------------------------------------

def test_purchase_floor_net_fiscal_cost_values_the_stock_at_the_last_price():
    # as test_policies: 150 t @ 40 covered, D = 100 (P/60)^-0.5, floor 60, budget 7.5m USD:
    # buys 50 t in steps 0 and 1 (3m USD each) and 25 t in step 2 (1.5m USD), then the price is
    # 40. Five steps: stock 125 t worth 125 x 40 x 1000 = 5m USD at the last (club = world)
    # price; net = 7.5m - 5m = 2.5m. Discounted at 10%/yr, a step-t flow at the end of month
    # t + 1: 3m d + 3m d^2 + 1.5m d^3 - 5m d^5, d = 1.1^(-1/12).
    raw = config([("Club", 150.0, 40.0)], club_q=100.0, world_q=0.0001, steps=5,
                 floor={"mechanism": "purchase", "level": 60.0, "budget": 7.5e6})
    raw["report"] = {"discount_rate": 0.10}
    m = run(raw).metrics()
    d = 1.1 ** (-1 / 12)
    # (the World region's 1e-4 t of demand shifts tonnes by about 1e-4)
    assert m["fiscal_cost"] == pytest.approx(7.5e6, rel=1e-6)
    assert m["fiscal_cost_net"] == pytest.approx(2.5e6, rel=1e-4)
    assert m["fiscal_cost_npv"] == pytest.approx(
        3e6 * d + 3e6 * d**2 + 1.5e6 * d**3 - 5e6 * d**5, rel=1e-4)
    # no market-economy capacity was added: the cost per t/yr of it is undefined
    assert np.isnan(m["fiscal_cost_per_capacity"])


def test_a_club_stockpile_behind_an_mip_is_valued_at_the_club_price_not_the_world_price():
    # club: 10 t @ 70; world: 200 t @ 30; MIP 65 -> club price 65, world 30. A club stockpile
    # bids up to 70 for 5 t a step (capacity 10 t): it buys 5 t in steps 0 and 1 at the club
    # price 65 (the MIP holds it) and then holds 10 t. Cash: 10 x 65 x 1000 = 650,000 USD of
    # purchases less the duties (65 - 30) x imports x 1000. The stock sits in the club's market,
    # so it is worth 10 x 65 x 1000, not 10 x 30 x 1000: net = cash - 650,000.
    raw = config([("Club", 10.0, 70.0), ("World", 200.0, 30.0)], steps=4,
                 floor={"mechanism": "mip", "level": 65.0},
                 stockpile={"buy_below": 70.0, "release_above": 500.0, "target_cover": 3650.0,
                            "capacity": 10.0, "max_rate": 0.5})
    model = run(raw)
    m, s = model.metrics(), model.series(accounts=True)
    np.testing.assert_allclose(s["club_price"], 65.0, rtol=1e-9)
    assert m["stockpile_final"] == pytest.approx(10.0, rel=1e-9)
    duties = float(s["duties"].sum())
    assert duties == pytest.approx(35.0 * float(s["club_imports"].sum()) * 1000, rel=1e-9)
    assert m["fiscal_cost"] == pytest.approx(650_000.0 - duties, rel=1e-9)
    assert m["fiscal_cost_net"] == pytest.approx(m["fiscal_cost"] - 650_000.0, rel=1e-9)


def test_without_fiscal_flows_or_stocks_net_and_discounted_cost_are_zero():
    m = run(config([("Club", 60.0, 50.0), ("World", 100.0, 40.0)])).metrics()
    assert m["fiscal_cost_net"] == 0.0 and m["fiscal_cost_npv"] == 0.0


# -- 4. who gets the MIP's rent -------------------------------------------------------------------

def mip_run(rent: str, raw=None):
    raw = raw or config([("Club", 10.0, 70.0), ("World", 200.0, 30.0)],
                        floor={"mechanism": "mip", "level": 65.0})
    raw["policy"]["floor"]["rent"] = rent
    return run(raw)


def test_price_undertaking_moves_the_wedge_from_duty_to_exporters_at_the_same_prices():
    # club price 65, world 30, imports D_c(65) = 30 (65/60)^-0.5 = 28.82 t a step: the wedge
    # (65 - 30) x 28.82 x 1000 = 1.009m USD a step is duty, or, under an undertaking, the
    # revenue of the World producer, the only seller in the world market
    duty, undertaking = mip_run("duty"), mip_run("undertaking")
    wedge = (65.0 - 30.0) * D(30.0, 65.0) * 1000
    a, b = duty.series(accounts=True), undertaking.series(accounts=True)
    for column in ("price", "club_price", "club_imports", "consumption", "production"):
        np.testing.assert_array_equal(a[column].to_numpy(), b[column].to_numpy())
    np.testing.assert_allclose(a["duties"], wedge, rtol=1e-9)
    np.testing.assert_allclose(b["duties"], 0.0, atol=1e-6)
    np.testing.assert_allclose(b["exporter_rent"], wedge, rtol=1e-9)
    np.testing.assert_allclose(b["producer_revenue"] - a["producer_revenue"], wedge, rtol=1e-9)
    steps = len(a)
    assert duty.metrics()["fiscal_cost"] == pytest.approx(-wedge * steps, rel=1e-9)
    assert duty.metrics()["exporter_rent"] == 0.0
    assert undertaking.metrics()["fiscal_cost"] == pytest.approx(0.0, abs=1e-6)
    assert undertaking.metrics()["exporter_rent"] == pytest.approx(wedge * steps, rel=1e-9)
    # the club's ledger notes the rent as a memo item (no sign in the fiscal cost)
    assert undertaking.governments.club.ledger["exporter_rent"] == pytest.approx(wedge * steps)
    assert "exporter_rent" not in duty.governments.club.ledger
    # the rent is the non-club exporter's: only the World producer's revenue rises
    assert undertaking.book.revenue[0] == duty.book.revenue[0]
    assert undertaking.book.revenue[1] == pytest.approx(duty.book.revenue[1] + wedge)


def test_undertaking_leaves_a_tariff_on_top_of_the_mip_as_duty():
    # with a 10% tariff as well the club price is 65 x 1.1 = 71.5 (club asks 70 < 71.5, so
    # the club producer sells its 10 t and imports fill D_c(71.5) - 10); exporters keep
    # (65 - 30) per tonne imported, the government the tariff's 6.5 per tonne
    raw = config([("Club", 10.0, 70.0), ("World", 200.0, 30.0)],
                 floor={"mechanism": "mip", "level": 65.0}, trade={"tariff": 0.1})
    s = mip_run("undertaking", raw).series(accounts=True)
    imports = D(30.0, 71.5) - 10.0
    assert s["club_price"][0] == pytest.approx(71.5, rel=1e-9)
    assert s["club_imports"][0] == pytest.approx(imports, rel=1e-9)
    assert s["exporter_rent"][0] == pytest.approx(35.0 * imports * 1000, rel=1e-9)
    assert s["duties"][0] == pytest.approx(6.5 * imports * 1000, rel=1e-9)


def test_mip_experiment_undertaking_gives_exporters_the_duty_of_the_duty_scenario():
    exp = abm.load_experiment("experiments/floor_mechanisms.toml")
    duty = abm.MineralMarket(exp.scenario("mip"), rng=0).run()
    config = exp.scenario("mip").model_copy(deep=True)
    config.policy.floor.rent = "undertaking"
    undertaking = abm.MineralMarket(config, rng=0).run()
    a, b = duty.series(), undertaking.series()
    for column in ("price", "club_price", "consumption", "production_market", "capacity_market"):
        np.testing.assert_array_equal(a[column].to_numpy(), b[column].to_numpy())
    duties = -duty.metrics()["fiscal_cost"]
    assert duties > 0
    assert undertaking.metrics()["exporter_rent"] == pytest.approx(duties, rel=1e-9)
    assert undertaking.metrics()["fiscal_cost"] == pytest.approx(0.0, abs=1e-6 * duties)


def test_rent_applies_to_the_mip_only():
    from abm.errors import ConfigError
    from abm.experiment import experiment_from_dict

    raw = config([("Club", 10.0, 70.0)], floor={"mechanism": "cfd", "level": 65.0,
                                                 "rent": "undertaking"})
    with pytest.raises(ConfigError, match="rent applies to mechanism 'mip'"):
        experiment_from_dict(raw)


# -- the headline of a club policy and its fiscal clause ------------------------------------------

def paired_rows(scenario: str, club_mean: float) -> pl.DataFrame:
    """A paired-differences table (abm.summary's columns) for one scenario: world volatility up
    10% (CI 5-15%), club buyers' volatility down 40% (CI 30-50%), cash cost +$200m and net cost
    +$50m (both CIs above zero); the club's mean price `club_mean` against a world mean of 60."""

    def row(metric, base, here, low, high):
        diff = here - base
        return {"scenario": scenario, "point": 0, "metric": metric, "baseline_mean": base,
                "scenario_mean": here, "diff_mean": diff, "diff_ci_low": low * abs(base or 1),
                "diff_ci_high": high * abs(base or 1),
                "rel_diff": diff / base if base else None,
                "rel_ci_low": low if base else None, "rel_ci_high": high if base else None,
                "n_pairs": 20}

    return pl.DataFrame([
        row("price_volatility", 0.30, 0.33, 0.05, 0.15),
        row("club_price_volatility", 0.30, 0.18, -0.5, -0.3),
        row("price_mean", 60.0, 60.0, -0.01, 0.01),
        row("club_price_mean", 60.0, club_mean, -0.01, 0.01),
        {**row("fiscal_cost", 0.0, 2e8, 0, 0), "diff_ci_low": 1e8, "diff_ci_high": 3e8},
        {**row("fiscal_cost_net", 0.0, 5e7, 0, 0), "diff_ci_low": 1e7, "diff_ci_high": 9e7},
    ])


def test_the_headline_of_a_club_policy_speaks_of_the_club_price_and_the_net_fiscal_cost():
    effects = headlines.effects_for(paired_rows("mip", club_mean=75.0), "mip", "USD/kg")
    text = headlines.headline("mip", effects, 20.0)
    assert "cut club buyers' price volatility by" in text
    assert 'data-metric="club_price_volatility"' in text
    assert 'data-metric="price_volatility"' not in text
    assert "at a net fiscal cost" in text and 'data-metric="fiscal_cost_net"' in text
    assert 'data-value="50000000.0"' in text          # the net $50m, not the cash $200m


def test_a_policy_that_leaves_the_club_at_the_world_price_is_headlined_on_the_world_price():
    effects = headlines.effects_for(paired_rows("cfd", club_mean=60.0), "cfd", "USD/kg")
    assert "club_price_volatility" not in effects
    text = headlines.headline("cfd", effects, 20.0)
    assert "raised price volatility by" in text and 'data-metric="price_volatility"' in text


def test_summaries_leave_out_runs_without_new_capacity_from_the_cost_per_capacity():
    """fiscal_cost_per_capacity is NaN in a run that added no capacity: the summary's mean is
    over the other runs, (1 + 3) / 2 = 2, with n = 2; a pair with a NaN side is not a pair, so
    the paired difference is (3 - 1) over the one pair where both are defined."""
    from abm import summary

    runs = pl.DataFrame({
        "run_id": ["a0", "a1", "a2", "b0", "b1", "b2"], "status": ["ok"] * 6,
        "scenario": ["base"] * 3 + ["cfd"] * 3, "point": [0] * 6, "replication": [0, 1, 2] * 2,
        "fiscal_cost_per_capacity": [1.0, float("nan"), 3.0, 3.0, 5.0, float("nan")]})
    s = summary.summarize(runs, ["fiscal_cost_per_capacity"])
    base = s.filter(pl.col("scenario") == "base").row(0, named=True)
    assert base["mean"] == pytest.approx(2.0) and base["n"] == 2
    p = summary.paired_differences(runs, ["fiscal_cost_per_capacity"], "base").row(0, named=True)
    assert p["n_pairs"] == 1 and p["diff_mean"] == pytest.approx(2.0)


def test_report_and_rent_settings_enter_the_config_hash_only_when_not_at_their_defaults():
    from helpers import experiment

    mip = {"policy.floor": {"mechanism": "mip", "level": 65.0}}
    plain = experiment(**mip).config_hash()
    assert experiment(**mip, **{"report.discount_rate": 0.035}).config_hash() == plain
    assert experiment(**mip, **{"policy.floor.rent": "duty"}).config_hash() == plain
    assert experiment(**mip, **{"report.discount_rate": 0.05}).config_hash() != plain
    assert experiment(**mip, **{"policy.floor.rent": "undertaking"}).config_hash() != plain


# -- found by the adversarial review ------------------------------------------------------------


@pytest.mark.parametrize("excess_duty, rent, duty", [
    # club price 45 = 30 x 1.5 < MIP 65: every tonne enters duty-paid beyond the quota, none at
    # the MIP: no rent, duty (45 - 30) x D(30, 45)
    (0.5, 0.0, 15.0 * D(30.0, 45.0)),
    # club price 105 = 30 x 3.5: the club's own 10 t @ 70 sell, imports D(30, 105) - 10 = 12.68
    # t; the quota's 10 t enter at the MIP, rent (65 - 30) x 10; the rest of the wedge is duty
    (2.5, 35.0 * 10.0, 75.0 * (D(30.0, 105.0) - 10.0) - 35.0 * 10.0),
])
def test_an_undertaking_leaves_the_excess_duty_beyond_the_quota_as_duty(excess_duty, rent, duty):
    raw = config([("Club", 10.0, 70.0), ("World", 200.0, 30.0)], steps=1,
                 floor={"mechanism": "mip", "level": 65.0, "rent": "undertaking",
                        "volume_cap": 120.0, "excess_duty": excess_duty})
    s = run(raw).series(accounts=True)
    assert s["exporter_rent"][0] == pytest.approx(rent * 1000.0, abs=1e-6)
    assert s["duties"][0] == pytest.approx(duty * 1000.0, rel=1e-9)


def test_covered_producers_are_the_floors_even_beside_an_offtake():
    # CFD at 80 covering Club (cost 50) in a market at 40, an offtake covering World: the
    # covered producer realises 80 every step, so no price risk
    raw = stochastic(config([("Club", 60.0, 50.0), ("World", 100.0, 40.0)], club_q=50.0,
                            world_q=50.0, floor={"mechanism": "cfd", "level": 80.0,
                                                 "covers": ["Club"]},
                            offtake={"share": 0.5, "covers": ["World"], "price": 45.0}))
    raw["experiment"]["steps"] = 36
    assert run(raw).metrics()["covered_price_volatility"] == pytest.approx(0.0, abs=1e-9)


def test_a_floor_in_a_region_restricting_exports_is_compared_with_that_regions_price():
    # World restricts exports from step 12; a CFD at 55 covers World: before the control the
    # world price is 41.67 < 55, during it World's own price 18.52 < 55 (the world price, 60, is
    # above it): below the floor in every step
    raw = export_control_config()
    raw["experiment"]["steps"] = 16
    raw["policy"] = {"floor": {"mechanism": "cfd", "level": 55.0, "covers": ["World"]}}
    assert run(raw).metrics()["share_below_floor"] == pytest.approx(1.0)


def test_a_buffer_stock_in_a_region_restricting_exports_is_valued_at_that_regions_price():
    # a purchase floor at 45 covering World buys World's surplus at 45 while World restricts its
    # exports; World's price is held at 45 (the world price is 60): the stock is worth what it
    # cost, so the net fiscal cost is 0
    raw = export_control_config()
    raw["experiment"]["steps"] = 14
    raw["policy"] = {"floor": {"mechanism": "purchase", "level": 45.0, "covers": ["World"]}}
    m = run(raw).metrics()
    assert m["fiscal_cost"] > 0
    assert m["fiscal_cost_net"] == pytest.approx(0.0, abs=1e-6 * m["fiscal_cost"])
