"""Claims: the gallium (2023) and dysprosium (2025) export controls land within a factor of two
of the reported price moves, for the mechanism each claim names; switching that mechanism off
makes the claim fail. Gallium's buying ahead is the model's answer (stockholders who store
because it pays), checked against the reported export surge. The magnitudes follow from
assumed cost tranches (the claims' notes): these test mechanisms and directions, not a
calibration.

Deterministic runs; the bands are stated in abm.validation.episodes.
"""

import dataclasses

import pytest
from scipy.optimize import brentq

from abm.validation import episodes
from abm.validation.base import run_model


@pytest.fixture(scope="module")
def gallium():
    return episodes.gallium()


@pytest.fixture(scope="module")
def dysprosium():
    return episodes.dysprosium()


@pytest.mark.parametrize("key", ["outside_price", "restricting_price", "spread", "exports_ahead"])
def test_gallium_2023_price_moves_and_buying_ahead_within_the_reported_band(gallium, key):
    check = gallium.check(key)
    assert check.passed, check.detail


def test_gallium_2023_passes_with_no_known_failure(gallium):
    assert gallium.passed and gallium.known_failure == ""


@pytest.mark.parametrize("key", ["outside_price", "restricting_price", "spread"])
def test_dysprosium_2025_price_moves_within_the_reported_band(dysprosium, key):
    check = dysprosium.check(key)
    assert check.passed, check.detail


def test_gallium_without_stockholders_the_outside_price_explodes_in_the_licence_months():
    # no stock bought ahead: in the licence months only the outside 1.2% of supply is left
    off = episodes.gallium(dataclasses.replace(episodes.GALLIUM, storage=None))
    assert not off.check("outside_price").passed
    assert off.produced["outside price move (model)"] > 10 * episodes.BAND * 0.40


def test_gallium_with_the_reported_buying_ahead_released_at_once_the_spread_fails():
    # importers who buy the sourced +372% ahead (front_run) but offer it as soon as the exports
    # stop: the stock covers the licence months, the outside price is back at its normal level
    # in the first month in force and the spread is China's fall alone (+14%, band +27%..+108%)
    off = episodes.gallium(dataclasses.replace(episodes.GALLIUM, storage=None,
                                               front_run=episodes.GALLIUM_FRONT_RUN))
    assert not off.check("spread").passed
    assert off.produced["spread (model)"] == pytest.approx(1 / 0.875 - 1, abs=0.01)


@pytest.mark.parametrize("cut, outside, passed, said", [(0.3, 0.305, True, "+30.5%"),
                                                       (0.7, 1.455, False, "+146%")])
def test_gallium_outside_price_rests_on_the_cut_the_stockholders_expect(cut, outside, passed,
                                                                        said):
    # the numbers GALLIUM_CUT_NOTE states
    r = episodes.gallium(dataclasses.replace(episodes.GALLIUM, cut=cut))
    assert r.produced["outside price move (model)"] == pytest.approx(outside, abs=0.001)
    assert r.passed is passed
    assert f"at {cut} the outside price moves {said}" in episodes.GALLIUM_CUT_NOTE or \
        f"at {cut} {said}" in episodes.GALLIUM_CUT_NOTE


def test_gallium_with_a_state_producer_that_answers_no_price_the_home_price_collapses():
    # market_share: China's refiners ask 0 and produce at capacity, so withheld exports flood
    # the home market instead of idling its dearest capacity
    off = episodes.gallium(dataclasses.replace(episodes.GALLIUM, strategy="market_share"))
    assert not off.check("restricting_price").passed
    assert off.produced["China price move (model)"] < -0.18


def test_dysprosium_with_no_licences_flowing_the_outside_price_rises_more():
    # no licences flowing: +388% against +144% with the episode's flow (before review 15
    # finding 1 the buyers' draw, a share of orders at the spiked price, collapsed when nothing
    # could be bought and the price left the band; their stocks now hold it just inside)
    on = episodes.dysprosium(episodes.DYSPROSIUM)
    off = episodes.dysprosium(dataclasses.replace(episodes.DYSPROSIUM, licence_flow=0.0))
    key = "outside price move (model)"
    assert off.produced[key] > 2 * on.produced[key]


def test_dysprosium_without_japans_stocks_the_outside_price_leaves_the_band():
    buyers = tuple((n, r, s, 0.0) for n, r, s, _ in episodes.DYSPROSIUM.buyers)
    off = episodes.dysprosium(dataclasses.replace(episodes.DYSPROSIUM, buyers=buyers))
    assert not off.check("outside_price").passed


