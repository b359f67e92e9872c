"""Charts of the sweep page: response of each metric to each swept parameter, 2-D heatmaps for
pairs of parameters, and Sobol sensitivity indices with their confidence intervals.

Runs are grouped into bins of the swept parameters (the grid values themselves for a grid design,
equal-width bins for Latin hypercube and Sobol designs) and only bin statistics are plotted.
"""

from __future__ import annotations

import itertools
from html import escape
from typing import Any

import numpy as np
import polars as pl

from abm.names import METRICS
from abm.report.data import ReportData
from abm.report.figures import NUM, colours, grid, unit_text
from abm.report.format import axis_title, round_sig, scale_for
from abm.report.plot import Figure, title_layout
from abm.report.style import rgba

MAX_LEVELS = 12  # a parameter with at most this many distinct values is shown value by value
N_BINS = 10
N_BINS_2D = 8
HEATMAP_HEIGHT = 480


def parameter_unit(dotted: str, price_unit: str) -> str:
    """Unit of a dotted config key from the schema (abm.config), '' when it has none."""
    from abm.config import ExperimentConfig
    from abm.schema import field_at

    info = field_at(ExperimentConfig, dotted.split("."))
    extra = (info.json_schema_extra or {}) if info is not None else {}
    unit = extra.get("unit", "") if isinstance(extra, dict) else ""
    if unit == "price_unit":
        return price_unit
    return "" if unit == "-" else str(unit)


def parameter_title(dotted: str, price_unit: str) -> str:
    unit = parameter_unit(dotted, price_unit)
    return escape(f"{dotted} ({unit})" if unit else dotted)


def binned(ok: pl.DataFrame, param: str, n_bins: int,
           design: str = "grid") -> tuple[pl.DataFrame, np.ndarray]:
    """`ok` with a bin index column `_b_<param>`, and the x value (centre) of each bin.

    Grid values are their own bins; sampled designs (LHS, Sobol) get equal-width bins, so cells
    of a heatmap are equal and a bin holds runs from several points.
    """
    values = ok[param].drop_nulls()
    levels = values.unique().sort()
    col = f"_b_{param}"
    if len(levels) <= MAX_LEVELS and (design in ("grid", "none") or len(levels) <= 2):
        lookup = {v: i for i, v in enumerate(levels.to_list())}
        return (ok.with_columns(pl.col(param).replace_strict(lookup, default=None).alias(col)),
                levels.to_numpy())
    lo, hi = float(values.min()), float(values.max())
    width = (hi - lo) / n_bins
    index = ((pl.col(param) - lo) / width).floor().clip(0, n_bins - 1).cast(pl.Int64)
    return ok.with_columns(index.alias(col)), lo + width * (np.arange(n_bins) + 0.5)


