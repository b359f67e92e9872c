"""Generate the configuration reference (docs/config.md) from the pydantic schema.

    python -m abm.config_docs > docs/config.md

The schema in abm/config.py is the one place a parameter is defined; this page is derived from it
and a test checks the committed page is current.
"""

from __future__ import annotations

import types
import typing

from pydantic import BaseModel

from abm.config import ExperimentConfig
from abm.schema import model_in


def _type_name(annotation) -> str:
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return " \\| ".join(f'"{a}"' for a in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        parts = [_type_name(a) for a in typing.get_args(annotation) if a is not type(None)]
        return " \\| ".join(parts) + (" or omitted" if type(None) in typing.get_args(annotation)
                                      else "")
    if origin in (list, tuple, dict):
        return getattr(annotation, "__name__", str(annotation)).replace("typing.", "") if not \
            typing.get_args(annotation) else f"{origin.__name__}[...]"
    if isinstance(annotation, type):
        return "table" if issubclass(annotation, BaseModel) else annotation.__name__
    return str(annotation).replace("typing.", "")


def _range(field) -> str:
    bits = []
    for meta in field.metadata:
        for name, sign in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<=")):
            value = getattr(meta, name, None)
            if value is not None:
                bits.append(f"{sign} {value:g}" if isinstance(value, float | int) else
                            f"{sign} {value}")
    return ", ".join(bits)


def _default(field) -> str:
    if field.is_required():
        return "required"
    value = field.default
    if isinstance(value, BaseModel) or value in ([], {}):
        return "-"
    return "none" if value is None else f"`{value!r}`".replace("'", '"')


def table(model: type[BaseModel], prefix: str) -> list[str]:
    rows = [f"\n### `{prefix or '(top level)'}`\n", (model.__doc__ or "").strip(), "",
            "| key | type | default | unit | allowed | description |",
            "|---|---|---|---|---|---|"]
    nested = []
    for name, field in model.model_fields.items():
        unit = (field.json_schema_extra or {}).get("unit", "") if isinstance(
            field.json_schema_extra, dict) else ""
        unit = "price unit" if unit == "price_unit" else unit
        inner = model_in(field.annotation)
        kind = _type_name(field.annotation)
        if inner is not None and name not in ("scenarios",):
            is_list = typing.get_origin(field.annotation) is list or "list" in str(field.annotation)
            key = f"{prefix}.{name}" if prefix else name
            nested.append((inner, key, is_list))
            kind = "array of tables" if is_list else "table"
        rows.append(f"| `{field.alias or name}` | {kind} | {_default(field)} | {unit} | {_range(field)} | "
                    f"{field.description or ''} |")
    for inner, key, is_list in nested:
        rows += table(inner, f"{key}[]" if is_list else key)
    return rows


def render() -> str:
    head = ["# Configuration reference", "",
            "Generated from `abm/config.py` by `python -m abm.config_docs`; do not edit by hand.",
            "Prices are in `market.price_unit` (\"price unit\" below), quantities in tonnes,",
            "capacities in tonnes per year, money in USD, time in steps (months by default).",
            "A table left out means the instrument is off. Scenario and `--set` overrides use",
            "the dotted keys shown here (arrays of tables by index: `producers.0.capacity`).",
            "Types are strict: a number or boolean in quotes (`\"30000\"`, `\"yes\"`) is an error,",
            "an integer where a float is expected is fine; no float may be `inf` or `nan`.",
            "`--set` values are read as TOML. A `producers_file` / `projects_file` CSV is UTF-8",
            "(a byte-order mark is fine) with one header row; every row has as many fields as",
            "the header (write `35000`, not `35,000`). Producer, recycler and project names are",
            "unique together, buyer names among buyers; `mineral` is a preset name."]
    return "\n".join(head + table(ExperimentConfig, "")) + "\n"


if __name__ == "__main__":
    print(render(), end="")
