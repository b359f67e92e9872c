"""Charts of the index page: effects with CIs, price fan charts, capacity, stock and fiscal cost,
distributions of the run metrics.

Each function takes a :class:`~abm.report.data.ReportData` and returns a
:class:`~abm.report.plot.Figure`, or None when the results hold nothing to draw. Charts plot
percentile bands and box statistics, never the paths of every run, so their size does not grow
with the number of runs. Labels and units come from :mod:`abm.names`; every user-provided string
(scenario and region names) is HTML-escaped because plotly renders a subset of HTML in text.
"""

from __future__ import annotations

import math
from html import escape

import numpy as np
import polars as pl

from abm.names import METRICS, SERIES
from abm.report.data import FISCAL_CUM, ReportData, label
from abm.report.format import POINTS_UNITS, Scale, axis_title, round_sig, scale_for, sig
from abm.report.headlines import lower_first
from abm.report.plot import Figure, title_layout
from abm.report.style import rgba, scenario_colours

MAX_COLS = 3
NUM = ",.3~g"  # d3 format of numbers in hover text: 3 significant figures, thousands separators


def grid(n: int) -> tuple[int, int]:
    cols = min(n, MAX_COLS)
    return math.ceil(n / cols), cols


def unit_text(scale: Scale) -> str:
    """The unit written after a hover number: ' kt/yr', '%'."""
    return scale.unit if scale.unit in ("%", "") else f" {scale.unit}"


def colours(data: ReportData) -> dict[str, str]:
    return scenario_colours(data.scenarios, data.baseline)


def bands_of(data: ReportData, column: str) -> dict[str, pl.DataFrame]:
    """The bands of one series column, per scenario, sorted by step."""
    sub = data.bands.filter(pl.col("column") == column).sort("scenario", "step")
    return {key[0]: frame for key, frame in sub.partition_by("scenario", as_dict=True).items()}


def years(data: ReportData, steps: pl.Series) -> np.ndarray:
    return np.round(steps.to_numpy() / data.steps_per_year, 3)


def fan(fig: Figure, data: ReportData, b: pl.DataFrame, scenario: str, colour: str,
        scale: Scale, what: str, row: int, col: int, showlegend: bool, outer: bool = True) -> None:
    """Median line with 25-75% (and 5-95%) bands of one scenario into one subplot."""
    x = years(data, b["step"])
    q = {p: round_sig(b[p].to_numpy() / scale.factor) for p in ("p05", "p25", "p50", "p75", "p95")}
    name = escape(scenario)
    pairs = [("p05", "p95", 0.13), ("p25", "p75", 0.3)] if outer else [("p25", "p75", 0.22)]
    for lo, hi, alpha in pairs:
        edge = {"type": "scatter", "x": x, "mode": "lines", "line": {"width": 0},
                "hoverinfo": "skip", "showlegend": False, "legendgroup": name}
        fig.add({**edge, "y": q[hi]}, row, col)
        fig.add({**edge, "y": q[lo], "fill": "tonexty", "fillcolor": rgba(colour, alpha)},
                row, col)
    unit = unit_text(scale)
    fig.add({
        "type": "scatter", "x": x, "y": q["p50"], "mode": "lines",
        "line": {"color": colour, "width": 2}, "name": name, "legendgroup": name,
        "showlegend": showlegend,
        "customdata": np.stack([q["p05"], q["p25"], q["p75"], q["p95"]], axis=-1),
        "hovertemplate": (f"<b>{name}</b> · {escape(what)}<br>Year %{{x:.1f}}<br>"
                          f"Median %{{y:{NUM}}}{unit}<br>"
                          f"Middle half of runs: %{{customdata[1]:{NUM}}}–"
                          f"%{{customdata[2]:{NUM}}}{unit}<br>5–95% of runs: "
                          f"%{{customdata[0]:{NUM}}}–%{{customdata[3]:{NUM}}}{unit}"
                          "<extra></extra>")}, row, col)


