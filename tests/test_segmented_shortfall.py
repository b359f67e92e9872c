"""Who replaces the withheld tonnes when markets are segmented (review rv8): a segmented
market's own refineries' loss only the parties in that market can replace; a club of several
regions is one group; a group's room binding does not re-share a stockless buyer's share.
Hand numbers in each docstring; prices in USD/kg, tonnes a step (monthly)."""

import numpy as np
import pytest
from helpers import run
from test_concentrate_controls import japan_both_ways
from test_shortfall_draws import split_club


def japan_with_world_stockpile(cut):
    """`japan_both_ways(cut)` with Japan's refinery 500 t/step at 60, shipping 40 both ways
    and a world stockpile filling 0.1 x 30 x 1,000 x 12 / 365 = 98.63 t a step below 200."""
    raw = japan_both_ways(0.1 if cut is None else cut, mine=12000.0, japan=(6000.0, 60.0))
    if cut is None:
        raw.pop("shocks")
    raw["trade_costs"] = [{"from": "EU", "to": "Japan", "cost": 40.0},
                          {"from": "Japan", "to": "EU", "cost": 40.0}]
    raw["policy"] = {"stockpile": {"target_cover": 30.0, "max_rate": 0.1, "buy_below": 200.0,
                                   "release_above": 1000.0}}
    return raw


def test_a_world_stockpile_puts_off_nothing_for_a_separate_markets_own_refinery_loss():
    """Review rv8 F1. Free trade: the EU refinery's 500 t (chain ask 20) clear against
    500 (P/60)^-0.5 + 98.63, P_w = 60 (500 / 401.37)^2 = 93.111; Japan's refinery (chain 70)
    keeps Japan in autarky at 70 (462.91 t): export parity 110 > 93.11, import parity 133 > 70.
    A 10% ore cut withholds 96.29 t, all Japan's refinery's feed: only Japan's buyers (60 days'
    cover) can replace it. Prices stay 93.111 / 70, the stockpile fills its 98.63 t and Japan's
    buyers draw 96.29 t a step. (Before: the world stockpile put off 96.29 t of its filling,
    freeing world tonnes that cannot reach Japan: world 63.93, Japan 103.93.)"""
    free = run(japan_with_world_stockpile(None)).series()
    np.testing.assert_allclose(free["price"][2:], 93.111, rtol=1e-4)
    np.testing.assert_allclose(free["price_region__Japan"][2:], 70.0, rtol=1e-9)
    model = run(japan_with_world_stockpile(0.1))
    s = model.series()
    np.testing.assert_allclose(s["price"], free["price"], rtol=1e-9)
    np.testing.assert_allclose(s["price_region__Japan"], free["price_region__Japan"], rtol=1e-9)
    np.testing.assert_allclose(s["government_stock"], free["government_stock"], rtol=1e-9)


def test_a_club_split_into_member_regions_lets_any_members_stock_use_the_clubs_room():
    """Review rv8 F2. `split_club` without its stockpile, C1's buyers (merged: Club buyers 0)
    holding no stock. Free trade: world 64.147, club 76.977 (1.2 x), the club's net imports
    32.87 t a step; China exports 1,000 - 500 (64.147/60)^-0.5 = 516.4 t. Cut 0.3 withholds
    154.9 t: the club's room, 32.87 t, is taken by C2's buyers (60 days), the stockless C1's
    cannot draw, and Other's buyers draw their share. Split and merged give the same run.
    (Before: the club's room went to C1, the member importing, whose buyers hold nothing, so
    C2's buyers drew nothing: split 76.607 / 83.045 against merged 64.147 / 76.977 in the
    review's run; the merged run itself moves with F3's rule, so the check is split = merged.)"""
    def cfg(merged):
        raw = split_club(0.3, merged)
        raw["policy"].pop("stockpile")
        raw["buyers"][0]["inventory_cover"] = 0.0
        return raw
    split, merged = run(cfg(False)).series(), run(cfg(True)).series()
    for column in ("price", "club_price", "club_imports", "consumption"):
        np.testing.assert_allclose(split[column], merged[column], rtol=1e-9, atol=1e-9)


