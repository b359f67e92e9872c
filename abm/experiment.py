"""Loading experiments: TOML, mineral presets, producer files, scenarios, overrides, design table.

Everything a user can get wrong here raises :class:`abm.errors.ConfigError` naming the file, the
dotted key path, the TOML line where it can be found, and what is allowed.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ValidationError

from abm import comments
from abm.config import ExperimentConfig, Producer, Project, Report
from abm.config_errors import describe, error_from_validation, locate
from abm.csvtable import LINE, read_cells, read_text, regular_file
from abm.dotted import apply_overrides, flatten
from abm.errors import ConfigError

PRESET_DIR = Path(__file__).parent / "data" / "minerals"
BASE = "base"
# scenario names are part of every run's file name (RunSpec.file_id)
SCENARIO_NAME = re.compile(r"[A-Za-z0-9_.-]+")
SCENARIO_MAX = 64
# Keys that do not change any run's result: excluded from the config hash so a study can be
# extended (more replications) or retitled and still reuse its finished runs.
MAX_RUNS = 1_000_000   # default limit of runs in a design (`abm run --max-runs`)
HASH_EXCLUDED = (("experiment", "replications"), ("experiment", "title"),
                 ("experiment", "question"))
# Keys that say where parts of a config came from, not what they are: the resolved config holds
# the merged base tables and the CSV rows themselves. They are blanked (None, as when left out)
# for the hash, so a resolved config saved without them (`standalone`) reruns to the same hash.
PROVENANCE_KEYS = (("extends",), ("producers_file",), ("investment", "projects_file"))


def standalone(resolved: dict) -> dict:
    """A resolved config (`Experiment.resolved()`) that reruns on its own: without `extends`
    (its tables are merged in) and without the producers and projects CSV files (their rows are
    inlined), so it needs no other file and no path relative to where it was read."""
    out = copy.deepcopy(resolved)
    for table, key in _provenance(out):
        del table[key]
    return out


def _provenance(data: dict) -> list[tuple[dict, str]]:
    """(table, key) of each of PROVENANCE_KEYS present in a resolved config."""
    found = []
    for path in PROVENANCE_KEYS:
        table: Any = data
        for key in path[:-1]:
            table = table.get(key) if isinstance(table, dict) else None
        if isinstance(table, dict) and path[-1] in table:
            found.append((table, path[-1]))
    return found


@dataclass(frozen=True)
class RunSpec:
    """One run of the design table (see docs/architecture.md)."""

    run_id: str
    scenario: str
    point: int
    replication: int
    seed: int
    params: dict[str, float] = field(default_factory=dict, hash=False, compare=False)

    @property
    def file_id(self) -> str:
        """The run id made safe for a file name."""
        return self.run_id.replace("/", "__")


def run_seed(root_seed: int, replication: int) -> int:
    """Seed of replication `replication`: the same for every scenario and sweep point (common
    random numbers), independent of worker count, order and resume."""
    seq = np.random.SeedSequence(root_seed, spawn_key=(replication,))
    return int(seq.generate_state(2, dtype=np.uint32).view(np.uint64)[0] >> np.uint64(1))


# --------------------------------------------------------------------------------------------------
# reading files
# --------------------------------------------------------------------------------------------------


def read_toml(path: Path) -> tuple[dict, str]:
    """The data and text of a TOML file (a regular UTF-8 file: see abm.csvtable.read_text)."""
    text = read_text(path, file=str(path), key=None, what="a TOML file")
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None)
        message = str(exc)
        m = re.search(r"\(at line (\d+), column \d+\)", message)
        if m:
            line = int(m.group(1))
            message = message[: m.start()].strip()
        raise ConfigError(str(path), None, f"malformed TOML: {message}", line) from None


def read_table_csv(path: Path, *, file: str, key: str,
                   model: type[BaseModel]) -> tuple[list[dict[str, Any]], list[int]]:
    """Rows of a producers or projects CSV as TOML-typed dicts, and the CSV line of each.

    Each row's text cells are converted by the row's model (`model`: Producer or Project) in
    pydantic's lax mode: a CSV has only text, so ``35000`` becomes a number here; the whole
    experiment is then validated strictly like TOML. Empty cells are left out (the defaults
    apply). A cell that does not convert, an unknown column or a missing required one is a
    ConfigError naming the CSV file, the column and the line."""
    cells = read_cells(path, file=file, key=key, what="a CSV file")
    if cells.height == 0:
        raise ConfigError(file, key, f"{path} has no rows")
    rows, lines = [], cells[LINE].to_list()
    for line, row in zip(lines, cells.drop(LINE).iter_rows(named=True), strict=True):
        given = {k: v for k, v in row.items() if v is not None}
        try:
            typed = model.model_validate(given, strict=False)
        except ValidationError as err:
            loc, msg = describe(err.errors(), model)
            column = str(loc[0]) if loc else None
            raise ConfigError(str(path), column, msg, line) from None
        rows.append(typed.model_dump(include=set(given)))
    return rows, lines


def load_preset(name: str, *, file: str, text: str | None) -> dict:
    """The preset called `name` in PRESET_DIR: a name, never a path."""
    known = sorted(p.stem for p in PRESET_DIR.glob("*.toml"))
    path = PRESET_DIR / f"{name}.toml"
    if name not in known:
        raise ConfigError(file, "experiment.mineral", f"unknown mineral preset '{name}'; allowed: "
                          f"{', '.join(known) or 'none installed'}",
                          locate(text, ("experiment", "mineral")))
    raw, _ = read_toml(path)
    return raw


def merge_preset(preset: dict, raw: dict) -> dict:
    """The experiment's own tables override the preset's: tables merge key by key, arrays of
    tables (regions, producers, buyers) are replaced whole."""
    out = copy.deepcopy(preset)
    for key, value in raw.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_preset(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


# --------------------------------------------------------------------------------------------------
# the experiment
# --------------------------------------------------------------------------------------------------


class Experiment:
    """A validated experiment: base config, scenarios, sweep design and run table."""

    def __init__(self, raw: dict, *, file: str | None = None, text: str | None = None,
                 overridden: tuple[str, ...] = (),
                 rows: dict[tuple, tuple[str, int]] | None = None):
        self.file = file
        self.text = text
        self.raw = raw
        self.overridden = overridden     # dotted keys set by --set / overrides, not by the file
        self.rows = rows or {}           # key path of a row read from a CSV -> (CSV file, line)
        # the files' comments: values labelled ASSUMPTION and cited sources (abm.comments)
        self.notes: list[dict[str, Any]] = []
        self.config = self._validate(raw, None)
        self._check_names()
        self.scenario_names: list[str] = list(self.config.scenarios) or [BASE]
        self._scenarios: dict[str, ExperimentConfig] = {BASE: self.config}
        for name, overrides in self.config.scenarios.items():
            if not isinstance(overrides, dict):
                raise ConfigError(file, f"scenarios.{name}", "must be a table of dotted-key "
                                  "overrides", locate(text, ("scenarios", name)))
            scenario_raw = apply_overrides(raw, flatten(overrides), source=f"scenarios.{name}",
                                           file=file)
            self._scenarios[name] = self._validate(scenario_raw, name)
        chosen = self.config.experiment.baseline
        if chosen is not None and chosen not in self.scenario_names:
            raise ConfigError(file, "experiment.baseline", f"unknown scenario '{chosen}'; allowed: "
                              f"{', '.join(self.scenario_names)}",
                              locate(text, ("experiment", "baseline")))
        self._swept = self._sweep_scopes()

    # -- validation -------------------------------------------------------------------------------
    def _validate(self, raw: dict, scenario: str | None,
                  where: tuple[str, int | None] | None = None) -> ExperimentConfig:
        try:
            return ExperimentConfig.model_validate(raw)
        except ValidationError as err:
            raise error_from_validation(err, self.file, self.text, scenario,
                                         self.overridden, where, self.rows) from None

    def _check_names(self) -> None:
        """Names that become file and folder names: the experiment's (results/<name>) and the
        scenarios' (in every run's file id) must be safe and distinct as file names."""
        name = self.config.experiment.name
        if name in (".", ".."):
            raise ConfigError(self.file, "experiment.name", f"'{name}' would name the results "
                              "folder's parent or the folder itself; allowed: letters, digits, "
                              "'_', '-', '.' (not '.' or '..')",
                              locate(self.text, ("experiment", "name")))
        seen: dict[str, str] = {}
        for scenario in self.config.scenarios:
            line = locate(self.text, ("scenarios", scenario))
            if (not SCENARIO_NAME.fullmatch(scenario) or scenario in (".", "..")
                    or len(scenario) > SCENARIO_MAX):
                shown = scenario if len(scenario) <= 40 else scenario[:40] + "..."
                raise ConfigError(self.file, f"scenarios.{shown!r}", "scenario names become "
                                  "file names; allowed: letters, digits, '_', '-', '.' (not '.' "
                                  f"or '..'), at most {SCENARIO_MAX} characters", line)
            other = seen.setdefault(scenario.lower(), scenario)
            if other != scenario:
                raise ConfigError(self.file, f"scenarios.{scenario}", f"differs from scenario "
                                  f"'{other}' only in case: their files would collide on "
                                  "case-insensitive disks; rename one", line)

    def _sweep_scopes(self) -> dict[str, list[str]]:
        """Scenario -> the sweep parameters applied to it (design order). With
        ``[sweep] scenarios = [...]`` every parameter applies to the scenarios named there;
        otherwise a parameter applies to the scenarios where its table exists (a floor level
        is swept where there is a floor). A parameter that applies nowhere is an error."""
        sweep = self.config.sweep
        if sweep is None:
            return {}
        names = list(sweep.parameters)
        if sweep.scenarios is not None:
            line = locate(self.text, ("sweep", "scenarios"))
            if not sweep.scenarios:
                raise ConfigError(self.file, "sweep.scenarios", "is empty; name at least one "
                                  f"of: {', '.join(self.scenario_names)}", line)
            for name in sweep.scenarios:
                if name not in self.scenario_names:
                    raise ConfigError(self.file, "sweep.scenarios", f"unknown scenario "
                                      f"'{name}'; allowed: {', '.join(self.scenario_names)}",
                                      line)
            return {s: names if s in sweep.scenarios else [] for s in self.scenario_names}
        scopes = {s: [k for k in names if table_exists(self._scenarios[s], k)]
                  for s in self.scenario_names}
        for key in names:
            if not any(key in keys for keys in scopes.values()):
                table = key.rsplit(".", 1)[0]
                raise ConfigError(
                    self.file, f"sweep.parameters.{key}", f"applies to no scenario: table "
                    f"'{table}' is in none of the scenarios ({', '.join(self.scenario_names)}); "
                    "set it in a scenario, or name the scenarios to sweep with "
                    "[sweep] scenarios = [...]", locate(self.text, ("sweep", "parameters", key)))
        return scopes

    def check_design(self, specs: list[RunSpec] | None = None) -> int:
        """Validate the config of every (scenario, sweep point) the design runs, once each, so
        that a bad sweep value stops the experiment before it starts (and `abm validate` finds
        it). Returns the number of configs checked."""
        seen: set[tuple[str, int]] = set()
        for spec in self.design() if specs is None else specs:
            key = (spec.scenario, spec.point)
            if key not in seen:
                seen.add(key)
                self.run_config(spec)
        return len(seen)

    # -- public API -------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.config.experiment.name

    @property
    def title(self) -> str:
        return self.config.experiment.title or self.config.experiment.name

    @property
    def baseline(self) -> str:
        """The scenario paired differences are taken against."""
        chosen = self.config.experiment.baseline
        if chosen is not None:
            return chosen
        return "baseline" if "baseline" in self.scenario_names else self.scenario_names[0]

    def scenario(self, name: str = BASE) -> ExperimentConfig:
        """The validated config of a named scenario (`base` is the config as written)."""
        if name not in self._scenarios:
            raise ConfigError(self.file, "scenario", f"unknown scenario '{name}'; allowed: "
                              f"{', '.join(self._scenarios)}")
        return self._scenarios[name]

    def points(self) -> list[dict[str, float]]:
        """Sweep points (dotted key -> value); one empty point without a sweep."""
        sweep = self.config.sweep
        if sweep is None:
            return [{}]
        from abm.sweep import design_points

        return design_points(sweep, self.config.experiment.seed)

    def design_size(self) -> tuple[int, int, int]:
        """(scenarios, sweep points, replications) of the design, counted without building
        it; the design has their product of runs."""
        sweep = self.config.sweep
        from abm.sweep import design_size

        points = 1 if sweep is None else design_size(sweep)
        return len(self.scenario_names), points, self.config.experiment.replications

    def describe_size(self) -> str:
        """The design size in words: '2 scenarios x 243 sweep points x 10 replications =
        4,860 runs'."""
        scenarios, points, replications = self.design_size()
        runs = scenarios * points * replications
        return (f"{scenarios:,} scenario{'s' * (scenarios != 1)} x {points:,} sweep "
                f"point{'s' * (points != 1)} x {replications:,} replication"
                f"{'s' * (replications != 1)} = {runs:,} run{'s' * (runs != 1)}")

    def check_size(self, max_runs: int = MAX_RUNS) -> None:
        """ConfigError when the design has more than `max_runs` runs, before it is built (a
        design too large to run would otherwise be enumerated, checked and started)."""
        scenarios, points, replications = self.design_size()
        runs = scenarios * points * replications
        if runs <= max_runs:
            return
        key = "sweep" if self.config.sweep is not None and points > 1 else \
            "experiment.replications"
        raise ConfigError(self.file, key, f"the design has {self.describe_size()}, above the "
                          f"limit of {max_runs:,} runs; allowed: at most {max_runs:,} (fewer "
                          "sweep values or samples, scenarios or replications, or a higher "
                          "--max-runs)", locate(self.text, tuple(key.split("."))))

    def swept(self, scenario: str) -> list[str]:
        """The sweep parameters applied to a scenario (see `_sweep_scopes`); [] without a sweep.
        A scenario none applies to still runs at every point (the same config at each), so
        paired differences exist at every point."""
        return list(self._swept.get(scenario, []))

    def design(self) -> list[RunSpec]:
        """Every run: scenario x sweep point x replication, with common-random-number seeds.
        A run's `params` are the sweep values applied to its scenario."""
        meta = self.config.experiment
        seeds = [run_seed(meta.seed, r) for r in range(meta.replications)]
        points = self.points()
        specs = []
        for scenario in self.scenario_names:
            keys = self.swept(scenario)
            for p, point in enumerate(points):
                params = {k: v for k, v in point.items() if k in keys}
                for r, seed in enumerate(seeds):
                    specs.append(RunSpec(f"{scenario}/p{p:04d}/r{r:04d}", scenario, p, r, seed,
                                         dict(params)))
        return specs

    def scenario_raw(self, name: str = BASE) -> dict:
        """The raw (unvalidated) tables of a named scenario: the file's, with the scenario's
        overrides applied (a copy: changing it changes nothing here)."""
        self.scenario(name)             # an unknown name is an error naming the allowed ones
        if name == BASE:
            return copy.deepcopy(self.raw)
        return apply_overrides(self.raw, flatten(self.config.scenarios[name]),
                               source=f"scenarios.{name}", file=self.file)

    def validated(self, raw: dict, scenario: str) -> ExperimentConfig:
        """The validated config of tables derived from a scenario's (`scenario_raw` with
        changes); errors name the scenario."""
        return self._validate(raw, None if scenario == BASE else scenario)

    def run_config(self, spec: RunSpec) -> ExperimentConfig:
        """The validated config of one run: scenario overrides, then sweep parameters."""
        if not spec.params:
            return self.scenario(spec.scenario)
        raw = self.scenario_raw(spec.scenario)
        raw = apply_overrides(raw, spec.params, source="sweep.parameters", file=self.file)
        values = ", ".join(f"{k} = {v:g}" for k, v in spec.params.items())
        where = f"[sweep] point {spec.point} ({values}) in scenario {spec.scenario}"
        return self._validate(raw, spec.scenario, (where, self._sweep_line(spec.params)))

    def _sweep_line(self, params: dict[str, float]) -> int | None:
        """The TOML line of a sweep point's first parameter, else of [sweep]."""
        for key in params:
            line = locate(self.text, ("sweep", "parameters", key))
            if line is not None:
                return line
        return locate(self.text, ("sweep",))

    def resolved(self) -> dict:
        """The resolved base config as plain JSON-able data (defaults filled in)."""
        return self.config.model_dump(mode="json", by_alias=True)   # ([[trade_costs]] from)

    def config_hash(self, legacy: bool = False) -> str:
        """16 hex digits of the resolved config's keys that change runs. `legacy`: the hash as
        written before PROVENANCE_KEYS were blanked (results folders of that time keep theirs)."""
        data = self.resolved() if legacy else _blank_provenance(self.resolved())
        for table, key in HASH_EXCLUDED:
            data.get(table, {}).pop(key, None)
        if isinstance(data.get("sweep"), dict) and data["sweep"].get("scenarios") is None:
            data["sweep"].pop("scenarios", None)   # the hash of a sweep from before the key
        data.pop("discovery", None)   # criteria for `abm discover` change no run's result
        # keys added later leave the hash of a config that keeps their defaults as it was
        report = data.get("report")
        if isinstance(report, dict):
            report.pop("headline", None)    # what the pages lead with changes no run
            defaults = Report().model_dump(mode="json")
            defaults.pop("headline", None)
            if report == defaults:
                data.pop("report")
        floor = (data.get("policy") or {}).get("floor")
        if isinstance(floor, dict) and floor.get("rent") == "duty":
            floor.pop("rent")
        blob = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _blank_provenance(data: dict) -> dict:
    """`data` with PROVENANCE_KEYS set to None where their table exists (None is what a config
    without them resolves to, so configs that never used them keep their hash)."""
    for table, key in _provenance(data):
        table[key] = None
    return data


