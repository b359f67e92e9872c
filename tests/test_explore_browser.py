"""report/explore.html in headless chromium: sliders drive the selection, and what the page
shows equals an independent computation from runs/*.parquet (see tests/test_report_browser.py
for the browser set-up: Debian's chromium, skipped when missing unless CI is set)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from report_fixtures import make_results
from test_report_browser import browser  # noqa: F401  (the module's chromium fixture)

from abm import summary
from abm.report import build_report

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> tuple[Path, float]:
    """Two scenarios x 8 LHS points x 10 replications; a [discovery] criterion at the median
    fiscal cost of cfd_110, so about half its runs meet it."""
    out = make_results(tmp_path_factory.mktemp("explore") / "results",
                       scenarios=("baseline", "cfd_110"), replications=10, steps=24,
                       sweep="lhs", samples=8, failed=0, summaries=False)
    runs = summary.load_runs(out).filter(pl.col("scenario") == "cfd_110")
    threshold = float(runs["fiscal_cost"].median())
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["config"]["discovery"] = {"criterion": [f"fiscal_cost > {threshold!r}"]}
    (out / "manifest.json").write_text(json.dumps(manifest))
    build_report(out)
    return out, threshold


def expected(out: Path, scenario: str, low: float, threshold: float) -> dict:
    runs = summary.load_runs(out).filter((pl.col("status") == "ok")
                                         & (pl.col("scenario") == scenario))
    sel = runs.filter(pl.col("market.demand.elasticity") >= low)
    cap = sel["capacity_added_market"].to_numpy()
    return {"count": sel.height, "total": runs.height,
            "share": float((sel["fiscal_cost"] > threshold).mean()),
            "mean": float(cap.mean()), "p05": float(np.quantile(cap, 0.05)),
            "p50": float(np.median(cap)), "p95": float(np.quantile(cap, 0.95))}


def shown(page) -> dict:
    def value(selector: str) -> float:
        return float(page.get_attribute(selector, "data-value"))

    cell = '#explore-stats td[data-metric="capacity_added_market"][data-field="{}"]'
    return {"count": value("#explore-count"),
            "share": value("#explore-criteria li"),
            **{f: value(cell.format(f)) for f in ("mean", "p05", "p50", "p95")},
            "chart": page.evaluate("document.getElementById('explore-chart').data[1].x.length")}


def test_sliders_change_the_selection_and_match_python(browser, results):  # noqa: F811
    out, threshold = results
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    errors, requests = [], []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    page.goto((out / "report" / "explore.html").as_uri())
    page.wait_for_function("document.querySelectorAll('.js-plotly-plot').length >= 1",
                           timeout=30_000)
    page.select_option("#explore-scenario", label="cfd_110")
    before = shown(page)
    full = expected(out, "cfd_110", -np.inf, threshold)
    assert before["count"] == before["chart"] == full["count"] == full["total"]

    page.focus("#lo-0")                         # the keyboard moves the lowest elasticity
    for _ in range(40):
        page.keyboard.press("ArrowRight")
    assert page.input_value("#lo-0") == "40"
    after = shown(page)
    low = float(np.linspace(-0.8, -0.2, 101)[40])
    want = expected(out, "cfd_110", low, threshold)
    assert 0 < want["count"] < full["count"]
    assert after["count"] == after["chart"] == want["count"] != before["count"]
    assert after["share"] == pytest.approx(want["share"], abs=1e-12)
    for f in ("mean", "p05", "p50", "p95"):     # outcomes are embedded to 6 digits
        assert after[f] == pytest.approx(want[f], rel=1e-5, abs=1e-6), f
    assert "fiscal cost is above" in page.text_content("#explore-criteria li").lower()
    assert "to -0.2" in page.text_content("#range-0")

    page.focus("#hi-0")                         # the highest below the lowest: both move
    page.keyboard.press("Home")
    assert page.input_value("#lo-0") == page.input_value("#hi-0") == "0"
    assert not errors, errors
    allowed = {(out / "report" / n).as_uri() for n in ("explore.html", "plotly.min.js")}
    assert set(requests) <= allowed, set(requests) - allowed
    page.close()


def test_sweep_page_discovery_section_and_click(browser, results):  # noqa: F811
    """The sweep page's PRIM section: the sentence's numbers are those of `abm discover`, and a
    click on a point of the trade-off chart shows that step's box."""
    from abm.report.discovery import discover

    out, _ = results
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.goto((out / "report" / "sweep.html").as_uri())
    page.wait_for_function("document.querySelectorAll('.js-plotly-plot').length >= "
                           "Number(document.body.dataset.plots)", timeout=30_000)
    found = {f.scenario: f for f in discover(out)}
    for el in page.query_selector_all(".discovery-sentence"):
        f = found[el.get_attribute("data-scenario")]
        assert float(el.get_attribute("data-coverage")) == pytest.approx(f.coverage, abs=1e-5)
        assert float(el.get_attribute("data-density")) == pytest.approx(f.density, abs=1e-5)
    assert page.query_selector_all(".discovery-sentence")
    ident = page.get_attribute("script[id^=disc][id$=-data]", "id")[:-5]
    plot = page.evaluate(f"document.getElementById('{ident}-pick').previousElementSibling"
                         ".previousElementSibling.querySelector('.js-plotly-plot').id")
    page.evaluate(f"document.getElementById('{plot}').emit('plotly_click', "
                  "{points: [{pointIndex: 1}]})")
    assert page.text_content(f"#{ident}-pick").startswith("Step 1: coverage")
    assert not errors, errors
    page.close()