def test_dysprosium_with_chinas_capacity_on_a_rising_cost_curve_its_price_does_not_hold():
    # the marginal tranche's 400 t at 200 spread over eight 50 t tranches at 130, 140, ..., 200:
    # China's price is no longer held by idle capacity at one cost, so the withheld exports
    # push it down the curve
    low = [p for p in episodes.DYSPROSIUM.producers if p[0] != "China marginal"]
    curve = [(f"China {c}", "China", 50.0, float(c)) for c in range(130, 201, 10)]
    off = episodes.dysprosium(dataclasses.replace(episodes.DYSPROSIUM,
                                                  producers=tuple(low + curve)))
    assert not off.check("restricting_price").passed
    assert off.produced["China price move (model)"] < -episodes.HELD


# ------------------------------------------------------------------------------------------------
# antimony 2024 and DRC cobalt 2025: the restricting region's price lands; the outside price is
# a known failure, each stated on its claim, with the clearing that produces it checked by hand
# ------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def antimony():
    return episodes.antimony()


@pytest.fixture(scope="module")
def cobalt():
    return episodes.cobalt()


def test_antimony_2024_chinas_price_moves_within_the_reported_band(antimony):
    check = antimony.check("restricting_price")
    assert check.passed, check.detail


@pytest.mark.xfail(strict=True, reason=episodes.ANTIMONY_OUTSIDE_FAILURE)
@pytest.mark.parametrize("key", ["outside_price", "spread"])
def test_antimony_2024_outside_price_and_spread_are_the_reported_ones(antimony, key):
    check = antimony.check(key)
    assert check.passed, check.detail


def test_antimony_2024_says_why_it_fails(antimony):
    assert not antimony.passed and antimony.known_failure == episodes.ANTIMONY_OUTSIDE_FAILURE


def test_antimony_stockholders_buy_ahead_of_the_control_only_because_they_know_it(antimony):
    # the variant reported beside the claim: rational stockholders with foresight of the caps
    # in place of the sourced buying ahead (front_run 0). They buy ahead in the notice month
    # (China's exports there rise above normal) and draw the stock down under the control, so
    # the outside price once licences are issued stays below the +137.5% of the outside
    # market clearing on its own supply (test below); with foresight 'exit' (never buying
    # ahead on the known regimes) the notice month's exports are normal
    r = episodes.stockholder_variant()
    assert r["exports_ahead"] > 0.5
    at = episodes.ANTIMONY.start + episodes.ANTIMONY.horizon
    assert 0 < r["outside"][at] < 1.375
    assert episodes.stockholder_note(r) in antimony.notes
    exit_only = dict(episodes.SB_STOCKHOLDERS, foresight="exit")
    off = episodes.ANTIMONY
    model = run_model(episodes._config(dataclasses.replace(off, front_run=0.0,
                                                           storage=exit_only)), 1)
    exports = model.region_net_exports[:, model.region_index["China"]]
    assert exports[off.announce] == pytest.approx(exports[:off.announce].mean(), rel=1e-6)


def test_antimony_stockholders_unsure_of_the_controls_length_buy_less_ahead_but_too_much(
        antimony):
    # the second variant reported beside the claim: the same stockholders with a chance of 1/12
    # a month that the control is lifted for good (foresight 'uncertain', ASSUMPTION). A
    # tonne carried into the licence months is worth less (free trade's price with 1/12), so
    # they buy less ahead than with full foresight, but the notice month's exports stay above
    # twice the reported +54%: doubt about the length at that hazard does not account for it
    full = episodes.stockholder_variant()
    unsure = episodes.stockholder_variant(storage=episodes.SB_UNCERTAIN)
    assert episodes.SB_UNCERTAIN["lift_hazard"] == pytest.approx(1 / 12)
    assert 0.5 < unsure["exports_ahead"] < full["exports_ahead"]
    assert unsure["exports_ahead"] > 2 * episodes.SB_EXPORTS_AHEAD
    note = episodes.stockholder_hazard_note(unsure)
    assert note in antimony.notes and "1/12 a month" in note
    assert note.endswith("the buying ahead still outside its band.")


