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

# The effects a policy reader asks about, in the order of the issue, and how each is best stated:
# "rel" as a percentage change; "abs" in the metric's own unit (capacity added and fiscal cost are
# often zero in the baseline, so a percentage of them means nothing).
# Club buyers' price volatility is listed only where the club is a separate market (its price is
# then not the world price); the headline speaks of it there. The headline's fiscal figure is the
# net one (cash less the end value of the stocks held); the cash figure is listed beside it.
HEADLINE_EFFECTS: list[tuple[str, str]] = [
    ("price_volatility", "rel"),
    ("club_price_volatility", "rel"),
    ("price_mean", "rel"),
    ("capacity_added_market", "abs"),
    ("import_reliance", "abs"),
    ("fiscal_cost_net", "abs"),
    ("fiscal_cost", "abs"),
    ("consumer_spend", "abs"),
]


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
        """No difference in any pair (e.g. no fiscal flows in either scenario)."""
        return self.value == 0 and self.low == 0 and self.high == 0

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


def effects_for(paired: pl.DataFrame, scenario: str, price_unit: str) -> dict[str, Effect]:
    rows = {r["metric"]: r for r in paired.filter(pl.col("scenario") == scenario).to_dicts()}
    if not club_separate(rows, ("baseline_mean", "scenario_mean")):
        rows.pop("club_price_volatility", None)
    return {m: Effect(scenario, m, rows[m], mode, price_unit)
            for m, mode in HEADLINE_EFFECTS if m in rows}


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


def _fiscal(e: Effect, baseline_cost: float, years: float) -> str:
    span = f" over {fmt(years, '-')} years" if years else ""
    if e.zero:
        return "at no fiscal cost"
    extra = "extra " if _finite(baseline_cost) and abs(baseline_cost) > 0 else ""
    # (results computed before fiscal_cost_net existed have only the cash figure)
    net = (" (net: outlays less receipts and the value of the stock held at the end)"
           if e.metric == "fiscal_cost_net" else "")
    if e.value >= 0:
        article = f"an {extra}" if extra else "a "
        what = "net fiscal cost" if net else "fiscal cost"
        return (f"at {article}{what} of {e.magnitude_html()} ({e.ci_html(True)})"
                f"{span}{net}")
    return f"with a net fiscal gain of {e.magnitude_html()} ({e.ci_html(True)}){span}{net}"


def headline(scenario: str, effects: dict[str, Effect], years: float) -> str:
    """The one-sentence answer for a scenario (HTML), as in the issue's example."""
    parts = []
    if "club_price_volatility" in effects:   # a club policy: the price club buyers pay
        parts.append(_verb(effects["club_price_volatility"], "raised", "cut",
                           "club buyers' price volatility"))
    elif "price_volatility" in effects:
        parts.append(_verb(effects["price_volatility"], "raised", "cut", "price volatility"))
    if "capacity_added_market" in effects:
        e = effects["capacity_added_market"]
        what = lower_first(METRICS[e.metric].label)
        if e.clear and e.value > 0:
            parts.append(f"added {e.magnitude_html()} ({e.ci_html(True)}) of {what}")
        else:
            parts.append(_verb(e, "increased", "reduced", what))
    sentence = f'<b class="scenario">{escape(scenario)}</b> ' + " and ".join(parts)
    e = effects.get("fiscal_cost_net") or effects.get("fiscal_cost")
    if e is not None:
        sentence += " " + _fiscal(e, e.row.get("baseline_mean"), years)
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


def levels_sentence(summary: pl.DataFrame, scenario: str, price_unit: str) -> str:
    """Without a second scenario there is nothing to pair: state the levels with their spread."""
    rows = {r["metric"]: r for r in summary.filter(pl.col("scenario") == scenario).to_dicts()}
    if not club_separate(rows, ("mean",)):
        rows.pop("club_price_volatility", None)
    parts = []
    for metric, _ in HEADLINE_EFFECTS:
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
