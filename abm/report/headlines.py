"""Plain-language headlines: what each scenario did compared with the baseline, and how sure we are.

Every number is wrapped in a span carrying the exact value it shows (``data-value``, or
``data-low``/``data-high`` for an interval) and which statistic it is (``data-scenario``,
``data-metric``, ``data-field`` = a column of the paired-differences table). The browser test
reads those attributes and checks them against the parquet files.
"""

from __future__ import annotations

import math
from html import escape
from typing import Any

import polars as pl

from abm.names import METRICS
from abm.report.format import fmt, fmt_diff, fmt_diff_range, fmt_pct, fmt_range

# The outcomes a scenario's headline sentence states first unless the experiment names its own
# (`[report] headline`); the fiscal cost always closes the sentence.
DEFAULT_HEADLINE = ["price_volatility", "capacity_added_market"]
# The fiscal cost the headline states: net of the stocks the government holds at the end when the
# runs have that metric (results written before it have only the cash outlay).
FISCAL = ("fiscal_cost_net", "fiscal_cost")
# The effects listed under each headline, after the experiment's own headline outcomes.
# Club buyers' price volatility is listed only where the club is a separate market (its price is
# then not the world price), and the default headline speaks of it there.
LISTED = ["price_volatility", "club_price_volatility", "price_mean", "capacity_added_market",
          "import_reliance", *FISCAL, "consumer_spend"]
# Headline outcomes whose change is "cut" rather than "lowered"
CUT = {"price_volatility", "club_price_volatility", "max_drawdown", "club_max_drawdown"}


def mode_of(metric: str) -> str:
    """How a change is best stated: "rel" (a % change) for prices; "abs" in the metric's own
    unit for everything else: percentage points for shares and volatilities (a relative change
    of a percentage reads as points), tonnes and money (often zero in the baseline, so a
    percentage of them means nothing)."""
    return "rel" if METRICS[metric].unit == "price" else "abs"


def fiscal_metric(available: set[str] | list[str]) -> str | None:
    """The fiscal cost metric the pages lead with: the net one when the runs have it."""
    return next((m for m in FISCAL if m in available), None)


def club_separate(rows: dict[str, dict[str, Any]], fields: tuple[str, ...]) -> bool:
    """Club buyers paid other prices than the world's (an MIP, a tariff): their mean price
    differs from the world's in one of `fields` of the rows (by metric)."""
    club, world = rows.get("club_price_mean"), rows.get("price_mean")
    if club is None or world is None:
        return False
    return any(_finite(club.get(f)) and _finite(world.get(f))
               and abs(club[f] - world[f]) > 1e-9 * max(abs(world[f]), 1.0) for f in fields)


def _finite(x: Any) -> bool:
    return x is not None and isinstance(x, int | float) and math.isfinite(x)


def num(text: str, scenario: str, metric: str, field: str, value: float) -> str:
    """A number with the attributes the tests read."""
    return (f'<span class="num" data-scenario="{escape(scenario)}" data-metric="{metric}" '
            f'data-field="{field}" data-value="{value!r}">{escape(text)}</span>')


def ci(text: str, scenario: str, metric: str, field: str, low: float, high: float) -> str:
    """An interval with the attributes the tests read (field: 'rel_ci' or 'diff_ci')."""
    return (f'<span class="ci" data-scenario="{escape(scenario)}" data-metric="{metric}" '
            f'data-field="{field}" data-low="{low!r}" data-high="{high!r}">{escape(text)}</span>')


def lower_first(label: str) -> str:
    return label[:1].lower() + label[1:]


# differences smaller than this share of the means they compare are rounding, not effects
ZERO_TOLERANCE = 1e-12


