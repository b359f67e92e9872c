"""Private stockholders in the market ([storage], abm.stockholders) and the i.i.d. supply shock
([market.supply_shock]) they answer (issue 20 part 2)."""

import numpy as np
import pytest
from helpers import run

from abm import storage
from abm.errors import ConfigError
from abm.experiment import experiment_from_dict
from abm.investment import PriceExpectation
from abm.shocks import stream
from abm.stockholders import _lesser
from abm.validation.stockholders import HARVEST, STO1, benchmark_config

SEED = 1             # helpers.run runs every model with seed 1


def benchmark_raw(steps: int = 300, enabled: bool = True, rule: str = "rational",
                  capacity: float | None = None, price: float = 1.0) -> dict:
    """The benchmark in the ABM (abm.validation.stockholders): annual steps, one zero-cost
    producer of 1000 t/yr whose output is shocked, isoelastic demand equal to its capacity at
    the reference price (`price`, USD/t), sto1FX's storage parameters."""
    return benchmark_config(enabled, steps, rule=rule, capacity=capacity, price=price)


def harvests(seed: int, steps: int) -> np.ndarray:
    """The supply factors h_t = max(1 + sd e_t, 0) the model draws from its 'supply' stream."""
    return np.maximum(1.0 + STO1["harvest_sd"] * stream(seed, "supply").standard_normal(steps),
                      0.0)


def test_supply_shock_scales_every_producers_output_by_its_own_streams_factor():
    # with storage off the farm sells its whole output each step: production = 1000 h_t t
    model = run(benchmark_raw(steps=20, enabled=False))
    s = model.series(accounts=True)
    np.testing.assert_allclose(s["production"], HARVEST * harvests(SEED, 20), rtol=1e-12)
    # and the price is the inverse demand of it: (1000 h / 1000)^(1 / -0.2) = h^-5
    np.testing.assert_allclose(s["price"], harvests(SEED, 20) ** -5.0, rtol=1e-9)


def test_supply_shocks_are_the_same_whatever_the_stockholders_do():
    with_storage = run(benchmark_raw(steps=30)).series(accounts=True)
    without = run(benchmark_raw(steps=30, enabled=False)).series(accounts=True)
    np.testing.assert_array_equal(with_storage["production"], without["production"])


def test_rational_stockholders_trade_exactly_the_solved_rule_step_by_step():
    """With a vertical supply (the farm sells all it has) the market run is the benchmark: each
    step availability is A_t = (1 - 0.02) S_t-1 + h_t (in units of 1000 t), and the market
    must clear at P(A_t) with stock S(A_t) of abm.storage's solution, to rounding."""
    steps = 400
    model = run(benchmark_raw(steps=steps))
    s = model.series()
    sol = storage.solve(**STO1)
    stock, prices, stocks = 0.0, [], []
    for h in harvests(SEED, steps):
        a = np.array([(1 - STO1["decay"]) * stock + h])
        stock = float(sol.stock(a)[0])
        prices.append(float(sol.price(a)[0]))
        stocks.append(stock)
    np.testing.assert_allclose(s["price"], prices, rtol=1e-9)
    np.testing.assert_allclose(s["private_stock"] / HARVEST, stocks, rtol=1e-9, atol=1e-12)
    # both stocking and stock-outs happen on this path (so the test exercises both branches)
    assert (np.array(stocks) == 0).any() and (np.array(stocks) > 0.05).any()


def test_the_rule_is_the_same_in_any_price_unit_scale():
    """Prices 250 times higher (cost scaled with them): the same stocks, prices x 250."""
    base = run(benchmark_raw(steps=60)).series()
    scaled = run(benchmark_raw(steps=60, price=250.0)).series()
    np.testing.assert_allclose(scaled["price"], 250.0 * base["price"], rtol=1e-9)
    np.testing.assert_allclose(scaled["private_stock"], base["private_stock"], rtol=1e-9,
                               atol=1e-9)


