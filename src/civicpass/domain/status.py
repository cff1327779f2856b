"""A resident's status: a pure function of (facts, rule set, now) -> color with reasons.

There is no other way to obtain a color. Every fired rule is a reason, rendered in zh-CN and en from the
rule's texts and the resident's own data ("yellow: arrived from a medium-risk area on 2022-05-03"), with
the condition that would release it. The digest of the rules' input document lets anyone check later
which inputs a recorded status was computed from.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from civicpass.domain.errors import Message
from civicpass.domain.facts import Fact
from civicpass.domain.features import build_context, parse_time
from civicpass.domain.rules.certlogic import boolsiness
from civicpass.domain.rules.errors import rule_evaluation_failed
from civicpass.domain.rulesets import Rule, RuleSet

REVIEW_WHILE_RAISED = timedelta(hours=1)
REVIEW_AT_LEAST = timedelta(hours=24)
_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_.]*)(?:\|(date|datetime))?\}")


@dataclass(frozen=True)
class Reason:
    rule_id: str
    rule_version: str
    color: str
    reason_code: str
    text: Message
    release: Message | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id,
            "rule_version": self.rule_version,
            "color": self.color,
            "reason_code": self.reason_code,
            "text": self.text.as_dict(),
            "release": self.release.as_dict() if self.release else None,
        }


@dataclass(frozen=True)
class Evaluation:
    color: str
    reasons: tuple[Reason, ...]
    evaluated_at: datetime
    review_at: datetime
    inputs_digest: str

    def same_outcome(self, color: str, reasons: Sequence[Mapping[str, Any]]) -> bool:
        """True when a stored status already says this (so no new status version is needed)."""
        return color == self.color and [dict(r) for r in reasons] == [r.as_dict() for r in self.reasons]


def digest(context: Mapping[str, Any]) -> str:
    canonical = json.dumps(context, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _lookup(context: Mapping[str, Any], path: str) -> Any:
    value: Any = context
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def render(template: str, context: Mapping[str, Any], zone: tzinfo) -> str:
    """Fill ``{path}``, ``{path|date}`` and ``{path|datetime}`` from the rules' data, times in ``zone``."""

    def fill(match: re.Match[str]) -> str:
        value = _lookup(context, match.group(1))
        if value is None:
            return "?"
        if match.group(2):
            local = parse_time(str(value)).astimezone(zone)
            return local.strftime("%Y-%m-%d" if match.group(2) == "date" else "%Y-%m-%d %H:%M")
        return str(value)

    return _PLACEHOLDER.sub(fill, template)


def _fires(rule: Rule, context: Mapping[str, Any]) -> bool:
    truth = boolsiness(rule.compiled(context))
    if truth is None:
        raise rule_evaluation_failed(f"rule {rule.identifier} gave a value that is neither true nor false")
    return truth


def _review_at(facts: Sequence[Fact], now: datetime, raised: bool) -> datetime:
    """When to look again: the next fact that starts or expires, within an hour while raised, a day otherwise."""
    horizon = now + (REVIEW_WHILE_RAISED if raised else REVIEW_AT_LEAST)
    expiries = [f.expires_at for f in facts if f.expires_at is not None and f.expires_at > now]
    starts = [f.effective_at for f in facts if f.effective_at > now]
    return min([horizon, *expiries, *starts])


def evaluate(
    facts: Sequence[Fact], ruleset: RuleSet, now: datetime, zone: tzinfo, rules: Sequence[Rule] | None = None
) -> Evaluation:
    """Apply every rule in effect at ``now``; the highest fired color wins, every fired rule is a reason.

    ``rules`` is ``ruleset.in_effect(now)`` when the caller evaluates many residents at one time.
    """
    context = build_context(facts, now, ruleset.parameters, zone)
    in_effect = ruleset.in_effect(now) if rules is None else rules
    fired = [
        rule
        for rule in in_effect
        if (rule.guard is None or context.get(rule.guard) is not None) and _fires(rule, context)
    ]
    fired.sort(key=lambda r: (-ruleset.rank(r.color), r.identifier))
    color = fired[0].color if fired else ruleset.default_color
    reasons = tuple(
        Reason(
            rule.identifier,
            rule.version,
            rule.color,
            rule.reason_code,
            Message(render(rule.description.en, context, zone), render(rule.description.zh, context, zone)),
            None
            if rule.release is None
            else Message(render(rule.release.en, context, zone), render(rule.release.zh, context, zone)),
        )
        for rule in fired
    )
    return Evaluation(color, reasons, now, _review_at(facts, now, bool(fired)), digest(context))
