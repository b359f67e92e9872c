"""abm.storage, the exact competitive-storage benchmark: its equilibrium conditions checked with an
independent integral, its moments against refinement and a long Monte Carlo simulation, the RECS
sto1FX numbers published in docs/validation.md, the public floor's speculative attack and
Salant's perfect-foresight attack stock."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
from scipy import integrate, stats

from abm import storage

ROOT = Path(__file__).resolve().parents[1]
# RECS demo sto1FX (Gouel): cost 0.06, decay 0.02, interest 0.03, elasticity -0.2, harvest sd 0.05
STO1FX = {"elasticity": -0.2, "harvest_sd": 0.05, "cost": 0.06, "decay": 0.02, "interest": 0.03}
CAPACITY = 0.4            # RECS sto2's public capacity (Sgbar)
HIGH_FLOOR, LOW_FLOOR = 1.02, 0.9
FLOORS = {"no floor": {}, "low floor": {"floor": LOW_FLOOR, "floor_capacity": CAPACITY},
          "high floor": {"floor": HIGH_FLOOR, "floor_capacity": CAPACITY}}


@pytest.fixture(scope="module", params=list(FLOORS))
def case(request):
    return request.param, storage.solve(**STO1FX, **FLOORS[request.param])


def expected_price_by_quad(solution, carried: float) -> float:
    """E[P((1 - delta) X + h)] for carry-over X by adaptive quadrature (scipy.integrate.quad), an
    integral independent of the solver's split Gauss-Legendre rule; P's kinks passed as points."""
    m = solution.model
    shift = (1 - m.decay) * carried
    density = stats.norm(1.0, m.harvest_sd).pdf
    lo, hi = 1 - 8.5 * m.harvest_sd, 1 + 8.5 * m.harvest_sd
    kinks = [b - shift for b in solution.rule.breaks if lo < b - shift < hi]
    value, _ = integrate.quad(lambda h: float(solution.price(shift + h)) * density(h), lo, hi,
                              points=kinks or None, limit=200, epsabs=1e-13, epsrel=1e-12)
    return value


def break_even_price_by_quad(solution, carried: float) -> float:
    """Psi(X) = (1 - delta) E[P((1 - delta) X + h)] / (1 + interest) - cost."""
    m = solution.model
    return m.discount * expected_price_by_quad(solution, carried) - m.cost


def test_stockholders_break_even_where_they_store_and_lose_where_they_do_not(case):
    """Euler: P + cost = (1 - delta) E[P'] / (1 + interest) within 1e-5 where S > 0, and
    P + cost >= that where S = 0 (complementarity), at availabilities between grid points."""
    _, solution = case
    a = np.linspace(0.8, 1.9, 61) + 0.0013
    stock = solution.stock(a)
    residual = np.array([float(solution.price(x)) - break_even_price_by_quad(
        solution, float(solution.rule(x))) for x in a])
    assert (stock > 0).sum() >= 20 and (stock == 0).sum() >= 10
    assert np.max(np.abs(residual[stock > 0])) < 1e-5
    assert np.min(residual[stock == 0]) > -1e-9


@pytest.mark.parametrize("floor", ["low floor", "high floor"])
def test_the_agency_holds_the_price_at_the_floor_within_its_capacity(floor):
    """G = 0 where P > PF, G = capacity where P < PF, 0 <= G <= capacity, and P = PF exactly
    where 0 < G < capacity; markets clear: P = (A - S - G)^(1/elasticity)."""
    solution = storage.solve(**STO1FX, **FLOORS[floor])
    pf = FLOORS[floor]["floor"]
    a = np.linspace(0.8, 1.9, 1101)
    price, stock, public = solution.price(a), solution.stock(a), solution.public_stock(a)
    assert np.all((public >= 0) & (public <= CAPACITY)) and np.all(stock >= 0)
    assert np.all(public[price > pf + 1e-12] == 0)
    assert np.all(public[price < pf - 1e-12] == CAPACITY)
    inside = (public > 0) & (public < CAPACITY)
    assert inside.sum() > 100 and np.allclose(price[inside], pf, rtol=0, atol=1e-12)
    assert np.allclose(price, (a - stock - public) ** (1 / STO1FX["elasticity"]), rtol=1e-12)


# no decay and no cost: stocks reach far (the stationary domain must grow to hold the mass)
FREE_STORAGE = {"elasticity": -0.5, "harvest_sd": 0.1, "cost": 0.0, "decay": 0.0,
                "interest": 0.05}
REFINED = {name: STO1FX | floor for name, floor in FLOORS.items()} | {"free storage": FREE_STORAGE}


@pytest.mark.parametrize("case_name", list(REFINED))
def test_refining_the_grid_nodes_and_panels_moves_no_moment_by_1e_4(case_name):
    coarse = storage.solve(**REFINED[case_name]).moments()
    fine = storage.solve(**REFINED[case_name], grid_points=600, nodes=80,
                         panel_width=0.01, x_max=4.0, tol=1e-13).moments()
    assert coarse.keys() == fine.keys()
    assert {k: abs(coarse[k] - fine[k]) for k in coarse if abs(coarse[k] - fine[k]) >= 1e-4} == {}


def test_storage_that_never_pays_leaves_the_price_of_the_harvest():
    """Cost 5 > any expected price: nobody stores, P = h^(-5), so E[P] = E[(1 + sd z)^-5]
    = 1 + 15 sd^2 + 210 sd^4 + 3150 sd^6 + ... = 1 + 0.0375 + 0.0013125 + 0.0000492 + 0.0000021
    = 1.038864 (sd 0.05), i.i.d. prices (ac1 0), never a stock."""
    m = storage.solve(**(STO1FX | {"cost": 5.0})).moments()
    assert m["price_mean"] == pytest.approx(1.038864, abs=2e-6)
    assert m["prob_no_stock"] == pytest.approx(1.0, abs=1e-12) and m["stock_mean"] == 0.0
    assert abs(m["price_ac1"]) < 1e-10


def jackknife(groups: list[dict[str, np.ndarray]], moment) -> tuple[float, float]:
    """A moment of the pooled sample and its delete-a-group jackknife standard error."""
    pooled = {k: np.concatenate([g[k] for g in groups]) for k in groups[0]}
    full = moment(pooled)
    leave_out = np.array([moment({k: np.concatenate([g[k] for j, g in enumerate(groups) if j != i])
                                  for k in groups[0]}) for i in range(len(groups))])
    n = len(groups)
    return full, math.sqrt((n - 1) / n * np.sum((leave_out - leave_out.mean()) ** 2))


def pair_moments(sample) -> dict:
    p, q = sample["p"], sample["q"]
    mean = p.mean()
    dev = p - mean
    return {"price_mean": lambda: mean, "price_sd": lambda: dev.std(),
            "price_skew": lambda: np.mean(dev**3) / dev.std() ** 3,
            "price_ac1": lambda: np.mean(dev * (q - mean)) / dev.var()}


@pytest.mark.parametrize("floor", ["no floor", "low floor"])
def test_a_200000_period_simulation_agrees_with_the_stationary_moments(floor):
    """400 seeded chains x 500 periods (after 100 periods from A = 1) of the solved rule: every
    moment within 4 jackknife standard errors (40 groups of 10 chains) of the stationary one."""
    solution = storage.solve(**STO1FX, **FLOORS[floor])
    exact = solution.moments()
    path = solution.simulate(501, chains=400, seed=20)
    groups = []
    for rows in np.array_split(np.arange(400), 40):
        price = path["price"][rows]
        groups.append({"p": price[:, :-1].ravel(), "q": price[:, 1:].ravel(),
                       "stock": path["stock"][rows, :-1].ravel(),
                       "public": path["public_stock"][rows, :-1].ravel(),
                       "pub_next": path["public_stock"][rows, 1:].ravel()})
    checks = {name: (lambda s, name=name: pair_moments(s)[name]())
              for name in ["price_mean", "price_sd", "price_skew", "price_ac1"]}
    checks |= {"prob_no_stock": lambda s: np.mean(s["stock"] == 0),
               "stock_mean": lambda s: np.mean(s["stock"])}
    if floor != "no floor":
        checks |= {"public_stock_mean": lambda s: np.mean(s["public"]),
                   "prob_floor_defended": lambda s: np.mean(
                       (s["public"] > 0) & (s["public"] < CAPACITY)),
                   "prob_attack": lambda s: np.mean(s["pub_next"][s["public"] > 0] == 0)}
    far = {}
    for name, moment in checks.items():
        simulated, se = jackknife(groups, moment)
        assert se > 0
        if abs(simulated - exact[name]) > 4 * se:
            far[name] = (simulated, exact[name], se)
    assert far == {}


def test_speculators_start_storing_between_the_two_floors():
    """Without a floor stockholders store once P falls below P* = Psi(0) = A0^(-5): 0.9610 for
    sto1FX, so the floor 0.9 is below that price and 1.02 above it."""
    free = storage.solve(**STO1FX)
    start = float(free.rule.breaks[0]) ** (1 / STO1FX["elasticity"])
    assert start == pytest.approx(break_even_price_by_quad(free, 0.0), abs=1e-9)
    assert LOW_FLOOR < start < HIGH_FLOOR


def test_a_floor_below_that_price_is_attacked_at_the_threshold_stock():
    """PF 0.9: the threshold X_a solves Psi(X_a) = PF (checked by an independent integral). Just
    above A_att = X_a + PF^-0.2 the agency holds X_a at P = PF; just below it holds nothing
    and stockholders hold X_a at the same price (no jump: no arbitrage). Simulated, the public
    stock never falls below X_a: it goes from >= X_a to 0 in one period."""
    solution = storage.solve(**STO1FX, **FLOORS["low floor"])
    x_attack = solution.attack_threshold
    m = solution.moments()
    assert 0.01 < x_attack < CAPACITY and m["attack_stock"] == x_attack and m["prob_attack"] > 0.05
    assert break_even_price_by_quad(solution, x_attack) == pytest.approx(LOW_FLOOR, abs=1e-8)
    a_att = solution.attack_availability
    above, below = a_att + 1e-9, a_att - 1e-9
    assert float(solution.public_stock(above)) == pytest.approx(x_attack, abs=1e-8)
    assert float(solution.stock(above)) == 0.0
    assert float(solution.public_stock(below)) == 0.0
    assert float(solution.stock(below)) == pytest.approx(x_attack, abs=1e-6)
    assert float(solution.price(below)) == pytest.approx(LOW_FLOOR, abs=1e-6)
    public = solution.simulate(2000, chains=100, seed=3)["public_stock"]
    taken = (public[:, :-1] > 0) & (public[:, 1:] == 0)
    assert taken.sum() > 1000
    assert public[public > 0].min() >= x_attack - 1e-12


def test_a_floor_above_that_price_runs_down_without_an_attack():
    """PF 1.02 (RECS sto2's floor): Psi(0) = 1.0181 < PF, so no stockholder ever wants the agency's stock;
    it falls continuously to 0 (small positive holdings occur) and stockholders hold nothing
    while the agency defends the floor."""
    solution = storage.solve(**STO1FX, **FLOORS["high floor"])
    m = solution.moments()
    assert solution.attack_threshold == 0.0 and m["attack_stock"] == 0.0 and m["prob_attack"] == 0
    assert break_even_price_by_quad(solution, 0.0) < HIGH_FLOOR   # 1.0181
    path = solution.simulate(2000, chains=100, seed=3)
    public, stock = path["public_stock"], path["stock"]
    assert public[public > 0].min() < 1e-3
    defending = (public > 0) & (public < CAPACITY)
    assert defending.mean() > 0.5 and np.all(stock[defending] == 0)


SALANT = {"a": 10.0, "b": 1.0, "production": 6.0, "interest": 0.05, "ceiling": 2.0}


def test_salant_attack_stock_by_hand():
    """P_c = (10 - 6) / 1 = 4; X* = (1 / 0.05) [4 ln(4 / 2) - (4 - 2)] = 20 (2.7725887 - 2)
    = 15.451774."""
    assert storage.salant_attack_stock(**SALANT) == pytest.approx(15.451774, abs=1e-6)


def post_attack_path(stock: float):
    """After the attack speculators hold `stock`; the price starts at the ceiling and rises at r
    (Hotelling, no storage cost) while stock is drawn at a - b P - q per unit time. Returns the
    stock left when the price reaches P_c and the price when the stock runs out (solve_ivp)."""
    a, b, q, r, ceiling = (SALANT[k] for k in ["a", "b", "production", "interest", "ceiling"])
    choke = (a - q) / b

    def flow(_, y):
        return [-(a - b * y[1] - q), r * y[1]]

    def empty(_, y):
        return y[0]

    def at_choke(_, y):
        return y[1] - choke

    empty.terminal = at_choke.terminal = True
    ran = integrate.solve_ivp(flow, (0.0, 100.0), [stock, ceiling], events=[empty, at_choke],
                              rtol=1e-12, atol=1e-12)
    return ran.y[0, -1], ran.y[1, -1]


def test_a_perfect_foresight_path_from_the_closed_form_stock_runs_out_at_the_choke_price():
    """From X* the price path reaches P_c = 4 exactly as the stock runs out (no jump, no
    arbitrage); 10% more stock is left over at P_c (speculators would have to sell below the
    ceiling: no attack yet), 10% less runs out below P_c (the price would jump: attack earlier)."""
    x_star = storage.salant_attack_stock(**SALANT)
    left, price = post_attack_path(x_star)
    assert abs(left) < 1e-7 and price == pytest.approx(4.0, abs=1e-7)
    left, _ = post_attack_path(1.1 * x_star)
    assert left > 1.0
    _, price = post_attack_path(0.9 * x_star)
    assert price < 4.0 - 0.1


def test_the_published_sto1fx_table_is_what_the_solver_gives():
    """docs/validation.md's table (4 decimals) against the solver, column by column."""
    text = (ROOT / "docs/validation.md").read_text()
    table = text[text.index("<!-- storage-benchmark"):].split("\n\n")[0]
    rows = [line.strip().strip("|").split("|") for line in table.splitlines()[3:]]
    columns = list(FLOORS)
    published = {name: {} for name in columns}
    for cells in rows:
        moment, *values = (c.strip() for c in cells)
        for name, value in zip(columns, values, strict=True):
            if re.fullmatch(r"-?\d+\.\d{4}", value):
                published[name][moment] = float(value)
    for name in columns:
        solved = storage.solve(**STO1FX, **FLOORS[name]).moments()
        assert published[name].keys() == solved.keys()
        assert {k: v for k, v in published[name].items() if abs(v - solved[k]) > 5.1e-5} == {}


@pytest.mark.parametrize("bad", [{"elasticity": 0.2}, {"harvest_sd": 0.2}, {"decay": 1.0},
                                 {"floor": 1.0}, {"floor": 1.0, "floor_capacity": 5.0}])
def test_parameters_outside_the_model_are_refused(bad):
    with pytest.raises(ValueError):
        storage.solve(**(STO1FX | bad))


def test_stockholders_price_a_known_product_ban_on_the_buyers_outside_it():
    # Review rv9 G1: tests/test_chain_repair.py's market (C mines and refines 100 t/yr, O has
    # 30 t/yr of ore-less refining; 100 t/yr at 20, half the demand C's), C's product ban in
    # force at months 12-17, known from month 3; stockholders with full foresight (interest
    # 0.5% a month, 0.05 a tonne). In the ban O's users are served by O's 30 t of re-paired
    # refining and the stock only: C's users buy in C's home market, which the stock does not
    # reach. Priced on every buyer (the ban's market 84.51 t/yr instead of O's 30), the
    # stockholders bought too much ahead, the price FELL through the ban (37.65 -> 16.60: a
    # tonne carried lost 4.6) and the stock left over sold after it at 16.7, below free
    # trade's 20. On O's buyers: the price rises through the ban within the solution's grid
    # (no month more than 1% below the one before), the stock is used up by the ban's last
    # month and free trade after it is 20.
    from test_chain_repair import config
    raw = config(1.0)
    raw["experiment"]["steps"] = 20
    raw["shocks"][0].update(duration=6, announce=3)
    raw["storage"] = {"enabled": True, "interest": 0.005, "cost": 0.05, "foresight": "full"}
    from abm.validation.base import run_model
    s = run_model(raw, 1).series()
    price, stock = s["price"].to_numpy(), s["private_stock"].to_numpy()
    ban = slice(12, 18)
    assert stock[11] > 5.0                                    # bought ahead
    assert (price[ban][1:] >= 0.99 * price[ban][:-1]).all(), price[ban]
    assert stock[17] == pytest.approx(0.0, abs=1e-6)
    assert price[18:].tolist() == pytest.approx([20.0, 20.0], rel=1e-9)


@pytest.mark.parametrize("slack", ["O", "E"])
def test_a_product_control_that_never_binds_changes_nothing_beside_a_known_ban(slack):
    # Review rv10 H5: the test above, with a second product control (cut 0.5, the same
    # months, as well announced) on a region that exports nothing at any price: O, which
    # imports all it uses, or E, a third region with a quarter of the demand and no
    # producers (O's users then a quarter too). Its cap never binds, so the path is the one
    # without it. Before, the stockholders took the capped region's buyers out of their
    # regime's market (O: none left, no stock at all and 109.78 through the ban; E: the
    # price nearly tripled within the ban, 30.36 -> 84.75), and with every region capped
    # they offered their stock in C's banned market, where it sat unsold.
    from test_chain_repair import config

    from abm.validation.base import run_model

    def ban(second: bool) -> dict:
        raw = config(1.0)
        raw["experiment"]["steps"] = 20
        raw["shocks"][0].update(duration=6, announce=3)
        raw["storage"] = {"enabled": True, "interest": 0.005, "cost": 0.05,
                          "foresight": "full"}
        if slack == "E":
            raw["regions"].append({"name": "E"})
            raw["buyers"][1]["share"] = 0.25
            raw["buyers"].append({"name": "E users", "region": "E", "share": 0.25})
        if second:
            raw["shocks"].append(dict(raw["shocks"][0], region=slack, cut=0.5))
        return raw

    alone = run_model(ban(False), 1).series()
    both = run_model(ban(True), 1).series()
    for column in ("price", "private_stock"):
        np.testing.assert_allclose(both[column].to_numpy(), alone[column].to_numpy(),
                                   rtol=1e-9, atol=1e-9)
    assert alone["private_stock"][11] > 5.0