def test_stock_moves_by_trades_less_decay():
    """S_t = (1 - decay) S_t-1 + bought_t - sold_t; they pay the market price for what they
    buy and get it for what they sell (money recorded beside the tonnes)."""
    model = run(benchmark_raw(steps=80))
    s = model.series(accounts=True)
    stock = s["private_stock"].to_numpy()
    before = np.r_[0.0, stock[:-1]] * (1 - STO1["decay"])
    change = s["private_stocking"].to_numpy() - s["private_release"].to_numpy()
    np.testing.assert_allclose(stock, before + change, rtol=1e-9, atol=1e-9)
    holders = model.stockholders
    price = s["price"].to_numpy()
    np.testing.assert_allclose(holders.spent, float((s["private_stocking"] * price).sum()),
                               rtol=1e-9)
    np.testing.assert_allclose(holders.received, float((s["private_release"] * price).sum()),
                               rtol=1e-9)
    # storage cost, as the solver charges it (P_t + cost >= ...: cost on the stock S_t held at
    # the end of step t, the last step's included): 0.06 USD/t x S_t, recorded each step
    np.testing.assert_allclose(s["private_storage_cost"], 0.06 * stock, rtol=1e-12)
    np.testing.assert_allclose(holders.storage_paid, 0.06 * float(stock.sum()), rtol=1e-9)
    assert model.metrics()["private_stock_mean"] == pytest.approx(float(stock.mean()))


def test_adaptive_stockholders_fill_their_capacity_while_storing_pays_and_empty_it_when_not():
    """Each step they want their 50 t while the price is at most what the developers' expected
    price E (an exponentially weighted mean of log prices, from the reference price 1 USD/t) is
    worth carried a step, 0.98 E / 1.03 - 0.06 (0.8914 USD/t at E = 1), and none above it; at
    that price exactly they take what the market leaves."""
    model = run(benchmark_raw(steps=60, rule="adaptive", capacity=50.0))
    s = model.series()
    stock, price = s["private_stock"].to_numpy(), s["price"].to_numpy()
    inv = model.config.investment
    view = PriceExpectation(1.0, inv.volatility_prior, inv.expectation_halflife, 1)
    worth = []
    for p in price:
        worth.append(0.98 * view.median / 1.03 - 0.06)
        view.update(p)
    worth = np.array(worth)
    assert worth[0] == pytest.approx(0.8914, abs=1e-4)
    below, above = price < worth * (1 - 1e-9), price > worth * (1 + 1e-9)
    np.testing.assert_allclose(stock[below], 50.0, rtol=1e-9)
    np.testing.assert_allclose(stock[above], 0.0, atol=1e-9)
    assert below.any() and above.any()


def test_without_the_tables_the_results_are_those_with_them_switched_off():
    plain = benchmark_raw(steps=40, enabled=False)
    plain["market"].pop("supply_shock")
    plain.pop("storage")
    off = benchmark_raw(steps=40, enabled=False)
    off["market"]["supply_shock"] = {"sd": 0.0}
    a, b = run(plain).series(), run(off).series()
    assert a.equals(b)


def test_adaptive_stockholders_without_a_capacity_are_refused():
    with pytest.raises(ConfigError, match="capacity"):
        experiment_from_dict(benchmark_raw(rule="adaptive"))


def test_rational_stockholders_with_free_storage_are_refused():
    raw = benchmark_raw()
    raw["storage"].update(cost=0.0, decay=0.0, interest=0.0)
    with pytest.raises(ConfigError, match="cost of carrying"):
        experiment_from_dict(raw)


def test_an_open_market_buffer_stock_may_release_at_its_floor_a_producer_support_one_not():
    raw = benchmark_raw()
    raw["policy"] = {"floor": {"mechanism": "purchase", "level": 0.9, "release_price": 0.9,
                               "capacity": 100.0, "buy_from": "any", "covers": ["World"]}}
    experiment_from_dict(raw)
    raw["policy"]["floor"]["buy_from"] = "covered"
    with pytest.raises(ConfigError, match="release_price"):
        experiment_from_dict(raw)


