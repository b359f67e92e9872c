"""Loading experiments: TOML, mineral presets, producer files, scenarios, overrides, design table.

Everything a user can get wrong here raises :class:`abm.errors.ConfigError` naming the file, the
dotted key path, the TOML line where it can be found, and what is allowed.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ValidationError

from abm.config import INVALID, ExperimentConfig
from abm.csvtable import LINE, read_cells
from abm.dotted import apply_overrides, flatten
from abm.errors import ConfigError
from abm.schema import table_at

PRESET_DIR = Path(__file__).parent / "data" / "minerals"
BASE = "base"
# scenario names are part of every run's file name (RunSpec.file_id)
SCENARIO_NAME = re.compile(r"[A-Za-z0-9_.-]+")
SCENARIO_MAX = 64
# Keys that do not change any run's result: excluded from the config hash so a study can be
# extended (more replications) or retitled and still reuse its finished runs.
HASH_EXCLUDED = (("experiment", "replications"), ("experiment", "title"),
                 ("experiment", "question"))


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
# locating keys in TOML text (for line numbers in messages)
# --------------------------------------------------------------------------------------------------


def locate(text: str | None, path: tuple) -> int | None:
    """Best-effort 1-based line of a key path in TOML text; None when it cannot be found."""
    if not text or not path:
        return None
    lines = text.splitlines()
    table: list[str] = []
    counters: dict[str, int] = {}
    parts = [str(p) for p in path]  # table names and list indices, then the key
    best: int | None = None
    for number, line in enumerate(lines, start=1):
        stripped = line.split("#", 1)[0].strip()
        m = re.match(r"^\[\[\s*([^\]]+?)\s*\]\]$", stripped)
        if m:
            name = m.group(1)
            counters[name] = counters.get(name, -1) + 1
            table = name.split(".") + [str(counters[name])]
            if table == parts[: len(table)]:
                best = number
            continue
        m = re.match(r"^\[\s*([^\]]+?)\s*\]$", stripped)
        if m:
            table = [p.strip().strip('"') for p in m.group(1).split(".")]
            if table == parts[: len(table)]:
                best = number
            continue
        m = re.match(r'^("[^"]+"|[A-Za-z0-9_.-]+)\s*=', stripped)
        if m:
            key = m.group(1)
            full = table + ([key.strip('"')] if key.startswith('"') else key.split("."))
            if full == parts[: len(full)]:
                return number
    return best


def _error_from_validation(err: ValidationError, file: str | None, text: str | None,
                           scenario: str | None, overridden: tuple[str, ...] = (),
                           where: tuple[str, int | None] | None = None) -> ConfigError:
    """The first of pydantic's errors as a ConfigError: the key path is the error's `loc` (our
    own checks in abm.config raise at the path they name, see abm.config.invalid).

    An unknown key is reported before anything else, with the closest allowed name, and then
    the required keys that are missing (a misspelt required key gives both errors; the
    misspelling is the one to name). `where` is (key prefix, line) for an error of a sweep point
    (the prefix names [sweep] and the point); else a scenario's errors name the scenario."""
    errors = err.errors()
    unknown = [e for e in errors if e.get("type") == "extra_forbidden"]
    first = unknown[0] if unknown else errors[0]
    loc = tuple(first.get("loc", ()))
    kind = first.get("type")
    msg = first.get("msg", "invalid value")
    if msg.startswith("Value error, "):  # a plain ValueError from a validator
        msg = msg[len("Value error, "):]
    if kind == INVALID:
        pass  # our own message, already saying what is allowed
    elif kind == "extra_forbidden":
        msg = "unknown key" + _closest_key(loc) + _allowed_keys(loc)
        missing = [".".join(str(p) for p in e.get("loc", ())) for e in errors
                   if e.get("type") == "missing"]
        if missing:
            msg += ("; also missing: required " + ("key " if len(missing) == 1 else "keys ")
                    + ", ".join(f"'{m}'" for m in missing))
    elif kind == "missing":
        msg = "required key is missing"
    elif "input" in first and kind != "model_type":
        shown = first["input"]
        if not isinstance(shown, dict | list):
            msg = f"{msg} (got {shown!r})"
    key = ".".join(str(p) for p in loc)
    line = locate(text, loc) if scenario is None else None
    if key and any(key == k or key.startswith(k + ".") for k in overridden):
        # the value came from --set (or overrides), not from a line of the file
        return ConfigError(file, key, f"{msg} (a value given by --set or overrides)", None)
    if where is not None:
        key = f"{where[0]} -> {key}"
        line = where[1]
    elif scenario is not None:
        key = f"scenarios.{scenario} -> {key}"
        line = locate(text, ("scenarios", scenario))
    return ConfigError(file, key or None, msg, line)


