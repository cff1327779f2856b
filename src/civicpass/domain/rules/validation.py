"""The CertLogic validator: every way an expression breaks the format of CertLogic 1.3.3.

Follows "Operations" of the CertLogic specification (ehn-dcc-development/dgc-business-rules,
certlogic/specification/README.md) and reports issues with the messages of its reference validator
(certlogic-js ``validation/format-validator.ts``), which ``certlogic/validation-testSuite`` checks; unlike
that validator it also knows ``dccDateOfBirth`` (added in 1.3.0). An empty list means the expression is
valid; ``certlogic.compile_expression`` refuses any expression with an issue.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from civicpass.domain.rules.datetimes import TIME_UNITS
from civicpass.domain.rules.jsvalues import to_string
from civicpass.domain.rules.values import is_int

MAX_DEPTH = 100
"""Deepest nesting accepted; real rules nest a handful of levels, and this bounds recursion."""

COMPARISONS = frozenset({"<", ">", "<=", ">=", "after", "before", "not-after", "not-before"})
BINARY = frozenset({"===", "in", "+"})
_PATH = re.compile(r"[^.]+(?:\.[^.]+)*")


@dataclass(frozen=True)
class Issue:
    """One problem: the offending (sub-)expression and what is wrong with it."""

    expr: Any
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"expr": self.expr, "message": self.message}


def is_literal(expr: Any) -> bool:
    """A CertLogic literal: a string, an integer or a boolean."""
    return isinstance(expr, str | bool) or is_int(expr)


def _var(expr: Any, path: Any) -> list[Issue]:
    if not isinstance(path, str):
        return [Issue(expr, 'not of the form { "var": "<path>" }')]
    if path == "" or _PATH.fullmatch(path):
        return []
    return [Issue(expr, f"data access path doesn't have a valid format: {path}")]


def _exactly(expr: Any, operation: str, values: list[Any], count: int) -> list[Issue]:
    if len(values) == count:
        return []
    plural = "values/operands" if count > 1 else "operand"
    return [Issue(expr, f"{operation} must have exactly {count} {plural}, but it has {len(values)}")]


def _infix(expr: Any, operator: str, values: list[Any], depth: int) -> list[Issue]:
    issues: list[Issue] = []
    count = len(values)
    if operator == "and":
        most = count
        if count < 2:
            issues.append(
                Issue(expr, f'an "and" operation must have at least 2 operands, but it has {count}')
            )
    elif operator in COMPARISONS:
        most = 3
        if not 2 <= count <= 3:
            message = f'an operation with operator "{operator}" must have 2 or 3 operands, but it has {count}'
            issues.append(Issue(expr, message))
    else:
        most = 2
        if count != 2:
            message = f'an operation with operator "{operator}" must have 2 operands, but it has {count}'
            issues.append(Issue(expr, message))
    for value in values[:most]:
        issues.extend(_validate(value, depth))
    return issues


def _plus_time(expr: Any, values: list[Any], depth: int) -> list[Issue]:
    issues = _exactly(expr, 'a "plusTime"-operation', values, 3)
    if values:
        issues.extend(_validate(values[0], depth))
    if len(values) > 1 and not is_int(values[1]):
        message = (
            f'"amount" argument (#2) of "plusTime" must be an integer, but it is: {to_string(values[1])}'
        )
        issues.append(Issue(expr, message))
    if len(values) > 2 and values[2] not in TIME_UNITS:
        message = (
            f'"unit" argument (#3) of "plusTime" must be a string equal to one of {", ".join(TIME_UNITS)}, '
            f"but it is: {to_string(values[2])}"
        )
        issues.append(Issue(expr, message))
    return issues


def _extract_from_uvci(expr: Any, values: list[Any], depth: int) -> list[Issue]:
    issues = _exactly(expr, 'an "extractFromUVCI"-operation', values, 2)
    if values:
        issues.extend(_validate(values[0], depth))
    if len(values) > 1 and not is_int(values[1]):
        message = f'"index" argument (#2) of "extractFromUVCI" must be an integer, but it is: {to_string(values[1])}'
        issues.append(Issue(expr, message))
    return issues


def _operation(expr: Any, operator: str, values: list[Any], depth: int) -> list[Issue]:
    if operator == "if":
        issues = _exactly(expr, 'an "if"-operation', values, 3)
        return issues + [issue for value in values[:3] for issue in _validate(value, depth)]
    if operator == "and" or operator in COMPARISONS or operator in BINARY:
        return _infix(expr, operator, values, depth)
    if operator == "!":
        if len(values) != 1:
            message = (
                f"a !-operation (logical not/negation) must have exactly 1 operand, but it has {len(values)}"
            )
            return [Issue(expr, message)]
        return _validate(values[0], depth)
    if operator == "plusTime":
        return _plus_time(expr, values, depth)
    if operator == "reduce":
        issues = _exactly(expr, 'a "reduce"-operation', values, 3)
        return issues + [issue for value in values[:3] for issue in _validate(value, depth)]
    if operator == "extractFromUVCI":
        return _extract_from_uvci(expr, values, depth)
    if operator == "dccDateOfBirth":
        issues = _exactly(expr, 'a "dccDateOfBirth"-operation', values, 1)
        return issues + [issue for value in values[:1] for issue in _validate(value, depth)]
    return [Issue(expr, f'unrecognised operator: "{operator}"')]


def _validate(expr: Any, depth: int) -> list[Issue]:
    if is_literal(expr):
        return []
    if isinstance(expr, float):
        return [Issue(expr, f"{to_string(expr)} is a non-integer number")]
    if depth >= MAX_DEPTH:
        return [Issue(expr, f"expression nested more than {MAX_DEPTH} levels deep")]
    if isinstance(expr, list):
        return [issue for item in expr for issue in _validate(item, depth + 1)]
    if isinstance(expr, dict):
        if len(expr) != 1:
            return [Issue(expr, f"expression object must have exactly one key, but it has {len(expr)}")]
        ((operator, values),) = expr.items()
        if operator == "var":
            return _var(expr, values)
        if not isinstance(values, list):
            return [Issue(expr, 'operation not of the form { "<operator>": [ <values...> ] }')]
        return _operation(expr, operator, values, depth + 1)
    return [Issue(expr, "invalid CertLogic expression")]


def validate(expr: Any) -> list[Issue]:
    """All format issues of ``expr`` as a CertLogic expression, outermost first; empty when valid."""
    return _validate(expr, 0)
