"""Dotted config keys (``policy.floor.level``, ``producers.0.capacity``): parsing --set values,
setting a key in nested TOML data, and flattening nested tables into dotted keys.

Used by experiment loading (scenarios, --set, sweep points) and by the result pages (a scenario's
overrides shown as dotted keys). Imports nothing of abm but the error type.
"""

from __future__ import annotations

import copy
import tomllib
from typing import Any

from abm.errors import ConfigError


def parse_value(text: str) -> Any:
    """A --set VALUE in TOML syntax; a bare word that is not TOML is taken as a string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def set_dotted(raw: dict, key: str, value: Any, *, source: str, file: str | None) -> None:
    """Set `a.b.c` (or `producers.0.capacity`) in a nested dict, creating tables on the way."""
    parts = key.split(".")
    if not all(parts):
        raise ConfigError(file, key, f"{source}: empty part in dotted key")
    node: Any = raw
    for i, part in enumerate(parts[:-1]):
        nxt = parts[i + 1]
        if isinstance(node, list):
            node = node[_index(node, part, key, source=source, file=file)]
            continue
        if not isinstance(node, dict):
            raise ConfigError(file, key, f"{source}: '{'.'.join(parts[:i])}' is not a table")
        if part not in node or node[part] is None:
            node[part] = [] if nxt.isdigit() else {}
        node = node[part]
    last = parts[-1]
    if isinstance(node, list):
        node[_index(node, last, key, source=source, file=file)] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        raise ConfigError(file, key, f"{source}: parent of '{last}' is not a table")


def _index(node: list, part: str, key: str, *, source: str, file: str | None) -> int:
    """`part` of dotted key `key` as an index of the list `node` (ConfigError if it is none)."""
    if not part.isdigit() or int(part) >= len(node):
        raise ConfigError(file, key, f"{source}: '{part}' is not an index of a list of "
                          f"{len(node)} entries")
    return int(part)


def apply_overrides(raw: dict, overrides: dict[str, Any], *, source: str,
                    file: str | None) -> dict:
    out = copy.deepcopy(raw)
    for key, value in overrides.items():
        set_dotted(out, key, value, source=source, file=file)
    return out


def flatten(overrides: dict, prefix: str = "") -> dict[str, Any]:
    """Nested tables as dotted keys: ``{"a": {"b": 1}, "c.d": 2}`` -> ``{"a.b": 1, "c.d": 2}``.

    Scenario tables may be written with dotted string keys or nested tables; both flatten to the
    same overrides. Empty tables, and the {low, high} ranges under ``sweep.parameters``, stay
    values."""
    out: dict[str, Any] = {}
    for key, value in overrides.items():
        full = f"{prefix}{key}"
        if isinstance(value, dict) and value and not _is_leaf_table(full):
            out.update(flatten(value, full + "."))
        else:
            out[full] = value
    return out


def _is_leaf_table(key: str) -> bool:
    """Tables whose value is itself a mapping parameter (a sweep range)."""
    return key.startswith("sweep.parameters.")
