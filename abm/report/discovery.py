"""Scenario discovery on a results folder: `abm discover DIR` and the sweep page's section.

For each criterion of the experiment's ``[discovery]`` table (or given on the command line) and
each swept scenario, PRIM (abm.discovery) looks for the box of swept parameters in which runs
meet the criterion. The box shown is ``PrimResult.chosen_step`` (highest coverage with density at
least ``threshold``); its limits with a quasi-p-value above ``max_p`` are dropped (widened to the
declared range) and coverage and density recomputed for what is shown.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from abm.errors import ConfigError

DEFAULTS = {"threshold": 0.8, "peel_alpha": 0.05, "paste_alpha": 0.05, "mass_min": 0.05,
            "max_p": 0.05}


@dataclass
class Finding:
    """One criterion in one scenario."""

    scenario: str
    criterion: str
    runs: int
    cases: int
    parameters: list[str]
    declared: dict[str, tuple[float, float]]
    result: Any = None                       # PrimResult (None without cases or parameters)
    step: int | None = None                  # the box shown (None: no box meets the threshold)
    limits: dict[str, tuple[float, float]] = field(default_factory=dict)
    p_values: dict[str, float] = field(default_factory=dict)
    coverage: float = 0.0
    density: float = 0.0
    in_box: int = 0
    stability: dict[str, float] = field(default_factory=dict)
    reason: str = ""                         # why there is no box, in plain words


def read_runs(out: Path) -> pl.DataFrame:
    files = sorted((out / "runs").glob("*.parquet")) if (out / "runs").is_dir() else []
    if (out / "runs.parquet").is_file():
        files.append(out / "runs.parquet")
    if not files:
        raise ConfigError(str(out), None, "has no runs (runs/*.parquet): run the experiment "
                          "first")
    return pl.concat([pl.read_parquet(f) for f in files], how="diagonal_relaxed")


def settings(config: dict, criteria: list[str] | None = None) -> tuple[list[str], dict]:
    """The criteria and PRIM settings: `criteria` if given, else the config's [discovery]."""
    table = config.get("discovery") or {}
    opts = {k: float(table.get(k, v) if table.get(k) is not None else v)
            for k, v in DEFAULTS.items()}
    opts["scenarios"] = table.get("scenarios")
    if criteria:
        from pydantic import ValidationError

        from abm.config import Discovery

        try:
            Discovery(criterion=list(criteria))
        except ValidationError as err:
            e = err.errors()[0]
            raise ConfigError(None, "--criterion", e["msg"]) from None
        return list(criteria), opts
    text = table.get("criterion")
    found = [text] if isinstance(text, str) else list(text or [])
    return found, opts


def declared_ranges(config: dict, runs: pl.DataFrame, params: list[str]) -> dict:
    spec = (config.get("sweep") or {}).get("parameters") or {}
    out = {}
    for p in params:
        v = spec.get(p)
        if isinstance(v, dict) and "low" in v:
            out[p] = (float(v["low"]), float(v["high"]))
        elif isinstance(v, list) and v:
            out[p] = (float(min(v)), float(max(v)))
        else:
            col = runs[p].drop_nulls()
            out[p] = (float(col.min()), float(col.max()))
    return out


def discover(out: Path | str, criteria: list[str] | None = None,
             stability_iterations: int = 20) -> list[Finding]:
    """Every criterion x analysed scenario of the results folder `out`. Raises ConfigError
    (exit 2) when the folder has no sweep, no criterion, or a criterion names a metric the runs
    do not have."""
    from abm.report.data import read_manifest

    out = Path(out)
    config = read_manifest(out).get("config") or {}
    crits, _ = settings(config, criteria)
    if not crits:
        raise ConfigError(str(out), "discovery.criterion", "no criterion: add a [discovery] "
                          "table with criterion = \"METRIC OP NUMBER\" to the experiment, or "
                          "give --criterion 'fiscal_cost > 2e9'")
    return discover_runs(read_runs(out), config, criteria, stability_iterations, str(out))