def table_exists(config: Any, key: str) -> bool:
    """Whether the table holding dotted key `key` is set in a validated config (a list index
    must name an entry; an optional table left out is None)."""
    node = config
    for part in key.split(".")[:-1]:
        if isinstance(node, list):
            node = node[int(part)] if part.isdigit() and int(part) < len(node) else None
        elif isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, BaseModel):
            node = getattr(node, part) if part in type(node).model_fields else None
        else:
            node = None
        if node is None:
            return False
    return True


def resolve_extends(raw: dict, path: Path, *, file: str, text: str | None,
                    seen: tuple[Path, ...] = (),
                    chain: list[tuple[Path, str]] | None = None) -> dict:
    """Merge the experiment that `extends` names under this one (recursively). Relative paths in
    the base (producers_file, projects_file) keep working: they are made relative to this file.
    `chain` collects (path, text) of every base file read, the deepest first."""
    base_name = raw.get("extends")
    if not base_name:
        return raw
    base_path = (path.parent / str(base_name)).resolve()
    if base_path in seen or base_path == path.resolve():
        raise ConfigError(file, "extends", f"circular extends: {base_path}",
                          locate(text, ("extends",)))
    try:
        regular_file(base_path, file=file, key="extends", what="an experiment TOML file")
    except ConfigError as err:
        raise ConfigError(file, "extends", err.message, locate(text, ("extends",))) from None
    base_raw, base_text = read_toml(base_path)
    base_raw = resolve_extends(base_raw, base_path, file=str(base_path), text=base_text,
                               seen=(*seen, path.resolve()), chain=chain)
    if chain is not None:
        chain.append((base_path, base_text))
    for key, table in (("producers_file", base_raw), ("projects_file", base_raw.get("investment"))):
        if isinstance(table, dict) and table.get(key):
            table[key] = str(base_path.parent / str(table[key]))
    base_raw.pop("scenarios", None)   # scenarios and sweeps belong to the experiment itself
    base_raw.pop("sweep", None)
    merged = merge_preset(base_raw, {k: v for k, v in raw.items() if k != "extends"})
    merged["extends"] = str(base_name)
    return merged


