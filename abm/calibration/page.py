"""The plotly page of a cost-curve fit: data as capacity-width steps, fitted curves, residuals.

plotly.js is embedded in the page (``include_plotlyjs=True``): the pages must open offline. The
page is the shared shell (:mod:`abm.shell`); producer names from the CSV are escaped in hover text.
"""

from __future__ import annotations

import html

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from abm.calibration.cost_curve import CostCurveFit
from abm.shell import render_page

CSS = """body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}
"""

_COLOURS = {"lognormal": "#1f77b4", "gamma": "#d62728", "weibull": "#2ca02c", "pchip": "#9467bd"}
# pale bar colours that no fitted line uses
_BARS = ["#b8c7d9", "#f5c89a", "#cfcfcf", "#d9c2e0"]


def figure(fit: CostCurveFit, price_unit: str, groups: list[str] | None = None) -> go.Figure:
    """Two panels sharing the capacity axis: the cost curve and the residuals of each fit.

    ``groups``: a label per producer in merit order (e.g. market / non-market) to colour the bars.
    """
    mo = fit.data
    total = mo.total
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.68, 0.32],
                        vertical_spacing=0.06,
                        subplot_titles=("Cost curve", "Residuals at each producer's midpoint"))
    # names come from the user's CSV and plotly renders HTML tags in hover text: escape them
    # (plotly.js decodes the entities, so "A&B" still reads "A&B")
    names = [html.escape(str(n)) for n in fit.names] if fit.names else [
        f"producer {i + 1}" for i in range(len(mo.cost))]
    hover = [f"{n}<br>capacity {c:,.0f} t/yr<br>unit cost {u:,.4g} {price_unit}"
             f"<br>cumulative share {lo:.1%}–{hi:.1%}"
             for n, c, u, lo, hi in zip(names, mo.capacity, mo.cost, mo.lower, mo.upper,
                                        strict=True)]
    labels = groups or ["producers"] * len(mo.cost)
    for k, label in enumerate(dict.fromkeys(labels)):  # one legend entry per group
        keep = np.array([g == label for g in labels])
        fig.add_trace(go.Bar(
            x=(mo.mid * total)[keep], y=mo.cost[keep], width=(mo.capacity)[keep],
            name=f"data: {label}", hovertext=np.array(hover)[keep], hoverinfo="text",
            marker={"line": {"width": 0.5, "color": "white"}, "color": _BARS[k % len(_BARS)]},
        ), row=1, col=1)
    grid = np.linspace(0.0025, 0.9975, 400)
    best = fit.best.family
    for name, family in fit.families.items():
        dash = "solid" if name == best else "dash"
        label = f"{name}{' (best by AIC)' if name == best else ''}"
        fig.add_trace(go.Scatter(x=grid * total, y=family.quantile(grid), mode="lines",
                                 name=label, line={"color": _COLOURS.get(name), "dash": dash,
                                                   "width": 3 if name == best else 1.5}),
                      row=1, col=1)
        fig.add_trace(go.Scatter(x=mo.mid * total, y=mo.cost - family.quantile(mo.mid),
                                 mode="markers", name=f"residual: {name}", legendgroup=name,
                                 showlegend=False, marker={"color": _COLOURS.get(name)},
                                 hovertext=names),
                      row=2, col=1)
    fig.add_trace(go.Scatter(x=grid * total, y=fit.pchip.quantile(grid), mode="lines",
                             name="PCHIP (monotone, through the data)",
                             line={"color": _COLOURS["pchip"], "dash": "dot"}), row=1, col=1)
    fig.add_hline(y=0, line={"color": "grey", "width": 1}, row=2, col=1)
    fig.update_xaxes(title_text="Cumulative capacity (t/yr)", row=2, col=1)
    fig.update_yaxes(title_text=f"Unit cash cost ({price_unit})", row=1, col=1)
    fig.update_yaxes(title_text=f"Data − fit ({price_unit})", row=2, col=1)
    fig.update_layout(height=760, bargap=0, barmode="overlay", template="plotly_white",
                      legend={"orientation": "h", "y": -0.12}, margin={"t": 60})
    return fig


def page(fit: CostCurveFit, *, title: str, price_unit: str, notes: list[str],
         groups: list[str] | None = None) -> str:
    """A self-contained HTML page: a plain-language summary, the fit table and the figure."""
    best = fit.best
    rows = []
    for name, f in fit.families.items():
        params = ", ".join(f"{k} = {v:.4g}" for k, v in f.parameters.items())
        mark = " <b>(chosen)</b>" if name == best.family else ""
        rows.append(f"<tr><td>{name}{mark}</td><td>{params}</td><td>{f.aic:.2f}</td>"
                    f"<td>{f.fit.r2_weighted:.3f}</td><td>{f.fit.max_error:.4g}</td>"
                    f"<td>{f.fit.rmse:.4g}</td></tr>")
    loo = fit.pchip.leave_one_out()
    rows.append(f"<tr><td>PCHIP</td><td>through the {len(fit.data.cost)} points</td><td>–</td>"
                f"<td>{loo.r2_weighted:.3f} (leave-one-out)</td><td>{loo.max_error:.4g}</td>"
                f"<td>{loo.rmse:.4g}</td></tr>")
    median = float(best.quantile(np.array([0.5]))[0])
    p90 = float(best.quantile(np.array([0.9]))[0])
    headline = (f"Half of the {fit.data.total:,.0f} t/yr of capacity has a unit cash cost below "
                f"about {median:,.4g} {price_unit}, and 90% below about {p90:,.4g} {price_unit} "
                f"(fitted {best.family} curve; weighted R² {best.fit.r2_weighted:.2f}).")
    body = figure(fit, price_unit, groups).to_html(full_html=False, include_plotlyjs=True)
    note_items = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
    unit = html.escape(price_unit)
    content = (f"<p>{html.escape(headline)}</p>\n"
               f"<table><tr><th>curve</th><th>parameters</th><th>AIC</th><th>weighted R²</th>\n"
               f"<th>max error ({unit})</th><th>RMSE ({unit})</th></tr>\n"
               f"{''.join(rows)}</table>\n<ul>{note_items}</ul>\n{body}\n")
    return render_page(title=title, css=CSS, body=content, plots=1)