def discover_runs(runs: pl.DataFrame, config: dict, criteria: list[str] | None = None,
                  stability_iterations: int = 20, where: str | None = None) -> list[Finding]:
    """`discover` on a runs table and the resolved config (the report's data)."""
    from abm.discovery import criterion_expr, criterion_metrics, prim

    out = where
    crits, opts = settings(config, criteria)
    names = list((config.get("sweep") or {}).get("parameters") or {})
    params = [p for p in names if p in runs.columns]
    if not params:
        raise ConfigError(out, "sweep", "the experiment has no [sweep]: scenario discovery "
                          "needs runs spread over parameters")
    ok = runs.filter(pl.col("status") == "ok")
    for text in crits:
        missing = [m for m in criterion_metrics(text) if m not in ok.columns]
        if missing:
            raise ConfigError(out, "discovery.criterion", f"'{text}': the runs have no "
                              f"metric {', '.join(missing)}")
    order = list(dict.fromkeys(ok["scenario"].to_list()))
    swept = [s for s in order     # the scenarios some swept parameter applies to
             if min(ok.filter(pl.col("scenario") == s).select(params).null_count().row(0))
             < ok.filter(pl.col("scenario") == s).height]
    scenarios = opts["scenarios"] or swept
    unknown = [s for s in scenarios if s not in order]
    if unknown:
        raise ConfigError(out, "discovery.scenarios", f"no runs of scenario "
                          f"{', '.join(unknown)}; scenarios: {', '.join(order)}")
    declared = declared_ranges(config, ok, params)
    findings = []
    for text in crits:
        for scenario in scenarios:
            sub = ok.filter(pl.col("scenario") == scenario)
            use = [p for p in params if sub[p].null_count() == 0 and sub[p].n_unique() > 1]
            y = sub.select(criterion_expr(text).alias("y"))["y"].to_numpy().astype(int)
            f = Finding(scenario, text, sub.height, int(y.sum()), use, declared)
            findings.append(f)
            if not use or f.cases == 0 or f.cases == f.runs:
                f.reason = ("no run meets it" if f.cases == 0 else "every run meets it"
                            if f.cases == f.runs else "no swept parameter varies")
                continue
            res = prim(sub.select(use), y, threshold=opts["threshold"],
                       peel_alpha=opts["peel_alpha"], paste_alpha=opts["paste_alpha"],
                       mass_min=opts["mass_min"])
            f.result = res
            f.step = res.chosen_step()
            if f.step is None:
                best = res.trajectory["density"].max()
                f.reason = (f"no box reaches a density of {opts['threshold']:.0%} (in the "
                            f"densest, {best:.0%} of the runs meet it)")
                continue
            # The box shown: the steps at or above the threshold, most coverage first; the
            # first whose significant limits alone still reach the threshold.
            steps = sorted((r for r in res.box.rows
                            if r["density"] >= opts["threshold"] and r["res_dim"] > 0),
                           key=lambda r: (-r["coverage"], -r["step"]))
            for row in steps:
                shown = _significant(res, row["step"], use, declared, opts["max_p"], sub, y)
                if shown is not None and shown[3] >= opts["threshold"]:
                    break
            else:
                f.step = None
                f.reason = ("no box of significant limits (quasi-p-value at most "
                            f"{opts['max_p']:g}) reaches a density of {opts['threshold']:.0%}")
                continue
            f.step = row["step"]
            f.p_values, f.limits, f.in_box, f.density, f.coverage = shown
            if stability_iterations:
                f.stability = res.stability(f.step, iterations=stability_iterations, seed=0)
    return findings


def _significant(res, step, use, declared, max_p, sub, y):
    """(p-values, significant limits with unrestricted sides at the declared range, runs in
    that box, its density, its coverage), or None when no limit is significant."""
    p_values = res.quasi_p(step)
    init = res.box.init
    limits = {}
    for p, (lo, hi) in res.limits(step).items():
        if p_values.get(p, 1.0) <= max_p:
            j = use.index(p)
            limits[p] = (declared[p][0] if lo == init[0, j] else lo,
                         declared[p][1] if hi == init[1, j] else hi)
    if not limits:
        return None
    inside = np.ones(sub.height, dtype=bool)
    for p, (lo, hi) in limits.items():
        v = sub[p].to_numpy()
        inside &= (v >= lo) & (v <= hi)
    density = float(y[inside].mean()) if inside.any() else 0.0
    return p_values, limits, int(inside.sum()), density, float(y[inside].sum() / y.sum())


# -------------------------------------------------------------------------------------------------
# words
# -------------------------------------------------------------------------------------------------


