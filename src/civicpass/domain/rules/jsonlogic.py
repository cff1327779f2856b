"""JsonLogic, as defined by jsonlogic.com and its reference implementation json-logic-js.

Every operator of the JsonLogic reference tests (``tests.json``) with JavaScript's semantics: JavaScript
truthiness except that ``[]`` is falsy (``{}`` and ``"0"`` are truthy), ``==`` with coercion next to strict
``===``, numbers through ``parseFloat``/``Number`` as json-logic-js does, ``if`` with any number of
operands (else-if chains), ``var`` with an optional default, ``missing``/``missing_some``, and the array
operations ``map``, ``filter``, ``reduce``, ``all``, ``none``, ``some`` whose logic sees each element as its
data. An operator's arguments may be a single value instead of an array (``{"!": true}``).

This is *not* CertLogic (see ``certlogic``), which restricts JsonLogic and changes parts of it. ``log`` is
the identity here (the domain does no I/O) and ``method`` (calling JavaScript methods) is not offered. An
unknown operator raises ``RuleError`` (``rule_invalid``); so does logic nested too deeply to evaluate.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from civicpass.domain.rules.errors import rule_evaluation_failed, rule_invalid
from civicpass.domain.rules.jsvalues import (
    compare,
    js_number,
    loose_equals,
    parse_float,
    to_number,
    to_string,
)
from civicpass.domain.rules.values import MISSING, lookup, parse_path, strict_equals

Operation = Callable[[list[Any], Any], Any]
"""An eager operation: gets its evaluated arguments and the data, returns the result."""


def truthy(value: Any) -> bool:
    """JsonLogic's truthiness: JavaScript's, except that an empty array is falsy."""
    if isinstance(value, list):
        return len(value) > 0
    if isinstance(value, dict):
        return True
    if isinstance(value, float) and math.isnan(value):
        return False
    return bool(value)


def _arg(args: list[Any], index: int) -> Any:
    return args[index] if index < len(args) else None


def var(args: list[Any], data: Any) -> Any:
    """``{"var": [path, default]}``: the value at ``path`` in ``data``, or ``default`` (null) if missing."""
    path, default = _arg(args, 0), _arg(args, 1)
    if path is None or path == "":
        return data
    value = lookup(data, parse_path(to_string(path)))
    return default if value is MISSING else value


def _missing(args: list[Any], data: Any) -> list[Any]:
    keys = args[0] if args and isinstance(args[0], list) else args
    return [key for key in keys if var([key], data) in (None, "")]


def _missing_some(args: list[Any], data: Any) -> list[Any]:
    need, options = _arg(args, 0), _arg(args, 1)
    if not isinstance(options, list):
        raise rule_evaluation_failed('"missing_some" needs a list of paths as its second argument')
    absent = _missing([options], data)
    return [] if len(options) - len(absent) >= to_number(need) else absent


def _plus(args: list[Any], _data: Any) -> Any:
    total = 0.0
    for arg in args:  # left to right, rounding at each step, as JavaScript adds
        total += parse_float(arg)
    return js_number(total)


def _times(args: list[Any], _data: Any) -> Any:
    if not args:
        raise rule_evaluation_failed('"*" needs at least one argument')
    if len(args) == 1:
        return args[0]  # json-logic-js reduces without a seed: a single argument comes back unconverted
    product = parse_float(args[0])
    for arg in args[1:]:
        product *= parse_float(arg)
    return js_number(product)


def _minus(args: list[Any], _data: Any) -> Any:
    if len(args) == 1:
        return js_number(-to_number(args[0]))
    return js_number(to_number(_arg(args, 0)) - to_number(_arg(args, 1)))


def _divide(args: list[Any], _data: Any) -> Any:
    a, b = to_number(_arg(args, 0)), to_number(_arg(args, 1))
    if b == 0:
        return math.nan if a == 0 or math.isnan(a) else math.copysign(math.inf, a) * math.copysign(1, b)
    return js_number(a / b)


def _modulo(args: list[Any], _data: Any) -> Any:
    a, b = to_number(_arg(args, 0)), to_number(_arg(args, 1))
    if b == 0 or math.isinf(a) or math.isnan(a) or math.isnan(b):
        return math.nan
    return js_number(math.fmod(a, b))


def _extreme(pick: Callable[[list[float]], float], empty: float) -> Operation:
    def run(args: list[Any], _data: Any) -> Any:
        numbers = [to_number(arg) for arg in args]
        if any(math.isnan(n) for n in numbers):
            return math.nan
        return js_number(pick(numbers)) if numbers else empty

    return run


def _substr(args: list[Any], _data: Any) -> str:
    text = to_string(_arg(args, 0))
    start = _integer(_arg(args, 1))
    start = max(len(text) + start, 0) if start < 0 else min(start, len(text))
    rest = text[start:]
    if len(args) < 3:
        return rest
    length = _integer(args[2])
    if length < 0:
        return rest[: max(len(rest) + length, 0)]
    return rest[:length]


def _integer(value: Any) -> int:
    """``ToIntegerOrInfinity``, clamped to a size any string index can use."""
    number = to_number(value)
    if math.isnan(number):
        return 0
    return int(max(min(number, 2.0**53), -(2.0**53)))


def _merge(args: list[Any], _data: Any) -> list[Any]:
    merged: list[Any] = []
    for arg in args:
        merged.extend(arg if isinstance(arg, list) else [arg])
    return merged


def _in(args: list[Any], _data: Any) -> bool:
    needle, haystack = _arg(args, 0), _arg(args, 1)
    if isinstance(haystack, str):
        return to_string(needle) in haystack
    if isinstance(haystack, list):
        return any(strict_equals(needle, item) for item in haystack)
    return False


def _less(operator: str) -> Operation:
    def run(args: list[Any], _data: Any) -> bool:
        a, b = _arg(args, 0), _arg(args, 1)
        if len(args) > 2:  # "between": a < b < c
            return compare(operator, a, b) and compare(operator, b, args[2])
        return compare(operator, a, b)

    return run


def _greater(operator: str) -> Operation:
    return lambda args, _data: compare(operator, _arg(args, 0), _arg(args, 1))


OPERATIONS: dict[str, Operation] = {
    "==": lambda args, _data: loose_equals(_arg(args, 0), _arg(args, 1)),
    "!=": lambda args, _data: not loose_equals(_arg(args, 0), _arg(args, 1)),
    "===": lambda args, _data: strict_equals(_arg(args, 0), _arg(args, 1)),
    "!==": lambda args, _data: not strict_equals(_arg(args, 0), _arg(args, 1)),
    "<": _less("<"),
    "<=": _less("<="),
    ">": _greater(">"),
    ">=": _greater(">="),
    "!": lambda args, _data: not truthy(_arg(args, 0)),
    "!!": lambda args, _data: truthy(_arg(args, 0)),
    "var": var,
    "missing": _missing,
    "missing_some": _missing_some,
    "in": _in,
    "cat": lambda args, _data: "".join(to_string(arg) for arg in args),
    "substr": _substr,
    "merge": _merge,
    "+": _plus,
    "-": _minus,
    "*": _times,
    "/": _divide,
    "%": _modulo,
    "min": _extreme(min, math.inf),
    "max": _extreme(max, -math.inf),
    "log": lambda args, _data: _arg(args, 0),
}


def _if(values: list[Any], data: Any) -> Any:
    index = 0
    while index < len(values) - 1:
        if truthy(_apply(values[index], data)):
            return _apply(values[index + 1], data)
        index += 2
    return _apply(values[index], data) if index == len(values) - 1 else None


def _and_or(values: list[Any], data: Any, stop_when: bool) -> Any:
    value = None
    for operand in values:
        value = _apply(operand, data)
        if truthy(value) is stop_when:
            return value
    return value


def _elements(values: list[Any], data: Any) -> list[Any]:
    scoped = _apply(_arg(values, 0), data)
    return scoped if isinstance(scoped, list) else []


def _reduce(values: list[Any], data: Any) -> Any:
    scoped = _apply(_arg(values, 0), data)
    accumulator = _apply(values[2], data) if len(values) > 2 else None
    if not isinstance(scoped, list):
        return accumulator
    for current in scoped:
        accumulator = _apply(_arg(values, 1), {"current": current, "accumulator": accumulator})
    return accumulator


def _all(values: list[Any], data: Any) -> bool:
    scoped = _apply(_arg(values, 0), data)
    if scoped is None:
        raise rule_evaluation_failed('"all" needs an array to work on, not null')
    if not isinstance(scoped, list | str) or not scoped:
        return False
    return all(truthy(_apply(_arg(values, 1), item)) for item in scoped)


def _special(operator: str, values: list[Any], data: Any) -> Any:
    """Operations that decide themselves which operands to evaluate, and on which data."""
    if operator in ("if", "?:"):
        return _if(values, data)
    if operator in ("and", "or"):
        return _and_or(values, data, stop_when=operator == "or")
    if operator in ("map", "filter", "none", "some"):
        logic = _arg(values, 1)
        items = _elements(values, data)
        if operator == "map":
            return [_apply(logic, item) for item in items]
        kept = [item for item in items if truthy(_apply(logic, item))]
        return {"filter": kept, "none": not kept, "some": bool(kept)}[operator]
    if operator == "reduce":
        return _reduce(values, data)
    return _all(values, data)


_SPECIAL = frozenset({"if", "?:", "and", "or", "map", "filter", "reduce", "all", "none", "some"})


def _apply(logic: Any, data: Any) -> Any:
    if isinstance(logic, list):
        return [_apply(item, data) for item in logic]
    if not (isinstance(logic, dict) and len(logic) == 1):
        return logic  # not logic: a literal, or an object that is data
    ((operator, values),) = logic.items()
    if not isinstance(values, list):
        values = [values]
    if operator in _SPECIAL:
        return _special(operator, values, data)
    operation = OPERATIONS.get(operator)
    if operation is None:
        raise rule_invalid(f"unrecognised operation: {operator!r}")
    return operation([_apply(value, data) for value in values], data)


def evaluate(logic: Any, data: Any = None) -> Any:
    """The value of JsonLogic ``logic`` on ``data``."""
    try:
        return _apply(logic, data)
    except RecursionError:
        raise rule_invalid("logic nested too deeply to evaluate") from None
