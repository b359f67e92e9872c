"""Walking the pydantic schema of abm.config: the models inside annotations, fields by key path.

One place for what the config docs, the config error messages (which keys a table allows) and the
sweep pages (the unit of a swept key) all need. Imports pydantic only, so any module may use it.
"""

from __future__ import annotations

import typing
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo


def model_in(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model an annotation holds, unwrapping Optional, unions, list, tuple, dict
    and Annotated (``list[Producer] | None`` -> Producer); None when it holds none."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = model_in(arg)
        if found is not None:
            return found
    return None


def field_at(model: type[BaseModel], path: typing.Sequence[str | int]) -> FieldInfo | None:
    """The field a key path names below `model` (integer list indices skipped:
    ``("producers", 0, "capacity")``); None when some part is not a field of the schema."""
    info: FieldInfo | None = None
    current: type[BaseModel] | None = model
    for part in path:
        if isinstance(part, int):
            continue
        fields = current.model_fields if current is not None else {}
        if part not in fields:
            return None
        info = fields[part]
        current = model_in(info.annotation)
    return info


def table_at(model: type[BaseModel], path: typing.Sequence[str | int]) -> type[BaseModel] | None:
    """The model of the table a key path names (``()`` is `model` itself); None when the path
    does not lead to a table."""
    if all(isinstance(p, int) for p in path):
        return model
    info = field_at(model, path)
    return model_in(info.annotation) if info is not None else None
