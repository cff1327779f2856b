"""Plausible request bodies derived from a route's pydantic model, for tests that sweep every route."""

from __future__ import annotations

import datetime as dt
import types
import typing
from enum import Enum
from typing import Any

from pydantic import AwareDatetime, BaseModel


def unwrap_optional(annotation: Any) -> Any:
    """``X | None`` -> ``X``."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0] if len(args) == 1 else annotation
    return annotation


def _example(annotation: Any, metadata: list[Any]) -> Any:
    annotation = unwrap_optional(annotation)
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return typing.get_args(annotation)[0]
    if origin in (typing.Union, types.UnionType):  # a choice of shapes: the first will do
        return _example(typing.get_args(annotation)[0], metadata)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return plausible(annotation)
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return next(iter(annotation)).value
    if annotation is bool:
        return True
    if annotation is int:
        return 1
    if annotation is float:
        return 1.5
    if annotation is dt.date:
        return "2000-01-01"
    if annotation is dt.datetime or annotation is AwareDatetime:
        return "2022-05-03T08:00:00+08:00"
    if annotation is dict or origin is dict:
        return {}
    if origin is list and any(getattr(m, "min_length", 0) for m in metadata):
        (item,) = typing.get_args(annotation)
        return [
            plausible(item) if isinstance(item, type) and issubclass(item, BaseModel) else _example(item, [])
        ]
    if annotation is list or origin is list:
        return []
    if annotation is str:
        longest = min((m.max_length for m in metadata if getattr(m, "max_length", None)), default=6)
        shortest = max((m.min_length for m in metadata if getattr(m, "min_length", None)), default=0)
        return "1" * max(shortest, min(6, longest))  # digits satisfy the pattern of codes
    return "1"


def plausible(model: type[BaseModel]) -> dict[str, Any]:
    """The smallest body the model accepts: its required fields with valid values."""
    body = {
        (info.alias or name): _example(info.annotation, info.metadata)
        for name, info in model.model_fields.items()
        if info.is_required()
    }
    model.model_validate(body)  # the generator must keep up with the models
    return body