def response(data: ReportData, param: str) -> Figure | None:
    """Median and middle half of every metric across bins of one swept parameter, per scenario
    (None when no run with the parameter finished: the swept scenarios all failed)."""
    ok = data.ok.filter(pl.col(param).is_not_null())
    metrics = data.metrics
    if not metrics or ok.height == 0:
        return None
    frame, centres = binned(ok, param, N_BINS, data.design_kind)
    b = f"_b_{param}"
    aggs = []
    for m in metrics:
        v = pl.col(m).drop_nans()
        aggs += [v.quantile(q, interpolation="linear").alias(f"{m}|{q}") for q in (0.25, 0.5, 0.75)]
    stats = frame.drop_nulls(b).group_by("scenario", b).agg(*aggs).sort(b)
    per = {key[0]: f for key, f in stats.partition_by("scenario", as_dict=True).items()}
    rows, cols = grid(len(metrics))
    scales = {m: scale_for(stats[f"{m}|0.75"].to_list() + stats[f"{m}|0.25"].to_list(),
                           METRICS[m].unit, data.price_unit) for m in metrics}
    fig = Figure(rows, cols, [escape(axis_title(METRICS[m].label, scales[m])) for m in metrics],
                 hspace=0.08, vspace=0.45 / rows)
    cmap = colours(data)
    xname = parameter_title(param, data.price_unit)
    for i, m in enumerate(metrics):
        r, c = i // cols + 1, i % cols + 1
        unit = unit_text(scales[m])
        for scenario in data.scenarios:
            sub = per.get(scenario)
            if sub is None:
                continue
            x = round_sig(centres[sub[b].to_numpy()])
            q = {k: round_sig(sub[f"{m}|{k}"].to_numpy() / scales[m].factor)
                 for k in (0.25, 0.5, 0.75)}
            name = escape(scenario)
            edge = {"type": "scatter", "x": x, "mode": "lines", "line": {"width": 0},
                    "hoverinfo": "skip", "showlegend": False, "legendgroup": name}
            fig.add({**edge, "y": q[0.75]}, r, c)
            fig.add({**edge, "y": q[0.25], "fill": "tonexty",
                     "fillcolor": rgba(cmap[scenario], 0.2)}, r, c)
            fig.add({
                "type": "scatter", "x": x, "y": q[0.5], "mode": "lines+markers", "name": name,
                "legendgroup": name, "showlegend": i == 0,
                "line": {"color": cmap[scenario], "width": 2}, "marker": {"size": 5},
                "customdata": np.stack([q[0.25], q[0.75]], axis=-1),
                "hovertemplate": (f"<b>{name}</b><br>{xname} = %{{x:{NUM}}}<br>"
                                  f"{escape(METRICS[m].label)}: median %{{y:{NUM}}}{unit}<br>"
                                  f"middle half of runs %{{customdata[0]:{NUM}}}–"
                                  f"%{{customdata[1]:{NUM}}}{unit}<extra></extra>")}, r, c)
        fig.xaxis(r, c, title={"text": xname, "font": {"size": 11}})
    for ann in fig.layout["annotations"]:
        ann["font"] = {"size": 12}
    return title_layout(fig, f"Response to {escape(param)}: median and middle half of runs",
                        270 * rows + 110)


def heatmap(data: ReportData, pi: str, pj: str) -> Figure | None:
    """Median of a metric over a 2-D grid of bins of two parameters, one panel per scenario;
    a menu switches the metric. None when no run with both parameters finished."""
    ok = data.ok.filter(pl.col(pi).is_not_null() & pl.col(pj).is_not_null())
    metrics = data.metrics
    if not metrics or ok.height == 0:
        return None
    frame, xi = binned(ok, pi, N_BINS_2D, data.design_kind)
    frame, xj = binned(frame, pj, N_BINS_2D, data.design_kind)
    bi, bj = f"_b_{pi}", f"_b_{pj}"
    stats = (frame.drop_nulls([bi, bj]).group_by("scenario", bi, bj)
             .agg(*[pl.col(m).drop_nans().median().alias(m) for m in metrics]))
    per = {key[0]: f for key, f in stats.partition_by("scenario", as_dict=True).items()}
    scenarios = [s for s in data.scenarios if s in per]
    default = next((m for m in ("price_volatility", "price_mean") if m in metrics), metrics[0])

    def z_for(metric: str) -> tuple[list[list], Any]:
        scale = scale_for(stats[metric].to_list(), METRICS[metric].unit, data.price_unit)
        zs = []
        for scenario in scenarios:
            sub = per[scenario]
            z = np.full((len(xj), len(xi)), np.nan)
            z[sub[bj].to_numpy(), sub[bi].to_numpy()] = sub[metric].to_numpy() / scale.factor
            # null, not NaN, for empty cells: JSON has no NaN and plotly leaves nulls blank
            zs.append([[None if v != v else v for v in row] for row in round_sig(z).tolist()])
        return zs, scale

    fig = Figure(1, len(scenarios), [escape(s) for s in scenarios], shared_y=True, hspace=0.04)
    zs, scale = z_for(default)
    for k, scenario in enumerate(scenarios):
        fig.add({"type": "heatmap", "x": round_sig(xi), "y": round_sig(xj), "z": zs[k],
                 "coloraxis": "coloraxis", "name": escape(scenario),
                 "hovertemplate": _hover(scenario, pi, pj, default, scale)}, 1, k + 1)
        fig.xaxis(1, k + 1, title={"text": parameter_title(pi, data.price_unit)})
    fig.yaxis(1, 1, title={"text": parameter_title(pj, data.price_unit)})
    buttons = []
    for metric in metrics:
        z, s = z_for(metric)
        buttons.append({
            "label": escape(METRICS[metric].label), "method": "update",
            "args": [{"z": z, "hovertemplate": [_hover(sc, pi, pj, metric, s)
                                                for sc in scenarios]},
                     {"coloraxis.colorbar.title.text": escape(axis_title(METRICS[metric].label,
                                                                         s))}]})
    title_layout(fig, f"Median by {escape(pi)} and {escape(pj)} (choose the outcome)",
                 HEATMAP_HEIGHT)
    fig.layout.update(
        coloraxis={"colorscale": "Viridis",
                   "colorbar": {"title": {"text": escape(axis_title(METRICS[default].label,
                                                                    scale))}}},
        # the menu sits under the title where a legend would be (paper coordinates: above the
        # plots and their subplot titles)
        updatemenus=[{"buttons": buttons, "active": metrics.index(default), "x": 0,
                      "xanchor": "left", "y": 1 + (110 - 40) / (HEATMAP_HEIGHT - 110 - 55),
                      "yanchor": "top", "showactive": True}])
    return fig