class Effect:
    """One paired difference, ready to be written as words."""

    def __init__(self, scenario: str, metric: str, row: dict[str, Any], mode: str,
                 price_unit: str):
        self.scenario, self.metric, self.row, self.price_unit = scenario, metric, row, price_unit
        # a relative change needs a baseline mean that is not zero
        if mode == "rel" and not _finite(row.get("rel_diff")):
            mode = "abs"
        self.mode = mode
        prefix = "rel" if mode == "rel" else "diff"
        self.value = row.get("rel_diff" if mode == "rel" else "diff_mean")
        self.low = row.get(f"{prefix}_ci_low")
        self.high = row.get(f"{prefix}_ci_high")
        self.value_field = "rel_diff" if mode == "rel" else "diff_mean"
        self.ci_field = f"{prefix}_ci"
        self.unit = METRICS[metric].unit

    @property
    def known(self) -> bool:
        return _finite(self.value)

    @property
    def clear(self) -> bool:
        """The 95% CI excludes zero: the direction of the effect is not in doubt."""
        return _finite(self.low) and _finite(self.high) and (self.low > 0 or self.high < 0)

    @property
    def has_ci(self) -> bool:
        return _finite(self.low) and _finite(self.high)

    @property
    def zero(self) -> bool:
        """No difference in any pair (e.g. no fiscal flows in either scenario), up to rounding:
        a difference below 1e-12 of the means it compares (relative: below 1e-12) is the
        floating-point noise of sums taken in another order, not an effect."""
        values = (self.value, self.low, self.high)
        if not all(_finite(v) for v in values):
            return False
        if self.mode == "rel":
            scale = 1.0
        else:
            means = [abs(m) for m in (self.row.get("baseline_mean"), self.row.get("scenario_mean"))
                     if _finite(m)]
            scale = max(means, default=0.0)
        return all(abs(v) <= ZERO_TOLERANCE * scale for v in values)

    def magnitude_html(self) -> str:
        """'38%' or '12 kt/yr' (absolute value: the verb carries the sign)."""
        v = abs(self.value)
        if self.mode == "rel":
            text = fmt_pct(v)
        else:
            text = fmt_diff(v, self.unit, self.price_unit, signed=False).replace(
                " pts", " percentage points")
        return num(text, self.scenario, self.metric, self.value_field, self.value)

    def signed_html(self) -> str:
        """'−1.2%' or '+0.3 kt/yr': for effects whose direction is unclear."""
        if self.mode == "rel":
            text = fmt_pct(self.value, signed=True)
        else:
            text = fmt_diff(self.value, self.unit, self.price_unit).replace(
                " pts", " percentage points")
        return num(text, self.scenario, self.metric, self.value_field, self.value)

    def ci_html(self, magnitude: bool) -> str:
        """'95% CI 31–45%'; with `magnitude` a negative interval is shown as positive sizes."""
        lo, hi = self.low, self.high
        if not (_finite(lo) and _finite(hi)):
            return "95% CI not available"
        a, b = (-hi, -lo) if magnitude and hi < 0 else (lo, hi)
        if self.mode == "rel":
            text = fmt_range(a, b, "share")
        else:
            text = fmt_diff_range(a, b, self.unit, self.price_unit)
        return "95% CI " + ci(text, self.scenario, self.metric, self.ci_field, lo, hi)


def effects_for(paired: pl.DataFrame, scenario: str, price_unit: str,
                outcomes: list[str] | None = None) -> dict[str, Effect]:
    """The paired effects of `scenario`: the headline `outcomes` first, then LISTED (the fiscal
    cost once: net when present, else cash)."""
    rows = {r["metric"]: r for r in paired.filter(pl.col("scenario") == scenario).to_dicts()}
    if "club_price_volatility" not in (outcomes or []) and not club_separate(
            rows, ("baseline_mean", "scenario_mean")):
        rows.pop("club_price_volatility", None)
    fiscal = fiscal_metric(rows)
    wanted = [m for m in [*(outcomes or []), *LISTED]
              if m in METRICS and m in rows and (m not in FISCAL or m == fiscal)]
    return {m: Effect(scenario, m, rows[m], mode_of(m), price_unit)
            for m in dict.fromkeys(wanted)}


def _verb(e: Effect, up: str, down: str, what: str) -> str:
    """'cut price volatility by 38% (95% CI 31–45%)' or an honest 'no clear change'."""
    if e.zero:
        return f"left {what} unchanged"
    if not e.has_ci:
        return f"changed {what} by {e.signed_html()} (too few paired runs for a CI)"
    if not e.clear:
        return f"did not clearly change {what} ({e.signed_html()}, {e.ci_html(False)})"
    verb = up if e.value > 0 else down
    return f"{verb} {what} by {e.magnitude_html()} ({e.ci_html(True)})"


def _fiscal(e: Effect, years: float) -> str:
    """The fiscal clause, which like every other says only what its interval supports."""
    net = e.metric == "fiscal_cost_net"
    what = "net fiscal cost (outlay less the stocks held at the end)" if net else "fiscal cost"
    baseline_cost = e.row.get("baseline_mean")
    extra = "extra " if _finite(baseline_cost) and abs(baseline_cost) > 0 else ""
    span = f" over {fmt(years, '-')} years" if years else ""
    if e.zero:
        return f"at no {extra}fiscal cost"
    if not e.has_ci:
        return (f"with a change in {what} of {e.signed_html()} (too few paired runs for a "
                "CI)")
    if not e.clear:
        return f"with no clear change in {what} ({e.signed_html()}, {e.ci_html(False)})"
    if e.value > 0:
        article = "an" if extra else "a"
        return f"at {article} {extra}{what} of {e.magnitude_html()} ({e.ci_html(True)}){span}"
    gain = "net fiscal gain (outlay less the stocks held at the end)" if net else "fiscal gain"
    return f"with a {gain} of {e.magnitude_html()} ({e.ci_html(True)}){span}"