def test_antimony_settings_follow_the_reported_export_tonnages():
    ep = episodes.ANTIMONY
    normal = 38632 / 0.759 / 12                 # 4,241.7 t a month in 2023
    assert episodes.SB_NORMAL == pytest.approx(normal)
    assert ep.cut == pytest.approx(1 - 1721 / 4241.7, abs=1e-4)          # 0.5943
    # October and November carried (190 + 808) / 2 = 499 t, 11.8% of normal
    assert ep.licence_flow * (1 - ep.cut) == pytest.approx(499 / 4241.7, abs=1e-5)
    # September 6,533 t is +54.0% of normal exports, 0.25 / 0.65 of the importers' use
    assert ep.front_run == pytest.approx(0.5402 * 0.25 / 0.65, abs=1e-4)
    # 141,000 yuan = 19,479 USD/t on 19 Nov, 11.5% below 15 Aug: 22.01 USD/kg
    assert ep.reference_price == pytest.approx(22.01, abs=0.01)


def test_antimony_outside_price_after_the_licences_is_the_outside_markets_clearing():
    # once licences are issued (month 15 on) China exports (1 - cut) of its normal 0.25 Q:
    # outside demand 0.65 Q (P / P0)^-0.3 = 0.40 Q + 0.4057 x 0.25 Q = 0.5014 Q, so
    # P / P0 = (0.5014 / 0.65)^(-1 / 0.3) = 2.375 (+137.5%)
    r = episodes.run_episode(episodes.ANTIMONY)
    supply = 0.40 + (1 - episodes.SB_CUT) * 0.25
    want = (supply / 0.65) ** (-1 / 0.3) - 1
    assert want == pytest.approx(1.375, abs=1e-3)
    at = episodes.ANTIMONY.start + episodes.ANTIMONY.horizon
    assert r["outside"][at] == pytest.approx(want, rel=1e-6)


def _antimony_chain(spare: float = 0.20) -> episodes.Episode:
    """ANTIMONY as a two-stage chain (the sbchain experiment; not the claim): China's mines
    0.48 of world mine output Q (docs/sources.md 37), the outside's 0.52, both at 0.4 P0
    (ASSUMPTION: no cost gap); China's eight refining tranches at the one-stage grid less the
    ore, P0 (c / 240 - 0.4), so each chain ask is the one-stage tranche's; the outside
    refiners' 0.40 Q at 0.4 P0 (chain ask 0.8 P0, as the one-stage) and `spare` Q more at
    0.65 P0 (ASSUMPTION: chain ask 1.05 P0, idle at P0, so China refines 0.60 Q in free trade:
    0.12 Q on ore mined outside, China's concentrate imports, docs/sources.md 38)."""
    ep, p0, q = episodes.ANTIMONY, episodes.SB_PRICE, episodes.SB_QUANTITY
    china = tuple((n, g, c, u - 0.4 * p0) for n, g, c, u in ep.producers if g == "China")
    outside = (("Outside", "Outside", 0.40 * q, 0.4 * p0),
               ("Outside spare", "Outside", spare * q, 0.65 * p0))
    mines = (("China mines", "China", 0.48 * q, 0.4 * p0),
             ("Outside mines", "Outside", 0.52 * q, 0.4 * p0))
    return dataclasses.replace(ep, producers=china + outside, mines=mines)