def test_a_deeper_cut_never_lowers_the_price_where_a_groups_room_just_binds():
    """Review rv8 F3. The merged club of F2 (Club buyers 0 without stock). The short buyers'
    weights are their free-trade orders: Club 0 = Club 1 = 500 (76.977/60)^-0.5 = 441.4 and
    Other 483.6 (1,366.4). At cut c the shortfall is 516.4 c; Club 0's share is not made up
    by the others (it has nothing to draw). At c = 0.196 Club 1 draws 32.70 (< the club's room
    32.87), Other 35.82, and Club 0's 32.70 t are missing: the price rises (73.74). At 0.198
    Club 1's share passes the room by 0.09 t: only that 0.09 t goes to Other, Club 0's share
    stays missing, so the price does not fall (before: the whole rest was re-shared and the
    price fell to 64.147)."""
    prices = []
    for cut in (0.19, 0.196, 0.198, 0.2, 0.25):
        raw = split_club(cut, True)
        raw["policy"].pop("stockpile")
        raw["buyers"][0]["inventory_cover"] = 0.0
        prices.append(float(run(raw).series()["price"][2]))
    assert all(b >= a - 1e-9 for a, b in zip(prices, prices[1:], strict=False)), prices
    assert prices[0] > 64.147 + 1.0, prices


def club_autarky_two_cuts(stockpile: bool = True) -> dict:
    """Review rv8 F4: the EU a club in autarky behind a 50% tariff (its refinery on DRC ore,
    chain ask 52 < import parity 62.5) with a club stockpile filling 49.32 t a step; China
    refines its own ore (chain ask 20) for itself and Other. The DRC cuts 20% of its ore
    (the EU refinery's) and China 10% of its product, in steps 2-4."""
    raw = {"experiment": {"name": "h4", "steps": 5, "seed": 1},
           "market": {"intensity": 1.0, "demand": {"reference_price": 60.0,
                                                   "reference_quantity": 12000.0,
                                                   "elasticity": -0.5}},
           "regions": [{"name": "EU", "club": True}, {"name": "China"}, {"name": "DRC"},
                       {"name": "Other"}],
           "producers": [
               {"name": "Ref EU", "region": "EU", "stage": "refinery", "capacity": 7200.0,
                "unit_cost": 40.0},
               {"name": "Ref CN", "region": "China", "stage": "refinery", "capacity": 7200.0,
                "unit_cost": 10.0},
               {"name": "Mine CN", "region": "China", "stage": "mine", "capacity": 7200.0,
                "unit_cost": 10.0},
               {"name": "Mine DRC", "region": "DRC", "stage": "mine", "capacity": 7200.0,
                "unit_cost": 12.0}],
           "buyers": [{"name": "EU buyers", "region": "EU", "share": 0.5, "inventory_cover": 60.0},
                      {"name": "CN buyers", "region": "China", "share": 0.25,
                       "inventory_cover": 60.0},
                      {"name": "Other buyers", "region": "Other", "share": 0.25,
                       "inventory_cover": 60.0}],
           "policy": {"trade": {"tariff": 0.5}},
           "shocks": [{"kind": "export_control", "region": "DRC", "start": 2, "duration": 3,
                       "cut": 0.2, "stage": "concentrate"},
                      {"kind": "export_control", "region": "China", "start": 2, "duration": 3,
                       "cut": 0.1}]}
    if stockpile:
        raw["policy"]["stockpile"] = {"target_cover": 30.0, "max_rate": 0.1,
                                      "buy_below": 200.0, "release_above": 1000.0}
    return raw


def test_a_club_stockpile_replacing_its_own_refinerys_loss_leaves_the_worlds_shortfall_to_others():
    """Review rv8 F4. Free trade: China's 600 t (chain 20) clear against China's and Other's
    250 (P/60)^-0.5 each: P_w = 60 (500/600)^2 = 41.667; China exports 300 t, all to Other; the
    club is in autarky at 52 (537.1 t for its buyers plus 49.32 t of filling). The DRC's cut
    withholds 0.2 x 586.4 = 117.3 t, all the EU refinery's: the club's own loss, which its
    stockpile and buyers replace; China's withholds 30 t, which Other's buyers draw (room 0.25 x
    493.15 = 123.3). Prices stay 41.667 / 52 and Other's buyers draw 30 t a step. (Before: the
    stockpile's put-off and release came off the world's shortfall too and the club's round
    used up the rest: Other drew nothing and the world price rose to 60 (250/270)^2 = 51.44.)"""
    s = run(club_autarky_two_cuts()).series()
    np.testing.assert_allclose(s["price"], 60 * (500 / 600) ** 2, rtol=1e-9)
    np.testing.assert_allclose(s["club_price"], 52.0, rtol=1e-9)