def _hover(scenario: str, pi: str, pj: str, metric: str, scale: Any) -> str:
    return (f"<b>{escape(scenario)}</b><br>{escape(pi)} = %{{x:{NUM}}}<br>{escape(pj)} = "
            f"%{{y:{NUM}}}<br>{escape(METRICS[metric].label)}: median %{{z:{NUM}}}"
            f"{unit_text(scale)}<extra></extra>")


def pairs(params: list[str]) -> list[tuple[str, str]]:
    return list(itertools.combinations(params, 2))


def sobol(data: ReportData) -> Figure | None:
    """First-order (S1) and total-order (ST) Sobol indices with 95% CIs, a panel per metric."""
    s = data.sobol
    if s is None or s.height == 0:
        return None
    s = s.filter(pl.col("S1").is_finite() | pl.col("ST").is_finite())
    metrics = [m for m in data.metrics if m in set(s["metric"].to_list())]
    if not metrics:
        return None
    groups = (s["scenario"].unique(maintain_order=True).to_list() if "scenario" in s.columns
              else [None])
    cmap = colours(data)
    rows, cols = grid(len(metrics))
    fig = Figure(rows, cols, [escape(METRICS[m].label) for m in metrics], hspace=0.08,
                 vspace=0.45 / rows)
    for i, m in enumerate(metrics):
        r, c = i // cols + 1, i % cols + 1
        for g in groups:
            sub = s.filter(pl.col("metric") == m)
            if g is not None:
                sub = sub.filter(pl.col("scenario") == g)
            colour = cmap.get(g, "#0072B2") if g is not None else "#0072B2"
            who = f"{escape(str(g))} · " if g is not None else ""
            params = [escape(p) for p in sub["parameter"]]
            for kind, alpha, shape in (("S1", 1.0, ""), ("ST", 0.35, "/")):
                conf = np.nan_to_num(sub[f"{kind}_conf"].fill_null(0).to_numpy())
                fig.add({
                    "type": "bar", "x": params, "y": round_sig(sub[kind].to_numpy(), 3),
                    "error_y": {"type": "data", "array": round_sig(conf, 3), "color": "#333",
                                "thickness": 1.2},
                    "marker": {"color": rgba(colour, alpha), "line": {"color": colour,
                                                                      "width": 1},
                               "pattern": {"shape": shape}},
                    "name": f"{who}{'first-order S1' if kind == 'S1' else 'total-order ST'}",
                    "legendgroup": f"{g}{kind}", "showlegend": i == 0,
                    "hovertemplate": (f"{who}%{{x}}<br>{kind} = %{{y:.2f}} ± "
                                      "%{error_y.array:.2f} (95% CI)<extra></extra>")}, r, c)
        fig.yaxis(r, c, title={"text": "Share of variance"} if c == 1 else None)
    fig.layout["barmode"] = "group"
    for ann in fig.layout["annotations"]:
        ann["font"] = {"size": 12}
    return title_layout(fig, "Sobol sensitivity indices: share of each metric's variance due to "
                        "each parameter", 250 * rows + 110)
