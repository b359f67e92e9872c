"""A minimal figure builder: plotly figures as plain dicts.

plotly's ``graph_objects`` validate every property on every assignment; for the few hundred traces
of a report that alone took seconds. Here traces and layout are plain dicts (the plotly.js schema
itself) and the subplot grid is laid out directly, so building the pages costs milliseconds and
their size and speed do not depend on the number of runs.
"""

from __future__ import annotations

from typing import Any

from abm.report.style import TEMPLATE


def _axis_name(kind: str, index: int) -> str:
    """'x', 'x2', ... as traces refer to axes; layout keys are 'xaxis', 'xaxis2', ..."""
    return kind if index == 1 else f"{kind}{index}"


class Figure:
    """Traces and layout of one plotly chart, with an optional grid of subplots."""

    def __init__(self, rows: int = 1, cols: int = 1, titles: list[str] | None = None, *,
                 shared_x: bool = False, shared_y: bool = False, hspace: float = 0.08,
                 vspace: float = 0.12):
        self.rows, self.cols = rows, cols
        self.data: list[dict[str, Any]] = []
        self.layout: dict[str, Any] = {"template": TEMPLATE, "annotations": [], "shapes": []}
        width = (1 - hspace * (cols - 1)) / cols
        height = (1 - vspace * (rows - 1)) / rows
        for r in range(1, rows + 1):
            for c in range(1, cols + 1):
                i = (r - 1) * cols + c
                x0 = (c - 1) * (width + hspace)
                y1 = 1 - (r - 1) * (height + vspace)
                xaxis: dict[str, Any] = {"domain": [x0, x0 + width], "anchor": _axis_name("y", i)}
                yaxis: dict[str, Any] = {"domain": [y1 - height, y1], "anchor": _axis_name("x", i)}
                if shared_x and i > 1:
                    xaxis["matches"] = "x"
                if shared_y and i > 1:
                    yaxis["matches"] = "y"
                    if c > 1:
                        yaxis["showticklabels"] = False
                self.layout["xaxis" if i == 1 else f"xaxis{i}"] = xaxis
                self.layout["yaxis" if i == 1 else f"yaxis{i}"] = yaxis
                if titles and i <= len(titles):
                    self.layout["annotations"].append({
                        "text": titles[i - 1], "x": x0 + width / 2, "y": y1, "xref": "paper",
                        "yref": "paper", "xanchor": "center", "yanchor": "bottom",
                        "showarrow": False, "font": {"size": 13}})

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