def load_experiment(path: str | Path, overrides: dict[str, Any] | None = None) -> Experiment:
    """Read, merge and validate an experiment file. `overrides` take dotted keys (as --set)."""
    path = Path(path)
    file = str(path)
    raw, text = read_toml(path)
    chain: list[tuple[Path, str]] = []
    raw = resolve_extends(raw, path, file=file, text=text, chain=chain)
    mineral = raw.get("experiment", {}).get("mineral") if isinstance(raw.get("experiment"),
                                                                      dict) else None
    if overrides and "experiment.mineral" in overrides:
        mineral = overrides["experiment.mineral"]
    if mineral:
        raw = merge_preset(load_preset(str(mineral), file=file, text=text), raw)
        preset = PRESET_DIR / f"{mineral}.toml"
        chain.insert(0, (preset, preset.read_text(encoding="utf-8")))
    rows: dict[tuple, tuple[str, int]] = {}
    if raw.get("producers_file"):
        _add_csv_rows(raw, ("producers",), path.parent / str(raw["producers_file"]), Producer,
                      rows, file=file, key="producers_file")
    inv = raw.get("investment")
    if isinstance(inv, dict) and inv.get("projects_file"):
        _add_csv_rows(raw, ("investment", "projects"), path.parent / str(inv["projects_file"]),
                      Project, rows, file=file, key="investment.projects_file")
    if overrides:
        raw = apply_overrides(raw, overrides, source="override", file=file)
    exp = Experiment(raw, file=file, text=text, overridden=tuple(overrides or ()), rows=rows)
    exp.notes = comments.collect([*chain, (path, text)])
    return exp


def _add_csv_rows(raw: dict, table: tuple[str, ...], csv_path: Path, model: type[BaseModel],
                  rows: dict[tuple, tuple[str, int]], *, file: str, key: str) -> None:
    """Append the rows of a CSV to the array of tables at `table` in `raw` (after those the
    TOML writes) and record where each came from in `rows`."""
    node = raw
    for part in table[:-1]:
        node = node[part]
    if not isinstance(node.get(table[-1], []), list):
        raise ConfigError(file, ".".join(table), "must be an array of tables ([[...]])",
                          None)
    typed, lines = read_table_csv(csv_path, file=file, key=key, model=model)
    written = list(node.get(table[-1], []))
    for i, line in enumerate(lines, start=len(written)):
        rows[(*table, i)] = (str(csv_path), line)
    node[table[-1]] = written + typed


def experiment_from_dict(raw: dict, overrides: dict[str, Any] | None = None) -> Experiment:
    """An experiment built in code (tests, notebooks) rather than read from a file."""
    raw = copy.deepcopy(raw)
    if overrides:
        raw = apply_overrides(raw, overrides, source="override", file=None)
    return Experiment(raw)
