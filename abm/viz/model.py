"""The model behind the SolaraViz app: `VizMarket`, a `MineralMarket` built from an experiment
file's scenario and a few keyword parameters, and `RecorderView`, the recorder's series in the
shape Mesa's plot components read from a DataCollector.

Mesa's visualization rebuilds the model on Reset as ``type(model)(**parameters)``, so every
input is a keyword. Each parameter left at None, or set to the scenario's own value, leaves the
scenario as the experiment file writes it: the app's default model is the scenario's run of
replication 0 (`abm run` run ``<scenario>/p0000/r0000`` without a sweep), step for step.

Units: floor level in the experiment's price unit (market.price_unit); tariff ad valorem (0.25 =
25%); stockpile size in days of club consumption (policy.stockpile.target_cover, the size the
stockpile experiments vary); demand growth per year (market.demand.growth).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from abm.config import ExperimentConfig
from abm.errors import ConfigError
from abm.experiment import Experiment, load_experiment, run_seed
from abm.model import MineralMarket
from abm.names import REGION_CAPACITY_PREFIX

MECHANISMS = ("none", "mip", "purchase", "cfd")
# On a change of mechanism the floor keeps its level rule, coverage and timing; the terms of the
# old mechanism (budget, upside share, EBITDA guarantee, volume cap, ...) are left out, so the
# new mechanism starts from its defaults rather than from terms that may not apply to it.
FLOOR_KEPT = ("rule", "level", "percentile", "schedule", "revision_every", "band", "revision",
              "covers", "start", "end", "announce")
# the recorder's columns the app plots (besides capacity by region)
VIEW_COLUMNS = ("price", "club_price", "floor", "fiscal_flow", "capacity_market",
                "capacity_nonmarket", "government_stock", "consumption")


@dataclass(frozen=True)
class Controls:
    """A scenario's values of the app's parameters (the sliders start at them)."""

    floor_level: float | None      # the level the floor starts at (price unit); None: no floor
    mechanism: str                 # one of MECHANISMS ("none": no floor)
    tariff: float                  # 0 without [policy.trade]
    stockpile_size: float | None   # days of club consumption; None: no stockpile
    demand_growth: float           # 1/yr
    seed: int                      # replication 0's seed


def experiment_of(experiment: str | Path | Experiment) -> Experiment:
    """An Experiment from a path (read once per path and modification time) or as given."""
    if isinstance(experiment, Experiment):
        return experiment
    path = Path(experiment).resolve()
    mtime = path.stat().st_mtime_ns if path.exists() else 0
    return _load(str(path), mtime)


@lru_cache(maxsize=8)
def _load(path: str, mtime: int) -> Experiment:
    return load_experiment(path)


def starting_floor_level(config: ExperimentConfig) -> float | None:
    """The level a scenario's floor starts at (a cost-percentile floor's level is computed from
    the cost curve when the model is built); None without a floor."""
    if config.policy.floor is None:
        return None
    model = MineralMarket(config, rng=0)
    return next(float(p.level) for p in model.policies if p.name == "floor")


def controls_of(exp: Experiment, scenario: str) -> Controls:
    cfg = exp.scenario(scenario)
    p = cfg.policy
    return Controls(
        floor_level=starting_floor_level(cfg),
        mechanism=p.floor.mechanism if p.floor is not None else "none",
        tariff=p.trade.tariff if p.trade is not None else 0.0,
        stockpile_size=p.stockpile.target_cover if p.stockpile is not None else None,
        demand_growth=cfg.market.demand.growth,
        seed=run_seed(cfg.experiment.seed, 0))


def _changed(value, current) -> bool:
    return value is not None and value != current


def viz_config(exp: Experiment, scenario: str, *, floor_level: float | None = None,
               mechanism: str | None = None, tariff: float | None = None,
               stockpile_size: float | None = None, demand_growth: float | None = None,
               ) -> tuple[ExperimentConfig, list[str]]:
    """The validated config of `scenario` with the app's parameters applied, and notes on the
    parameters that do not apply to it (a stockpile size without a stockpile, a floor level
    without a floor)."""
    now = controls_of(exp, scenario)
    raw = exp.scenario_raw(scenario)
    policy = raw.setdefault("policy", {})
    notes: list[str] = []
    if mechanism is not None and mechanism not in MECHANISMS:
        raise ConfigError(exp.file, "mechanism", f"unknown mechanism '{mechanism}'; allowed: "
                          f"{', '.join(MECHANISMS)}")
    if _changed(mechanism, now.mechanism):
        if mechanism == "none":
            policy.pop("floor", None)
        else:
            old = policy.get("floor") or {}
            policy["floor"] = {k: v for k, v in old.items() if k in FLOOR_KEPT}
            policy["floor"]["mechanism"] = mechanism
            if not old and floor_level is None:
                raise ConfigError(exp.file, "floor_level", f"scenario '{scenario}' has no floor: "
                                  f"a {mechanism} floor needs a floor_level")
    floor = policy.get("floor")
    if floor_level is not None and floor is not None:
        # a new level, or a floor just added (no level, no rule of its own yet)
        if floor_level != now.floor_level or ("level" not in floor and "rule" not in floor):
            floor.update(rule="fixed", level=float(floor_level))
            floor.pop("schedule", None)
    elif floor_level is not None and now.floor_level is None:
        notes.append(f"floor level: scenario '{scenario}' has no floor (choose a mechanism)")
    if _changed(tariff, now.tariff):
        policy.setdefault("trade", {})["tariff"] = float(tariff)
    if _changed(stockpile_size, now.stockpile_size):
        if "stockpile" in policy:
            policy["stockpile"]["target_cover"] = float(stockpile_size)
        else:
            notes.append(f"stockpile size: scenario '{scenario}' has no stockpile")
    if _changed(demand_growth, now.demand_growth):
        raw.setdefault("market", {}).setdefault("demand", {})["growth"] = float(demand_growth)
    return exp.validated(raw, scenario), notes


def seed_value(seed: int | str | None, default: int) -> int:
    """The run seed from a number or the text of the app's seed field (None: `default`)."""
    if seed is None or (isinstance(seed, str) and not seed.strip()):
        return default
    try:
        value = int(str(seed).strip()) if isinstance(seed, str) else int(seed)
    except ValueError:
        raise ConfigError(None, "seed", f"must be a whole number (got {seed!r})") from None
    if value < 0:
        raise ConfigError(None, "seed", f"must be at least 0 (got {value})")
    return value