def _scenario_fans(data: ReportData, per: dict[str, pl.DataFrame], scale: Scale, what: str,
                   shown: list[str], also: list[float] = ()) -> Figure:
    """One fan chart panel per scenario in `shown` (shared axes), the y axis titled `what` in
    `scale`; the axis keeps the medians readable when the outer bands' tails are extreme
    (`also`: other values drawn, e.g. the floor, in the series' own unit)."""
    rows, cols = grid(len(shown))
    fig = Figure(rows, cols, [escape(s) for s in shown], shared_x=True, shared_y=True,
                 hspace=0.03, vspace=0.14)
    cmap = colours(data)
    for i, scenario in enumerate(shown):
        r, c = i // cols + 1, i % cols + 1
        fan(fig, data, per[scenario], scenario, cmap[scenario], scale, what, r, c,
            showlegend=True)
        fig.xaxis(r, c, title={"text": "Year"} if r == rows else None)
    fig.yaxis(1, 1, title={"text": escape(axis_title(what, scale))})
    clip_tails(fig, [per[s] for s in shown], scale, what, also)
    return fig


# The y axis is set from the middle halves of runs when the 5-95% band reaches more than this
# many times higher: an export control's price spikes in a few runs would otherwise squash
# every median into a flat line at the bottom of the chart.
TAIL_RATIO = 3.0


def _extreme(frames: list[pl.DataFrame], column: str, top: bool) -> float | None:
    values = [v for b in frames for v in b[column].drop_nulls().drop_nans().to_list()]
    return (max(values) if top else min(values)) if values else None


def tail_range(frames: list[pl.DataFrame], also: list[float] = ()
               ) -> tuple[float, float, float, float] | None:
    """(low, high, outer top, middle top) of a y axis set from the middle halves (p25-p75, with
    `also`, e.g. the floor) when the 5-95% range reaches over TAIL_RATIO times their top; None
    when the tails are not that extreme."""
    middle, outer = _extreme(frames, "p75", True), _extreme(frames, "p95", True)
    if middle is None or outer is None or middle <= 0 or outer <= TAIL_RATIO * middle:
        return None
    top = max([middle, *[v for v in also if v is not None and math.isfinite(v)]])
    bottom = _extreme(frames, "p25", False) or 0.0
    pad = 0.08 * (top - bottom)      # the middle halves and the floor, with a margin
    low = bottom - pad if bottom - pad > 0 or bottom < 0 else 0.0
    return low, top + pad, outer, middle


def clip_tails(fig: Figure, frames: list[pl.DataFrame], scale: Scale, what: str,
               also: list[float] = ()) -> None:
    """Set the (shared) y axis from the middle halves and medians when the 5-95% bands reach
    over TAIL_RATIO times their top, and say on the chart what is cut off."""
    cut = tail_range(frames, also)
    if cut is None:
        return
    low, high, outer, middle = cut
    fig.yaxis(1, 1, range=[low / scale.factor, high / scale.factor], autorange=False)
    shown = f"{sig(high / scale.factor, 3)}{unit_text(scale)}"
    reach = f"{sig(outer / scale.factor, 3)}{unit_text(scale)}"
    fig.notes.append(escape(
        f"The axis is cut at {shown} so the medians stay readable: in some runs "
        f"{lower_first(what)} goes far higher, and the light 5–95% band reaches {reach} "
        f"({outer / middle:,.0f} times the top of the middle half). Hover over a median line "
        "for the bands' values at each step."))


def panel_of(shown: list[str], scenario: str) -> tuple[int, int]:
    """(row, col) of a scenario's panel in a per-scenario grid of the scenarios `shown`."""
    i = shown.index(scenario)
    cols = grid(len(shown))[1]
    return i // cols + 1, i % cols + 1


def price_fans(data: ReportData) -> Figure | None:
    """Fan chart of the world price per scenario, with the floor drawn in."""
    price = bands_of(data, "price")
    if not price:
        return None
    scale = scale_for(1.0, "price", data.price_unit)
    shown = [s for s in data.scenarios if s in price]
    floors = {s: f.drop_nulls("p50") for s, f in bands_of(data, "floor").items() if s in shown}
    fig = _scenario_fans(data, price, scale, SERIES["price"].label, shown,
                         [v for f in floors.values() for v in f["p50"].to_list()])
    floor_shown = False
    for scenario, floor in floors.items():
        if not floor.height:
            continue
        fig.add({
            "type": "scatter", "x": years(data, floor["step"]),
            "y": round_sig(floor["p50"].to_numpy()), "mode": "lines",
            "line": {"color": "#444", "width": 1.6, "dash": "dash"},
            "name": SERIES["floor"].label, "legendgroup": "floor",
            "showlegend": not floor_shown,
            "hovertemplate": (f"<b>{escape(scenario)}</b> · {SERIES['floor'].label}<br>"
                              f"Year %{{x:.1f}}<br>%{{y:{NUM}}} {escape(data.price_unit)}"
                              "<extra></extra>")}, *panel_of(shown, scenario))
        floor_shown = True
    return title_layout(fig, f"{SERIES['price'].label}: median, middle half and 5–95% of runs",
                        330 * fig.rows + 110)