def test_a_buffer_stock_that_does_not_release_at_its_floor_leaves_the_stockholders_sto1s_rule():
    """An open-market buffer stock buying at 0.9 USD/t within 400 t that never sells (no
    release price) is not RECS sto2's agency: once it is full it is inert, it changes no future
    availability, and the
    stockholders must follow sto1's rule, S_t = S((1 - 0.02) S_t-1 + h_t) (abm.storage.solve
    with sto1FX's parameters, availability in units of the 1000 t harvest), from the first step
    after it filled. (Treating it as sto2's agency, which sells at the floor, and counting its
    400 t in availability, they stored only at P <= 0.771: mean stock 2.6 t on this path.)"""
    raw = benchmark_raw(steps=300)
    raw["policy"] = {"floor": {"mechanism": "purchase", "level": 0.9, "capacity": 400.0,
                               "buy_from": "any", "covers": ["World"]}}
    s = run(raw).series()
    public, private = s["government_stock"].to_numpy(), s["private_stock"].to_numpy()
    full = int(np.argmax(public >= 400.0 - 1e-9))
    assert public[full] == pytest.approx(400.0) and full < 250
    np.testing.assert_allclose(public[full:], 400.0)      # it never sells
    sol = storage.solve(**STO1)
    stock, expected = private[full] / HARVEST, []
    for h in harvests(SEED, 300)[full + 1:]:
        stock = float(sol.stock(np.array([(1 - STO1["decay"]) * stock + h]))[0])
        expected.append(stock)
    np.testing.assert_allclose(private[full + 1:] / HARVEST, expected, rtol=1e-9, atol=1e-12)
    assert (np.array(expected) > 0.02).any()      # they do store on this path


def test_a_buffer_stock_releasing_above_its_floor_is_not_solved_as_sto2s_agency():
    """Releasing at 1.2 USD/t, above its 0.9 USD/t floor, it is not the agency of RECS sto2
    (which sells at the floor): the stockholders' rule is solved without it (sto1; docs/ODD.md
    7.17 states the approximation) and its stock is not counted in their availability."""
    raw = benchmark_raw(steps=5)
    raw["policy"] = {"floor": {"mechanism": "purchase", "level": 0.9, "capacity": 400.0,
                               "release_price": 1.2, "buy_from": "any", "covers": ["World"]}}
    model = run(raw)
    sol, floor = model.stockholders.solution(model, 1.0, HARVEST)
    assert floor is None and sol.model.floor is None
    raw["policy"]["floor"]["release_price"] = 0.9          # at the floor: sto2's agency
    model = run(raw)
    sol, floor = model.stockholders.solution(model, 1.0, HARVEST)
    assert floor is not None and sol.model.floor == pytest.approx(0.9)


def test_decay_and_storage_costs_are_recorded_so_the_whole_runs_tonnes_and_money_close():
    """Tonnes: decay at the start of step t is 2% of S_t-1 (private_decay), and over the run
    sum(bought) - sum(sold) - sum(decayed) = the last stock. Money (USD, 1 USD/t here): what
    they received for sales less what they paid for purchases and for storage (0.06 x S_t
    each step) is their whole-run cash flow, from the recorded accounts alone."""
    model = run(benchmark_raw(steps=80))
    s = model.series(accounts=True)
    stock = s["private_stock"].to_numpy()
    np.testing.assert_allclose(s["private_decay"], 0.02 * np.r_[0.0, stock[:-1]], rtol=1e-12)
    assert float(s["private_decay"].sum()) > 0.1           # some tonnes do decay on this path
    balance = float((s["private_stocking"] - s["private_release"] - s["private_decay"]).sum())
    assert balance == pytest.approx(stock[-1], rel=1e-9, abs=1e-9)
    price = s["price"].to_numpy()
    cash = float((s["private_sales_revenue"] - s["private_stocking"] * price
                  - s["private_storage_cost"]).sum())
    h = model.stockholders
    assert cash == pytest.approx(h.received - h.spent - h.storage_paid, rel=1e-9)
    assert h.storage_paid == pytest.approx(0.06 * float(stock.sum()), rel=1e-9)


