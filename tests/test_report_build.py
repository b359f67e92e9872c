"""Building the result pages (abm.report) from synthetic results folders, without a browser."""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from report_fixtures import XSS_TITLE, make_results

from abm import summary
from abm.errors import ConfigError
from abm.names import SERIES
from abm.report import build_report
from abm.report.data import pooled_bands

PAGES = ("index.html", "sweep.html", "runs.html", "config.html")
NUMBER = re.compile(r'data-scenario="([^"]*)" data-metric="(\w+)" data-field="(\w+)" '
                    r'data-value="([^"]+)"')


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """A results folder with three scenarios, a Latin-hypercube sweep and its pages."""
    out = make_results(tmp_path_factory.mktemp("report") / "results", replications=12,
                       sweep="lhs", samples=6)
    build_report(out)
    return out


def numbers(page: Path) -> dict[tuple[str, str, str], float]:
    """Every headline/table number of a page: (scenario, metric, field) -> value."""
    found = NUMBER.findall(page.read_text(encoding="utf-8"))
    return {(html.unescape(s), m, f): float(v) for s, m, f, v in found}


def test_no_manifest_is_a_config_error(tmp_path, capsys):
    with pytest.raises(ConfigError, match="manifest"):
        build_report(tmp_path)
    from abm.cli import main

    assert main(["report", str(tmp_path)]) == 2
    assert "manifest" in capsys.readouterr().err
    assert not (tmp_path / "report").exists()


def test_no_runs_is_a_config_error(tmp_path):
    out = make_results(tmp_path / "r", replications=2, summaries=False)
    shutil.rmtree(out / "runs")
    with pytest.raises(ConfigError, match="no runs"):
        build_report(out)


def test_pages_are_written_offline_and_escaped(built):
    folder = built / "report"
    assert (folder / "plotly.min.js").stat().st_size > 1_000_000
    for name in PAGES:
        text = (folder / name).read_text(encoding="utf-8")
        # nothing fetched from a host: the only script source is the plotly.js beside the page
        assert "http://" not in text and "https://" not in text and "<link" not in text
        assert re.findall(r'<script[^>]*\bsrc="([^"]*)"', text) in ([], ["plotly.min.js"])
        assert "mathjax" not in text.lower()
        # the user's title is text, never markup
        assert "<script>alert(1)</script>" not in text
        assert html.escape(XSS_TITLE) in text
    config = (folder / "config.html").read_text(encoding="utf-8")
    assert "RuntimeError: synthetic &lt;failure&gt; &amp; co" in config


def test_headline_numbers_come_from_the_paired_differences(built):
    """With a sweep the index pools the points: pairs matched on (point, replication)."""
    shown = numbers(built / "report" / "index.html")
    runs = summary.load_runs(built).filter(pl.col("status") == "ok")
    base = runs.filter(pl.col("scenario") == "baseline")
    for scenario in ("cfd_110", "purchase_90"):
        pairs = runs.filter(pl.col("scenario") == scenario).join(
            base, on=["point", "replication"], suffix="_b")
        for metric in ("price_volatility", "capacity_added_market", "fiscal_cost"):
            d = (pairs[metric] - pairs[f"{metric}_b"]).drop_nulls()
            assert shown[(scenario, metric, "diff_mean")] == pytest.approx(d.mean(), rel=1e-9)
        # a price's change is also shown relative to the baseline; a volatility's (a
        # percentage) only in percentage points
        assert (scenario, "price_volatility", "rel_diff") not in shown
        rel = shown[(scenario, "price_mean", "rel_diff")]
        v = pairs.drop_nulls(["price_mean", "price_mean_b"])
        expected = (v["price_mean"] - v["price_mean_b"]).mean() / abs(v["price_mean_b"].mean())
        assert rel == pytest.approx(expected, rel=1e-9)


def test_missing_summaries_are_computed_with_the_same_numbers(tmp_path):
    a = make_results(tmp_path / "a", replications=15, summaries=True)
    b = make_results(tmp_path / "b", replications=15, summaries=False, layout="parts")
    build_report(a)
    build_report(b)
    assert not (b / "summary").exists()  # the report reads, it does not write summaries
    na, nb = numbers(a / "report" / "index.html"), numbers(b / "report" / "index.html")
    assert na.keys() == nb.keys() and len(na) > 50
    for key, value in na.items():
        assert nb[key] == pytest.approx(value, rel=1e-9, abs=1e-9), key


