"""The result pages in a real headless browser: Debian's chromium driven by Playwright.

Checks what a reader would notice: errors in the console, a plot that is not drawn, a request to
any host (the pages must work offline), a title that runs as script, and headline numbers that
differ from the parquet files.

Skipped with a reason when /usr/bin/chromium is missing, except under CI (environment variable CI
set), where that is a failure. Never run `playwright install`: chromium comes from apt.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from report_fixtures import XSS_TITLE, make_results
from scipy import stats

from abm import summary
from abm.report import build_report
from abm.report.format import fmt_pct, sig

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
PAGES = ("index.html", "sweep.html", "runs.html", "config.html")


@pytest.fixture(scope="module")
def browser():
    """One headless chromium for the whole module (starting it is the slow part)."""
    if not CHROMIUM.exists():
        message = "/usr/bin/chromium is missing (apt-get install -y chromium)"
        if os.environ.get("CI"):
            pytest.fail(f"CI is set and {message}")
        pytest.skip(f"browser tests skipped: {message}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    """Three scenarios x 6 LHS points x 15 replications, two failed runs, an XSS title."""
    out = make_results(tmp_path_factory.mktemp("browser") / "results", replications=15,
                       sweep="lhs", samples=6)
    build_report(out)
    return out


class Visit:
    """A page opened in the browser with everything it logged, requested and popped up."""

    def __init__(self, browser, path: Path):
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.page = browser.new_page(viewport={"width": 1300, "height": 900})
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("dialog", self._dialog)
        self.page.goto(path.as_uri())
        # every plot div gets the class js-plotly-plot once plotly has drawn it
        self.page.wait_for_function(
            "document.querySelectorAll('.js-plotly-plot').length >= "
            "Number(document.body.dataset.plots)", timeout=30_000)

    def _dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def close(self) -> None:
        self.page.close()


@pytest.fixture(scope="module")
def pages(browser, results) -> dict[str, Visit]:
    """Each page opened once for the module (loading plotly.js is most of a test's time)."""
    opened = {name: Visit(browser, results / "report" / name) for name in PAGES}
    yield opened
    for v in opened.values():
        v.close()


@pytest.mark.parametrize("name", PAGES)
def test_page_draws_every_plot_offline_without_errors(results, pages, name):
    folder = results / "report"
    v = pages[name]
    assert v.errors == []
    # only the page itself and the plotly.js shipped beside it, both file:// in the report folder
    allowed = {(folder / name).as_uri(), (folder / "plotly.min.js").as_uri()}
    assert set(v.requests) <= allowed, set(v.requests) - allowed
    expected = v.page.evaluate("Number(document.body.dataset.plots)")
    divs = v.page.locator(".plotly-graph-div").count()
    drawn = v.page.evaluate(
        "[...document.querySelectorAll('.js-plotly-plot')]"
        ".filter(d => d.querySelector('svg.main-svg')).length")
    assert divs == expected == drawn
    if name != "config.html":
        assert drawn >= 1


def test_sobol_sweep_page_draws_every_plot(browser, tmp_path_factory):
    """A Sobol design adds the indices chart and table to the sweep page."""
    out = make_results(tmp_path_factory.mktemp("sobol") / "results",
                       scenarios=("baseline", "cfd_110"), replications=2, sweep="sobol",
                       samples=4, steps=36)
    build_report(out)
    v = Visit(browser, out / "report" / "sweep.html")
    try:
        assert v.errors == []
        allowed = {(out / "report" / n).as_uri() for n in ("sweep.html", "plotly.min.js")}
        assert set(v.requests) <= allowed
        drawn = v.page.evaluate(
            "[...document.querySelectorAll('.js-plotly-plot')]"
            ".filter(d => d.querySelector('svg.main-svg')).length")
        assert drawn == v.page.evaluate("Number(document.body.dataset.plots)") == 4
        assert v.page.locator("#sobol table tbody tr").count() > 10
    finally:
        v.close()


def test_title_with_script_is_shown_as_text(pages):
    v = pages["index.html"]
    assert all(p.dialogs == [] for p in pages.values())
    assert v.page.locator("h1").inner_text() == XSS_TITLE
    assert v.page.title() == XSS_TITLE
    assert v.page.evaluate("[...document.scripts].some(s => s.text.includes('alert(1)'))") \
        is False


def expected_effects(out: Path) -> dict[tuple[str, str], dict[str, float]]:
    """Paired differences computed here from runs/*.parquet, independently of abm.summary:
    pairs matched on (point, replication), 95% t interval, relative to |baseline mean|."""
    runs = pl.scan_parquet(str(out / "runs" / "*.parquet")).filter(
        pl.col("status") == "ok").collect()
    base = runs.filter(pl.col("scenario") == "baseline")
    result = {}
    for scenario in ("cfd_110", "purchase_90"):
        pairs = runs.filter(pl.col("scenario") == scenario).join(
            base, on=["point", "replication"], suffix="_b")
        for metric in ("price_volatility", "price_mean", "capacity_added_market",
                       "import_reliance", "fiscal_cost", "consumer_spend"):
            a = pairs[metric].to_numpy()
            b = pairs[f"{metric}_b"].to_numpy()
            d = a - b
            half = stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))
            scale = abs(b.mean()) if b.mean() != 0 else np.nan
            result[(scenario, metric)] = {
                "diff_mean": d.mean(), "baseline_mean": b.mean(), "scenario_mean": a.mean(),
                "diff_ci": (d.mean() - half, d.mean() + half), "rel_diff": d.mean() / scale,
                "rel_ci": ((d.mean() - half) / scale, (d.mean() + half) / scale)}
    return result


