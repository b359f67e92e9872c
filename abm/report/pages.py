"""The four pages: index (the answer), sweep, individual runs, config and provenance.

Each function returns a :class:`~abm.report.html.Page`; text written by users (titles, scenario
names, config values, error messages) is always passed through ``html.escape``.
"""

from __future__ import annotations

import shlex
from html import escape

import polars as pl

from abm.dotted import flatten
from abm.names import METRICS
from abm.report import discovery, figures, headlines, sweep_figures, tomlout
from abm.report.data import ReportData, run_paths
from abm.report.format import (
    POINTS_UNITS,
    fmt,
    fmt_diff,
    fmt_diff_range,
    fmt_pct,
    fmt_range,
)
from abm.report.headlines import ci, num
from abm.report.html import Page, table
from abm.report.style import scenario_colours

RUNS_SHOWN = 3  # individual runs on runs.html: enough to see what a path looks like


def _overrides(data: ReportData, scenario: str) -> str:
    """'policy.floor.mechanism = cfd; policy.floor.level = 110 USD/kg' for a scenario's
    overrides of the base config (nested tables written as dotted keys, with units)."""
    table_ = (data.config.get("scenarios") or {}).get(scenario) or {}
    items = [f"{k} = {_value(v)}{_unit(k, data.price_unit)}"
             for k, v in flatten(table_).items()]
    return escape("; ".join(items)) if items else "the base configuration as written"


def _floor_level(data: ReportData, scenario: str) -> str:
    """A floor whose level follows a rule (a cost percentile, an index) stated in price units:
    the mean over the steps it was in force and over runs (nothing for a fixed level, which the
    settings state)."""
    config = data.config
    policy = dict(flatten({"policy": config.get("policy") or {}}))
    policy.update(flatten((config.get("scenarios") or {}).get(scenario) or {}))
    rule = policy.get("policy.floor.rule")
    if policy.get("policy.floor.mechanism") is None or rule in (None, "fixed"):
        return ""
    floor = data.bands.filter((pl.col("scenario") == scenario) & (pl.col("column") == "floor"))
    level = floor["mean"].drop_nulls().drop_nans().mean() if floor.height else None
    if level is None:
        return ""
    what = (f"the {fmt(policy.get('policy.floor.percentile'), '-')}th percentile of capacity "
            "costs" if rule == "cost_percentile" else f"an {rule} level")
    shown = num(fmt(level, "price", data.price_unit), scenario, "floor", "mean", level)
    return (f". The floor ({escape(what)}) averaged {shown} over the steps it was in force, "
            "over all runs.")


def _value(v: object) -> str:
    if isinstance(v, list):
        return ", ".join(_value(x) for x in v) if v else "none"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f"{v:,.6g}"
    return str(v)


def _unit(key: str, price_unit: str) -> str:
    unit = sweep_figures.parameter_unit(key, price_unit)
    return f" {unit}" if unit and unit not in ("-", "%") else ("%" if unit == "%" else "")


def _n_text(data: ReportData) -> str:
    ok, failed = data.ok.height, data.runs.height - data.ok.height
    reps = data.runs["replication"].n_unique()
    points = data.n_points
    sweep = f" × {points} sweep points" if points > 1 else ""
    fail = f", {failed} failed (listed on the configuration page)" if failed else ""
    return (f"{_plural(len(data.scenarios), 'scenario')}{sweep} × "
            f"{_plural(reps, 'replication')}: {_plural(ok, 'run')} finished{fail}.")


def _sample_text(data: ReportData) -> str:
    """Under `--series bands`, a scenario of more runs than the manifest's `band_runs` has its
    fan charts drawn from that many of its runs (abm.engine.worker.in_band_sample)."""
    kept = data.manifest.get("band_runs")
    if not kept or data.runs.height == 0:
        return ""
    most = int(data.runs.group_by("scenario").len()["len"].max())
    if most <= kept:
        return ""
    return (f" The fan charts of a scenario are drawn from {kept:,} of its {most:,} runs, spread "
            "evenly over them (the same replications in every scenario); the tables use all "
            "runs.")