def split_club_with_ore(merged: bool, cover: tuple, tariff: float, club_cost: float,
                        cut: float, ore_cut: float, stockpile: bool = False) -> dict:
    """A club (C1 and C2, or one region `merged`) behind `tariff`, China and Other a quarter of
    use each (2,000 t/step at 60, elasticity -0.5, buyers' cover `cover` in days: C1, C2,
    China, Other); China's refinery 1,000 t/step at 10, the club's 850 t/step at `club_cost` in
    C2, both on a DRC mine (2,500 t/step at 1). China cuts `cut` of its product, the DRC
    `ore_cut` of its ore, in steps 2-4."""
    regions = ["Club"] if merged else ["C1", "C2"]
    raw = {"experiment": {"name": "split_ore", "steps": 5, "seed": 1},
           "market": {"demand": {"reference_price": 60.0, "reference_quantity": 24000.0,
                                 "elasticity": -0.5}},
           "regions": [{"name": r, "club": True} for r in regions]
           + [{"name": "China"}, {"name": "Other"}, {"name": "DRC"}],
           "producers": [{"name": "Ref CN", "region": "China", "stage": "refinery",
                          "capacity": 12000.0, "unit_cost": 10.0},
                         {"name": "Ref Club", "region": regions[-1], "stage": "refinery",
                          "capacity": 10200.0, "unit_cost": club_cost},
                         {"name": "Mine DRC", "region": "DRC", "stage": "mine",
                          "capacity": 30000.0, "unit_cost": 1.0}],
           "buyers": [{"name": f"b{i}", "region": r, "share": 0.25, "inventory_cover": c}
                      for i, (r, c) in enumerate(zip((["Club", "Club"] if merged else
                                                      ["C1", "C2"]) + ["China", "Other"],
                                                     cover, strict=True))],
           "policy": {"trade": {"tariff": tariff}},
           "shocks": [{"kind": "export_control", "region": "China", "start": 2,
                       "duration": 3, "cut": cut},
                      {"kind": "export_control", "region": "DRC", "start": 2, "duration": 3,
                       "cut": ore_cut, "stage": "concentrate"}]}
    if stockpile:
        raw["policy"]["stockpile"] = {"target_cover": 30.0, "max_rate": 0.1,
                                      "buy_below": 200.0, "release_above": 1000.0}
    return raw


@pytest.mark.parametrize("case", [
    ((60.0, 30.0, 30.0, 60.0), 0.1, 65.82, 0.1, 0.2, False),
    ((0.0, 30.0, 0.0, 30.0), 0.2, 41.96, 0.05, 0.2, False),
    ((60.0, 30.0, 30.0, 0.0), 0.1, 79.72, 0.1, 0.2, True),
])
def test_a_club_split_into_members_loses_ore_as_the_merged_club_does(case):
    """Found by a random search after rv8's fixes: the club's refinery sits in C2, which
    imports nothing from outside while the club (C1) does, so C2's refinery's lost ore was
    booked as C2's own ("a segmented market importing nothing", review rv7 X4) and only C2's
    buyers replaced it; merged, the club imports, so the loss is shared. A club is one
    market: its own loss is judged on its room as a whole and replaced by all its members'
    buyers. Split and merged now give the same run (before, the search's case behind the first one,
    club cost 65.817: world 102.41 split against 68.42 merged in step 2)."""
    cover, tariff, cost, cut, ore, stockpile = case
    split = run(split_club_with_ore(False, cover, tariff, cost, cut, ore, stockpile)).series()
    merged = run(split_club_with_ore(True, cover, tariff, cost, cut, ore, stockpile)).series()
    for column in ("price", "club_price", "club_imports", "consumption"):
        np.testing.assert_allclose(split[column], merged[column], rtol=1e-9, atol=1e-9)