def export_control_raw(steps: int = 30) -> dict:
    """The benchmark's farm in China, its buyers in World; China's exports cut by half from
    step 12 to step 21 (announced at step 10; no licence delay)."""
    raw = benchmark_raw(steps=steps)
    raw["regions"] = [{"name": "World"}, {"name": "China"}]
    raw["producers"][0]["region"] = "China"
    raw["shocks"] = [{"kind": "export_control", "region": "China", "announce": 10, "start": 12,
                      "duration": 10, "cut": 0.5}]
    return raw


def test_stockholders_carry_nothing_into_the_known_end_of_an_export_control():
    """The control's end is public: at step 21, its last, a tonne carried into step 22 is
    worth (1 - 0.02) / 1.03 E[P(h)] - 0.06 now, P the benchmark's rule (step 22's regime is
    the benchmark exactly: 1000 t at cost 0 against D(P) = 1000 P^-0.2, pbar' = 1, Qbar' =
    1000 t), 0.961 USD/t (Psi(0) of tests/test_storage.py), far below the controlled price (~20 USD/t =
    (0.5)^-5 less their
    releases): so they hold nothing at its end. (Expecting the control to last they carried
    4.9 t into a price 17 times lower.)"""
    s = run(export_control_raw()).series()
    price, stock = s["price"].to_numpy(), s["private_stock"].to_numpy()
    sol = storage.solve(**STO1)
    worth = 0.98 / 1.03 * float(sol.price_after(np.array([0.0]))[0]) - 0.06
    assert worth == pytest.approx(0.961, abs=1e-3) and price[21] > 10 * worth
    assert stock[21] == 0.0 and stock[20] > 1.0


def test_with_full_foresight_they_buy_at_the_announcement_and_follow_hotellings_rule():
    """With `foresight = "full"` and without the supply shock (sd 0) the control is perfect foresight:
    from the announcement
    (step 10) the caps of steps 11-22 are public, China's exports to World are a fixed 500 t
    (half its normal 1000 t) in steps 12-21, so a stock carried from step t to t+1 while it
    is positive earns its carrying cost exactly: (1 - 0.02) P_t+1 / 1.03 = P_t + 0.06, i.e.
    P_t+1 = (P_t + 0.06) x 1.0510 (Hotelling's rule with cost), and it is all drawn by the
    control's end. Without foresight (and with the default "exit") they bought nothing before the price
    jumped (P_10 = 1
    USD/t is above what storage pays in the benchmark). To the schedule's spacing: 2%."""
    raw = export_control_raw()
    raw["market"]["supply_shock"] = {"sd": 0.0}
    raw["storage"]["foresight"] = "full"
    s = run(raw).series()
    price, stock = s["price"].to_numpy(), s["private_stock"].to_numpy()
    assert stock[10] > 100.0 and price[10] > 5.0      # bought at the announcement
    assert (stock[10:21] > 1.0).all() and stock[21] == 0.0 and stock[22] == 0.0
    np.testing.assert_allclose(price[11:22], (price[10:21] + 0.06) * 1.03 / 0.98, rtol=0.02)
    assert price[22] == pytest.approx(1.0)      # after the control: 1000 t at D^-1(1000)