def test_pooled_bands_agree_with_the_engine_bands(tmp_path):
    out = make_results(tmp_path / "r", replications=9, steps=36, summaries=False,
                       recycling=True, inventories=True)
    series = summary.load_series(out)
    cols = ["price", "floor", "government_stock", "recycled", "buyer_stock"]
    ours = pooled_bands(series, cols)
    theirs = summary.bands(series, cols).drop("point")
    joined = ours.join(theirs, on=["scenario", "step", "column"], suffix="_e")
    assert joined.height == ours.height == theirs.height
    for q in ("p05", "p25", "p50", "p75", "p95", "mean"):
        diff = (joined[q] - joined[f"{q}_e"]).abs().fill_null(0).max()
        assert diff < 1e-9, q


def section(page: Path, anchor: str) -> str | None:
    """The HTML of the index page's section `anchor`, or None when the page has none."""
    text = page.read_text(encoding="utf-8")
    start = text.find(f'<section id="{anchor}">')
    return None if start < 0 else text[start:text.index("</section>", start)]


def plot_json(html_: str) -> tuple[list[dict], dict]:
    """The traces and layout of the (first) plot in a piece of page: the JSON passed to
    Plotly.newPlot."""
    call = re.search(r'Plotly\.newPlot\(\s*"[^"]+",\s*', html_)
    decoder = json.JSONDecoder()
    traces, end = decoder.raw_decode(html_, call.end())
    layout, _ = decoder.raw_decode(html_, html_.index("{", end))
    return traces, layout


def check_optional_chart(out: Path, anchor: str, column: str, note: str,
                         marked: set[str]) -> dict[str, np.ndarray]:
    """The index page of `out` has a fan chart of the tonnes `column` in section `anchor`: a
    median line per scenario that has it, equal to the median of the series at each step; the
    scenarios `marked` (those without it) are left out and named in a line above the chart
    ("No recycled supply in: baseline (left out)."). Returns the medians in t."""
    chart = section(out / "report" / "index.html", anchor)
    assert chart is not None
    traces, layout = plot_json(chart)
    assert layout["title"]["text"] == (f"{SERIES[column].label}: median, middle half and "
                                       "5–95% of runs")
    unit = re.search(r"\(([^()]+)\)$", html.unescape(layout["yaxis"]["title"]["text"])).group(1)
    factor = {"t": 1.0, "kt": 1e3, "Mt": 1e6}[unit.split("/")[0]]  # "t/step" for recycled
    medians = {html.unescape(t["name"]): np.array(t["y"]) * factor for t in traces if "name" in t}
    series = summary.load_series(out).collect()
    scenarios = set(series["scenario"].unique())
    assert set(medians) == scenarios - marked
    for scenario in scenarios:
        expected = (series.filter(pl.col("scenario") == scenario).group_by("step")
                    .agg(pl.col(column).median()).sort("step")[column].to_numpy())
        if scenario in marked:
            assert expected.max() == 0, scenario
            continue
        assert medians[scenario] == pytest.approx(expected, rel=1e-3, abs=1e-9), scenario
    titles = {html.unescape(a["text"]) for a in layout["annotations"]}
    assert not titles & marked                      # no empty panel for them
    line = f"{note[0].upper()}{note[1:]} in: {', '.join(sorted(marked))} (left out)."
    assert line in html.unescape(chart)
    return medians


def check_no_optional_chart(out: Path, anchor: str, column: str) -> None:
    """The index page of `out` has no section `anchor` and no chart of `column` (but a price)."""
    index = (out / "report" / "index.html").read_text(encoding="utf-8")
    assert section(out / "report" / "index.html", anchor) is None
    assert f"{SERIES[column].label}: median" not in index
    assert section(out / "report" / "index.html", "price") is not None


def test_recycled_supply_chart_only_when_a_scenario_recycles(tmp_path):
    """With recyclers in one scenario the index page has a fan chart of recycled supply (the
    baseline's panel says it has none); without any, no chart and no empty section."""
    scen = ("baseline", "cfd_110")
    yes = make_results(tmp_path / "yes", scenarios=scen, replications=6, steps=48,
                       recycling=True)  # engine summaries: their bands cover `recycled`
    no = make_results(tmp_path / "no", scenarios=scen, replications=6, steps=48,
                      summaries=False)  # the report computes the (all-zero) bands itself
    assert "recycled" in pl.read_parquet(yes / "summary" / "bands.parquet")["column"].to_list()
    build_report(yes)
    build_report(no)

    medians = check_optional_chart(yes, "recycled", "recycled", "no recycled supply",
                                   {"baseline"})
    assert medians["cfd_110"].max() > 0
    # recycled_share is an outcome like any other: in the table, from the runs
    shown = numbers(yes / "report" / "index.html")
    runs = summary.load_runs(yes).filter(pl.col("status") == "ok")
    for s in scen:
        mean = runs.filter(pl.col("scenario") == s)["recycled_share"].mean()
        assert shown[(s, "recycled_share", "mean")] == pytest.approx(mean, rel=1e-9, abs=1e-12)
    assert shown[("cfd_110", "recycled_share", "mean")] > 0
    check_no_optional_chart(no, "recycled", "recycled")


