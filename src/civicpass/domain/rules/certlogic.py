"""CertLogic, the JsonLogic subset of the EU DCC business rules: a compiler and an evaluator.

Implements the CertLogic specification 1.3.3 (ehn-dcc-development/dgc-business-rules,
certlogic/specification/README.md). ``compile_expression`` checks an expression once with
``validation.validate`` and turns it into nested closures, so that one rule runs over many residents
without re-reading the JSON; ``evaluate(expr, data)`` is ``compile_expression(expr)(data)``.

Semantics kept exactly (they differ from JsonLogic, see ``jsonlogic``):

* truthy/falsy: ``false``, ``null``, ``""``, ``0``, ``[]``, ``{}`` are falsy; ``true``, non-empty strings,
  non-zero integers, non-empty arrays and objects are truthy; anything else (a date-time, a non-integral
  number) is neither, and using it as a condition (``if``, ``and``, ``!``) is an error (certlogic-js
  calls any non-zero JavaScript number truthy; the specification allows integers only, and so do we);
* ``if`` has exactly 3 operands; ``and`` at least 2, lazily evaluated, returning the first falsy operand or
  the last, every operand it evaluates, the last included, being truthy or falsy as the specification
  says (certlogic-js does not check the last); ``===``, ``in``, ``+`` exactly 2; comparisons 2 or 3;
* ``<``, ``>``, ``<=``, ``>=`` and ``+`` take integers only; ``after``, ``before``, ``not-after``,
  ``not-before`` take date-times only, which only ``plusTime`` and ``dccDateOfBirth`` make;
* ``in`` needs an array on the right (``null`` there is an error, as in the reference implementation);
* ``var`` paths drill into objects and arrays and give ``null`` for anything missing;
* ``reduce`` of ``null`` is its initial value; its lambda sees ``{"current", "accumulator"}`` only.

The specification lets an evaluator throw on invalid expressions and type mismatches; here every such case
raises ``RuleError`` (``rule_invalid`` before evaluation, ``rule_evaluation_failed`` during it), never a
silent result.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable
from datetime import datetime
from typing import Any

from civicpass.domain.rules.datetimes import parse_date_of_birth, plus_time
from civicpass.domain.rules.errors import RuleError, rule_evaluation_failed, rule_invalid
from civicpass.domain.rules.validation import COMPARISONS, validate
from civicpass.domain.rules.values import MISSING, is_int, lookup, parse_path, strict_equals

Compiled = Callable[[Any], Any]
"""A compiled expression: takes the data context, returns the expression's value."""

_UVCI_PREFIX = "URN:UVCI:"
_UVCI_SEPARATORS = str.maketrans({"#": "/", ":": "/"})


def boolsiness(value: Any) -> bool | None:
    """``True`` for truthy, ``False`` for falsy, ``None`` for values that are neither."""
    if value is True:
        return True
    if value is False or value is None:
        return False
    if isinstance(value, str | list | dict):
        return len(value) > 0
    if is_int(value):
        return bool(value != 0)
    return None


def _condition(value: Any, where: str) -> bool:
    truth = boolsiness(value)
    if truth is None:
        raise rule_evaluation_failed(f"{where} evaluates to something neither truthy nor falsy: {value!r}")
    return truth


def _constant(value: Any) -> Compiled:
    return lambda _data: value


def _var(path: str) -> Compiled:
    steps = parse_path(path)
    if not steps:
        return lambda data: data
    if len(steps) == 1:
        key, index = steps[0]

        def single(data: Any) -> Any:
            if isinstance(data, dict):
                return data.get(key)
            if isinstance(data, list) and index is not None and index < len(data):
                return data[index]
            return None

        return single

    def drill(data: Any) -> Any:
        value = lookup(data, steps)
        return None if value is MISSING else value

    return drill


def _if(guard: Compiled, then: Compiled, otherwise: Compiled) -> Compiled:
    def run(data: Any) -> Any:
        if _condition(guard(data), "the guard of an if-operation"):
            return then(data)
        return otherwise(data)

    return run


def _and(operands: list[Compiled]) -> Compiled:
    def run(data: Any) -> Any:
        value = None
        for operand in operands:
            value = operand(data)
            if not _condition(value, 'an operand of "and"'):
                return value
        return value

    return run


def _not(operand: Compiled) -> Compiled:
    return lambda data: not _condition(operand(data), "the operand of !")


def _equals(left: Compiled, right: Compiled) -> Compiled:
    return lambda data: strict_equals(left(data), right(data))


def _in(item: Compiled, array: Compiled) -> Compiled:
    def run(data: Any) -> bool:
        needle, haystack = item(data), array(data)
        if not isinstance(haystack, list):
            raise rule_evaluation_failed(
                f'right-hand side of an "in" operation must be an array: {haystack!r}'
            )
        return any(strict_equals(needle, element) for element in haystack)

    return run