def test_antimony_as_a_two_stage_chain_chinas_idled_refinings_ore_goes_to_the_idle_outside():
    # The chain curve pairs the n-th cheapest refining tonne with the n-th cheapest ore tonne,
    # whatever their regions; under China's product cap the ore its idled segments held is
    # re-paired with the outside's idle refining (abm.clearing.clear_step; docs/ODD.md 7.12).
    # Free trade: mines at capacity (Q in all), the chain's top; China refines 0.60 Q
    # (tranches 1-4, 0.5116 Q, and 0.0884 Q of tranche 5 at ask P0), the outside 0.40 Q, its
    # spare 0.20 Q has no ore (chain ask 0.65 + 0.4 = 1.05 P0, above the free-trade P0: no
    # spare supply, so the buyers' shortfall is the one-stage run's).
    # Notice month: supply is fixed at Q (feed-limited), so the stock bought ahead, front_run
    # x 0.65 Q = 0.1351 Q, comes from China's home users: Q (P / P0)^-0.3 + 0.1351 Q = Q,
    # P / P0 = (1 - 0.1351)^(-1 / 0.3) = 1.622 (+62.2%), China's exports 0.60 - 0.35 x 0.8649
    # = 0.2973 Q. Under the cap China's price falls to tranche 4 (-12.5%) and China refines
    # 0.35 x 0.875^-0.3 = 0.3643 Q for home plus its exports.
    # First licence month: China exports 0.0294 Q and the importers offer their 0.1351 Q; the
    # spare runs at its ask, 1.05 P0 (+5.0%), refining 0.65 x 1.05^-0.3 - 0.40 - 0.0294 -
    # 0.1351 = 0.0761 Q. Second licence month (the stock gone): China refines 0.3937 Q and its
    # idled segments free 0.60 - 0.3937 = 0.2063 Q of ore, more than the spare's 0.20 Q: the
    # outside gets 0.40 + 0.0294 + 0.20 = 0.6294 Q, (0.6294 / 0.65)^(-1 / 0.3) = 1.1133
    # (+11.3%, the one-stage run +298.2%), and 0.0063 Q of ore stays unmined.
    ep, q = _antimony_chain(), episodes.SB_QUANTITY
    model, out = run_model(episodes._config(ep), 1, record_output=True)
    r = episodes._moves(ep, model.series())
    year = out * 12 / q                                  # t/step -> share of Q a year
    names = [p[0] for p in ep.producers] + [m[0] for m in ep.mines]
    col = {n: names.index(n) for n in ("Outside", "Outside spare", "China mines",
                                       "Outside mines")}
    china = [i for i, n in enumerate(names) if n.startswith("China ") and n != "China mines"]
    pre, notice, second = ep.announce - 1, ep.announce, ep.start + ep.licence_delay - 1
    assert year[pre, china].sum() == pytest.approx(0.60, rel=1e-9)
    assert year[pre, col["Outside"]] == pytest.approx(0.40, rel=1e-9)
    assert year[pre, col["China mines"]] + year[pre, col["Outside mines"]] == pytest.approx(1.0)
    assert year[:ep.start, col["Outside spare"]] == pytest.approx([0.0] * ep.start, abs=1e-12)
    b = ep.front_run * 0.65
    assert r["outside"][notice] == pytest.approx((1 - b) ** (-1 / 0.3) - 1, rel=1e-9)
    exports = model.region_net_exports[:, model.region_index["China"]] * 12 / q
    assert exports[notice] == pytest.approx(0.60 - 0.35 * (1 - b), rel=1e-9)
    home = 0.35 * 0.875 ** -0.3                          # 0.3643 Q
    licensed = ep.licence_flow * (1 - ep.cut) * 0.25     # 0.0294 Q
    assert r["home"][ep.start:ep.start + ep.licence_delay] == pytest.approx(
        [-0.125] * ep.licence_delay, rel=1e-9)
    assert r["outside"][ep.start] == pytest.approx(0.05, rel=1e-9)
    assert year[ep.start, col["Outside spare"]] == pytest.approx(
        0.65 * 1.05 ** -0.3 - 0.40 - licensed - b, rel=1e-9)
    assert year[second, china].sum() == pytest.approx(home + licensed, rel=1e-9)
    assert year[second, col["Outside spare"]] == pytest.approx(0.20, rel=1e-9)
    assert r["outside"][second] == pytest.approx(
        ((0.40 + licensed + 0.20) / 0.65) ** (-1 / 0.3) - 1, rel=1e-9)
    assert r["outside"][second] == pytest.approx(0.1133, abs=1e-4)
    ore = year[second, col["China mines"]] + year[second, col["Outside mines"]]
    assert 1.0 - ore == pytest.approx(0.60 - home - licensed - 0.20, rel=1e-9)
    # four months in (licences issued): China exports (1 - cut) 0.25 = 0.1014 Q; its idled
    # segments free 0.1343 Q of ore, less than the spare's 0.20 Q, so the ore China's home
    # refining holds is contested (docs/ODD.md 7.12, a product cap keeps no ore at home):
    # the spare nets P - 0.65 P0 on a tonne, China's marginal refining (tranche 4: chain ask
    # 0.875 P0 less the ore's 0.4) P_China - 0.475 P0; they meet with every tonne of ore
    # mined, 0.35 (P_China / P0)^-0.3 + 0.65 ((P_China + 0.175 P0) / P0)^-0.3 = 1:
    # P_China = 0.8910 P0 (-10.9%), the outside 1.0660 P0 (+6.6%), a spread of +19.6%. The
    # ore's price is the spare's margin, (1.0660 - 0.65) P0. (Before the ore was contested,
    # China's refining kept it at cost: -12.5%, +7.7%, spread +23.1%.)
    at = ep.start + ep.horizon
    issued = (1 - ep.cut) * 0.25
    p_china = brentq(lambda p: 0.35 * p ** -0.3 + 0.65 * (p + 0.175) ** -0.3 - 1.0, 0.5, 2.0)
    outside = p_china + 0.175
    china_home = 0.35 * p_china ** -0.3
    assert p_china == pytest.approx(0.8910, abs=1e-4)
    assert year[at, china].sum() == pytest.approx(china_home + issued, rel=1e-6)
    assert year[at, col["Outside spare"]] == pytest.approx(0.60 - china_home - issued,
                                                           rel=1e-6)
    assert year[at, col["China mines"]] + year[at, col["Outside mines"]] == pytest.approx(
        1.0, rel=1e-9)
    assert r["home"][at] == pytest.approx(p_china - 1, rel=1e-6)
    assert r["outside"][at] == pytest.approx(outside - 1, rel=1e-6)
    assert r["outside"][at] == pytest.approx(0.0660, abs=1e-4)
    assert r["spread"] == pytest.approx(outside / p_china - 1, rel=1e-6)
    assert r["spread"] == pytest.approx(0.196, abs=1e-3)
    p0 = model.series()["price"][pre]
    assert model.series()["concentrate_price"][at] == pytest.approx((outside - 0.65) * p0,
                                                                    rel=1e-6)
    # the claim's checks on this chain: outside +62.2% (the notice month, within a factor 2
    # of +57.3%), China -10.9% (of -10.5%) pass; the spread +19.6% misses the band's +37.9%
    claim = episodes.antimony(ep)
    assert claim.check("outside_price").passed and claim.check("restricting_price").passed
    assert not claim.check("spread").passed


