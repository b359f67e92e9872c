"""Write a resolved config (plain JSON-able dict) back as TOML, so a reader can rerun it.

The standard library reads TOML but does not write it; ``tomli-w`` writes it (every string escape,
quoted keys such as ``"policy.floor.level"``, nan and inf). TOML has no null, so ``None`` is
handled here first, the same way at every depth:

- a key whose value is None is left out: the schema reads a missing key as its default, which is
  what None stands for in a resolved config;
- None inside an array is refused (ValueError): dropping it would shift the items after it, and
  the schema has no array with optional items, so a valid config never holds one.
"""

from __future__ import annotations

from typing import Any

import tomli_w


def without_none(value: Any, where: str = "") -> Any:
    """`value` with None-valued keys removed at every depth; ValueError for None in an array."""
    if isinstance(value, dict):
        return {k: without_none(v, f"{where}.{k}" if where else str(k))
                for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        if any(v is None for v in value):
            raise ValueError(f"{where or 'value'}: TOML has no null, and an array cannot leave "
                             "out an item without shifting the others")
        return [without_none(v, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def dumps(data: dict[str, Any]) -> str:
    """TOML text of a nested dict (None handled as the module docstring says)."""
    return tomli_w.dumps(without_none(data))