def _step_text(data: ReportData) -> str:
    """What one step is: 'one month' with monthly steps."""
    names = {12: "one month", 4: "one quarter", 52: "one week", 1: "one year"}
    return names.get(data.steps_per_year, f"1/{data.steps_per_year} of a year")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


# --------------------------------------------------------------------------------------------------
# index.html
# --------------------------------------------------------------------------------------------------


def index_page(data: ReportData, pages: list[str], footer: str) -> Page:
    page = Page("index.html", data.title, data.question, pages, footer)
    cmap = scenario_colours(data.scenarios, data.baseline)
    pooled = (f" Effects are averaged over the {data.n_points} points of the parameter sweep "
              "(see the sweep page for how they vary)." if data.n_points > 1 else "")
    page.section("What was run", (
        f"<p>{escape(_n_text(data))} Each scenario is compared with "
        f"<b>{escape(data.baseline)}</b> run by run: replication <i>k</i> of every scenario sees "
        "the same random demand shocks and outages, so a difference between two runs is the "
        f"policy's doing, not luck.{pooled}</p>"
        "<p class=\"note\">95% CI: if the experiment were repeated with fresh random shocks, "
        "intervals built this way would contain the true average effect 95 times in 100. "
        "An effect whose interval includes zero is reported as “no clear change”. "
        "Fan charts show the middle of all runs: the dark line is the median run, the darker "
        f"band the middle half of runs, the light band 90% of runs.{_sample_text(data)}</p>"),
        "overview")

    if data.ok.height == 0:
        page.section("No results", '<p class="headline">No run finished, so there is nothing to '
                     'report. The errors are listed on the <a href="config.html">configuration '
                     "page</a>.</p>", "headlines")
        return page
    boxes = []
    for scenario in data.scenarios:
        style = f' style="border-left-color:{cmap[scenario]}"'
        outcomes = data.headline_outcomes
        if scenario == data.baseline:
            body = headlines.levels_sentence(data.summary, scenario, data.price_unit, outcomes)
            boxes.append(f'<div class="scenario-box"{style}><p class="headline">{body}</p>'
                         f'<p class="overrides">Baseline: {_overrides(data, scenario)}</p></div>')
            continue
        if data.paired is None:
            continue
        effects = headlines.effects_for(data.paired, scenario, data.price_unit, outcomes)
        if not effects:
            continue
        n_pairs = next(iter(effects.values())).row.get("n_pairs")
        items = "".join(f"<li>{x}</li>" for x in headlines.effect_items(effects))
        boxes.append(
            f'<div class="scenario-box"{style}><p class="headline">'
            f"{headlines.headline(scenario, effects, data.years, outcomes)}</p><ul>{items}</ul>"
            f'<p class="overrides">Compared with {escape(data.baseline)} over {n_pairs} paired '
            f"runs. Scenario settings: {_overrides(data, scenario)}{_floor_level(data, scenario)}"
            "</p></div>")
    page.section("What each policy does", "".join(boxes), "headlines")

    charts = [
        ("How sure are we", figures.effects(data), "effects",
         "Each diamond is the average change from the baseline; the bar is its 95% CI. Prices, "
         "tonnes and money change in % of the baseline (left); shares and volatilities, "
         "percentages already, in percentage points (right). Metrics that are zero in the "
         "baseline (a % change of zero is undefined) are left out here and shown in the table "
         "below."),
        ("Price", figures.price_fans(data), "price",
         "One panel per scenario. Dashed line: the price floor in force (where there is one)."),
        ("Prices by market", figures.region_prices(data), "region-prices",
         "The world price and the price in each region that is a market of its own "
         "(separate_market), apart from it by at most the shipping cost while they trade."),
        ("Capacity", figures.capacity(data), "capacity",
         "Operating refining capacity. New mines are counted in the run metrics, not here."),
        ("Recycled supply", figures.optional_fans(data, "recycled"), "recycled",
         f"Product from recyclers in each step ({_step_text(data)}), part of the production "
         "that meets demand. One panel per scenario; the table below gives each scenario's "
         "recycled share of supply in the last year."),
        ("Government stock and fiscal cost", figures.stock_and_fiscal(data), "fiscal",
         "Fiscal cost is the government's net outlay (purchases, top-ups and holding costs, less "
         "sales, upside receipts and duties), added up from the start of the run."),
        ("Buyers' inventories", figures.optional_fans(data, "buyer_stock"), "inventories",
         "Product held by buyers as safety stock (buyers with an inventory cover, in days of "
         "their use) at the end of each step: private stocks, to compare with the government "
         "stock above. Buyers draw on them while an export control is in force "
         "and rebuild them after. One panel per scenario."),
        ("Private stockholders", figures.optional_fans(data, "private_stock"), "stockholders",
         "Product held by private stockholders ([storage]) at the end of each step: stocks "
         "carried because the price they expect covers the storage cost, decay and interest. "
         "One panel per scenario."),
        ("Spread of outcomes across runs", figures.distributions(data), "distributions",
         "Each box summarises one outcome over all runs of a scenario."),
    ]
    for heading, fig, anchor, note in charts:
        if fig is not None:
            page.section(heading, f'<p class="note">{note}</p>' + page.figure(fig), anchor)
    page.section("All outcomes", metrics_table(data), "table")
    return page


