"""Facts: typed, sourced, time-bounded statements about a resident that the status rules read.

A color is never set; it is computed from facts (see ``status``). Every fact says who or what asserted
it (``source`` and ``authority``), from when it holds (``effective_at``) and until when (``expires_at``).
A fact that would raise someone's color, recorded by staff, starts ``PROPOSED`` and becomes ``ACTIVE``
only when a second staff member with the right role approves it (dual control).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from civicpass.domain.errors import Conflict, FieldError, InvalidInput, Message, PermissionDenied


class FactKind(StrEnum):
    HEALTH_DECLARATION = "health_declaration"  # {temperature_c, symptoms[]}: from the health form
    DAILY_CHECKIN = "daily_checkin"  # {temperature_c, feels_well, symptoms[]}: from the daily check-in
    TEST_RESULT = "test_result"  # {test: pcr|antigen, result: positive|negative, sampled_at}
    VACCINATION = "vaccination"  # {vaccine, dose, administered_at}
    CASE = "case"  # {classification: suspected|confirmed|asymptomatic|recovered|excluded|closed, case_id?}
    CLOSE_CONTACT = "close_contact"  # {case_id?}
    SECONDARY_CONTACT = "secondary_contact"  # {contact_of?}
    SPATIOTEMPORAL_COMPANION = "spatiotemporal_companion"  # {venue_id?}
    ISOLATION_ORDER = "isolation_order"  # {place: home|facility, until}
    RISK_AREA_ARRIVAL = "risk_area_arrival"  # {region, level: high|medium, arrived_at}
    PEER_STATUS = "peer_status"  # {issuer, color}: a code from another region


class FactSource(StrEnum):
    RESIDENT = "resident"  # the resident (or guardian) declared it
    STAFF = "staff"  # a staff member recorded it
    SYSTEM = "system"  # derived by civicpass itself (e.g. a trip against the risk-area list)
    FEED = "feed"  # a data-source system pushed it


class FactState(StrEnum):
    PROPOSED = "proposed"
    ACTIVE = "active"
    REJECTED = "rejected"
    RETRACTED = "retracted"


CASE_CLASSES = frozenset({"suspected", "confirmed", "asymptomatic"})
CLOSING_CASE_CLASSES = frozenset({"recovered", "excluded", "closed"})

_REQUIRED: dict[FactKind, dict[str, type | tuple[type, ...]]] = {
    FactKind.HEALTH_DECLARATION: {"temperature_c": (int, float), "symptoms": list},
    FactKind.DAILY_CHECKIN: {"temperature_c": (int, float), "feels_well": bool},
    FactKind.TEST_RESULT: {"test": str, "result": str, "sampled_at": str},
    FactKind.VACCINATION: {"vaccine": str, "dose": int, "administered_at": str},
    FactKind.CASE: {"classification": str},
    FactKind.CLOSE_CONTACT: {},
    FactKind.SECONDARY_CONTACT: {},
    FactKind.SPATIOTEMPORAL_COMPANION: {},
    FactKind.ISOLATION_ORDER: {"place": str, "until": str},
    FactKind.RISK_AREA_ARRIVAL: {"region": str, "level": str, "arrived_at": str},
    FactKind.PEER_STATUS: {"issuer": str, "color": str},
}
_CHOICES: dict[tuple[FactKind, str], frozenset[str]] = {
    (FactKind.TEST_RESULT, "test"): frozenset({"pcr", "antigen"}),
    (FactKind.TEST_RESULT, "result"): frozenset({"positive", "negative"}),
    (FactKind.CASE, "classification"): CASE_CLASSES | CLOSING_CASE_CLASSES,
    (FactKind.ISOLATION_ORDER, "place"): frozenset({"home", "facility"}),
    (FactKind.RISK_AREA_ARRIVAL, "level"): frozenset({"high", "medium"}),
}
_TIMES = {"sampled_at", "administered_at", "until", "arrived_at"}


@dataclass(frozen=True)
class Fact:
    id: str
    subject_id: str
    kind: FactKind
    data: Mapping[str, Any]
    source: FactSource
    authority: str
    effective_at: datetime
    expires_at: datetime | None
    recorded_at: datetime
    state: FactState
    proposed_by: str | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    note: str = ""

    def holds_at(self, now: datetime) -> bool:
        """Active, in effect, and not expired at ``now``."""
        return (
            self.state is FactState.ACTIVE
            and self.effective_at <= now
            and (self.expires_at is None or now < self.expires_at)
        )


def check_fact_data(kind: str, data: Mapping[str, Any]) -> FactKind:
    """Validate a fact's kind and data shape; raise ``InvalidInput`` naming each bad field."""
    try:
        fact_kind = FactKind(kind)
    except ValueError:
        raise InvalidInput(
            "fact_kind_unknown",
            Message(f"unknown fact kind {kind!r}", "未知的事实类型"),
            errors=[FieldError(("kind",), "fact_kind_unknown", ", ".join(k.value for k in FactKind))],
        ) from None
    problems = []
    for name, expected in _REQUIRED[fact_kind].items():
        value = data.get(name)
        if not isinstance(value, expected) or (isinstance(value, bool) and expected is not bool):
            problems.append(
                FieldError(("data", name), "fact_field_invalid", f"{name} is required ({expected})")
            )
            continue
        choices = _CHOICES.get((fact_kind, name))
        if choices is not None and value not in choices:
            problems.append(
                FieldError(("data", name), "fact_field_invalid", "one of " + ", ".join(sorted(choices)))
            )
        if name in _TIMES and not is_iso_datetime(str(value)):
            problems.append(FieldError(("data", name), "fact_time_invalid", ISO_TIME))
    if problems:
        raise InvalidInput(
            "fact_invalid", Message("the fact's data is not valid", "事实数据无效"), errors=problems
        )
    return fact_kind