def _nonzero(b: pl.DataFrame) -> bool:
    """Some run has a non-zero value at some step (the mean over runs is then non-zero too,
    for a series that is never negative; the percentiles alone could miss a rare run)."""
    return any((b[k].fill_nan(None).abs().max() or 0.0) > 0 for k in ("p05", "p95", "mean"))


def optional_fans(data: ReportData, column: str) -> Figure | None:
    """Fan chart per scenario of a series that only some runs have (`recycled`: recycled
    supply, `buyer_stock`: buyers' inventories, `private_stock`: private stockholders'
    stocks); None when it is zero in every run.

    Scenarios without it are left out, and a line above the chart names them ("No recycled
    supply in: baseline"), rather than drawn as a flat line to puzzle over.
    """
    per = bands_of(data, column)
    shown = [s for s in data.scenarios if s in per and _nonzero(per[s])]
    if not shown:
        return None
    q = SERIES[column]
    scale = scale_for([v for s in shown for v in per[s]["p95"].to_list()], q.unit,
                      data.price_unit)
    fig = _scenario_fans(data, per, scale, q.label, shown)
    left_out = [s for s in data.scenarios if s not in shown]
    if left_out:
        fig.notes.append(escape(f"No {lower_first(q.label)} in: {', '.join(left_out)} "
                                "(left out)."))
    return title_layout(fig, f"{q.label}: median, middle half and 5–95% of runs",
                        330 * fig.rows + 110)


def _band_lines(fig: Figure, data: ReportData, columns: list[tuple[str, str, str]],
                cols: int, shared_scale: bool = False) -> None:
    """Median and middle-half band per scenario for each (column, unit, title) panel.

    shared_scale: one display unit for all panels (their y title is then written once).
    """
    cmap = colours(data)
    rows = math.ceil(len(columns) / cols)
    per_column = {column: bands_of(data, column) for column, _, _ in columns}

    def values(column: str) -> list[float]:
        return [v for b in per_column[column].values()
                for v in b["p75"].to_list() + b["p25"].to_list()]

    common = [v for column, _, _ in columns for v in values(column)] if shared_scale else None
    legend: set[str] = set()     # a scenario's legend entry comes with its first line drawn
    for i, (column, unit, title) in enumerate(columns):
        r, c = i // cols + 1, i % cols + 1
        per = per_column[column]
        scale = scale_for(common if shared_scale else values(column), unit, data.price_unit)
        for scenario in data.scenarios:
            if scenario in per and _nonzero(per[scenario]):
                fan(fig, data, per[scenario], scenario, cmap[scenario], scale, title, r, c,
                    showlegend=scenario not in legend, outer=False)
                legend.add(scenario)
        fig.xaxis(r, c, title={"text": "Year"} if r == rows else None)
        if c == 1 or not shared_scale:
            fig.yaxis(r, c, title={"text": escape(axis_title(title, scale))})


def capacity(data: ReportData) -> Figure | None:
    """Refining capacity over time per region (or market / non-market), a line per scenario."""
    present = set(data.bands["column"].unique().to_list())
    columns = data.region_columns or [c for c in ("capacity_market", "capacity_nonmarket")
                                      if c in present]
    columns = [c for c in columns if c in present]
    per = {c: bands_of(data, c) for c in columns}
    empty = [c for c in columns if not any(_nonzero(b) for b in per[c].values())]
    columns = [c for c in columns if c not in empty]
    if not columns:
        return None
    rows, cols = grid(len(columns))
    fig = Figure(rows, cols, [escape(label(c)) for c in columns], shared_x=True, hspace=0.07,
                 vspace=0.16)
    # one y title for the grid: the regions' capacities share a unit
    _band_lines(fig, data, [(c, "t/yr", "Refining capacity") for c in columns], cols,
                shared_scale=True)
    what = "by region" if data.region_columns else "market and non-market"
    if empty:
        fig.notes.append(escape(f"No refining capacity in any run: {', '.join(map(label, empty))}"
                                " (left out)."))
    fig.notes += _left_out(data, per, "refining capacity")
    return title_layout(fig, f"Refining (product) capacity {what}: median and middle half of "
                        "runs", 300 * rows + 110)