def metrics_table(data: ReportData) -> str:
    """Every metric: mean and 5-95% range per scenario, change from the baseline with 95% CI."""
    s = {(r["scenario"], r["metric"]): r for r in data.summary.to_dicts()}
    p = {(r["scenario"], r["metric"]): r for r in data.paired.to_dicts()} \
        if data.paired is not None else {}
    others = [x for x in data.scenarios if x != data.baseline]
    header = ["Outcome"] + [f"{escape(x)}<br><small>mean (5–95% of runs)</small>"
                            for x in data.scenarios]
    header += [f"{escape(x)} − {escape(data.baseline)}<br><small>change (95% CI)</small>"
               for x in others]
    rows = []
    for m in data.metrics:
        q = METRICS[m]
        row = [f'<span title="{escape(q.description)}">{escape(q.label)}</span>']
        for x in data.scenarios:
            r = s.get((x, m))
            if r is None or r.get("mean") is None:
                row.append("n/a")
                continue
            mean = num(fmt(r["mean"], q.unit, data.price_unit), x, m, "mean", r["mean"])
            spread = fmt_range(r["p05"], r["p95"], q.unit, data.price_unit)
            row.append(f"{mean}<br><small>{escape(spread)}</small>")
        for x in others:
            r = p.get((x, m))
            row.append(_change_cell(r, x, m, data.price_unit) if r else "n/a")
        rows.append(row)
    return table(header, rows) + (
        '<p class="note">Hover over an outcome for its definition. Changes are paired '
        "differences of run outcomes (scenario minus baseline, same replication); % in brackets "
        "is the change relative to the baseline mean.</p>")


def _change_cell(r: dict, scenario: str, metric: str, price_unit: str) -> str:
    unit = METRICS[metric].unit
    d = r.get("diff_mean")
    if d is None:
        return "n/a"
    text = fmt_diff(d, unit, price_unit)
    ci_text = fmt_diff_range(r["diff_ci_low"], r["diff_ci_high"], unit, price_unit)
    rel = r.get("rel_diff")
    # a relative change of a percentage would read as points: shares show the points alone
    rel_text = (f" ({num(fmt_pct(rel, signed=True), scenario, metric, 'rel_diff', rel)})"
                if rel is not None and rel == rel and unit not in POINTS_UNITS else "")
    return (f"{num(text, scenario, metric, 'diff_mean', d)}{rel_text}<br><small>"
            f"{ci(ci_text, scenario, metric, 'diff_ci', r['diff_ci_low'], r['diff_ci_high'])}"
            "</small>")