def test_under_a_product_cap_no_ore_goes_unmined_beside_idle_refining_below_the_price():
    # in the second licence month the outside price is far above the outside's idle 0.20 Q
    # of refining's chain ask of 1.05 P0 (0.65 P0 on ore at 0.4 P0), and China's idled
    # refining leaves 0.2063 Q of ore unpaired: a competitive market refines min(0.20,
    # 0.2063) Q more outside (before re-pairing: none, and the price was +298.2%)
    ep = _antimony_chain()
    model, out = run_model(episodes._config(ep), 1, record_output=True)
    names = [p[0] for p in ep.producers] + [m[0] for m in ep.mines]
    second = ep.start + ep.licence_delay - 1
    assert out[second, names.index("Outside spare")] * 12 / episodes.SB_QUANTITY == \
        pytest.approx(0.20, rel=1e-9)


def test_antimony_with_a_state_producer_that_answers_no_price_chinas_price_collapses():
    # market_share: China's refiners ask 0 and produce at capacity, so the withheld exports
    # flood the home market instead of idling its marginal tranche
    off = episodes.antimony(dataclasses.replace(episodes.ANTIMONY, strategy="market_share"))
    assert not off.check("restricting_price").passed
    assert off.produced["China price move (model)"] < 2 * episodes.ANTIMONY_REPORTED["home"]


def test_cobalt_2025_the_drcs_withheld_concentrate_stays_unsold_in_the_drc(cobalt):
    # the DRC mines 220,000 t/yr at the reference price, all shipped to the refiners outside
    # (it has none): the ban leaves 220,000 / 12 x 4 = 73,333 t unsold by the June extension,
    # within a factor of two of the ~80 kt reported to have built up there
    check = cobalt.check("withheld")
    assert check.passed, check.detail
    assert cobalt.produced["DRC withheld concentrate, t (model)"] == pytest.approx(
        220000 / 12 * 4, rel=1e-9)


@pytest.mark.parametrize("cut", [0.1, 0.5])
def test_cobalt_a_quota_withholds_its_share_and_fails_the_withheld_check(cut):
    # review 15e finding 4: a cut c denies c x 220,000 / 12 = c x 18,333 t a month, 4 months:
    # 0.1 -> 7,333 t, 0.5 -> 36,667 t, both below 80,000 / 2 = 40,000 (a ban, 73,333, passes)
    r = episodes.cobalt(dataclasses.replace(episodes.COBALT, cut=cut))
    assert r.produced["DRC withheld concentrate, t (model)"] == pytest.approx(
        cut * 220000 / 12 * 4, rel=1e-9)
    assert not r.check("withheld").passed


