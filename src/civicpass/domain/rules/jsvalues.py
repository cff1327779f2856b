"""JavaScript's conversions on JSON values, as JsonLogic inherits them (ECMA-262 §7.1, §7.2).

``to_number`` is ``Number(x)``, ``parse_float`` is ``parseFloat(x)``, ``to_string`` is ``String(x)``,
``loose_equals`` is ``==`` and ``compare`` is the relational operators ``<``, ``<=``, ``>``, ``>=``.
Results of arithmetic go through ``js_number``, so that ``2.0`` comes back as ``2`` the way it prints in
JavaScript. Strings compare by code point (JavaScript compares UTF-16 code units; the two differ only
between astral characters and U+E000–U+FFFF).
"""

from __future__ import annotations

import math
import re
from typing import Any

_DECIMAL = r"[+-]?(?:Infinity|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)"
_NUMBER_LITERAL = re.compile(_DECIMAL, re.ASCII)
_NON_DECIMAL = re.compile(r"0([xXoObB])([0-9a-fA-F]+)", re.ASCII)
_BASES = {"x": 16, "o": 8, "b": 2}
_SAFE_INTEGER = 2**53


def js_number(value: float) -> int | float:
    """A float result as JavaScript would print it: integral values become ``int``."""
    if value.is_integer() and abs(value) <= _SAFE_INTEGER:
        return int(value)
    return value


def _float_text(value: float) -> str:
    """``Number::toString`` (ECMA-262 §6.1.6.1.20) for a finite, non-integral or huge float."""
    sign = "-" if value < 0 else ""
    mantissa, _, exponent = repr(abs(value)).partition("e")
    whole, _, fraction = mantissa.partition(".")
    significant = (whole + fraction).lstrip("0")
    leading_zeros = len(whole) + len(fraction) - len(significant)
    point = len(whole) - leading_zeros + int(exponent or 0)  # value = 0.<digits> × 10^point
    digits = significant.rstrip("0") or "0"
    count = len(digits)
    if count <= point <= 21:
        return sign + digits + "0" * (point - count)
    if 0 < point <= 21:
        return sign + digits[:point] + "." + digits[point:]
    if -6 < point <= 0:
        return sign + "0." + "0" * -point + digits
    power = point - 1
    head = digits if count == 1 else digits[0] + "." + digits[1:]
    return f"{sign}{head}e{'+' if power >= 0 else '-'}{abs(power)}"


def to_string(value: Any) -> str:
    """``String(value)`` for JSON values."""
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        if value.is_integer() and abs(value) < 1e21:
            return str(int(value))
        return _float_text(value)
    if isinstance(value, list):
        return ",".join("" if item is None else to_string(item) for item in value)
    if isinstance(value, dict):
        return "[object Object]"
    return str(value)


def to_primitive(value: Any) -> Any:
    """``ToPrimitive``: arrays and objects become their string form, everything else is itself."""
    return to_string(value) if isinstance(value, list | dict) else value


def _string_to_number(text: str) -> float:
    text = text.strip()
    if text == "":
        return 0.0
    if _NUMBER_LITERAL.fullmatch(text):
        return float(text.replace("Infinity", "inf"))
    if match := _NON_DECIMAL.fullmatch(text):
        try:
            return float(int(match[2], _BASES[match[1].lower()]))
        except ValueError:
            return math.nan
    return math.nan


def to_number(value: Any) -> float:
    """``Number(value)``: null is 0, booleans 0/1, strings parsed strictly, objects NaN."""
    if value is None or value is False:
        return 0.0
    if value is True:
        return 1.0
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        return _string_to_number(value)
    if isinstance(value, list):
        return _string_to_number(to_string(value))
    return math.nan


def parse_float(value: Any) -> float:
    """``parseFloat(value)``: the longest decimal prefix of ``String(value)``, else NaN."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    match = _NUMBER_LITERAL.match(to_string(value).lstrip())
    if match is None:
        return math.nan
    return float(match[0].replace("Infinity", "inf"))


def _category(value: Any) -> str:
    if value is None:
        return "null"
    if value is True or value is False:
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "object"


def loose_equals(left: Any, right: Any) -> bool:
    """JavaScript's ``==`` (IsLooselyEqual, ECMA-262 §7.2.14) on JSON values."""
    left_kind, right_kind = _category(left), _category(right)
    if left_kind == right_kind:
        return left is right if left_kind == "object" else bool(left == right)
    if left_kind == "null" or right_kind == "null":
        return False
    if left_kind == "boolean":
        return loose_equals(to_number(left), right)
    if right_kind == "boolean":
        return loose_equals(left, to_number(right))
    if left_kind == "object":
        return loose_equals(to_primitive(left), right)
    if right_kind == "object":
        return loose_equals(left, to_primitive(right))
    return to_number(left) == to_number(right)  # one number, one string


def compare(operator: str, left: Any, right: Any) -> bool:
    """``left <operator> right`` for ``<``, ``<=``, ``>``, ``>=`` with JavaScript's coercions."""
    left, right = to_primitive(left), to_primitive(right)
    if isinstance(left, str) and isinstance(right, str):
        pair: tuple[Any, Any] = (left, right)
    else:
        pair = (to_number(left), to_number(right))
    a, b = pair
    if operator == "<":
        return bool(a < b)
    if operator == "<=":
        return bool(a <= b)
    if operator == ">":
        return bool(a > b)
    return bool(a >= b)