def test_headline_numbers_equal_those_from_the_parquet_files(results, pages):
    v = pages["index.html"]
    shown = v.page.evaluate("""() => [...document.querySelectorAll(
        '#headlines [data-field]')].map(e => ({...e.dataset, text: e.textContent}))""")
    expected = expected_effects(results)
    checked = 0
    for item in shown:
        want = expected.get((item["scenario"], item["metric"]))
        if want is None or item["field"] not in want:
            continue
        if item["field"].endswith("_ci"):
            low, high = want[item["field"]]
            assert float(item["low"]) == pytest.approx(low, rel=1e-6, abs=1e-9), item
            assert float(item["high"]) == pytest.approx(high, rel=1e-6, abs=1e-9), item
        else:
            value = float(item["value"])
            assert value == pytest.approx(want[item["field"]], rel=1e-6, abs=1e-9), item
            if item["field"] == "rel_diff":  # the words show the rounded magnitude
                assert fmt_pct(abs(value)) in item["text"].replace("+", "").replace(
                    "\u2212", ""), item
        checked += 1
    # both scenarios, six effects, value + CI + two means each (some fields repeat in the
    # one-sentence headline)
    assert checked >= 2 * 6 * 4
    fields = {(i["scenario"], i["metric"]) for i in shown}
    # (the fiscal cost headlined is the net one: outlay less the stocks held at the end)
    assert {("cfd_110", "price_volatility"), ("purchase_90", "fiscal_cost_net")} <= fields
    # the sentence names the baseline and the effect on price volatility with its interval
    headline = v.page.locator("#headlines .headline").nth(1).inner_text()
    assert headline.startswith("cfd_110 cut price volatility by ")
    assert "95% CI" in headline and "net fiscal cost (outlay less the stocks held at the end) " \
        "of $" in headline
    # volatility is a percentage: its change is written in percentage points
    want = expected[("cfd_110", "price_volatility")]["diff_mean"]
    assert sig(abs(want) * 100) + " percentage points" in headline


def test_summary_numbers_in_the_table(results, pages):
    """The table's means are the pooled means of the ok runs of each scenario."""
    v = pages["index.html"]
    cells = v.page.evaluate("""() => [...document.querySelectorAll(
        '#table [data-field="mean"]')].map(e => ({...e.dataset}))""")
    runs = summary.load_runs(results).filter(pl.col("status") == "ok")
    means = {(s, m): runs.filter(pl.col("scenario") == s)[m].mean()
             for s in ("baseline", "cfd_110", "purchase_90") for m in ("price_mean",
                                                                         "fiscal_cost")}
    found = 0
    for c in cells:
        if (c["scenario"], c["metric"]) in means:
            assert float(c["value"]) == pytest.approx(means[(c["scenario"], c["metric"])],
                                                      rel=1e-9, abs=1e-9)
            found += 1
    assert found == len(means)


@pytest.mark.parametrize("option, anchor, note", [
    ("recycling", "recycled", "no recycled supply"),
    ("inventories", "inventories", "no buyers' inventories")])
def test_optional_chart_is_drawn_only_with_its_series(browser, tmp_path_factory, pages, option,
                                                     anchor, note):
    """With recyclers (buyers' inventories): their fan chart is drawn, a panel per scenario,
    the baseline's marked as without, without errors. Without (the module's results): no such
    section on the page."""
    out = make_results(tmp_path_factory.mktemp(option) / "results",
                       scenarios=("baseline", "cfd_110"), replications=4, steps=36,
                       **{option: True})
    build_report(out)
    v = Visit(browser, out / "report" / "index.html")
    try:
        assert v.errors == []
        assert v.page.locator(f"#{anchor} svg.main-svg").count() >= 1
        # the baseline, which has none, is left out and named above the chart
        titles = v.page.locator(f"#{anchor} .annotation-text").all_text_contents()
        assert "cfd_110" in titles and "baseline" not in titles
        assert v.page.locator(f"#{anchor} .chart-note").inner_text() == \
            f"{note[0].upper()}{note[1:]} in: baseline (left out)."
        drawn = v.page.evaluate(
            "[...document.querySelectorAll('.js-plotly-plot')]"
            ".filter(d => d.querySelector('svg.main-svg')).length")
        assert drawn == v.page.evaluate("Number(document.body.dataset.plots)")
    finally:
        v.close()
    assert pages["index.html"].page.locator(f"#{anchor}").count() == 0


