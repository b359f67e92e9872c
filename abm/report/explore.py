"""explore.html: an offline what-if explorer for experiments with a sweep.

Per swept parameter a low and a high ``<input type="range">`` (plain HTML, so keyboards and tests
drive them); the page shows, over every run of the chosen scenario inside the selected ranges,
the run count, the share of runs meeting each ``[discovery]`` criterion (the words of the PRIM
boxes on the sweep page), the distribution of the chosen outcome (plotly.js, beside the page) and
mean, 5th, 50th and 95th percentiles of every outcome.

The runs are embedded as JSON, column by column: parameters at full precision (the selection is
exact), outcomes to 6 significant digits, and whether each run meets each criterion (computed
here with abm.discovery, so the page and `abm discover` agree). Above ``MAX_RUNS`` runs the page
holds per design point summaries instead (each point's run count, means and criterion counts):
the page then speaks of design points' means. No server, no network.
"""

from __future__ import annotations

import json
from html import escape

import numpy as np
import polars as pl

from abm.names import METRICS
from abm.report.data import ReportData
from abm.report.format import round_sig, scale_for
from abm.report.html import Page
from abm.report.style import scenario_colours

MAX_RUNS = 20_000      # above this, per design point summaries (the page stays under ~4 MB)
TICKS = 100            # slider steps of a continuous (LHS, Sobol) parameter
FIELDS = ("mean", "p05", "p50", "p95")


def ticks(config: dict, runs: pl.DataFrame, param: str) -> list[float]:
    """The values a slider steps through: a grid's values, else TICKS equal steps over the
    declared range (widened to the data's)."""
    spec = ((config.get("sweep") or {}).get("parameters") or {}).get(param)
    col = runs[param].drop_nulls()
    if isinstance(spec, list):
        return sorted({float(v) for v in spec} | {float(v) for v in col.unique()})
    lo, hi = (float(spec["low"]), float(spec["high"])) if isinstance(spec, dict) else (
        float(col.min()), float(col.max()))
    if col.len():
        lo, hi = min(lo, float(col.min())), max(hi, float(col.max()))
    return [float(v) for v in np.linspace(lo, hi, TICKS + 1)]


def in_selection(values: np.ndarray, tick: list[float], lo: int, hi: int) -> np.ndarray:
    """The page's rule: inside [tick[lo], tick[hi]], with the end ticks open (so every run is
    inside at the full range); a parameter that does not apply (null) never excludes."""
    v = np.asarray(values, dtype=float)
    keep = np.isnan(v) | (
        ((v >= tick[lo]) | (lo == 0)) & ((v <= tick[hi]) | (hi == len(tick) - 1)))
    return keep


def quantile(values: np.ndarray, q: float) -> float:
    """numpy's default (linear) quantile, as the page computes it."""
    return float(np.quantile(values, q)) if len(values) else float("nan")


def payload(data: ReportData) -> dict:
    """What the page embeds (see the module docstring)."""
    from abm.discovery import criterion_expr
    from abm.report.discovery import criterion_words, settings

    ok = data.ok
    params = data.sweep_parameters
    criteria, _ = settings(data.config)
    criteria = [c for c in criteria if all(m in ok.columns for m in _metrics(c))]
    metrics = [m for m in data.metrics if m in ok.columns]
    summarised = ok.height > MAX_RUNS
    colours = scenario_colours(data.scenarios, data.baseline)
    scen = []
    for s in data.scenarios:
        sub = ok.filter(pl.col("scenario") == s)
        if not sub.height:
            continue
        fails = {str(i): sub.select(criterion_expr(c).cast(pl.Int8).alias("f"))["f"]
                 for i, c in enumerate(criteria)}
        if summarised:
            frame = sub.with_columns(**{f"fail{i}": v for i, v in fails.items()})
            g = frame.group_by("point", maintain_order=True).agg(
                pl.len().alias("n"), *[pl.col(p).first() for p in params],
                *[pl.col(m).mean() for m in metrics],
                *[pl.col(f"fail{i}").sum() for i in fails])
            n = g["n"].to_list()
            cols, outs = g, {m: g[m] for m in metrics}
            fail = {i: g[f"fail{i}"].to_list() for i in fails}
        else:
            n, cols, outs = None, sub, {m: sub[m] for m in metrics}
            fail = {i: v.to_list() for i, v in fails.items()}
        scen.append({
            "name": s, "colour": colours.get(s, "#444"), "n": n,
            "params": {p: (None if cols[p].null_count() == cols.height else
                           [None if v is None else float(v) for v in cols[p].to_list()])
                       for p in params},
            "outcomes": {m: [None if not np.isfinite(v) else float(v)
                             for v in round_sig(outs[m].cast(pl.Float64).fill_null(np.nan)
                                                .to_numpy(), 6)] for m in metrics},
            "fail": fail})
    from abm.report.sweep_figures import parameter_unit

    outcome_info = {}
    for m in metrics:
        q = METRICS[m]
        sc = scale_for(ok[m].drop_nulls().abs().max() or 0.0, q.unit, data.price_unit)
        outcome_info[m] = {"label": q.label, "factor": sc.factor, "prefix": sc.prefix,
                           "suffix": sc.suffix, "unit": sc.unit}
    return {
        "summarised": summarised,
        "parameters": [{"name": p, "unit": parameter_unit(p, data.price_unit),
                        "ticks": ticks(data.config, ok, p)} for p in params],
        "outcomes": outcome_info, "order": metrics,
        "criteria": [{"text": c, "words": criterion_words(c, data.price_unit)}
                     for c in criteria],
        "scenarios": scen}