def test_buyers_inventories_chart_only_when_buyers_hold_stock(tmp_path):
    """With buyers' inventories in some scenarios the index page has their fan chart, after the
    government stock (the baseline's panel says it has none), from the engine's bands or from
    the report's own; without any, no chart and no empty section."""
    scen = ("baseline", "cfd_110", "purchase_90")
    kw = {"scenarios": scen, "replications": 6, "steps": 48}
    yes = make_results(tmp_path / "yes", inventories=True, **kw)  # engine bands
    pooled = make_results(tmp_path / "pooled", inventories=True, summaries=False, **kw)
    no = make_results(tmp_path / "no", summaries=False, **kw)
    assert "buyer_stock" in pl.read_parquet(yes / "summary" / "bands.parquet")["column"].to_list()
    for out in (yes, pooled, no):
        build_report(out)

    for out in (yes, pooled):
        medians = check_optional_chart(out, "inventories", "buyer_stock",
                                       "no buyers' inventories", {"baseline"})
        assert medians["cfd_110"].min() > 0 and medians["purchase_90"].min() > 0
        index = (out / "report" / "index.html").read_text(encoding="utf-8")
        order = [index.index(f'<section id="{a}">') for a in ("fiscal", "inventories",
                                                             "distributions")]
        assert order == sorted(order)
    check_no_optional_chart(no, "inventories", "buyer_stock")


def test_rerun_config_reproduces_the_config_hash(built):
    from abm.experiment import load_experiment

    exp = load_experiment(built / "report" / "experiment.toml")
    manifest = json.loads((built / "manifest.json").read_text())
    assert exp.config_hash() == manifest["config_hash"]
    assert exp.scenario_names == manifest["scenarios"]


def test_one_scenario_and_rebuild(tmp_path, capsys):
    out = make_results(tmp_path / "r", scenarios=("baseline",), replications=5)
    (out / "report").mkdir()
    (out / "report" / "sweep.html").write_text("stale")
    from abm.cli import main

    assert main(["report", str(out)]) == 0
    assert "index.html" in capsys.readouterr().out
    assert not (out / "report" / "sweep.html").exists()
    text = (out / "report" / "index.html").read_text()
    assert "In <b class=\"scenario\">baseline</b> the average run had" in text


def report_size(out: Path) -> dict[str, int]:
    return {p.name: p.stat().st_size for p in (out / "report").iterdir()}


def test_size_does_not_grow_with_runs(tmp_path):
    """10,000 runs give the same pages as 100; the report stays under 10 MB (its build time,
    < 15 s, is measured by benchmarks/bench_report.py, not here: a wall-clock limit fails on a
    loaded machine)."""
    scen = ("baseline", "cfd_110")
    small = make_results(tmp_path / "small", scenarios=scen, replications=5, sweep="lhs",
                         samples=10, layout="parts", summaries=False)
    large = make_results(tmp_path / "large", scenarios=scen, replications=500, sweep="lhs",
                         samples=10, layout="parts", summaries=False)
    assert summary.load_runs(large).height == 10_000
    build_report(small)
    build_report(large)
    s, g = report_size(small), report_size(large)
    assert s.keys() == g.keys()
    for name in s:
        if name.endswith("explore.html"):   # the what-if page embeds every run (up to 20,000)
            assert g[name] < 4_000_000, (name, g[name])
            continue
        assert 0.8 < g[name] / s[name] < 1.25, (name, s[name], g[name])
    assert sum(g.values()) < 10_000_000


def test_all_runs_failed_still_gives_pages_with_the_errors(tmp_path):
    out = make_results(tmp_path / "r", replications=2, failed=6, summaries=False)
    build_report(out)
    assert "No run finished" in (out / "report" / "index.html").read_text()
    assert "synthetic &lt;failure&gt;" in (out / "report" / "config.html").read_text()