def test_exit_foresight_holds_the_lesser_of_the_two_schedules_at_every_price():
    """Schedules hold at price P the largest stock of their points priced at P or more.
    a = (0 t, 5), (10 t, 4), (20 t, 3); b = (0 t, 4.5), (5 t, 3.5), (30 t, 2) (USD/t). Held:
    P in (4, 5]: a 0, b 0; (3.5, 4]: a 10, b 0; (3, 3.5]: a 10, b 5; (2, 3]: a 20, b 5;
    P <= 2: a 20, b 30. The lesser: 0 above 3.5, 5 t from 3.5, 20 t from 2 (no point at no
    stock: one would keep a carried first tranche unsold up to its price, the highest)."""
    stock, price = _lesser((np.array([0.0, 10, 20]), np.array([5.0, 4, 3])),
                           (np.array([0.0, 5, 30]), np.array([4.5, 3.5, 2])))
    np.testing.assert_array_equal(stock, [5.0, 20.0])
    np.testing.assert_array_equal(price, [3.5, 2.0])


def test_with_exit_foresight_they_do_not_buy_ahead_of_a_known_control():
    """The default (`foresight = "exit"`) never holds more than the current regime's rule:
    at the announcement (P_10 = 1 USD/t in the benchmark without a shock, above Psi(0)) that
    rule holds nothing, so they hold nothing before the control however high it will push
    the price."""
    raw = export_control_raw()
    raw["market"]["supply_shock"] = {"sd": 0.0}
    s = run(raw).series()
    np.testing.assert_array_equal(s["private_stock"].to_numpy()[:12], 0.0)


def test_without_a_solved_rule_the_stock_waits_out_of_the_market(monkeypatch):
    """If a regime has no solved rule the stockholders neither dump their stock nor buy: from
    step 8 on (the solver made to fail) the stock only decays, S_t = 0.98 S_t-1, the price is
    the market's without them, h_t^-5, and storage_unsolved marks those steps. (Before, the
    whole stock was offered at ask 0.)"""
    from abm import stockholders

    model = run(benchmark_raw(steps=18), steps=8)

    def no_rule(*args, **kwargs):
        raise RuntimeError("no stationary rule")

    monkeypatch.setattr(stockholders, "_SOLVED", {})
    monkeypatch.setattr(storage, "solve", no_rule)
    model.run()
    s = model.series()
    stock, price = s["private_stock"].to_numpy(), s["price"].to_numpy()
    assert stock[7] > 50.0
    np.testing.assert_allclose(stock[8:], stock[7] * 0.98 ** np.arange(1, 11), rtol=1e-12)
    np.testing.assert_allclose(price[8:], harvests(SEED, 18)[8:] ** -5.0, rtol=1e-9)
    np.testing.assert_array_equal(s["storage_unsolved"], [0.0] * 8 + [1.0] * 10)
    assert model.stockholders.unsolved == list(range(8, 18))


def test_a_buffer_stocks_buy_back_of_its_own_release_is_netted_to_rounding():
    """Releasing 0.1 t and 0.2 t at the 0.9 USD/t floor it bids at (money per price-tonne
    1000: USD/kg prices) while buying 0.5 t, it bought back min(0.5, 0.3) = 0.3 t of its own:
    the release's money (0.1 x 0.9 + 0.2 x 0.9) x 1000 = 270 USD differs from 0.3 x 0.9 x
    1000 in the last bits, which an exact comparison missed. A release at 1.2 USD/t (360
    USD) is not bought back."""
    from abm.policies.floor import bought_back

    sold, money = 0.1 + 0.2, (0.1 * 0.9 + 0.2 * 0.9) * 1000.0
    assert money != sold * 0.9 * 1000.0          # (the rounding an exact test missed)
    assert bought_back(0.5, sold, money, 0.9, 1000.0) == pytest.approx(0.3)
    assert bought_back(0.5, sold, 0.3 * 1.2 * 1000.0, 0.9, 1000.0) == 0.0
    assert bought_back(0.0, sold, money, 0.9, 1000.0) == 0.0