def _metrics(text: str) -> list[str]:
    from abm.discovery import criterion_metrics

    return criterion_metrics(text)


def explore_page(data: ReportData, pages: list[str], footer: str) -> Page:
    page = Page("explore.html", f"{data.title}: what if?", data.question, pages, footer)
    info = payload(data)
    blob = json.dumps(info, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
    rows = []
    for i, p in enumerate(info["parameters"]):
        last = len(p["ticks"]) - 1
        label = escape(p["name"])
        rows.append(
            f'<tr data-parameter="{label}"><td class="text"><code>{label}</code></td>'
            f'<td><input type="range" id="lo-{i}" min="0" max="{last}" step="1" value="0" '
            f'aria-label="lowest {label}"></td>'
            f'<td><input type="range" id="hi-{i}" min="0" max="{last}" step="1" '
            f'value="{last}" aria-label="highest {label}"></td>'
            f'<td class="text" id="range-{i}"></td></tr>')
    options = "".join(f'<option value="{k}">{escape(s["name"])}</option>'
                      for k, s in enumerate(info["scenarios"]))
    applies = [sum(v is not None for v in s["params"].values()) for s in info["scenarios"]]
    default = applies.index(max(applies)) if applies else 0   # the most swept scenario
    outcome_opts = "".join(
        f'<option value="{escape(m)}"{" selected" if m == _default_outcome(info) else ""}>'
        f'{escape(info["outcomes"][m]["label"])}</option>' for m in info["order"])
    what = ("design points (each point's mean over its runs)" if info["summarised"]
            else "runs")
    page.section("Choose the conditions", (
        '<p class="note">Move the sliders to keep only the ' + what + ' whose swept parameters '
        "lie in the chosen ranges (arrow keys move a focused slider one step). A parameter "
        "that does not apply to the scenario is greyed out. Everything is computed in this "
        "page from the stored runs: no model is run, nothing is fetched.</p>"
        f'<p><label>Scenario <select id="explore-scenario" data-default="{default}">'
        f'{options}</select></label> &nbsp; <label>Outcome <select id="explore-outcome">'
        f'{outcome_opts}</select></label></p>'
        '<div class="table-wrap"><table><thead><tr><th class="text">Parameter</th>'
        '<th>Lowest</th><th>Highest</th><th class="text">Range kept</th></tr></thead>'
        f'<tbody>{"".join(rows)}</tbody></table></div>'), "choose")
    crit_note = ("" if info["criteria"] else '<p class="note">The experiment has no '
                 "<code>[discovery]</code> criteria, so no failure shares are shown.</p>")
    page.section("What the runs inside these ranges show", (
        f'<p class="headline" id="explore-count" data-value=""></p>{crit_note}'
        '<ul id="explore-criteria"></ul>'
        '<div class="plot"><div id="explore-chart" style="height:380px;width:100%"></div></div>'
        '<div class="table-wrap"><table id="explore-stats"><thead><tr><th class="text">Outcome'
        "</th><th>Mean</th><th>5th percentile</th><th>Median</th><th>95th percentile</th></tr>"
        "</thead><tbody></tbody></table></div>"), "result")
    page.plots = 1      # one chart, drawn by the script below (loads plotly.min.js)
    page.add(f'<script type="application/json" id="explore-data">{blob}</script>'
             f"<script>{explore_js()}</script>")
    return page


def _default_outcome(info: dict) -> str:
    for m in ("fiscal_cost", "capacity_added_market", "price_mean"):
        if m in info["outcomes"]:
            return m
    return info["order"][0] if info["order"] else ""


def explore_js() -> str:
    """The page's script (abm/templates/explore.js), inlined so the page needs no other file
    than plotly.min.js."""
    from importlib.resources import files

    return files("abm").joinpath("templates", "explore.js").read_text(encoding="utf-8")
