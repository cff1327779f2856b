"""Rule sets: versioned, effective-dated, published collections of status rules (赋码规则).

Each rule is a container in the style of the EU DCC business rules: an identifier, a version, a validity
period, a zh-CN/en description, a CertLogic expression (``logic``), the color it gives when the expression
is true, a reason code, the condition that releases it, and the published rule it is modelled on. Colors
are ranked: when several rules fire, the highest color wins and every fired rule is a reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from civicpass.domain.errors import Conflict, FieldError, InvalidInput, Message, PermissionDenied
from civicpass.domain.facts import ISO_TIME, in_time_range
from civicpass.domain.features import DEFAULT_PARAMETERS, PARAMETER_CHOICES
from civicpass.domain.rules.certlogic import Compiled, compile_expression
from civicpass.domain.rules.errors import RuleError

DEFAULT_COLORS = ("green", "yellow", "red")


class RuleSetState(StrEnum):
    PROPOSED = "proposed"
    ACTIVE = "active"
    SUPERSEDED = "superseded"
    REJECTED = "rejected"


@dataclass(frozen=True)
class Rule:
    identifier: str
    version: str
    valid_from: datetime
    valid_to: datetime | None
    description: Message
    logic: Any
    color: str
    reason_code: str
    release: Message | None
    source: str
    compiled: Compiled = field(compare=False, repr=False)
    guard: str | None = field(default=None, compare=False)
    """A top-level key of the rules' data that must not be null for the rule to fire (see ``guard_of``)."""

    def applies_at(self, now: datetime) -> bool:
        return self.valid_from <= now and (self.valid_to is None or now < self.valid_to)


@dataclass(frozen=True)
class RuleSet:
    identifier: str
    name: Message
    colors: tuple[str, ...]
    parameters: Mapping[str, Any]
    rules: tuple[Rule, ...]
    document: Mapping[str, Any] = field(compare=False, repr=False)

    @property
    def default_color(self) -> str:
        return self.colors[0]

    def rank(self, color: str) -> int:
        return self.colors.index(color)

    def in_effect(self, now: datetime) -> tuple[Rule, ...]:
        """The rules valid at ``now`` (work out once per evaluation time, not once per resident)."""
        return tuple(rule for rule in self.rules if rule.applies_at(now))


@dataclass(frozen=True)
class RuleSetVersion:
    """A rule set as stored: its number, state and the two people who proposed and approved it."""

    version: int
    state: RuleSetState
    ruleset: RuleSet
    proposed_by: str | None
    proposed_at: datetime
    approved_by: str | None = None
    approved_at: datetime | None = None
    signature: str | None = None


def _message(value: Any, path: tuple[str | int, ...], problems: list[FieldError]) -> Message | None:
    if (
        isinstance(value, Mapping)
        and isinstance(value.get("en"), str)
        and isinstance(value.get("zh-CN"), str)
    ):
        return Message(value["en"], value["zh-CN"])
    problems.append(FieldError(path, "text_missing", "an object with zh-CN and en texts"))
    return None


def _time(value: Any, path: tuple[str | int, ...], problems: list[FieldError]) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None or not in_time_range(parsed):
        problems.append(FieldError(path, "time_invalid", ISO_TIME))
        return None
    return parsed.astimezone(UTC)  # compared with UTC clocks for every resident: convert once here


def parse_ruleset(document: Mapping[str, Any]) -> RuleSet:
    """Check a rule-set document and compile every rule; any problem refuses the whole set.

    An empty rule set, an unknown color or a rule that does not compile means no rule set: a
    status engine must never run on a policy it only partly understood.
    """
    problems: list[FieldError] = []
    colors = tuple(document.get("colors") or DEFAULT_COLORS)
    if len(set(colors)) != len(colors) or not all(isinstance(c, str) and c for c in colors):
        problems.append(FieldError(("colors",), "colors_invalid", "distinct color names, lowest rank first"))
    name = _message(document.get("name"), ("name",), problems)
    identifier = document.get("identifier")
    if not isinstance(identifier, str) or not identifier:
        problems.append(FieldError(("identifier",), "identifier_missing", "a rule-set identifier"))
    parameters = document.get("parameters", {})
    if not isinstance(parameters, Mapping):
        problems.append(FieldError(("parameters",), "parameters_invalid", "an object"))
        parameters = {}
    problems.extend(_check_parameters(parameters))
    raw_rules = document.get("rules")
    if not isinstance(raw_rules, Sequence) or isinstance(raw_rules, str) or not raw_rules:
        problems.append(FieldError(("rules",), "rules_missing", "at least one rule"))
        raw_rules = []
    rules = [_parse_rule(raw, i, colors, problems) for i, raw in enumerate(raw_rules)]
    seen = [r.identifier for r in rules if r is not None]
    if len(seen) != len(set(seen)):
        problems.append(
            FieldError(("rules",), "rule_identifier_duplicate", "rule identifiers must be unique")
        )
    if problems or name is None:
        raise InvalidInput(
            "ruleset_invalid", Message("the rule set is not valid", "规则集无效"), errors=problems
        )
    return RuleSet(str(identifier), name, colors, dict(parameters), tuple(r for r in rules if r), document)