# --------------------------------------------------------------------------------------------------
# sweep.html
# --------------------------------------------------------------------------------------------------


def sweep_page(data: ReportData, pages: list[str], footer: str) -> Page:
    page = Page("sweep.html", f"{data.title}: sweep and sensitivity", data.question, pages, footer)
    params = data.sweep_parameters
    ranges = []
    for prm in params:
        col = data.runs[prm]
        ranges.append([escape(prm), escape(sweep_figures.parameter_unit(prm, data.price_unit)),
                       f"{col.min():,.4g}", f"{col.max():,.4g}", str(col.n_unique())])
    page.section("The sweep", (
        f"<p>Design: <b>{escape(data.design_kind)}</b>, {data.n_points} points, crossed with "
        f"every scenario. Each point is run {data.runs['replication'].n_unique()} times.</p>"
        + table(["Parameter", "Unit", "Lowest", "Highest", "Values"], ranges,
                ["text", "text", "", "", ""])), "design")
    discovery.sweep_section(page, data)
    none = ('<p class="note">No run of the swept scenarios finished, so there is nothing to '
            'show here (the errors are on the <a href="config.html">configuration page</a>).</p>')
    for prm in params:
        fig = sweep_figures.response(data, prm)
        page.section(f"Response to {prm}", (
            '<p class="note">Runs are grouped by the value of this parameter (other parameters '
            "vary across their ranges within each group). Line: median run; band: middle half "
            "of runs.</p>" + page.figure(fig)) if fig is not None else none)
    for pi, pj in sweep_figures.pairs(params):
        fig = sweep_figures.heatmap(data, pi, pj)
        page.section(f"{pi} and {pj} together", (
            '<p class="note">Colour: the median run in each cell. Use the menu to choose the '
            "outcome. Empty cells had no runs.</p>" + page.figure(fig)) if fig is not None
            else none)
    fig = sweep_figures.sobol(data)
    if fig is not None:
        page.section("Which parameters matter (Sobol indices)", (
            '<p class="note">First-order index S1: share of an outcome\'s variance explained by '
            "the parameter alone. Total-order index ST: including its interactions with the "
            "others. Bars show the 95% CI. Indices near zero mean the parameter hardly matters "
            "over the range swept.</p>" + page.figure(fig) + sobol_table(data)), "sobol")
    elif data.design_kind == "sobol":
        page.section("Which parameters matter (Sobol indices)",
                     '<p class="note">No Sobol indices were found in summary/sobol.parquet.</p>')
    else:
        page.section("Which parameters matter (Sobol indices)", (
            f'<p class="note">Sobol indices need a Sobol design (<code>[sweep] design = '
            f'"sobol"</code>); this experiment used <code>{escape(data.design_kind)}</code>.</p>'))
    return page


def sobol_table(data: ReportData) -> str:
    s = data.sobol
    rows = []
    for r in s.to_dicts():
        if r["metric"] not in METRICS:
            continue
        who = [escape(str(r["scenario"]))] if "scenario" in s.columns else []
        rows.append(who + [escape(METRICS[r["metric"]].label), escape(str(r["parameter"])),
                           _idx(r["S1"], r["S1_conf"]), _idx(r["ST"], r["ST_conf"])])
    head = (["Scenario"] if "scenario" in s.columns else []) + [
        "Outcome", "Parameter", "S1 (95% CI)", "ST (95% CI)"]
    return table(head, rows, ["text"] * (len(head) - 2) + ["", ""])


def _idx(v: float | None, conf: float | None) -> str:
    if v is None or v != v:
        return "n/a"
    if conf is None or conf != conf:
        return f"{v:.2f}"
    return f"{v:.2f} ({v - conf:.2f} to {v + conf:.2f})"