def region_prices(data: ReportData) -> Figure | None:
    """The world price and each separate market's price (abm.regional) over time, a panel per
    market with a line per scenario; None without separate markets."""
    present = set(data.bands["column"].unique().to_list())
    columns = [c for c in ["price", *data.region_price_columns] if c in present]
    if len(columns) < 2:
        return None
    rows, cols = grid(len(columns))
    titles = ["World price" if c == "price" else label(c) for c in columns]
    fig = Figure(rows, cols, [escape(t) for t in titles], shared_x=True, hspace=0.07,
                 vspace=0.16)
    _band_lines(fig, data, [(c, "price", "Price") for c in columns], cols, shared_scale=True)
    return title_layout(fig, "Prices by market: median and middle half of runs",
                        300 * rows + 110)


def _left_out(data: ReportData, per: dict[str, dict[str, pl.DataFrame]], what: str) -> list[str]:
    """'No fiscal flow in: baseline (left out).' for scenarios with nothing in any panel."""
    missing = [s for s in data.scenarios
               if not any(s in b and _nonzero(b[s]) for b in per.values())]
    return [escape(f"No {what} in: {', '.join(missing)} (left out).")] if missing else []


def stock_and_fiscal(data: ReportData) -> Figure | None:
    """Government stock and cumulative fiscal cost over time, a line and band per scenario;
    a panel, or a scenario in a panel, with nothing in it is left out and named above."""
    present = set(data.bands["column"].unique().to_list())
    panels = [(c, u, t) for c, u, t in (
        ("government_stock", "t", SERIES["government_stock"].label),
        (FISCAL_CUM, "USD", f"Cumulative {METRICS['fiscal_cost'].label.lower()}"))
        if c in present]
    per = {c: bands_of(data, c) for c, _, _ in panels}
    notes = []
    for c, _, t in panels:
        if not any(_nonzero(b) for b in per[c].values()):
            notes.append(escape(f"{t}: zero in every run (left out)."))
        else:
            notes += _left_out(data, {c: per[c]}, lower_first(t))
    panels = [p for p in panels if any(_nonzero(b) for b in per[p[0]].values())]
    if not panels:
        return None
    fig = Figure(1, len(panels), [t for _, _, t in panels], hspace=0.12)
    _band_lines(fig, data, panels, len(panels))
    fig.notes += notes
    return title_layout(fig, "Government stock and cumulative fiscal cost: median and middle "
                        "half of runs", 440)


# the two panels of the effects chart: relative changes, and changes of percentages in points
EFFECT_PANELS = (("rel", "Change from {b} (%)", "%", "rel_diff", "rel_ci_low",
                  "rel_ci_high"),
                 ("pts", "Change from {b} (percentage points)", " pts",
                  "diff_mean", "diff_ci_low", "diff_ci_high"))


