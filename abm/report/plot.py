"""A minimal figure builder: plotly figures as plain dicts.

plotly's ``graph_objects`` validate every property on every assignment; for the few hundred traces
of a report that alone took seconds. Here traces and layout are plain dicts (the plotly.js schema
itself; the subplot grid comes from ``plotly.subplots.make_subplots``, once per grid shape), so
building the pages costs milliseconds and their size and speed do not depend on the number of
runs.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from typing import Any

from abm.report.style import TEMPLATE


def _axis_name(kind: str, index: int) -> str:
    """'x', 'x2', ... as traces refer to axes; layout keys are 'xaxis', 'xaxis2', ..."""
    return kind if index == 1 else f"{kind}{index}"


def _layout_key(kind: str, index: int) -> str:
    return f"{kind}axis" if index == 1 else f"{kind}axis{index}"


@lru_cache(maxsize=64)
def _grid(rows: int, cols: int, titles: tuple[str, ...], hspace: float,
          vspace: float) -> dict[str, Any]:
    """Axes (domain, anchor) and subplot-title annotations of a grid, from plotly's own
    ``make_subplots`` (cached: building a validated figure costs ~30 ms; copy before changing)."""
    from plotly.subplots import make_subplots

    layout = make_subplots(rows=rows, cols=cols, subplot_titles=titles or None,
                           horizontal_spacing=hspace, vertical_spacing=vspace).to_dict()["layout"]
    return {k: v for k, v in layout.items() if k.startswith(("xaxis", "yaxis", "annotations"))}


class Figure:
    """Traces and layout of one plotly chart, with an optional grid of subplots."""

    def __init__(self, rows: int = 1, cols: int = 1, titles: list[str] | None = None, *,
                 shared_x: bool = False, shared_y: bool = False, hspace: float = 0.08,
                 vspace: float = 0.12):
        self.rows, self.cols = rows, cols
        self.notes: list[str] = []        # HTML lines shown above the chart (what is left out)
        self.data: list[dict[str, Any]] = []
        self.layout: dict[str, Any] = {"template": TEMPLATE, "annotations": [], "shapes": []}
        grid = copy.deepcopy(_grid(rows, cols, tuple(titles or ())[:rows * cols], hspace, vspace))
        for i in range(1, rows * cols + 1):
            xaxis, yaxis = grid[_layout_key("x", i)], grid[_layout_key("y", i)]
            if shared_x and i > 1:
                xaxis["matches"] = "x"
            if shared_y and i > 1:
                yaxis["matches"] = "y"
                if (i - 1) % cols:             # not the first column: the left column labels it
                    yaxis["showticklabels"] = False
            self.layout[_layout_key("x", i)] = xaxis
            self.layout[_layout_key("y", i)] = yaxis
        for note in grid.get("annotations", []):
            note["font"] = {"size": 13}        # subplot titles: smaller than plotly's 16
            self.layout["annotations"].append(note)

    def _index(self, row: int, col: int) -> int:
        return (row - 1) * self.cols + col

    def add(self, trace: dict[str, Any], row: int = 1, col: int = 1) -> None:
        """Add a trace (a plotly.js trace dict) to subplot (row, col)."""
        i = self._index(row, col)
        if i > 1:
            trace = {**trace, "xaxis": _axis_name("x", i), "yaxis": _axis_name("y", i)}
        self.data.append(trace)

    def xaxis(self, row: int = 1, col: int = 1, **props: Any) -> None:
        i = self._index(row, col)
        self.layout["xaxis" if i == 1 else f"xaxis{i}"].update(props)

    def yaxis(self, row: int = 1, col: int = 1, **props: Any) -> None:
        i = self._index(row, col)
        self.layout["yaxis" if i == 1 else f"yaxis{i}"].update(props)

    def vline(self, x: float, row: int = 1, col: int = 1, **line: Any) -> None:
        i = self._index(row, col)
        self.layout["shapes"].append({
            "type": "line", "x0": x, "x1": x, "y0": 0, "y1": 1, "xref": _axis_name("x", i),
            "yref": f"{_axis_name('y', i)} domain", "line": line})

    def note(self, row: int, col: int, text: str) -> None:
        """Grey text in the middle of subplot (row, col) (`text` is HTML: escape user text)."""
        i = self._index(row, col)
        self.layout["annotations"].append({
            "text": text, "x": 0.5, "y": 0.5, "xref": f"{_axis_name('x', i)} domain",
            "yref": f"{_axis_name('y', i)} domain", "showarrow": False,
            "font": {"size": 12, "color": "#777"}})

    @property
    def height(self) -> int:
        return int(self.layout.get("height") or 450)

    def to_dict(self) -> dict[str, Any]:
        return {"data": self.data, "layout": self.layout}


def title_layout(fig: Figure, title: str, height: float) -> Figure:
    """Title, then the legend on its own line under it (never over subplot titles), then plots."""
    height = int(height)
    fig.layout.update(
        height=height, margin={"t": 110, "b": 55, "l": 70, "r": 20},
        title={"text": title, "x": 0, "xanchor": "left", "yref": "container",
               "y": 1 - 12 / height, "yanchor": "top"},
        legend={"orientation": "h", "yref": "container", "y": 1 - 46 / height,
                "yanchor": "top", "x": 0})
    return fig