def median_spans(v: Visit, anchor: str) -> list[float]:
    """For each median line (the traces with a legend name) of the plot in section `anchor`:
    the share of its y axis's drawn range that the line's own range spans."""
    return v.page.evaluate("""(anchor) => {
        const gd = document.querySelector(`#${anchor} .js-plotly-plot`);
        const L = gd._fullLayout;
        return gd._fullData.filter(t => t.name && t.mode === 'lines' && t.customdata)
            .map(t => {
                const ax = L[(t.yaxis || 'y').replace('y', 'yaxis')];
                const ys = t.y.filter(y => y !== null && isFinite(y));
                return (Math.max(...ys) - Math.min(...ys)) / (ax.range[1] - ax.range[0]);
            });
    }""", anchor)


def test_extreme_tails_keep_the_medians_visible(browser, tmp_path_factory):
    """In 3 of 20 runs of each scenario the price is 300 times higher (an export control's
    spikes): the 95th percentile is then ~300x the median. The price axis is set from the
    middle halves, so every median line spans more than 10% of its axis, and a line above the
    chart says the axis is cut and how high the band goes."""
    out = make_results(tmp_path_factory.mktemp("tails") / "results",
                       scenarios=("baseline", "cfd_110"), replications=20, steps=48,
                       summaries=False, failed=0)
    for path in (out / "series").glob("*.parquet"):
        frame = pl.read_parquet(path)
        frame.with_columns(price=pl.when(pl.col("replication") < 3).then(pl.col("price") * 300)
                           .otherwise(pl.col("price"))).write_parquet(path)
    build_report(out)
    v = Visit(browser, out / "report" / "index.html")
    try:
        assert v.errors == []
        spans = median_spans(v, "price")
        assert len(spans) == 2 and min(spans) > 0.10, spans
        note = v.page.locator("#price .chart-note").inner_text()
        assert note.startswith("The axis is cut at ") and "times the top of the middle half" \
            in note
    finally:
        v.close()


SHIPPED = sorted((Path(__file__).resolve().parents[1] / "experiments").glob("*.toml"))
# what the first policy headline of an experiment that names its outcomes leads with
LEADS = {"recycling": "recycled share of supply", "stockpile_export_control":
         "price, 95th percentile"}


@pytest.fixture(scope="module")
def shipped(tmp_path_factory) -> dict[str, Path]:
    """Every shipped experiment run short (2 replications, 24 steps, as tests/test_experiments.py
    runs them) with its pages."""
    from abm.cli import main

    root = tmp_path_factory.mktemp("shipped")
    outs = {}
    for path in SHIPPED:
        out = root / path.stem
        assert main(["run", str(path), "--out", str(out), "--replications", "2", "--steps",
                     "24", "--workers", "1", "--quiet"]) == 0, path
        outs[path.stem] = out
    return outs


@pytest.mark.parametrize("stem", [p.stem for p in SHIPPED])
def test_every_page_of_every_shipped_experiment(browser, shipped, stem):
    """Each page of each shipped experiment: drawn offline without errors, every plot drawn;
    config.html lists every note the manifest recorded (assumptions and sources); experiments
    naming their headline outcomes lead with them."""
    out = shipped[stem]
    folder = out / "report"
    names = sorted(p.name for p in folder.glob("*.html"))
    assert {"index.html", "runs.html", "config.html"} <= set(names)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    for name in names:
        v = Visit(browser, folder / name)
        try:
            assert v.errors == [], (name, v.errors)
            allowed = {(folder / name).as_uri(), (folder / "plotly.min.js").as_uri()}
            assert set(v.requests) <= allowed, (name, set(v.requests) - allowed)
            expected = v.page.evaluate("Number(document.body.dataset.plots)")
            drawn = v.page.evaluate(
                "[...document.querySelectorAll('.js-plotly-plot')]"
                ".filter(d => d.querySelector('svg.main-svg')).length")
            assert drawn == expected, name
            if name == "config.html":
                notes = manifest["notes"]
                labelled = sum(n["assumption"] for n in notes)
                assert labelled > 0
                rows = v.page.locator("#assumptions tbody tr").count()
                assert rows == len(notes)
                assert f"Labelled ASSUMPTION ({labelled})" in v.page.locator(
                    "#assumptions").inner_text()
            if name == "index.html" and stem in LEADS:
                first = v.page.locator("#headlines .headline").nth(1).inner_text()
                assert first.split(" ", 1)[1].split(" (")[0].endswith(LEADS[stem]), first
        finally:
            v.close()
