"""Validation claims from export-control episodes (issue 15): each runs a small market set up
as the episode was (the restricting region's share of supply, the notice, the licence delay and
what flowed during it) and compares the restricting region's price, the outside price and the
spread with what was reported, within a stated band. Each claim names the mechanism of the
model that produces it; its test switches that mechanism off and shows the claim then fails.

Bands: a reported move x is matched when the model's move lies within a factor of two of it
(x/2 to 2x; the reports are single quotes of thin markets, one month apart). "Held" is matched
within +-5%. Units: USD/kg, tonnes per year in the configs, monthly steps; deterministic runs
(no demand shocks), so each number is exact for its config.

Sources: docs/sources.md (numbers 15, 17, 21, 32, 33, 35); the rest are ASSUMPTIONS, labelled.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from abm.validation.base import Check, ClaimResult, Plot, pct, run_model

BAND = 2.0          # a reported move is matched within a factor of two
HELD = 0.05         # "prices held": within +-5%


@dataclass(frozen=True)
class Episode:
    """The setting of one episode: tranches (name, region, t/yr, USD/kg), buyers' shares and
    stock cover, and the export control."""

    name: str
    reference_price: float          # USD/kg, pre-announcement price (demand's reference)
    quantity: float                 # t/yr demanded at the reference price
    producers: tuple                # (name, region, capacity t/yr, unit cost USD/kg)
    buyers: tuple                   # (name, region, share, inventory_cover days)
    notice: int                     # months from announcement to the control in force
    licence_delay: int              # months of licence processing
    licence_flow: float             # share of the allowed exports flowing in those months
    front_run: float                # months of importers' needs bought ahead per notice month
    cut: float                      # share of exports withheld once licences are issued
    strategy: str = "competitive"

    announce: int = 12              # a year of history before the announcement

    @property
    def start(self) -> int:
        return self.announce + self.notice


def _config(ep: Episode, steps: int = 30) -> dict:
    shock = {"kind": "export_control", "region": "China", "announce": ep.announce,
             "start": ep.start, "duration": 12, "cut": ep.cut,
             "licence_delay": ep.licence_delay, "licence_flow": ep.licence_flow,
             "front_run": ep.front_run}
    return {
        "experiment": {"name": ep.name, "steps": steps, "seed": 1},
        "market": {"price_unit": "USD/kg", "demand": {
            "reference_price": ep.reference_price, "reference_quantity": ep.quantity,
            "elasticity": -0.3}},                                   # ASSUMPTION: short-run
        "regions": [{"name": "China", "market_economy": False},
                    {"name": "Outside", "club": True}],
        "producers": [{"name": n, "region": r, "stage": "refinery", "capacity": c,
                       "unit_cost": u} for n, r, c, u in ep.producers],
        "buyers": [{"name": n, "region": r, "share": s, "inventory_cover": d}
                   for n, r, s, d in ep.buyers],
        "nonmarket": {"strategy": ep.strategy},
        "shocks": [shock]}


def run_episode(ep: Episode) -> dict:
    """Prices of the episode relative to the mean world price of the 12 months before the
    announcement: `outside` and `home` (China's own price while the control is in force) per
    month, and the moves the claims compare."""
    s = run_model(_config(ep), 1).series()
    world = s["price"].to_numpy()
    pre = float(world[ep.announce - 12: ep.announce].mean())
    outside = s["club_price"].to_numpy() / pre - 1
    home = s["export_region_price"].to_numpy() / pre - 1
    month = slice(ep.announce, ep.start + 1)        # within a month of the announcement
    # the spread in one month: the first in force, when China's own price exists
    return {"outside": outside, "home": home,
            "outside_move": float(np.nanmax(outside[month])),
            "home_move": float(home[ep.start]),
            "spread": float((1 + outside[ep.start]) / (1 + home[ep.start]) - 1)}


def _within(model: float, reported: float) -> bool:
    """The model's move within a factor of two of the reported one (same sign)."""
    lo, hi = sorted((reported / BAND, reported * BAND))
    return lo <= model <= hi


# ================================================================================================
# gallium, 2023: importers' buying ahead, then stocks through the licence months
# ================================================================================================

GALLIUM_REPORTED = {"outside": 0.40, "home": -0.09}   # docs/sources.md 15: Europe >40%, China -9%
# China 98.8% of refined gallium (docs/sources.md 21); ASSUMPTIONS: its capacity in 8 tranches of
# 120 t/yr, cash costs 120-330 USD/kg (China's capacity well above its output, an overcapacity);
# the rest of the world's 1.2% at 250 USD/kg; 80% of use in China.
GALLIUM = Episode(
    name="gallium_2023", reference_price=240.0,       # June 2023, China (docs/sources.md 35)
    quantity=570.0,                                    # ASSUMPTION: t/yr
    producers=tuple((f"China {i + 1}", "China", 120.0, float(c))
                    for i, c in enumerate(range(120, 331, 30)))
    + (("Outside", "Outside", 570.0 * 0.012 / 0.988, 250.0),),
    buyers=(("China users", "China", 0.8, 0.0), ("Outside users", "Outside", 0.2, 0.0)),
    notice=1,              # announced 3 Jul, in force 1 Aug 2023 (docs/sources.md 15)
    licence_delay=2,       # ~45 working days (docs/sources.md 15)
    licence_flow=0.0,      # August exports zero (docs/sources.md 15)
    # July exports +372% m/m (docs/sources.md 15): 3.72 months of exports bought ahead, as a
    # share of the importers' use (front_run's unit): exports are that use less the outside
    # 1.2% of supply, (114 - 6.92) / 114 of it
    front_run=3.72 * (0.2 * 570.0 - 570.0 * 0.012 / 0.988) / (0.2 * 570.0),
    cut=0.5)               # ASSUMPTION; the checks end with the licence months, before it acts


# Why the gallium spread is not reproduced (the claim FAILs on it, as a known failure)
GALLIUM_SPREAD_FAILURE = (
    "In the first month in force the model's outside price is back at its normal level (the "
    "importers' stock bought ahead is offered to the one outside market and covers the licence "
    "months) while China's is 12.5% down: a spread of +14%, where China -9% against a European "
    "quote above +40% is a spread of about +54%. The European quote is a thin spot market whose "
    "buyers keep their own stock; the model pools it.")


def gallium(ep: Episode = GALLIUM) -> ClaimResult:
    return judge_episode("gallium_2023", "Gallium export control, 2023", ep, run_episode(ep),
                         GALLIUM_REPORTED, GALLIUM_SPREAD_FAILURE,
                         "docs/sources.md 15: announced 3 Jul 2023, in force 1 Aug; licences ~45 "
                         "working days; July exports +372% m/m, August zero; China -9%, a "
                         "European quote >40% within a month",
                         "Importers buy ahead in the notice month (front_run 3.72) and use that "
                         "stock through the licence months: the outside price rises by the "
                         "buying ahead, not by the missing exports; China's price falls along "
                         "its own cost curve as its exports stop.")


# ================================================================================================
# dysprosium, 2025: a quarter of licences, no stocks in Europe; China's idle capacity
# ================================================================================================

DYSPROSIUM_REPORTED = {"outside": 2.0, "home": 0.0}   # docs/sources.md 17: Europe ~3x, China held
# China 85% of rare-earth refining (docs/sources.md 21). Outside China, Japan makes about half of
# the magnets and its users hold 60 days of stock (docs/sources.md 32, 33); the others hold none
# (European makers stopped lines, docs/sources.md 33). ASSUMPTIONS: a low-cost tranche and a
# marginal tranche with idle capacity (China separates far less than it could), 60% of use in
# China (as experiments/baseline.toml).
DYSPROSIUM = Episode(
    name="dysprosium_2025", reference_price=200.0, quantity=500.0,     # ASSUMPTIONS
    producers=(("China low-cost", "China", 250.0, 120.0), ("China marginal", "China", 400.0, 200.0),
               ("Outside", "Outside", 75.0, 150.0)),
    buyers=(("China users", "China", 0.6, 0.0), ("Japan users", "Outside", 0.2, 60.0),
            ("Other users", "Outside", 0.2, 0.0)),
    notice=0,              # April 2025: in force when announced (docs/sources.md 17)
    licence_delay=2,       # ~45 working days, as for gallium (docs/sources.md 15)
    licence_flow=0.25,     # a quarter of the licence requests processed (docs/sources.md 33)
    front_run=0.0, cut=0.0)   # licensing, not a volume cut (ASSUMPTION)


def dysprosium(ep: Episode = DYSPROSIUM) -> ClaimResult:
    return judge_episode("dysprosium_2025", "Rare-earth export licensing, 2025 (dysprosium)", ep,
                         run_episode(ep), DYSPROSIUM_REPORTED, "",
                         "docs/sources.md 17 and 33: European dysprosium oxide nearly tripled "
                         "within a month while Chinese prices held; about a quarter of licence "
                         "requests processed",
                         "A quarter of the exports flow during the licence months and only "
                         "Japan's users have stock to draw, so the outside price rises by what "
                         "the missing three quarters are worth to the others; China's price "
                         "holds because its marginal capacity idles at its cost instead of the "
                         "price falling.")


def judge_episode(key: str, title: str, ep: Episode, r: dict, reported: dict, known_failure: str,
                  source: str, mechanism: str) -> ClaimResult:
    out, home, spread = r["outside_move"], r["home_move"], r["spread"]
    want_spread = (1 + reported["outside"]) / (1 + reported["home"]) - 1
    home_ok = abs(home) <= HELD if reported["home"] == 0 else _within(home, reported["home"])
    home_text = (f"within +-{HELD:.0%}" if reported["home"] == 0 else
                 f"within a factor of {BAND:g} of {pct(reported['home'])}")
    checks = [
        Check("outside_price", f"The outside price within a month of the announcement moves "
              f"within a factor of {BAND:g} of the reported {pct(reported['outside'])}",
              _within(out, reported["outside"]), f"model {pct(out)}"),
        Check("restricting_price", f"China's own price in the first month in force moves "
              f"{home_text}", home_ok, f"model {pct(home)}"),
        Check("spread", f"The spread (outside over China) in the first month in force within a "
              f"factor of {BAND:g} of the reported {pct(want_spread)}",
              _within(spread, want_spread), f"model {pct(spread)}"),
    ]
    steps = list(range(len(r["outside"])))
    return ClaimResult(
        key, title, source, mechanism,
        {"outside price move (model)": out, "outside price move (reported)": reported["outside"],
         "China price move (model)": home, "China price move (reported)": reported["home"],
         "spread (model)": spread},
        checks,
        Plot(f"{title}: prices against the year before", "month", "change",
             {"outside price": (steps, [float(v) for v in r["outside"]]),
              "China's price (control in force)": (steps, [None if not np.isfinite(v) else float(v)
                                                           for v in r["home"]])},
             vlines={"announced": ep.announce, "in force": ep.start}),
        known_failure=known_failure,
        notes=["Capacities, costs, shares of use and the short-run demand elasticity (-0.3) are "
               "assumptions; the episode's share of supply, notice, licence delay and what "
               "flowed are sourced.",
               "The magnitudes follow from the assumed cost tranches (gallium: +37.5% is the "
               "dearest Chinese tranche, 330 against 240, and -12.5% one 30-USD step of the "
               "assumed grid; dysprosium: China's price holds on the assumed idle tranche at "
               "the reference price whatever the cut): the claims test the mechanisms and "
               "directions, not a calibration."])