def _closest_key(loc: tuple) -> str:
    """" (did you mean 'x'?)" for an unknown key close to an allowed one (difflib)."""
    model = table_at(ExperimentConfig, loc[:-1])
    if model is None or not loc:
        return ""
    close = difflib.get_close_matches(str(loc[-1]), list(model.model_fields), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _allowed_keys(loc: tuple) -> str:
    """'; allowed: a, b, c' for the table that holds an unknown key."""
    model = table_at(ExperimentConfig, loc[:-1])
    return f"; allowed: {', '.join(model.model_fields)}" if model is not None else ""


# --------------------------------------------------------------------------------------------------
# reading files
# --------------------------------------------------------------------------------------------------


def read_toml(path: Path) -> tuple[dict, str]:
    if not path.exists():
        raise ConfigError(str(path), None, "file not found")
    if path.is_dir():
        raise ConfigError(str(path), None, "is a folder, expected a TOML file")
    text = path.read_text(encoding="utf-8")
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


def read_table_csv(path: Path, *, file: str, key: str) -> list[dict[str, Any]]:
    """Rows of a producers or projects CSV as dicts of text cells (empty cells left out: the
    defaults apply; pydantic checks the types and names the key of a bad cell)."""
    cells = read_cells(path, file=file, key=key, what="a CSV file")
    rows = [{k: v for k, v in row.items() if v is not None}
            for row in cells.drop(LINE).iter_rows(named=True)]
    if not rows:
        raise ConfigError(file, key, f"{path} has no rows")
    return rows


def load_preset(name: str, *, file: str, text: str | None) -> dict:
    path = PRESET_DIR / f"{name}.toml"
    if not path.exists():
        known = sorted(p.stem for p in PRESET_DIR.glob("*.toml"))
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
                 overridden: tuple[str, ...] = ()):
        self.file = file
        self.text = text
        self.raw = raw
        self.overridden = overridden     # dotted keys set by --set / overrides, not by the file
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
            raise _error_from_validation(err, self.file, self.text, scenario,
                                         self.overridden, where) from None

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
        return self.config.model_dump(mode="json")

    def config_hash(self) -> str:
        data = self.resolved()
        for table, key in HASH_EXCLUDED:
            data.get(table, {}).pop(key, None)
        if isinstance(data.get("sweep"), dict) and data["sweep"].get("scenarios") is None:
            data["sweep"].pop("scenarios", None)   # the hash of a sweep from before the key
        data.pop("discovery", None)   # criteria for `abm discover` change no run's result
        blob = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


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
                    seen: tuple[Path, ...] = ()) -> dict:
    """Merge the experiment that `extends` names under this one (recursively). Relative paths in
    the base (producers_file, projects_file) keep working: they are made relative to this file."""
    base_name = raw.get("extends")
    if not base_name:
        return raw
    base_path = (path.parent / str(base_name)).resolve()
    if base_path in seen or base_path == path.resolve():
        raise ConfigError(file, "extends", f"circular extends: {base_path}",
                          locate(text, ("extends",)))
    if not base_path.exists():
        raise ConfigError(file, "extends", f"file not found: {base_path}",
                          locate(text, ("extends",)))
    base_raw, base_text = read_toml(base_path)
    base_raw = resolve_extends(base_raw, base_path, file=str(base_path), text=base_text,
                               seen=(*seen, path.resolve()))
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
    raw = resolve_extends(raw, path, file=file, text=text)
    mineral = raw.get("experiment", {}).get("mineral") if isinstance(raw.get("experiment"),
                                                                      dict) else None
    if overrides and "experiment.mineral" in overrides:
        mineral = overrides["experiment.mineral"]
    if mineral:
        raw = merge_preset(load_preset(str(mineral), file=file, text=text), raw)
    if raw.get("producers_file"):
        rows = read_table_csv(path.parent / str(raw["producers_file"]), file=file,
                              key="producers_file")
        raw["producers"] = list(raw.get("producers", [])) + rows
    inv = raw.get("investment")
    if isinstance(inv, dict) and inv.get("projects_file"):
        rows = read_table_csv(path.parent / str(inv["projects_file"]), file=file,
                              key="investment.projects_file")
        inv["projects"] = list(inv.get("projects", [])) + rows
    if overrides:
        raw = apply_overrides(raw, overrides, source="override", file=file)
    return Experiment(raw, file=file, text=text, overridden=tuple(overrides or ()))


def experiment_from_dict(raw: dict, overrides: dict[str, Any] | None = None) -> Experiment:
    """An experiment built in code (tests, notebooks) rather than read from a file."""
    raw = copy.deepcopy(raw)
    if overrides:
        raw = apply_overrides(raw, overrides, source="override", file=None)
    return Experiment(raw)
