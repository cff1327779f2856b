"""JSON values as both rule languages see them: integers, strict equality and data access by path.

Both CertLogic and JsonLogic were defined against JavaScript, where JSON has one number type; an
integral float (``42.0``) is therefore the integer ``42`` here too. Strict equality is JavaScript's ``===``:
scalars compare by value, arrays, objects and date-times only by identity. Paths (``"a.0.b"``) drill into
objects by key and into arrays by a non-negative decimal index; anything else is *missing*.
"""

from __future__ import annotations

import re
from typing import Any, Final

_INDEX = re.compile(r"[0-9]+", re.ASCII)


class _Missing:
    """The single "no such value" marker (JavaScript's ``undefined``), distinct from JSON ``null``."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()

Step = tuple[str, int | None]
"""One path fragment: the object key, and the array index when the fragment is a decimal integer."""


def is_int(value: Any) -> bool:
    """True for JSON integers (booleans excluded; ``2.0`` counts, as it does in JavaScript)."""
    kind = type(value)
    return kind is int or (kind is float and value.is_integer())


def is_number(value: Any) -> bool:
    """True for any JSON number (booleans excluded)."""
    kind = type(value)
    return kind is int or kind is float


def strict_equals(left: Any, right: Any) -> bool:
    """JavaScript's ``===`` on JSON values: no coercion, containers equal only to themselves."""
    left_kind, right_kind = type(left), type(right)
    if left_kind is str or left_kind is bool:
        return left_kind is right_kind and left == right
    if left_kind is int or left_kind is float:
        return (right_kind is int or right_kind is float) and left == right
    return left is right


def parse_path(path: str) -> tuple[Step, ...]:
    """Split a dotted path into steps; ``""`` is the empty path (the whole data context)."""
    if path == "":
        return ()
    return tuple((part, int(part) if _INDEX.fullmatch(part) else None) for part in path.split("."))


def lookup(data: Any, steps: tuple[Step, ...]) -> Any:
    """The value at ``steps`` inside ``data``, or ``MISSING`` when any step finds nothing.

    A ``null`` part-way down is missing too; a ``null`` at the end is returned as ``None``.
    """
    for key, index in steps:
        if isinstance(data, dict):
            data = data.get(key, MISSING)
            if data is MISSING:
                return MISSING
        elif isinstance(data, list) and index is not None:
            if index >= len(data):
                return MISSING
            data = data[index]
        else:
            return MISSING
    return data