def effects(data: ReportData) -> Figure | None:
    """Paired effects of each scenario on every metric with its 95% CI: prices, tonnes and
    money as % change; shares and volatilities (percentages already) in percentage points."""
    if data.paired is None or data.paired.height == 0:
        return None
    points = [m for m in data.metrics if METRICS[m].unit in POINTS_UNITS]
    kinds = {"rel": data.paired.filter(pl.col("rel_diff").is_finite()
                                       & ~pl.col("metric").is_in(points)),
             "pts": data.paired.filter(pl.col("diff_mean").is_finite()
                                       & pl.col("metric").is_in(points))}
    # metrics whose baseline mean is zero have no % change: leave them out, without a gap
    panels = []
    for kind, *rest in EFFECT_PANELS:
        present = set(kinds[kind]["metric"].to_list())
        rows = {m: i for i, m in enumerate(m for m in data.metrics if m in present)}
        if rows:
            panels.append((kind, rows, *rest))
    if not panels:
        return None
    fig = Figure(1, len(panels), hspace=0.32)
    cmap = colours(data)
    others = [s for s in data.scenarios if s != data.baseline]
    for col, (kind, rows, title, suffix, value, low, high) in enumerate(panels, start=1):
        for k, scenario in enumerate(others):
            p = kinds[kind].filter((pl.col("scenario") == scenario)
                                   & pl.col("metric").is_in(list(rows)))
            if p.height == 0:
                continue
            labels = [METRICS[m].label for m in p["metric"]]
            # scenarios side by side within a metric's row
            offset = (k - (len(others) - 1) / 2) * 0.8 / len(others)
            y = round_sig(100 * p[value].to_numpy())
            lo = round_sig(100 * p[low].to_numpy())
            hi = round_sig(100 * p[high].to_numpy())
            fig.add({
                "type": "scatter", "x": y,
                "y": np.array([rows[m] for m in p["metric"]]) + offset,
                "mode": "markers", "name": escape(scenario), "legendgroup": escape(scenario),
                "showlegend": col == 1,
                "marker": {"color": cmap[scenario], "size": 9, "symbol": "diamond"},
                "error_x": {"type": "data", "symmetric": False, "array": np.round(hi - y, 3),
                            "arrayminus": np.round(y - lo, 3), "color": cmap[scenario],
                            "thickness": 1.8},
                "customdata": [[a, b, t] for a, b, t in zip(lo.tolist(), hi.tolist(), labels,
                                                             strict=True)],
                "hovertemplate": (f"<b>{escape(scenario)}</b> vs {escape(data.baseline)}<br>"
                                  f"%{{customdata[2]}}: %{{x:+.3~g}}{suffix}<br>95% CI "
                                  f"%{{customdata[0]:+.3~g}}{suffix} to "
                                  f"%{{customdata[1]:+.3~g}}{suffix}<extra></extra>")},
                1, col)
        fig.vline(0, 1, col, color="#888", width=1)
        fig.yaxis(1, col, autorange="reversed", tickvals=list(rows.values()),
                  ticktext=[METRICS[m].label for m in rows], showgrid=False)
        fig.xaxis(1, col, title={"text": title.format(b=escape(data.baseline))},
                  ticksuffix=suffix, tickformat=",~r")
    n_rows = max(len(rows) for _, rows, *_ in panels)
    return title_layout(fig, f"Effect of each scenario compared with {escape(data.baseline)} "
                        "(paired runs)", 170 + n_rows * (14 + 12 * len(others)))


def distributions(data: ReportData) -> Figure | None:
    """Box plots of every run metric by scenario: box = middle half, whiskers = 5-95% of runs.

    Drawn as a bar (the box) and a marker with error bars (median and whiskers) rather than as a
    plotly box trace, whose hover labels call the whiskers "min" and "max"; here they are the
    5th and 95th percentiles and the hover says so, with units.
    """
    q = data.quartiles.filter(pl.col("n") > 0)
    per = {key[0]: frame for key, frame in q.partition_by("metric", as_dict=True).items()}
    metrics = [m for m in data.metrics if m in per]
    if not metrics:
        return None
    rows, cols = grid(len(metrics))
    scales = {m: scale_for(per[m]["p95"].to_list() + per[m]["p05"].to_list(), METRICS[m].unit,
                           data.price_unit) for m in metrics}
    fig = Figure(rows, cols, [escape(axis_title(METRICS[m].label, scales[m])) for m in metrics],
                 hspace=0.08, vspace=0.3 / rows)
    cmap = colours(data)
    clipped: list[str] = []
    for i, metric in enumerate(metrics):
        r, c = i // cols + 1, i % cols + 1
        s = scales[metric]
        unit = unit_text(s)
        stats = {row["scenario"]: row for row in per[metric].to_dicts()}
        for scenario in data.scenarios:
            row = stats.get(scenario)
            if row is None:
                continue
            v = {k: float(round_sig(row[k] / s.factor)) for k in
                 ("p05", "p25", "p50", "p75", "p95", "mean")}
            name = escape(scenario)
            custom = [[v["p05"], v["p25"], v["p50"], v["p75"], v["p95"], v["mean"]]]
            hover = (f"<b>{name}</b> · {escape(METRICS[metric].label)}<br>"
                     f"median %{{customdata[2]:{NUM}}}{unit}<br>"
                     f"middle half of runs %{{customdata[1]:{NUM}}}–%{{customdata[3]:{NUM}}}"
                     f"{unit}<br>5–95% of runs %{{customdata[0]:{NUM}}}–"
                     f"%{{customdata[4]:{NUM}}}{unit}<br>mean %{{customdata[5]:{NUM}}}{unit}"
                     "<extra></extra>")
            colour = cmap[scenario]
            fig.add({"type": "bar", "x": [name], "base": [v["p25"]], "y": [v["p75"] - v["p25"]],
                     "width": 0.5, "name": name, "legendgroup": name, "showlegend": i == 0,
                     "marker": {"color": rgba(colour, 0.45), "line": {"color": colour,
                                                                       "width": 1.5}},
                     "customdata": custom, "hovertemplate": hover}, r, c)
            fig.add({"type": "scatter", "x": [name], "y": [v["p50"]], "mode": "markers",
                     "marker": {"symbol": "line-ew", "size": 34,
                                "line": {"color": colour, "width": 2.5}},
                     "error_y": {"type": "data", "symmetric": False,
                                 "array": [v["p95"] - v["p50"]],
                                 "arrayminus": [v["p50"] - v["p05"]], "color": colour,
                                 "thickness": 1.5, "width": 8},
                     "showlegend": False, "legendgroup": name, "customdata": custom,
                     "hovertemplate": hover}, r, c)
        fig.xaxis(r, c, showticklabels=False)
        cut = tail_range([per[metric]])
        if cut is not None:          # whiskers far above the boxes: the boxes stay readable
            fig.yaxis(r, c, range=[cut[0] / s.factor, cut[1] / s.factor], autorange=False)
            clipped.append(f"{METRICS[metric].label} (up to {sig(cut[2] / s.factor, 3)}"
                           f"{unit_text(s)})")
    if clipped:
        fig.notes.append(escape("Axes cut above the boxes, so they stay readable; the whiskers "
                                "go higher in: " + "; ".join(clipped) + "."))
    for ann in fig.layout["annotations"]:
        ann["font"] = {"size": 12}
    fig.layout["barmode"] = "overlay"
    return title_layout(fig, "Run outcomes by scenario: box = middle half of runs, line = median, "
                        "whiskers = 5–95% of runs", 250 * rows + 110)


