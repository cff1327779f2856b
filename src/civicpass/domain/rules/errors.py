"""The one error of the rule languages, with its two reason codes.

``rule_invalid``: the expression itself breaks its language (unknown operator, wrong number of operands,
malformed ``var`` path); it is raised before any operand is evaluated. ``rule_evaluation_failed``: a valid
expression met data it cannot work on (a type mismatch, an unparseable date-time). Callers treat both as
**deny**, as the CertLogic specification advises ("return false if that happens").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from civicpass.domain.errors import FieldError, InvalidInput, Message

RULE_INVALID = "rule_invalid"
RULE_EVALUATION_FAILED = "rule_evaluation_failed"


class RuleError(InvalidInput):
    """A rule expression is invalid, or could not be evaluated on the given data."""


def rule_invalid(detail: str, *, issues: Sequence[dict[str, Any]] = ()) -> RuleError:
    """The expression is not a valid expression of its language; ``issues`` are the validator's findings."""
    return RuleError(
        RULE_INVALID,
        Message(f"invalid rule expression: {detail}", f"规则表达式无效：{detail}"),
        errors=[FieldError(("expression",), RULE_INVALID, detail)],
        extra={"issues": list(issues)} if issues else None,
    )


def rule_evaluation_failed(detail: str) -> RuleError:
    """A valid expression could not be evaluated on this data (type mismatch, bad date-time, ...)."""
    return RuleError(
        RULE_EVALUATION_FAILED,
        Message(f"rule evaluation failed: {detail}", f"规则求值失败：{detail}"),
        errors=[FieldError(("data",), RULE_EVALUATION_FAILED, detail)],
    )