def _plus(left: Compiled, right: Compiled) -> Compiled:
    def run(data: Any) -> int:
        a, b = left(data), right(data)
        if not (is_int(a) and is_int(b)):
            raise rule_evaluation_failed(f'the operands of "+" must be integers: {a!r}, {b!r}')
        return int(a) + int(b)

    return run


_RELATIONS: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    ">": operator.gt,
    "<=": operator.le,
    ">=": operator.ge,
    "before": operator.lt,
    "after": operator.gt,
    "not-after": operator.le,
    "not-before": operator.ge,
}


def _comparison(name: str, operands: list[Compiled]) -> Compiled:
    holds = _RELATIONS[name]
    on_dates = name not in ("<", ">", "<=", ">=")
    kind = "date-times" if on_dates else "integers"

    def acceptable(value: Any) -> bool:
        return isinstance(value, datetime) if on_dates else is_int(value)

    def mismatch(values: list[Any]) -> RuleError:
        return rule_evaluation_failed(f'all operands of "{name}" must be {kind}: {values!r}')

    if len(operands) == 2:
        left, right = operands

        def binary(data: Any) -> bool:
            a, b = left(data), right(data)
            if acceptable(a) and acceptable(b):
                return holds(a, b)
            raise mismatch([a, b])

        return binary

    def between(data: Any) -> bool:  # (a op b) and (b op c)
        values = [operand(data) for operand in operands]
        if not all(acceptable(value) for value in values):
            raise mismatch(values)
        return all(holds(a, b) for a, b in itertools.pairwise(values))

    return between


def _plus_time(operand: Compiled, amount: int, unit: str) -> Compiled:
    def run(data: Any) -> datetime:
        text = operand(data)
        if not isinstance(text, str):
            raise rule_evaluation_failed(f'the date argument of "plusTime" must be a string: {text!r}')
        return plus_time(text, amount, unit)

    return run


def _reduce(operand: Compiled, lambda_: Compiled, initial: Compiled) -> Compiled:
    def run(data: Any) -> Any:
        items = operand(data)
        accumulator = initial(data)
        if items is None:
            return accumulator
        if not isinstance(items, list):
            raise rule_evaluation_failed(f"the operand of reduce is neither null nor an array: {items!r}")
        for current in items:
            accumulator = lambda_({"current": current, "accumulator": accumulator})
        return accumulator

    return run


def extract_from_uvci(uvci: str | None, index: int) -> str | None:
    """Fragment ``index`` of a UCI split on ``/``, ``#`` and ``:``, ignoring an ``URN:UVCI:`` prefix."""
    if uvci is None or index < 0:
        return None
    fragments = uvci.removeprefix(_UVCI_PREFIX).translate(_UVCI_SEPARATORS).split("/")
    return fragments[index] if index < len(fragments) else None


def _extract(operand: Compiled, index: int) -> Compiled:
    def run(data: Any) -> str | None:
        uvci = operand(data)
        if not (uvci is None or isinstance(uvci, str)):
            raise rule_evaluation_failed(
                f'the UCI argument of "extractFromUVCI" must be a string or null: {uvci!r}'
            )
        return extract_from_uvci(uvci, index)

    return run


def _date_of_birth(operand: Compiled) -> Compiled:
    def run(data: Any) -> datetime:
        text = operand(data)
        if not isinstance(text, str):
            raise rule_evaluation_failed(f'the operand of "dccDateOfBirth" must be a string: {text!r}')
        return parse_date_of_birth(text)

    return run


def _compile(expr: Any) -> Compiled:
    """Closures for an expression ``validate`` found valid."""
    if isinstance(expr, list):
        items = [_compile(item) for item in expr]
        return lambda data: [item(data) for item in items]
    if not isinstance(expr, dict):
        return _constant(int(expr) if isinstance(expr, float) else expr)
    ((name, values),) = expr.items()
    if name == "var":
        return _var(values)
    if name == "plusTime":
        return _plus_time(_compile(values[0]), int(values[1]), values[2])
    if name == "extractFromUVCI":
        return _extract(_compile(values[0]), int(values[1]))
    operands = [_compile(value) for value in values]
    if name == "if":
        return _if(*operands)
    if name == "and":
        return _and(operands)
    if name == "!":
        return _not(operands[0])
    if name == "===":
        return _equals(*operands)
    if name == "in":
        return _in(*operands)
    if name == "+":
        return _plus(*operands)
    if name in COMPARISONS:
        return _comparison(name, operands)
    if name == "reduce":
        return _reduce(*operands)
    if name == "dccDateOfBirth":
        return _date_of_birth(operands[0])
    raise rule_invalid(f'unrecognised operator: "{name}"')  # unreachable once validated


def compile_expression(expr: Any) -> Compiled:
    """Check ``expr`` and compile it; raises ``RuleError`` (``rule_invalid``) listing every issue."""
    issues = validate(expr)
    if issues:
        raise rule_invalid(issues[0].message, issues=[issue.as_dict() for issue in issues])
    return _compile(expr)


def evaluate(expr: Any, data: Any) -> Any:
    """The value of CertLogic expression ``expr`` on data context ``data``."""
    return compile_expression(expr)(data)