def _num(value: float, unit: str, price_unit: str) -> str:
    from abm.report.format import fmt

    if unit in ("", "-"):
        return f"{value:,.3g}"
    return fmt(value, unit, price_unit, minus="-")


def criterion_words(text: str, price_unit: str) -> str:
    """'fiscal_cost > 2e9' -> 'the fiscal cost is above $2.0bn'."""
    from abm.discovery import parse_criterion
    from abm.names import METRICS

    ops = {">": "above", ">=": "at least", "<": "below", "<=": "at most"}
    groups = []
    for group in parse_criterion(text):
        parts = []
        for metric, op, value in group:
            q = METRICS.get(metric)
            label = q.label.lower() if q else metric
            unit = q.unit if q else ""
            parts.append(f"{label} is {ops[op]} {_num(value, unit, price_unit)}")
        groups.append(" and ".join(parts))
    return " or ".join(groups)


def limit_words(p: str, lo: float, hi: float, declared: tuple[float, float],
                price_unit: str) -> str:
    from abm.report.sweep_figures import parameter_unit

    unit = parameter_unit(p, price_unit)
    u = unit if unit == "%" else f" {unit}" if unit else ""
    if lo > declared[0] and hi < declared[1]:
        return f"{p} is between {lo:,.4g} and {hi:,.4g}{u}"
    if lo > declared[0]:
        return f"{p} is above {lo:,.4g}{u}"
    return f"{p} is below {hi:,.4g}{u}"


def sentence(f: Finding, price_unit: str = "USD/kg") -> str:
    """One plain sentence (plain text)."""
    what = criterion_words(f.criterion, price_unit)
    if not f.limits:
        return (f"{f.scenario}: {what} in {f.cases} of {f.runs} runs; no box of the swept "
                f"parameters meets the criterion: {f.reason}.")
    where = " and ".join(limit_words(p, lo, hi, f.declared[p], price_unit)
                         for p, (lo, hi) in f.limits.items())
    return (f"{f.scenario}: {what} in {f.density:.0%} of runs where {where}; "
            f"{f.coverage:.0%} of all such runs ({f.cases} of {f.runs}) fall in this box.")


# -------------------------------------------------------------------------------------------------
# the sweep page's section
# -------------------------------------------------------------------------------------------------


def _steps_json(f: Finding) -> list[dict]:
    """Every step of the first box: coverage, density, mass, limits (declared where
    unrestricted) and quasi-p-values, for the page's click-to-pick."""
    res = f.result
    out = []
    for row in res.box.rows:
        s = row["step"]
        lims = res.box.limits(s)
        p = res.quasi_p(s) if lims else {}
        out.append({"step": s, "coverage": row["coverage"], "density": row["density"],
                    "mass": row["mass"], "n": row["n"], "k": row["k"],
                    "limits": {q: [lims[q][0], lims[q][1]] if q in lims else list(f.declared[q])
                               for q in f.parameters},
                    "restricted": sorted(lims), "p": p})
    return out


PICK_JS = """
(function(){
  var data = JSON.parse(document.getElementById('%(id)s-data').textContent);
  var plot = document.getElementById('%(plot)s');
  function show(i){
    var s = data[i], rows = '';
    Object.keys(s.limits).forEach(function(p){
      var r = s.restricted.indexOf(p) >= 0;
      rows += '<tr><td class="text">' + p.replace(/[&<>]/g, '') + '</td><td>' +
        s.limits[p][0].toPrecision(4) + '</td><td>' + s.limits[p][1].toPrecision(4) +
        '</td><td>' + (r ? (s.p[p] < 0.001 ? '&lt;0.001' : s.p[p].toPrecision(2)) : 'not restricted') +
        '</td></tr>';
    });
    document.getElementById('%(id)s-pick').innerHTML = '<p>Step ' + s.step + ': coverage ' +
      Math.round(100 * s.coverage) + '%%, density ' + Math.round(100 * s.density) + '%%, ' +
      s.n + ' runs (' + s.k + ' meeting the criterion).</p><table><thead><tr><th>Parameter</th>' +
      '<th>Low</th><th>High</th><th>quasi-p</th></tr></thead><tbody>' + rows + '</tbody></table>';
  }
  function hook(){
    if (!plot || !plot.on) { return setTimeout(hook, 100); }
    plot.on('plotly_click', function(ev){ show(ev.points[0].pointIndex); });
  }
  hook();
})();
"""


