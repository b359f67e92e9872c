"""Look of every chart: one colour per scenario, a light template, and offline plotly settings."""

from __future__ import annotations

# Okabe-Ito palette (colour-blind safe). The baseline is always black so the eye finds the
# reference first; policy scenarios follow in an order that keeps neighbours distinguishable,
# yellow last because it is faint on white.
BASELINE_COLOUR = "#000000"
OKABE_ITO = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442"]

FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"

# Passed to every Plotly.newPlot: no plotly logo, no link to the plotly cloud, nothing fetched.
PLOT_CONFIG = {
    "displaylogo": False,
    "responsive": True,
    "showSendToCloud": False,
    "toImageButtonOptions": {"format": "png", "scale": 2},
    "modeBarButtonsToRemove": ["lasso2d", "select2d"],
}

# A small template instead of plotly's default: the default is ~8 kB of JSON per figure.
TEMPLATE = dict(
    layout=dict(
        font=dict(family=FONT, size=13, color="#222"),
        paper_bgcolor="white",
        plot_bgcolor="white",
        colorway=OKABE_ITO,
        hovermode="closest",
        margin=dict(l=70, r=20, t=60, b=55),
        xaxis=dict(showgrid=True, gridcolor="#e5e5e5", zeroline=False, linecolor="#888",
                   ticks="outside", automargin=True),
        yaxis=dict(showgrid=True, gridcolor="#e5e5e5", zeroline=False, linecolor="#888",
                   ticks="outside", automargin=True),
        legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0, bgcolor="rgba(0,0,0,0)"),
        hoverlabel=dict(font=dict(family=FONT)),
    )
)


def scenario_colours(scenarios: list[str], baseline: str | None) -> dict[str, str]:
    """Colour of each scenario, the same on every chart of every page."""
    colours: dict[str, str] = {}
    others = [s for s in scenarios if s != baseline]
    if baseline in scenarios:
        colours[baseline] = BASELINE_COLOUR
    for i, name in enumerate(others):
        colours[name] = OKABE_ITO[i % len(OKABE_ITO)]
    return colours


def rgba(hex_colour: str, alpha: float) -> str:
    """'#0072B2' with transparency, for percentile bands."""
    h = hex_colour.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"
