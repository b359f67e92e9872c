"""The SolaraViz page: Mesa's controls (Reset, play, Step) and parameter inputs for `VizMarket`,
and plots of price and club price (with the floor), capacity by region and the fiscal flow,
read from the model's recorder through `RecorderView` (matplotlib figures drawn on the server:
no chart library is fetched by the browser).

`abm viz EXPERIMENT.toml` serves `Page` with ``solara run abm.viz.app``; the experiment and the
scenario come from the environment (ABM_VIZ_EXPERIMENT, ABM_VIZ_SCENARIO). In a notebook or a
test: ``make_page("experiments/floor_levels.toml", "cfd")``.
"""

from __future__ import annotations

import os
from pathlib import Path

import solara
from mesa.visualization import SolaraViz, make_plot_component
from mesa.visualization.utils import update_counter

from abm.experiment import Experiment
from abm.names import SERIES
from abm.viz.command import ENV_EXPERIMENT, ENV_SCENARIO
from abm.viz.model import MECHANISMS, Controls, VizMarket, controls_of, experiment_of

PRICES = {"price": "tab:blue", "club_price": "tab:orange", "floor": "tab:red"}


def _slider(label: str, value: float, low: float, high: float, step: float) -> dict:
    """A SliderFloat spec starting at `value` (the range widened to hold it)."""
    return {"type": "SliderFloat", "label": label, "value": value, "min": min(low, value),
            "max": max(high, value), "step": step}


def model_params(experiment: str | Path | Experiment, scenario: str, now: Controls,
                 price_unit: str, reference_price: float) -> dict:
    """Mesa's model_params: the experiment and scenario fixed, the rest inputs starting at the
    scenario's values (so the first model is the scenario as written). Slider ranges (price as
    a multiple of the reference price; tariff 0-100%; growth -5 to +15%/yr; stockpile up to a
    year of club consumption) are the app's choice of what is worth exploring by hand."""
    level = now.floor_level if now.floor_level is not None else reference_price
    params = {
        "experiment": experiment,
        "scenario": scenario,
        "floor_level": _slider(f"Floor level ({price_unit})", level, 0.25 * reference_price,
                               3.0 * reference_price, reference_price / 100),
        "mechanism": {"type": "Select", "label": "Floor mechanism", "value": now.mechanism,
                      "values": list(MECHANISMS)},
        "tariff": _slider("Club tariff (share of the price)", now.tariff, 0.0, 1.0, 0.01),
        "demand_growth": _slider("Demand growth (per year)", now.demand_growth, -0.05, 0.15,
                                 0.005),
        "seed": {"type": "InputText", "label": "Seed", "value": str(now.seed)},
    }
    if now.stockpile_size is not None:
        params["stockpile_size"] = _slider("Stockpile size (days of club consumption)",
                                           now.stockpile_size, 0.0, 365.0, 5.0)
    return params


def _axis(name: str, price_unit: str) -> str:
    unit = SERIES[name].unit
    return f"{SERIES[name].label} ({price_unit if unit == 'price' else unit})"


def components(model: VizMarket) -> list:
    """The plots (Mesa plot components reading model.datacollector, the recorder's view) and
    the notes on parameters that do not apply to the scenario."""
    price_unit = model.config.market.price_unit
    regions = model.datacollector.region_columns

    def prices(ax):
        ax.set_ylabel(f"Price ({price_unit})")
        ax.legend(ax.get_lines(), [SERIES[n].label for n in PRICES], loc="best")

    def capacity(ax):
        ax.set_ylabel("Refining capacity (t/yr)")
        ax.legend(ax.get_lines(), list(regions.values()), loc="best", fontsize="small")

    def fiscal(ax):
        ax.set_ylabel(_axis("fiscal_flow", price_unit))

    return [
        make_plot_component(PRICES, post_process=prices),
        make_plot_component(list(regions), post_process=capacity),
        make_plot_component("fiscal_flow", post_process=fiscal),
        Notes,
    ]


@solara.component
def Notes(model: VizMarket):
    """The scenario shown, and the parameters that do not apply to it (plain text and alerts:
    solara's Markdown would load KaTeX and Mermaid in the browser)."""
    update_counter.get()
    with solara.Column():
        solara.Text(f"Scenario '{model.scenario}' of {model.experiment.title}: step "
                    f"{model.steps} of {model.n_steps}" + ("" if model.running else " (finished)"))
        for note in model.notes:
            solara.Warning(note)


def make_page(experiment: str | Path | Experiment, scenario: str | None = None,
              model: solara.Reactive | None = None):
    """The SolaraViz element for one scenario of an experiment (default: its baseline).
    `model`: a reactive that holds the model shown (a test reads it); default, the page's own."""
    exp = experiment_of(experiment)
    scenario = scenario or exp.baseline
    now = controls_of(exp, scenario)
    market = exp.scenario(scenario).market
    first = VizMarket(experiment=experiment, scenario=scenario)
    if model is not None:
        model.set(first)
    return SolaraViz(model if model is not None else first, components=components(first),
                     model_params=model_params(experiment, scenario, now, market.price_unit,
                                               market.demand.reference_price),
                     name=f"abm: {exp.title}")


@solara.component
def Page():
    """The page `solara run abm.viz.app` serves (see the module docstring)."""
    if not os.environ.get(ENV_EXPERIMENT):
        return solara.Error(f"no experiment: start the app with `abm viz EXPERIMENT.toml` (or "
                            f"set {ENV_EXPERIMENT} to the experiment file)")
    return make_page(os.environ[ENV_EXPERIMENT], os.environ.get(ENV_SCENARIO) or None)