def _clause(e: Effect) -> str:
    what = lower_first(METRICS[e.metric].label)
    if e.metric == "capacity_added_market" and e.clear and e.value > 0:
        return f"added {e.magnitude_html()} ({e.ci_html(True)}) of {what}"
    return _verb(e, "raised", "cut" if e.metric in CUT else "lowered", what)


def _join(parts: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else "".join(parts)


def headline(scenario: str, effects: dict[str, Effect], years: float,
             outcomes: list[str] | None = None) -> str:
    """The one-sentence answer for a scenario (HTML): its effect on the headline `outcomes`
    (default DEFAULT_HEADLINE), then its fiscal cost; each clause as sure as its 95% CI."""
    default = DEFAULT_HEADLINE
    # a club policy: the club's product price (club buyers', or with component makers club
    # makers')
    if "club_price_volatility" in effects:
        default = ["club_price_volatility" if m == "price_volatility" else m for m in default]
    lead = [m for m in (outcomes or default) if m in effects and m not in FISCAL]
    parts = [_clause(effects[m]) for m in lead]
    sentence = f'<b class="scenario">{escape(scenario)}</b> ' + _join(parts)
    fiscal = fiscal_metric(effects)
    if fiscal is not None:
        sentence += (" " if parts else "") + _fiscal(effects[fiscal], years)
    return sentence + "."


def effect_items(effects: dict[str, Effect]) -> list[str]:
    """One line per headline effect: direction, size, CI, and the two means it compares."""
    items = []
    for metric, e in effects.items():
        label = METRICS[metric].label
        if not e.known:
            items.append(f"<b>{escape(label)}</b>: not available")
            continue
        b, s = e.row.get("baseline_mean"), e.row.get("scenario_mean")
        means = ""
        if _finite(b) and _finite(s):
            base = num(fmt(b, e.unit, e.price_unit), e.scenario, metric, "baseline_mean", b)
            here = num(fmt(s, e.unit, e.price_unit), e.scenario, metric, "scenario_mean", s)
            means = f" (mean {base} in the baseline, {here} here)"
        if e.zero:
            items.append(f"<b>{escape(label)}</b>: no change{means}")
        elif not e.has_ci:
            items.append(f"<b>{escape(label)}</b>: {e.signed_html()} (too few paired runs for a "
                         f"CI){means}")
        elif e.clear:
            verb = "rose" if e.value > 0 else "fell"
            items.append(f"<b>{escape(label)}</b> {verb} by {e.magnitude_html()} "
                         f"({e.ci_html(True)}){means}")
        else:
            items.append(f"<b>{escape(label)}</b>: no clear change, {e.signed_html()} "
                         f"({e.ci_html(False)}){means}")
    return items


def levels_sentence(summary: pl.DataFrame, scenario: str, price_unit: str,
                    outcomes: list[str] | None = None) -> str:
    """Without a second scenario there is nothing to pair: state the levels with their spread
    (the headline `outcomes` first)."""
    rows = {r["metric"]: r for r in summary.filter(pl.col("scenario") == scenario).to_dicts()}
    fiscal = fiscal_metric(rows)
    wanted = [m for m in [*(outcomes or []), *LISTED] if m in METRICS
              and (m not in FISCAL or m == fiscal)]
    parts = []
    for metric in dict.fromkeys(wanted):
        r = rows.get(metric)
        if r is None or not _finite(r.get("mean")):
            continue
        unit = METRICS[metric].unit
        value = num(fmt(r["mean"], unit, price_unit), scenario, metric, "mean", r["mean"])
        spread = fmt_range(r["p05"], r["p95"], unit, price_unit)
        parts.append(f"{escape(lower_first(METRICS[metric].label))} {value} "
                     f"(5–95% of runs: {escape(spread)})")
    if not parts:
        return f'<b class="scenario">{escape(scenario)}</b>: no finished runs.'
    return (f'In <b class="scenario">{escape(scenario)}</b> the average run had '
            + "; ".join(parts) + ".")