def _check_parameters(parameters: Mapping[str, Any]) -> list[FieldError]:
    """Known parameters must have a known value: a typo must not silently switch rules off."""
    problems = []
    for name, value in parameters.items():
        choices = PARAMETER_CHOICES.get(name)
        if choices is not None and value not in choices:
            problems.append(
                FieldError(("parameters", name), "parameter_invalid", "one of " + ", ".join(choices))
            )
        default = DEFAULT_PARAMETERS.get(name)
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        if isinstance(default, int | float) and not (numeric and value > 0):
            problems.append(FieldError(("parameters", name), "parameter_invalid", "a positive number"))
    return problems


def guard_of(logic: Any) -> str | None:
    """The top-level data key whose null value makes the rule false, if the logic's shape proves one.

    CertLogic's ``and`` returns its first falsy operand without evaluating the rest, so for
    ``{"and": [{"var": "K.x"}, ...]}`` a null ``K`` gives a falsy result; and ``{"===": [{"var": "K.x"}, c]}``
    with a non-null literal ``c`` is false when ``K`` is null. Skipping such rules for residents without
    ``K`` changes no result and saves most of the work, since most residents have few features.
    """
    if not isinstance(logic, Mapping) or len(logic) != 1:
        return None
    ((operator, operands),) = logic.items()
    if operator not in ("and", "===") or not isinstance(operands, list) or not operands:
        return None
    if operator == "===" and (len(operands) != 2 or operands[1] is None or isinstance(operands[1], Mapping)):
        return None
    first = operands[0]
    if (
        isinstance(first, Mapping)
        and set(first) == {"var"}
        and isinstance(first["var"], str)
        and "." in first["var"]
    ):
        return first["var"].split(".", 1)[0]
    return None


def _parse_rule(raw: Any, i: int, colors: Sequence[str], problems: list[FieldError]) -> Rule | None:
    where: tuple[str | int, ...] = ("rules", i)
    if not isinstance(raw, Mapping):
        problems.append(FieldError(where, "rule_invalid", "a rule object"))
        return None
    before = len(problems)
    identifier, version, color = raw.get("identifier"), raw.get("version"), raw.get("color")
    for key, value in (
        ("identifier", identifier),
        ("version", version),
        ("reason_code", raw.get("reason_code")),
    ):
        if not isinstance(value, str) or not value:
            problems.append(FieldError((*where, key), "rule_field_missing", f"{key} is required"))
    if color not in colors:
        problems.append(FieldError((*where, "color"), "color_unknown", "one of " + ", ".join(colors)))
    description = _message(raw.get("description"), (*where, "description"), problems)
    release = (
        _message(raw["release"], (*where, "release"), problems) if raw.get("release") is not None else None
    )
    valid_from = _time(raw.get("valid_from"), (*where, "valid_from"), problems)
    valid_to = (
        _time(raw["valid_to"], (*where, "valid_to"), problems) if raw.get("valid_to") is not None else None
    )
    try:
        compiled = compile_expression(raw.get("logic"))
    except RuleError as exc:
        problems.append(FieldError((*where, "logic"), "logic_invalid", exc.message.en))
        return None
    if len(problems) > before or description is None or valid_from is None:
        return None
    return Rule(
        identifier=str(identifier),
        version=str(version),
        valid_from=valid_from,
        valid_to=valid_to,
        description=description,
        logic=raw["logic"],
        color=str(color),
        reason_code=str(raw["reason_code"]),
        release=release,
        source=str(raw.get("source", "")),
        compiled=compiled,
        guard=guard_of(raw["logic"]),
    )


def _check_proposed(proposal: RuleSetVersion) -> None:
    if proposal.state is not RuleSetState.PROPOSED:
        raise Conflict(
            "ruleset_not_proposed",
            Message("this rule set is not awaiting approval", "该规则集不在待审批状态"),
        )


def reject_version(proposal: RuleSetVersion, decider: str, now: datetime) -> RuleSetVersion:
    """Turn a proposal down (its author may withdraw it: only activation needs a second person)."""
    _check_proposed(proposal)
    return replace(proposal, state=RuleSetState.REJECTED, approved_by=decider, approved_at=now)


def approve_version(proposal: RuleSetVersion, approver: str, now: datetime, signature: str) -> RuleSetVersion:
    """Dual control for rule sets: only a proposal, and only by someone other than its author."""
    _check_proposed(proposal)
    if proposal.proposed_by == approver:
        raise PermissionDenied(
            "own_proposal",
            Message(
                "a rule set must be approved by someone other than its author", "不能审批自己提交的规则集"
            ),
            extra={"reasons": ["own_proposal"]},
        )
    return replace(
        proposal, state=RuleSetState.ACTIVE, approved_by=approver, approved_at=now, signature=signature
    )