def test_cobalt_a_half_quota_ships_its_cap_from_the_cheapest_ore():
    # review 15e finding 3: cut 0.5 caps the DRC at 0.5 x 220,000 / 12 = 9,166.7 t a month; its
    # low-cost tranche (150,000 / 12 = 12,500 t a month at half the hydroxide price) fills the
    # licences, so it ships the cap (with licences pro rata to capacity, or kept by the
    # marginal tranche that its users' stock draws price out, it shipped 6,250 t)
    ep = dataclasses.replace(episodes.COBALT, cut=0.5)
    model = run_model(episodes._config(ep), 1)
    control = next(p for p in model.policies if p.name == "export_control")
    assert control.shipped[ep.start:ep.start + 12] == pytest.approx([0.5 * 220000 / 12] * 12,
                                                                     rel=1e-9)


def test_cobalt_concentrate_refined_in_the_drc_is_not_withheld():
    # review 15e finding 4: DRC refiners of 120,000 t/yr at 1.2 x the refining cost sit idle
    # under free trade (the 400,000 t/yr outside, cheaper, take every mine's output); under the
    # ban they refine 10,000 t a month of the DRC's concentrate, so the ban withholds
    # (18,333 - 10,000) x 4 = 33,333 t, not 73,333, and the check fails
    ep = episodes.COBALT
    refiners = ep.producers + (("DRC refiners", "DRC", 120000.0, 1.2 * episodes.CO_REFINING),)
    r = episodes.cobalt(dataclasses.replace(ep, producers=refiners))
    assert r.produced["DRC withheld concentrate, t (model)"] == pytest.approx(
        (220000 - 120000) / 12 * 4, rel=1e-9)
    assert not r.check("withheld").passed


def test_cobalt_2025_outside_refined_price_is_the_reported_one(cobalt):
    # (an xfail until review 15 finding 1: the users' draw, a share of orders at the spiked
    # price, gave +1,033%)
    check = cobalt.check("outside_price")
    assert check.passed, check.detail


@pytest.mark.xfail(strict=True, reason=episodes.COBALT_OUTSIDE_FAILURE)
def test_cobalt_2025_outside_concentrate_price_is_the_reported_one(cobalt):
    check = cobalt.check("concentrate_price")
    assert check.passed, check.detail


def test_cobalt_2025_says_why_it_fails(cobalt):
    assert not cobalt.passed and cobalt.known_failure == episodes.COBALT_OUTSIDE_FAILURE


def test_cobalt_outside_prices_are_the_clearing_of_half_the_users_use_on_the_rest_of_supply():
    # users draw the most they may (inventory_max_draw 0.5 of their orders at the free-trade
    # price, 0.5 x 290,000 = 145,000 t a year's rate) from stock and offer it: 290,000
    # (P / P0)^-0.3 = 70,000 + 145,000, P / P0 = (215,000 / 290,000)^(-1 / 0.3) = 2.711
    # (+171%; a share of orders at the spiked price, half of 290,000 (P / P0)^-0.3 = 70,000,
    # gave 11.33, review 15 finding 1); with no stocks (70,000 / 290,000)^(-1 / 0.3) = 114.2.
    # The refiners (cost c_r = the hydroxide price C, P0 = 2 C) have capacity to spare and no
    # concentrate is left: the concentrate price is P - c_r = (2 x 2.711 - 1) C, +342%
    r = episodes.run_cobalt(episodes.COBALT)
    ratio = (215000 / 290000) ** (-1 / 0.3)
    assert r["outside_move"] == pytest.approx(ratio - 1, rel=1e-6)
    assert r["concentrate_move"] == pytest.approx(2 * ratio - 2, rel=1e-6)
    buyers = tuple((n, g, s, 0.0) for n, g, s, _ in episodes.COBALT.buyers)
    bare = episodes.run_cobalt(dataclasses.replace(episodes.COBALT, buyers=buyers))
    assert bare["outside_move"] == pytest.approx((70000 / 290000) ** (-1 / 0.3) - 1, rel=1e-6)