class RecorderView:
    """The model's series as Mesa's plot components read a DataCollector:
    `get_model_vars_dataframe()`, a pandas DataFrame with one row per step run (index `step`,
    from 0) and columns VIEW_COLUMNS plus ``capacity_region__<region>`` (t/yr). Built from the
    recorder's arrays when read (the plots read it after a step), never copied each step."""

    def __init__(self, model: MineralMarket):
        self.model = model

    @property
    def region_columns(self) -> dict[str, str]:
        """Column -> region name, for the capacity-by-region plot's legend."""
        return {REGION_CAPACITY_PREFIX + r: r for r in self.model.recorder.region_names}

    def get_model_vars_dataframe(self):
        import pandas as pd

        rec = self.model.recorder
        data = {name: rec.column(name) for name in VIEW_COLUMNS}   # flushes deferred sums
        n = rec.filled
        for j, column in enumerate(self.region_columns):
            data[column] = rec.region_capacity[:n, j]
        return pd.DataFrame(data, index=pd.RangeIndex(n, name="step"))


class VizMarket(MineralMarket):
    """A MineralMarket of one scenario of an experiment file, with the app's parameters.

    experiment: path of the experiment TOML (or an Experiment); scenario: its name (default: the
    experiment's baseline); floor_level (price unit): the floor fixed at this level; mechanism:
    "none" (no floor), "mip", "purchase" or "cfd"; tariff: ad-valorem duty on club imports;
    stockpile_size: days of club consumption; demand_growth: 1/yr; seed: the run seed (int or
    its text; default replication 0's). `notes` lists parameters that do not apply to the
    scenario. `running` turns False after the last step (MineralMarket)."""

    def __init__(self, *, experiment: str | Path | Experiment, scenario: str | None = None,
                 floor_level: float | None = None, mechanism: str | None = None,
                 tariff: float | None = None, stockpile_size: float | None = None,
                 demand_growth: float | None = None, seed: int | str | None = None):
        exp = experiment_of(experiment)
        scenario = scenario or exp.baseline
        config, notes = viz_config(exp, scenario, floor_level=floor_level, mechanism=mechanism,
                                   tariff=tariff, stockpile_size=stockpile_size,
                                   demand_growth=demand_growth)
        default_seed = run_seed(exp.config.experiment.seed, 0)
        super().__init__(config, rng=seed_value(seed, default_seed))
        self.experiment = exp
        self.scenario = scenario
        self.notes = notes
        self.datacollector = RecorderView(self)