# --------------------------------------------------------------------------------------------------
# runs.html
# --------------------------------------------------------------------------------------------------



def runs_page(data: ReportData, pages: list[str], footer: str) -> Page:
    page = Page("runs.html", f"{data.title}: individual runs", data.question, pages, footer)
    picks = pick_runs(data)
    paths = run_paths(data.out, picks, [c for c, _ in figures.PATH_PANELS] + ["floor"])
    page.section("What one run looks like", (
        "<p>The other pages summarise many runs. Here are a few single runs, to show how a "
        "price path actually moves month to month. Each chart shows one replication in every "
        "scenario: the same random shocks, different policies.</p>"))
    if paths.height == 0:
        page.section("No series", '<p class="note">This results folder has no per-step series.'
                     "</p>")
        return page
    where = _point_text(data, picks)
    for rep in picks["replication"].unique(maintain_order=True).to_list():
        fig = figures.run_paths(data, paths.filter(pl.col("replication") == rep), rep)
        page.section(f"Replication {rep}", where + page.figure(fig))
    return page


def _point_text(data: ReportData, picks: pl.DataFrame) -> str:
    """Which sweep point the runs shown come from (nothing without a sweep)."""
    params = data.sweep_parameters
    if not params or picks.height == 0:
        return ""
    row = data.runs.filter(pl.col("run_id") == picks["run_id"][0]).select(params).to_dicts()[0]
    values = ", ".join(f"{k} = {v:.4g}" for k, v in row.items() if v is not None)
    return f'<p class="note">Sweep point {int(picks["point"][0])}: {escape(values)}.</p>'


def pick_runs(data: ReportData) -> pl.DataFrame:
    """The first few replications that finished in every scenario (first sweep point)."""
    ok = data.ok
    if ok.height == 0:
        return ok.select("run_id", "scenario", "point", "replication")
    point = ok["point"].min()
    first = ok.filter(pl.col("point") == point)
    complete = (first.group_by("replication").agg(pl.col("scenario").n_unique().alias("n"))
                .filter(pl.col("n") == first["scenario"].n_unique())["replication"].sort()
                .head(RUNS_SHOWN))
    return first.filter(pl.col("replication").is_in(complete.implode())).select(
        "run_id", "scenario", "point", "replication").sort("replication", "scenario")


# --------------------------------------------------------------------------------------------------
# config.html
# --------------------------------------------------------------------------------------------------