def test_a_clubs_unreplaced_own_loss_is_no_room_for_the_worlds_shortfall():
    """Found by a random search after rv8's fixes (merged club, 60 and 30 days' cover, Other 60,
    China none; club refinery at 45.20 behind a 50% tariff; the DRC cuts 20% of its ore): the
    club's refinery loses 370 t of ore a step, its own loss (the club imports under 9 t). Its
    buyers can draw 185 + 123.29 = 308.29 t of it (the 30-day buyer's room stops at 123.29; the
    rest of its share is not made up). Before, the 61.71 t they could not take stayed as room
    for China's product cut, so the club's buyers drew China's withheld tonnes into a club
    that imports nothing: as China's cut deepened 0.05 -> 0.2 the club price fell 94.66 ->
    90.16 while the world price rose. Now the club price rises with the cut until the club
    imports nothing, then holds at its autarky price on its refinery and those draws,
    60 (1,000 / (480 + 308.29))^2 = 96.557 (its refinery 850 - 370 t: the cut, 0.2 x 1,850 t of
    DRC exports, lands on the dearer refinery)."""
    club, world = [], []
    for cut in (0.02, 0.05, 0.1, 0.15, 0.2):
        raw = split_club_with_ore(True, (60.0, 30.0, 60.0, 60.0), 0.5, 45.20379048355558,
                                  cut, 0.2)
        s = run(raw).series()
        club.append(float(s["club_price"][2]))
        world.append(float(s["price"][2]))
    assert all(b >= a - 1e-9 for a, b in zip(club, club[1:], strict=False)), club
    assert all(b >= a - 1e-9 for a, b in zip(world, world[1:], strict=False)), world
    np.testing.assert_allclose(club[-2:], 60 * (1000 / (480 + 185 + 123.29)) ** 2, rtol=1e-4)


def spare_ore_elsewhere(cut: float) -> dict:
    """Review rv8 F5: the club A's refinery (750 t/step at 30) is the only one, on B's ore
    (a mine-only region, 1,000 t/step at 5) and C's (250 t/step at 10, idle in free trade);
    each region a third of use, A's buyers 60 days' cover, B's and C's 10. B cuts `cut` of its
    ore exports from step 1."""
    return {"experiment": {"name": "f5", "steps": 6, "seed": 1},
            "market": {"intensity": 1.0, "demand": {"reference_price": 60.0,
                                                    "reference_quantity": 12000.0,
                                                    "elasticity": -0.5}},
            "regions": [{"name": "A", "club": True}, {"name": "B"}, {"name": "C"}],
            "producers": [{"name": "Ref A", "region": "A", "stage": "refinery",
                           "capacity": 9000.0, "unit_cost": 30.0},
                          {"name": "Mine B", "region": "B", "stage": "mine",
                           "capacity": 12000.0, "unit_cost": 5.0},
                          {"name": "Mine C", "region": "C", "stage": "mine",
                           "capacity": 3000.0, "unit_cost": 10.0}],
            "buyers": [{"name": f"{r} buyers", "region": r, "share": 1 / 3,
                        "inventory_cover": c} for r, c in (("A", 60.0), ("B", 10.0),
                                                           ("C", 10.0))],
            "shocks": [{"kind": "export_control", "region": "B", "start": 1, "duration": 3,
                        "cut": cut, "stage": "concentrate"}]}


def test_idle_ore_elsewhere_replaces_a_mine_only_regions_withheld_ore():
    """Review rv8 F5. Free trade: the refinery caps output at 750 t a step, P = 60 (1,000 /
    750)^2 = 106.667, all on B's ore. B's cut c withholds 750 c t; C's 250 t idle at 10 (chain
    ask 40 < 106.67) take its place up to c = 1/3, so nothing is off the market and the price
    holds. (Before, a mine-only region's denied ore was all off the market: buyers drew 750 c
    t on a full supply and the price fell, 88.15 / 82.12 / 77.52 for c = 0.1 / 0.2 / 0.3.)"""
    for cut in (0.1, 0.2, 0.3):
        s = run(spare_ore_elsewhere(cut)).series()
        np.testing.assert_allclose(s["price"], 60 * (1000 / 750) ** 2, rtol=1e-9)
