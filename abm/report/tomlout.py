"""Write a resolved config (plain JSON-able dict) back as TOML, so a reader can rerun it.

The standard library reads TOML but does not write it; configs hold only tables, arrays of tables,
scalars and arrays of scalars, so a small writer suffices. TOML has no null: keys whose value is
None are left out, which the schema reads back as the same default.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


def key(k: str) -> str:
    """A bare key when TOML allows it, else a quoted one ("policy.floor.level" stays one key)."""
    return k if _BARE.match(k) else json.dumps(k, ensure_ascii=False)


def value(v: Any) -> str:
    """An inline TOML value."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "[" + ", ".join(value(x) for x in v if x is not None) + "]"
    if isinstance(v, dict):
        items = ", ".join(f"{key(k)} = {value(x)}" for k, x in v.items() if x is not None)
        return "{ " + items + " }" if items else "{}"
    raise TypeError(f"cannot write {type(v).__name__} as TOML")


def _is_table_array(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(x, dict) for x in v)


def dumps(data: dict[str, Any]) -> str:
    """TOML text of a nested dict."""
    lines: list[str] = []
    _table(data, [], lines)
    return "\n".join(lines).strip() + "\n"


def _table(data: dict[str, Any], path: list[str], lines: list[str], array: bool = False) -> None:
    scalars = {k: v for k, v in data.items() if v is not None and not (
        (isinstance(v, dict) and v) or _is_table_array(v))}
    tables = {k: v for k, v in data.items() if isinstance(v, dict) and v}
    arrays = {k: v for k, v in data.items() if _is_table_array(v)}
    if path and (scalars or array or not (tables or arrays)):
        header = ".".join(key(p) for p in path)
        lines.append("")
        lines.append(f"[[{header}]]" if array else f"[{header}]")
    for k, v in scalars.items():
        lines.append(f"{key(k)} = {value(v)}")
    for k, v in tables.items():
        _table(v, path + [k], lines)
    for k, items in arrays.items():
        for item in items:
            # an item's own sub-tables would need [a.b] nesting under [[a]]: write them inline
            lines.append("")
            lines.append(f"[[{'.'.join(key(p) for p in path + [k])}]]")
            lines.extend(f"{key(ik)} = {value(iv)}" for ik, iv in item.items() if iv is not None)