EARLIEST_TIME = datetime(1900, 1, 1, tzinfo=UTC)
END_OF_TIMES = datetime(2200, 1, 1, tzinfo=UTC)
"""The times taken from outside (facts, feeds, requests) lie from ``EARLIEST_TIME`` up to, not
including, ``END_OF_TIMES``: the status engine and tracing reckon days back and forth from them, in UTC
and in the local zone, which past the years 1-9999 raises (``0001-01-01T00:00:00+08:00`` has no UTC at
all). Nothing this platform records happened before 1900 or is due after 2200 (docs/decisions.md)."""


ISO_TIME = "an ISO 8601 date-time with offset, from 1900 up to 2200"
"""What a time from outside must be, as an error names it."""


def in_time_range(moment: datetime) -> bool:
    """Whether an aware time lies within ``EARLIEST_TIME`` and ``END_OF_TIMES``."""
    return EARLIEST_TIME <= moment < END_OF_TIMES


def is_iso_datetime(text: str) -> bool:
    """An ISO 8601 date-time with an offset (``Z`` allowed), as facts and feeds take times, within
    ``in_time_range``."""
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return parsed.tzinfo is not None and in_time_range(parsed)


def approve(fact: Fact, approver: str, now: datetime) -> Fact:
    """Dual control: a different person than the proposer activates a proposed fact."""
    _check_decidable(fact, approver)
    return replace(fact, state=FactState.ACTIVE, decided_by=approver, decided_at=now)


def reject(fact: Fact, decider: str, now: datetime, note: str) -> Fact:
    _check_decidable(fact, decider)
    return replace(fact, state=FactState.REJECTED, decided_by=decider, decided_at=now, note=note)


def _check_decidable(fact: Fact, decider: str) -> None:
    if fact.state is not FactState.PROPOSED:
        raise Conflict(
            "fact_not_proposed", Message("this fact is not awaiting a decision", "该事实不在待审批状态")
        )
    if fact.proposed_by == decider:
        raise PermissionDenied(
            "own_proposal",
            Message("a proposal must be decided by someone other than its author", "不能审批自己提交的事实"),
            extra={"reasons": ["own_proposal"]},
        )