def known_control(**storage) -> dict:
    # the benchmark market (1000 t a year at no cost, D = 1000 P^-0.2, annual steps, storage
    # cost 0.06, decay 0.02, interest 0.03) with its farm in China, which announces at step 10
    # a control from 12 to 21 (cut 0.5; two licence steps at half the allowed flow: 250 t, then
    # 500 t), and no supply shock: a deterministic known path
    raw = benchmark_config(True, 30)
    raw["regions"] = [{"name": "World"}, {"name": "China"}]
    raw["producers"][0]["region"] = "China"
    raw["shocks"] = [{"kind": "export_control", "region": "China", "announce": 10, "start": 12,
                      "duration": 10, "cut": 0.5, "licence_delay": 2, "licence_flow": 0.5}]
    raw["storage"].update(storage)
    raw["market"]["supply_shock"] = {"sd": 0.0}
    return raw


def test_full_foresight_carries_stock_into_a_known_cut_at_hotellings_rule():
    # with the path known, carrying a tonne from t to t+1 earns 0.98 P' / 1.03 - 0.06 - P = 0
    # while stocks are held (Hotelling with storage costs). The stock grid once stopped at 3 x
    # the next step's supply (3 x 250 = 750 t), so they held 750 t into step 11 and lost 9.85 a
    # tonne from 10 to 11 while leaving +12.24 from 11 to 12 unexploited
    s = run(known_control(foresight="full"), steps=30).series()
    p, held = s["price"].to_numpy(), s["private_stock"].to_numpy()
    carry = 0.98 * p[11:14] / 1.03 - 0.06 - p[10:13]
    assert (held[10:13] > 100).all() and held[11] > 750.0 + 1.0
    assert np.abs(carry).max() < 0.2, carry


def test_full_foresight_with_importers_buying_ahead_is_refused():
    raw = known_control(foresight="full")
    raw["shocks"][0]["front_run"] = 0.5
    with pytest.raises(ConfigError) as err:
        experiment_from_dict(raw)
    assert err.value.key == "shocks.0.front_run"


def antimony_with_stockholders(sd: float) -> dict:
    # the antimony 2024 episode's market (abm.validation.episodes.ANTIMONY: China 60% of supply
    # on a rising cost curve, announced at step 12, one month's notice, two licence months, then
    # 59% of China's exports withheld for 12 months; elasticity -0.3) without the importers'
    # buying ahead, with rational stockholders of full foresight (interest 5% a year, monthly
    # steps, no cost or decay) and a supply shock of sd `sd`
    from abm.validation.episodes import ANTIMONY, _config

    raw = _config(ANTIMONY, 30)
    raw["shocks"][0]["front_run"] = 0.0
    raw["storage"] = {"enabled": True, "rule": "rational", "foresight": "full",
                      "interest": 0.05 / 12, "cost": 0.0}
    raw["market"]["supply_shock"] = {"sd": sd}
    return raw


