"""Messages of config errors: the TOML line of a key path, and pydantic's errors as one
ConfigError naming the file, the key path and what is allowed.

Used by abm.experiment (the experiment file, its scenarios, sweep points and CSV rows).
"""

from __future__ import annotations

import difflib
import re
from typing import Any

from pydantic import BaseModel, ValidationError

from abm.config import INVALID, ExperimentConfig
from abm.errors import ConfigError
from abm.schema import table_at

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
            if table == parts[: len(table)] or (best is None and table[: len(parts)] == parts):
                best = number   # the table itself, or the first table inside it
            continue
        m = re.match(r'^("[^"]+"|[A-Za-z0-9_.-]+)\s*=', stripped)
        if m:
            key = m.group(1)
            full = table + ([key.strip('"')] if key.startswith('"') else key.split("."))
            if full == parts[: len(full)]:
                return number
    return best


def error_from_validation(err: ValidationError, file: str | None, text: str | None,
                           scenario: str | None, overridden: tuple[str, ...] = (),
                           where: tuple[str, int | None] | None = None,
                           rows: dict[tuple, tuple[str, int]] | None = None) -> ConfigError:
    """The first of pydantic's errors as a ConfigError: the key path is the error's `loc` (our
    own checks in abm.config raise at the path they name, see abm.config.invalid).

    `where` is (key prefix, line) for an error of a sweep point (the prefix names [sweep] and
    the point); else a scenario's errors name the scenario. `rows` maps the key path of a table
    row read from a CSV (``("producers", 3)``) to its (CSV file, line): an error in such a row
    of the base config names the CSV, its line and the column."""
    loc, msg = describe(err.errors(), ExperimentConfig)
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
    else:
        source = next(((rows or {})[loc[:n]] for n in (2, 3) if loc[:n] in (rows or {})), None)
        if source is not None:
            column = str(loc[-1]) if not isinstance(loc[-1], int) else None
            return ConfigError(source[0], column, msg, source[1])
    return ConfigError(file, key or None, msg, line)


def describe(errors: list[dict], root: type[BaseModel]) -> tuple[tuple, str]:
    """The key path and message of the error to report among pydantic's `errors` (validated
    against `root`).

    An unknown key is reported before anything else, with the closest allowed name, and then
    the required keys that are missing (a misspelt required key gives both errors; the
    misspelling is the one to name)."""
    unknown = [e for e in errors if e.get("type") == "extra_forbidden"]
    first = unknown[0] if unknown else errors[0]
    loc = tuple(p for p in first.get("loc", ()) if not _union_tag(p))
    kind = first.get("type")
    msg = first.get("msg", "invalid value")
    if msg.startswith("Value error, "):  # a plain ValueError from a validator
        msg = msg[len("Value error, "):]
    if kind == INVALID:
        pass  # our own message, already saying what is allowed
    elif kind == "extra_forbidden":
        msg = "unknown key" + _closest_key(root, loc) + _allowed_keys(root, loc)
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
            msg = f"{msg} (got {shown!r}{_quoted_hint(kind, shown)})"
    return loc, msg


def _union_tag(part: str | int) -> bool:
    """Whether a part of pydantic's `loc` names the member of a union tried (``list[float]``,
    ``Range``, ``str``), not a key: config keys are lower case and hold no brackets."""
    return isinstance(part, str) and (part in ("str", "int", "float", "bool") or "[" in part
                                      or re.fullmatch(r"[A-Z]\w*", part) is not None)


def _quoted_hint(kind: str | None, shown: Any) -> str:
    """What to write instead of a quoted number or boolean (TOML types are strict)."""
    if not isinstance(shown, str) or kind not in ("float_type", "int_type", "bool_type"):
        return ""
    if kind == "bool_type":
        return ": text in quotes; allowed: true or false, without quotes"
    return ": text in quotes; write the number without quotes"


def _closest_key(root: type[BaseModel], loc: tuple) -> str:
    """" (did you mean 'x'?)" for an unknown key close to an allowed one (difflib)."""
    model = table_at(root, loc[:-1])
    if model is None or not loc:
        return ""
    keys = _key_names(model)
    if keys.get(str(loc[-1]), loc[-1]) != loc[-1]:      # a field's Python name, not its key
        return f" (did you mean '{keys[str(loc[-1])]}'?)"
    close = difflib.get_close_matches(str(loc[-1]), list(keys.values()), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _key_names(model: type[BaseModel]) -> dict[str, str]:
    """Each field's name -> the key written in a config (its alias, as `from` for `origin`)."""
    return {name: f.alias or name for name, f in model.model_fields.items()}


def _allowed_keys(root: type[BaseModel], loc: tuple) -> str:
    """'; allowed: a, b, c' for the table that holds an unknown key."""
    model = table_at(root, loc[:-1])
    return (f"; allowed: {', '.join(_key_names(model).values())}" if model is not None
            else "")