@pytest.mark.parametrize("change", [{"stage": "product"}, {"cut": 0.0}])
def test_cobalt_with_the_ban_on_product_or_no_ban_nothing_is_withheld(change):
    # a product control by the DRC (no refinery, no product exports) or a cut of 0 leaves the
    # DRC's mines shipping all they mine: nothing withheld and no price rise (a product control
    # in force is a disruption, so users draw their stock and the price falls; a concentrate
    # control withholding nothing is none); the claim's checks fail
    off = episodes.cobalt(dataclasses.replace(episodes.COBALT, **change))
    assert not off.check("withheld").passed
    assert not off.check("outside_price").passed
    assert off.produced["DRC withheld concentrate, t (model)"] == pytest.approx(0.0, abs=1e-6)
    assert off.produced["outside price move (model)"] <= 1e-9


def test_an_export_control_of_product_on_a_mining_region_changes_nothing():
    # a product control caps a region's net exports of product: a ban by the DRC (mines, no
    # refinery) leaves every price and tonnage as without it; the same ban at the concentrate
    # stage withholds its 220,000 t/yr, so the outside supply is the other 70,000 t/yr
    def config(control: str | None) -> dict:
        raw = {"experiment": {"name": "drc", "steps": 16, "seed": 1},
               "market": {"price_unit": "USD/kg", "demand": {
                   "reference_price": 30.0, "reference_quantity": 290000, "elasticity": -0.3}},
               "regions": [{"name": "DRC"}, {"name": "China", "club": True}],
               "producers": [
                   {"name": "DRC mines", "region": "DRC", "stage": "mine", "capacity": 220000,
                    "unit_cost": 10.0},
                   {"name": "Other mines", "region": "China", "stage": "mine",
                    "capacity": 70000, "unit_cost": 12.0},
                   {"name": "China refiners", "region": "China", "stage": "refinery",
                    "capacity": 300000, "unit_cost": 5.0}],
               "buyers": [{"name": "Refiners' customers", "region": "China", "share": 1.0}]}
        if control is not None:
            raw["shocks"] = [{"kind": "export_control", "region": "DRC", "start": 12,
                              "duration": 4, "cut": 1.0, "stage": control}]
        return raw

    free = run_model(config(None), 1).series()
    banned = run_model(config("product"), 1).series()
    for column in ("price", "concentrate_price", "consumption"):
        assert banned[column].to_list() == pytest.approx(free[column].to_list(), rel=1e-12)
    held = run_model(config("concentrate"), 1).series()
    assert held["consumption"][12:16].to_list() == pytest.approx([70000 / 12] * 4, rel=1e-12)


def test_antimony_with_chinas_capacity_at_one_cost_its_price_holds_instead_of_falling():
    # China's 8 tranches (0.5 to 1.375 of the reference price) replaced by the same capacity at
    # the reference price: the withheld exports idle capacity at that cost, so the home price
    # stays there (0%) and misses the reported -10.5%
    ep = episodes.ANTIMONY
    flat = [(f"China {i + 1}", "China", episodes.SB_TRANCHE, ep.reference_price)
            for i in range(8)]
    outside = [p for p in ep.producers if p[1] != "China"]
    off = episodes.antimony(dataclasses.replace(ep, producers=tuple(flat + outside)))
    assert not off.check("restricting_price").passed
    assert off.produced["China price move (model)"] == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("hazard, outside", [(1 / 36, 0.735), (1 / 24, 0.663), (1 / 12, 0.549),
                                             (1 / 6, 0.498), (1 / 8, 0.461)])
def test_gallium_passes_at_the_lift_chances_its_note_states(hazard, outside):
    storage = dict(episodes.SB_UNCERTAIN, lift_hazard=hazard)
    r = episodes.gallium(dataclasses.replace(episodes.GALLIUM, storage=storage))
    assert r.produced["outside price move (model)"] == pytest.approx(outside, abs=0.001)
    assert r.passed
    assert f"{outside:+.1%}" in episodes.GALLIUM_CUT_NOTE


def test_gallium_exports_check_fails_low_when_too_little_is_bought_ahead():
    # review rv13 G1: the check can fail only low (China's capacity caps exports at +742%,
    # below the band's top, +744%); a cut of 0.2 leaves +177% bought ahead, below 3.72 / 2
    r = episodes.gallium(dataclasses.replace(episodes.GALLIUM, cut=0.2))
    assert not r.check("exports_ahead").passed
    assert r.produced["China's exports in the notice month (model)"] < episodes.GALLIUM_EXPORTS_AHEAD / 2
    assert (80.0 - 0.0) / 9.5 - 1 < 2 * episodes.GALLIUM_EXPORTS_AHEAD     # capacity / normal