@pytest.mark.parametrize("sd", [0.1, 0.11])
def test_at_a_known_antimony_cut_they_buy_until_the_price_is_the_discounted_expected_one(
        sd, monkeypatch):
    """At the announcement (step 12) the stockholders know the coming scarcity: they buy ahead
    until the club price equals what a tonne carried into step 13 is worth now, W_12(S_12) =
    E_12[P_13] / (1 + 0.05 / 12) (abm.known_regimes), to the schedule's spacing: with
    x_k-1 < S_12 <= x_k (the schedule's points), either the tranche (x_k-1, x_k], bid at
    W_12(x_k), is partly bought (P_12 = W_12(x_k)) or S_12 = x_k at a price down to the next
    point's, W_12(x_k+1), so P_12 is within W_12(x_k+1) .. W_12(x_k-1), the points 0.4% apart
    here. Every price is finite. (With sd 0.1 or more
    the lowest Gauss-Hermite node, 1 - 12.69 sd, was cut to a harvest of 0: availability 0
    with no stock, an infinite price, so W_12 and the club price were infinite from step 12,
    ~1e50 the step after, for every seed.)"""
    from abm.stockholders import Stockholders
    from abm.validation.base import run_model

    schedules = {}
    solve = Stockholders.switch_points

    def recorded(self, model, offers, path):
        schedules[model.t] = points = solve(self, model, offers, path)
        return points

    monkeypatch.setattr(Stockholders, "switch_points", recorded)
    s = run_model(antimony_with_stockholders(sd), 1).series()
    price, stock = s["club_price"].to_numpy(), s["private_stock"].to_numpy()
    assert np.isfinite(price).all() and np.isfinite(s["price"].to_numpy()).all()
    assert min(schedules) == 12 and stock[12] > stock[11] + 1000.0      # bought ahead
    x, worth = schedules[12]
    assert np.isfinite(worth).all()
    k = int(np.searchsorted(x, stock[12] * (1 - 1e-12)))       # x_k-1 < S_12 <= x_k
    assert worth[k + 1] * (1 - 1e-9) <= price[12] <= worth[k - 1] * (1 + 1e-9)
    assert price[12] == pytest.approx(float(np.interp(stock[12], x, worth)), rel=5e-3)
    # about +80% on the year before (the control's cut drawn down from the stock bought)
    assert 1.5 < price[12] / s["price"].to_numpy()[:12].mean() < 2.2


# -- foresight "uncertain": a chance per step that the announced control is lifted for good --------

def test_uncertain_foresight_without_a_lift_hazard_is_full_foresight_exactly():
    # lift_hazard 0: the same schedules, so the same run, to the last bit
    full = run(known_control(foresight="full"), steps=30).series()
    uncertain = run(known_control(foresight="uncertain", lift_hazard=0.0), steps=30).series()
    assert full.equals(uncertain)
    assert full["private_stock"].to_numpy()[10] > 100.0        # (it did buy ahead)


def test_a_larger_lift_hazard_never_buys_more_ahead_in_the_notice_month():
    # The antimony 2024 market with stockholders in place of the importers' buying ahead, no
    # supply shock (abm.validation.episodes.stockholder_variant's setting): the stock bought at
    # the announcement (step 12, the notice month) and China's exports then never rise with
    # the hazard; a hazard of 1 (free trade next month for sure) is free trade's stationary
    # rule, which holds nothing without a shock: nothing bought ahead
    from abm.validation.base import run_model

    held, exports = [], []
    for hazard in (0.0, 1 / 12, 0.5, 1.0):
        raw = antimony_with_stockholders(0.1)
        del raw["market"]["supply_shock"]
        raw["storage"].update(foresight="uncertain", lift_hazard=hazard)
        model = run_model(raw, 1)
        held.append(float(model.series()["private_stock"].to_numpy()[12]))
        exports.append(float(model.region_net_exports[12, model.region_index["China"]]))
    assert held[0] > 1000.0 and held[-1] < 1e-9
    for series in (np.array(held), np.array(exports)):
        assert (series[1:] <= series[:-1] * (1 + 1e-9)).all(), series
    assert held[1] < held[0] and exports[1] < exports[0]


def test_uncertain_foresight_with_importers_buying_ahead_is_refused():
    raw = known_control(foresight="uncertain", lift_hazard=0.1)
    raw["shocks"][0]["front_run"] = 0.5
    with pytest.raises(ConfigError) as err:
        experiment_from_dict(raw)
    assert err.value.key == "shocks.0.front_run"
    assert "foresight = 'uncertain'" in str(err.value)


def test_a_lift_hazard_without_uncertain_foresight_is_refused():
    # it would do nothing: an error, not silently ignored
    with pytest.raises(ConfigError) as err:
        experiment_from_dict(known_control(foresight="full", lift_hazard=0.1))
    assert err.value.key == "storage.lift_hazard"
    assert "foresight = 'uncertain'" in str(err.value)