def tradeoff_figure(f: Finding):
    from abm.report.plot import Figure

    rows = f.result.box.rows
    fig = Figure()
    fig.layout["height"] = 360
    fig.add({"type": "scatter", "mode": "markers+lines",
                   "x": [r["coverage"] for r in rows], "y": [r["density"] for r in rows],
                   "text": [f"step {r['step']}: {r['res_dim']} restricted, {r['n']} runs"
                            for r in rows],
                   "marker": {"color": [r["res_dim"] for r in rows], "colorscale": "Viridis",
                              "size": 8, "colorbar": {"title": {"text": "restricted"}}},
                   "hovertemplate": "%{text}<br>coverage %{x:.0%}<br>density %{y:.0%}"
                                    "<extra></extra>", "name": "peeling and pasting"})
    if f.step is not None:
        r = rows[f.step]
        fig.add({"type": "scatter", "mode": "markers", "x": [r["coverage"]],
                       "y": [r["density"]], "name": "box shown",
                       "marker": {"symbol": "circle-open", "size": 16, "color": "black"}})
    fig.xaxis(title={"text": "coverage (share of all runs meeting it)"}, tickformat=".0%")
    fig.yaxis(title={"text": "density (share of the box's runs meeting it)"}, tickformat=".0%")
    fig.layout["showlegend"] = False
    return fig


def section(page, data, findings: list[Finding]) -> None:
    """Add 'Where the criteria are met' to the sweep page."""
    from abm.report.html import table

    parts = ['<p class="note">Scenario discovery (PRIM): the box of swept parameters in which '
             "most runs meet each criterion of the experiment's <code>[discovery]</code> table. "
             "<b>Coverage</b>: share of all runs meeting the criterion that fall in the box; "
             "<b>density</b>: share of the box's runs meeting it. Limits not shown, or shown as "
             "the declared range, are not restricted; limits whose quasi-p-value is above 0.05 "
             "are dropped. Click a point of the trade-off chart to see that box (the ring marks the "
             "step the box shown comes from; the sentence counts the runs inside its kept "
             "limits).</p>"]
    for k, f in enumerate(findings):
        text = sentence(f, data.price_unit)
        parts.append(f'<h3>{escape(f.scenario)}: {escape(f.criterion)}</h3>'
                     f'<p class="discovery-sentence" data-scenario="{escape(f.scenario)}" '
                     f'data-criterion="{escape(f.criterion)}" data-coverage="{f.coverage:.6g}" '
                     f'data-density="{f.density:.6g}">{escape(text)}</p>')
        if f.limits:
            rows = []
            for p in f.parameters:
                lo, hi = f.limits.get(p, f.declared[p])
                stab = f.stability.get(p)
                rows.append([escape(p), f"{lo:,.4g}", f"{hi:,.4g}",
                             (f"{f.p_values[p]:.2g}" if p in f.limits else "not restricted"),
                             "" if stab is None else f"{stab:.0%}"])
            parts.append(table(["Parameter", "Low", "High", "quasi-p", "restricted in "
                                "resamples"], rows, ["text", "", "", "", ""]))
        if f.result is not None:
            ident = f"disc{k}"
            plot_html = page.figure(tradeoff_figure(f))
            plot_id = f"{page.filename.split('.')[0]}-plot-{page.plots}"
            blob = json.dumps(_steps_json(f)).replace("</", "<\\/")
            parts.append(plot_html + f'<script type="application/json" id="{ident}-data">'
                         f"{blob}</script><div id=\"{ident}-pick\"></div>"
                         f"<script>{PICK_JS % {'id': ident, 'plot': plot_id}}</script>")
    page.section("Where the criteria are met (scenario discovery)", "".join(parts), "discovery")


def sweep_section(page, data) -> None:
    """The section for the sweep page when the experiment has a [discovery] table (a criterion
    the runs cannot answer is said on the page, not raised: the pages are built either way)."""
    if not (data.config.get("discovery") or {}).get("criterion"):
        return
    try:
        findings = discover_runs(data.runs, data.config, stability_iterations=10)
    except ConfigError as err:
        page.section("Where the criteria are met (scenario discovery)",
                     f'<p class="note">{escape(err.message)}</p>', "discovery")
        return
    section(page, data, findings)