def config_page(data: ReportData, pages: list[str], footer: str, toml_name: str) -> Page:
    page = Page("config.html", f"{data.title}: configuration and provenance", data.question,
                pages, footer)
    m = data.manifest
    counts = m.get("counts") or {}
    failed = data.runs.filter(pl.col("status") != "ok")
    prov = [
        ("Experiment", m.get("experiment") or data.name),
        ("Title", data.title),
        ("Question", data.question or "—"),
        ("Package version", m.get("version")),
        ("Git commit", m.get("git_commit") or "unknown"),
        ("Root seed", m.get("root_seed")),
        ("Config hash", m.get("config_hash")),
        ("Baseline scenario", data.baseline),
        ("Scenarios", ", ".join(data.scenarios)),
        ("Design", data.design_kind + (f" over {', '.join(data.sweep_parameters)}"
                                       if data.sweep_parameters else "")),
        ("Started", m.get("created")),
        ("Finished", m.get("finished") or m.get("updated")),
        ("Status", m.get("status")),
        ("Runs planned", counts.get("planned")),
        ("Runs computed in the last invocation", counts.get("computed")),
        ("Runs reused from earlier invocations", counts.get("reused")),
        ("Runs failed", counts.get("failed", failed.height)),
        ("Runs in the results folder", f"{data.runs.height} ({data.ok.height} finished, "
                                       f"{failed.height} failed)"),
    ]
    page.section("Provenance", table(None, [[escape(k), escape("—" if v is None else str(v))]
                                                for k, v in prov], ["text", "text"]), "provenance")
    folder = str(data.out)
    rerun = (f"abm run {shlex.quote(str(data.out / 'report' / toml_name))} "
             f"--out {shlex.quote(folder + '-rerun')}")
    page.section("How to rerun", (
        f"<p>The resolved configuration below is saved beside this page as "
        f'<a href="{toml_name}"><code>{toml_name}</code></a>. To run it again:</p>'
        f"<pre>{escape(rerun)}</pre>"
        "<p>Runs use seeds derived from the root seed and the replication number, so the rerun "
        "reproduces these results with the same package version (and git commit). Running into "
        f"the same folder instead (<code>--out {escape(shlex.quote(folder))}</code>) reuses every "
        "finished run. To rebuild these pages from the stored results:</p>"
        f"<pre>{escape('abm report ' + shlex.quote(folder))}</pre>"), "rerun")
    if failed.height:
        rows = [[escape(str(r["run_id"])), escape(str(r.get("error") or ""))]
                for r in failed.head(50).to_dicts()]
        more = (f'<p class="note">… and {failed.height - 50} more.</p>'
                if failed.height > 50 else "")
        page.section("Failed runs", table(["Run", "Error"], rows, ["text", "text"]) + more
                     + '<p class="note">Tracebacks are in the <code>traceback</code> column of '
                     "runs/*.parquet.</p>",
                     "failures")
    assumptions_section(page, m.get("notes"))
    page.section("Resolved configuration", (
        '<p class="note">Every parameter with its default filled in, as the runs used it. '
        "Scenarios override the keys listed under <code>[scenarios.NAME]</code>.</p>"
        f"<pre>{escape(config_toml(data))}</pre>"), "config")
    return page


def assumptions_section(page: Page, notes: list[dict] | None) -> None:
    """Every value the experiment's files label ASSUMPTION, then every note citing a source,
    each with its file and line, the key it labels and the value as written."""
    if notes is None:
        page.section("Assumptions and sources", '<p class="note">This results folder was '
                     "written before abm recorded the experiment files' comments; the files "
                     "themselves label assumptions and cite sources.</p>", "assumptions")
        return

    def rows(items: list[dict]) -> list[list[str]]:
        return [[escape(f"{n['file']}:{n['line']}"), escape(n["key"]) + (
                 f"<br><small>{escape(n['where'])}</small>" if "(" in n.get("where", "") else ""),
                 escape(n["value"] if n["value"] is not None else "(table)"),
                 escape(n["text"])] for n in items]

    head = ["Where", "Setting", "Value as written", "Note"]
    cls = ["text", "text", "text", "text"]
    labelled = [n for n in notes if n.get("assumption")]
    cited = [n for n in notes if not n.get("assumption")]
    page.section("Assumptions and sources", (
        f"<p>{len(labelled)} settings or tables are labelled <b>ASSUMPTION</b> in the "
        f"experiment's files (modelling choices without a source), and {len(cited)} notes give "
        "the source of a value. The full references, with their addresses, are in "
        "<code>docs/sources.md</code> of the abm repository (recycling: "
        "<code>docs/recycling_sources.md</code>). A base file's note on a setting the experiment "
        "sets again is not listed.</p>"
        f"<h3>Labelled ASSUMPTION ({len(labelled)})</h3>"
        + (table(head, rows(labelled), cls) if labelled else '<p class="note">None.</p>')
        + f"<h3>Sources cited ({len(cited)})</h3>"
        + (table(head, rows(cited), cls) if cited else '<p class="note">None.</p>')),
        "assumptions")


def config_toml(data: ReportData) -> str:
    """The resolved config as TOML that reruns on its own (no `extends`, no CSV files: their
    tables and rows are in it), to the same config hash."""
    from abm.experiment import standalone

    return tomlout.dumps(standalone(data.config))