def test_scenario_settings_show_an_emptied_list_as_none():
    from abm.report.pages import _value

    assert _value([]) == "none"
    assert _value(["US", "EU"]) == "US, EU"


def test_sweep_page_when_no_run_of_the_swept_scenario_finished(tmp_path):
    """Only cfd_110 is swept (the baseline's runs have no parameter values) and every one of
    its runs failed: the pages are built, the sweep page says there is nothing to show."""
    out = make_results(tmp_path / "r", scenarios=("baseline", "cfd_110"), replications=3,
                       steps=24, sweep="grid", failed=0)
    params = ["market.demand.elasticity", "investment.hurdle_rate"]
    for path in (out / "runs").glob("*.parquet"):
        runs = pl.read_parquet(path)
        swept = pl.col("scenario") == "cfd_110"
        runs = runs.with_columns(
            status=pl.when(swept).then(pl.lit("failed")).otherwise(pl.col("status")),
            error=pl.when(swept).then(pl.lit("RuntimeError: synthetic")).otherwise(
                pl.col("error")),
            **{p: pl.when(swept).then(pl.col(p)).otherwise(None) for p in params})
        runs.write_parquet(path)
    shutil.rmtree(out / "summary")
    build_report(out)
    sweep = (out / "report" / "sweep.html").read_text(encoding="utf-8")
    assert sweep.count("No run of the swept scenarios finished") == len(params) + 1


def test_effects_chart_gives_changes_of_percentages_in_points(built):
    """Left panel: % changes of prices, tonnes and money; right panel (x2): shares and
    volatilities in percentage points, 100 x the paired difference (0.30 -> 0.22 is -8 pts)."""
    from abm.names import METRICS
    from abm.report.format import POINTS_UNITS

    traces, layout = plot_json(section(built / "report" / "index.html", "effects"))
    assert "percentage points" in layout["xaxis2"]["title"]["text"]
    assert layout["xaxis"]["title"]["text"].endswith("(%)")
    from abm.report.data import load

    paired = load(built).paired      # pooled over the sweep's points, as the page shows them
    for t in traces:
        right = t.get("xaxis") == "x2"
        labels = [c[2] for c in t["customdata"]]
        metrics = [next(m for m, q in METRICS.items() if q.label == lab) for lab in labels]
        assert all((METRICS[m].unit in POINTS_UNITS) == right for m in metrics), (t["name"],
                                                                                 labels)
        if right:
            scenario = html.unescape(t["name"])
            vol = metrics.index("price_volatility")
            d = paired.filter((pl.col("scenario") == scenario)
                              & (pl.col("metric") == "price_volatility"))["diff_mean"][0]
            assert t["x"][vol] == pytest.approx(100 * d, rel=1e-3)


def test_box_plots_with_extreme_whiskers_keep_their_boxes_readable(tmp_path):
    """price_p95 is 300 times higher in 3 of 20 runs per scenario: its panel's axis is set from
    the boxes (middle halves) and a line above the chart names it; other panels are untouched."""
    out = make_results(tmp_path / "r", scenarios=("baseline", "cfd_110"), replications=20,
                       steps=24, summaries=False, failed=0)
    for path in (out / "runs").glob("*.parquet"):
        runs = pl.read_parquet(path)
        runs.with_columns(price_p95=pl.when(pl.col("replication") < 3).then(
            pl.col("price_p95") * 300).otherwise(pl.col("price_p95"))).write_parquet(path)
    build_report(out)
    chart = section(out / "report" / "index.html", "distributions")
    traces, layout = plot_json(chart)
    titles = [html.unescape(a["text"]) for a in layout["annotations"]]
    panel = next(i for i, t in enumerate(titles, start=1) if t.startswith("Price, 95th"))
    axis = layout["yaxis" if panel == 1 else f"yaxis{panel}"]
    runs = summary.load_runs(out).filter(pl.col("status") == "ok")
    top = runs.group_by("scenario").agg(pl.col("price_p95").quantile(0.75, "linear"))[
        "price_p95"].max()
    assert axis["autorange"] is False and top < axis["range"][1] < 1.5 * top
    assert "the whiskers go higher in: Price, 95th percentile (up to" in html.unescape(chart)
    others = [layout.get(f"yaxis{i}" if i > 1 else "yaxis", {}) for i in
              range(1, len(titles) + 1) if i != panel]
    assert all("range" not in a for a in others)