PATH_PANELS = [("price", "price"), ("government_stock", "t"), ("capacity_market", "t/yr")]


def run_paths(data: ReportData, paths: pl.DataFrame, rep: int) -> Figure | None:
    """One replication in every scenario: price (with the floor), stock, market capacity."""
    panels = [(c, u) for c, u in PATH_PANELS if c in paths.columns
              and paths[c].drop_nulls().len()]
    if not panels:
        return None
    scales = {c: scale_for(paths[c].drop_nulls().to_list(), u, data.price_unit)
              for c, u in panels}
    fig = Figure(len(panels), 1, [escape(axis_title(SERIES[c].label, scales[c]))
                                  for c, _ in panels], shared_x=True, vspace=0.1)
    cmap = colours(data)
    per = {key[0]: f.sort("step") for key, f in paths.partition_by("scenario",
                                                                     as_dict=True).items()}
    for scenario in data.scenarios:
        p = per.get(scenario)
        if p is None:
            continue
        x = years(data, p["step"])
        name = escape(scenario)
        for i, (c, _) in enumerate(panels):
            s = scales[c]
            fig.add({
                "type": "scatter", "x": x, "y": round_sig(p[c].to_numpy() / s.factor),
                "mode": "lines", "name": name, "legendgroup": name, "showlegend": i == 0,
                "line": {"color": cmap[scenario], "width": 1.6},
                "hovertemplate": (f"<b>{name}</b><br>Year %{{x:.2f}}<br>"
                                  f"{escape(SERIES[c].label)}: %{{y:{NUM}}}"
                                  f"{escape(unit_text(s))}<extra></extra>")}, i + 1, 1)
            if c == "price" and "floor" in p.columns and p["floor"].drop_nulls().len():
                fig.add({
                    "type": "scatter", "x": x, "y": round_sig(p["floor"].to_numpy()),
                    "mode": "lines", "name": f"{name} floor", "legendgroup": name,
                    "showlegend": False,
                    "line": {"color": cmap[scenario], "width": 1.2, "dash": "dash"},
                    "hovertemplate": (f"<b>{name}</b> {SERIES['floor'].label.lower()}<br>"
                                      f"Year %{{x:.2f}}<br>%{{y:{NUM}}} "
                                      f"{escape(data.price_unit)}<extra></extra>")}, i + 1, 1)
    fig.xaxis(len(panels), 1, title={"text": "Year"})
    return title_layout(fig, f"Replication {rep}: one run per scenario (dashed: floor)",
                        230 * len(panels) + 130)
