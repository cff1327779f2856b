"""Cases (病例): a person's infection as the CDC tracks it, and the window in which they could infect others.

A case is opened by a positive test result or by the CDC. Its state moves only by facts: each transition is
a ``case`` fact (classification + case id) with its authority, under the same dual control as every fact
that can raise a color, so the case's state is always the classification of its latest active case fact
(``proposed`` until the first one is approved; a rejected opening closes it)::

    proposed ──> suspected ──> confirmed | asymptomatic ──> recovered ──> closed
        │               │                          (asymptomatic -> confirmed when symptoms start)
        └──> excluded   └──> closed

The infectious window runs from ``infectious_before`` (default 2 days) before symptom onset, or before
sampling when there are no symptoms, to the moment the case was isolated (by default, when it was opened).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from civicpass.domain.errors import Conflict, FieldError, InvalidInput, Message


class CaseState(StrEnum):
    PROPOSED = "proposed"  # opened by the CDC; its first classification awaits a second CDC member
    SUSPECTED = "suspected"
    CONFIRMED = "confirmed"
    ASYMPTOMATIC = "asymptomatic"
    RECOVERED = "recovered"
    EXCLUDED = "excluded"
    CLOSED = "closed"


TRANSITIONS: dict[CaseState, frozenset[CaseState]] = {
    CaseState.PROPOSED: frozenset(
        {CaseState.SUSPECTED, CaseState.CONFIRMED, CaseState.ASYMPTOMATIC, CaseState.CLOSED}
    ),
    CaseState.SUSPECTED: frozenset({CaseState.CONFIRMED, CaseState.ASYMPTOMATIC, CaseState.EXCLUDED}),
    CaseState.ASYMPTOMATIC: frozenset({CaseState.CONFIRMED, CaseState.RECOVERED, CaseState.CLOSED}),
    CaseState.CONFIRMED: frozenset({CaseState.RECOVERED, CaseState.CLOSED}),
    CaseState.RECOVERED: frozenset({CaseState.CLOSED}),
    CaseState.EXCLUDED: frozenset(),
    CaseState.CLOSED: frozenset(),
}
OPEN_STATES = frozenset({CaseState.SUSPECTED, CaseState.CONFIRMED, CaseState.ASYMPTOMATIC})


class CaseOrigin(StrEnum):
    POSITIVE_RESULT = "positive_result"  # a positive test result (lab, hospital or feed) opened it
    CDC = "cdc"  # an epidemiologist opened it (e.g. a clinical diagnosis)


@dataclass(frozen=True)
class Case:
    id: str
    resident_id: str
    region_code: str  # the resident's, when opened: whose CDC handles it
    state: CaseState
    origin: CaseOrigin
    opened_at: datetime
    opened_by: str
    sampled_at: datetime | None = None
    onset_at: datetime | None = None
    isolated_at: datetime | None = None
    source_fact_id: str | None = None
    updated_at: datetime | None = None

    @property
    def open(self) -> bool:
        return self.state in OPEN_STATES

    def infectious_window(self, before: timedelta) -> tuple[datetime, datetime]:
        """From ``before`` ahead of onset (else sampling, else opening) to isolation (else opening)."""
        first = self.onset_at or self.sampled_at or self.opened_at
        return first - before, self.isolated_at or self.opened_at


def check_transition(case: Case, to: CaseState) -> None:
    if to not in TRANSITIONS[case.state]:
        allowed = ", ".join(sorted(TRANSITIONS[case.state])) or "none"
        raise Conflict(
            "case_transition_invalid",
            Message(
                f"a {case.state.value} case cannot become {to.value} (allowed: {allowed})",
                f"病例状态不能从“{case.state.value}”变为“{to.value}”",
            ),
            extra={"allowed": sorted(TRANSITIONS[case.state])},
        )


def parse_state(text: str) -> CaseState:
    try:
        return CaseState(text)
    except ValueError:
        raise InvalidInput(
            "case_state_unknown",
            Message(f"unknown case state {text!r}", "未知的病例状态"),
            errors=[FieldError(("state",), "case_state_unknown", ", ".join(s.value for s in CaseState))],
        ) from None


def moved(case: Case, to: CaseState, at: datetime) -> Case:
    """The case after an approved transition (checked again: another may have moved it meanwhile)."""
    check_transition(case, to)
    return replace(case, state=to, updated_at=at)
