"""The validation page: every claim with its source, what was expected, what the model produced,
pass or fail, and a small plotly chart.

plotly.js is embedded once in the page head, so the single file opens offline (no CDN). The page
is the shared shell (:mod:`abm.shell`); every piece of text from a claim is HTML-escaped.
"""

from __future__ import annotations

import datetime as dt
from html import escape

import plotly.io as pio
from plotly.offline import get_plotlyjs

from abm import __version__
from abm.shell import render_page
from abm.validation.base import ClaimResult, Plot

COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #222;
       background: #fafafa; line-height: 1.5; }
header { background: #1f2d3d; color: #fff; padding: 1rem 2rem; }
header h1 { margin: 0 0 0.3rem; font-size: 1.5rem; font-weight: 600; }
header p { margin: 0; color: #dfe7ef; }
main { max-width: 1150px; margin: 0 auto; padding: 1rem 2rem 3rem; }
section { background: #fff; border: 1px solid #e3e3e3; border-radius: 6px; padding: 1rem 1.4rem;
          margin: 1.2rem 0; }
h2 { font-size: 1.2rem; margin: 0.2rem 0 0.6rem; }
table { border-collapse: collapse; font-size: 0.92rem; margin: 0.4rem 0; }
th, td { border-bottom: 1px solid #e3e3e3; padding: 0.3rem 0.6rem; text-align: left;
         vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #f3f5f7; }
.verdict { display: inline-block; padding: 0.05rem 0.6rem; border-radius: 4px; color: #fff;
           font-weight: 600; font-size: 0.9rem; }
.pass { background: #2e7d32; } .fail { background: #c62828; }
.ok { color: #2e7d32; font-weight: 600; } .no { color: #c62828; font-weight: 600; }
.known { border-left: 4px solid #c62828; padding: 0.3rem 0.8rem; background: #fff5f5; }
.note { color: #555; font-size: 0.9rem; }
"""


def fmt(label: str, value: float) -> str:
    """A produced number for people: changes as signed percentages, shares as percentages."""
    if value != value:                                    # NaN
        return "–"
    low = label.lower()
    if ("change" in low or "surge" in low) and abs(value) < 100:
        return f"{value:+.1%}"
    if "share" in low and abs(value) <= 1.5:
        return f"{value:.1%}"
    if "/ floor" in low or "autocorrelation" in low or "skewness" in low:
        return f"{value:.3f}"
    if abs(value) >= 1e5 or float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.3g}"


def _template() -> dict:
    """plotly's white template as a plain dict (figures are built as dicts, unvalidated)."""
    return pio.templates["plotly_white"].to_plotly_json()


def figure(plot: Plot) -> dict:
    """The plot as a plotly.js figure dict."""
    data = []
    for i, (name, (x, y)) in enumerate(plot.lines.items()):
        colour = COLOURS[i % len(COLOURS)]
        if plot.kind == "bars":
            data.append({"type": "bar", "x": list(x), "y": list(y), "name": name,
                         "marker": {"color": colour}})
        else:
            mode = "lines+markers" if len(x) < 20 else "lines"    # few points: show them
            data.append({"type": "scatter", "mode": mode, "x": list(x), "y": list(y),
                         "name": name, "line": {"color": colour, "width": 2}})
    for j, (name, (x, y)) in enumerate(plot.lines2.items()):
        data.append({"type": "scatter", "mode": "lines", "x": list(x), "y": list(y), "name": name,
                     "yaxis": "y2", "line": {"color": "#999", "width": 1.5,
                                              "dash": "dot" if j == 0 else "dash"}})
    shapes, notes = [], []
    for name, level in plot.hlines.items():
        shapes.append({"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": level, "y1": level,
                       "line": {"color": "#555", "dash": "dash", "width": 1}})
        notes.append({"xref": "paper", "x": 1, "y": level, "text": name, "showarrow": False,
                      "xanchor": "right", "yanchor": "bottom", "font": {"size": 11}})
    for name, x in plot.vlines.items():
        shapes.append({"type": "line", "yref": "paper", "y0": 0, "y1": 1, "x0": x, "x1": x,
                       "line": {"color": "#555", "dash": "dot", "width": 1}})
        notes.append({"yref": "paper", "y": 1, "x": x, "text": name, "showarrow": False,
                      "xanchor": "left", "yanchor": "bottom", "font": {"size": 11}})
    layout = {"title": {"text": plot.title, "x": 0, "font": {"size": 14}}, "height": 380,
              "margin": {"t": 60, "b": 50, "l": 70, "r": 70}, "template": _template(),
              "xaxis": {"title": {"text": plot.x_label}},
              "yaxis": {"title": {"text": plot.y_label}}, "shapes": shapes, "annotations": notes,
              "legend": {"orientation": "h", "y": -0.2}}
    if plot.lines2:
        layout["yaxis2"] = {"title": {"text": plot.y2_label}, "overlaying": "y", "side": "right",
                            "showgrid": False, "rangemode": "tozero"}
    return {"data": data, "layout": layout}


def _plot_html(plot: Plot | None, key: str) -> str:
    if plot is None:
        return ""
    return pio.to_html(figure(plot), full_html=False, include_plotlyjs=False,
                       include_mathjax=False, div_id=f"plot-{key}", validate=False,
                       config={"displaylogo": False, "responsive": True})


def _verdict(result: ClaimResult) -> str:
    return ('<span class="verdict pass">PASS</span>' if result.passed
            else '<span class="verdict fail">FAIL</span>')


def claim_section(result: ClaimResult) -> str:
    produced = "".join(f'<tr><td>{escape(k)}</td><td class="num">{escape(fmt(k, v))}</td></tr>'
                       for k, v in result.produced.items())
    checks = "".join(
        f'<tr><td class="{"ok" if c.passed else "no"}">{"pass" if c.passed else "FAIL"}</td>'
        f"<td>{escape(c.text)}</td><td>{escape(c.detail)}</td></tr>" for c in result.checks)
    known = (f'<p class="known"><b>Why the model fails this claim:</b> '
             f"{escape(result.known_failure)}</p>" if result.known_failure and not result.passed
             else "")
    notes = "".join(f'<p class="note">{escape(n)}</p>' for n in result.notes)
    return (f'<section id="{escape(result.key)}"><h2>{escape(result.title)} {_verdict(result)}</h2>'
            f"<p><b>Source:</b> {escape(result.source)}</p>"
            f"<p><b>Expected:</b> {escape(result.expected)}</p>{known}"
            f"<table><thead><tr><th>Produced by the model</th><th>value</th></tr></thead>"
            f"<tbody>{produced}</tbody></table>"
            f"<table><thead><tr><th>verdict</th><th>check (with its tolerance)</th>"
            f"<th>numbers</th></tr></thead><tbody>{checks}</tbody></table>"
            f"{notes}{_plot_html(result.plot, result.key)}</section>")


def page(results: list[ClaimResult], seconds: float | None = None) -> str:
    """The whole validation page as one self-contained HTML document."""
    passed = sum(r.passed for r in results)
    rows = "".join(f'<tr><td><a href="#{escape(r.key)}">{escape(r.title)}</a></td>'
                   f"<td>{_verdict(r)}</td><td>{escape(r.source)}</td></tr>" for r in results)
    when = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    took = f" in {seconds:.0f} s" if seconds is not None else ""
    summary = (f"<section><h2>{passed} of {len(results)} claims pass</h2>"
               "<p>Each claim runs the model (seeded, small runs) on a scenario built for it and "
               "compares the outcome with economic theory or a historical episode. The same code "
               "runs in the test suite (tests/validation). The model is described in "
               "docs/ODD.md.</p>"
               f"<table><thead><tr><th>claim</th><th>verdict</th><th>source</th></tr></thead>"
               f"<tbody>{rows}</tbody></table></section>")
    body = summary + "".join(claim_section(r) for r in results)
    return render_page(
        title="Model validation", heading="How we know the model is right: validation claims",
        lead=f"abm {__version__}, run {when}{took}", css=CSS,
        head=f'<script type="text/javascript">{get_plotlyjs()}</script>', body=body,
        plots=sum(r.plot is not None for r in results))
