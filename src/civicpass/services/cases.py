"""Cases: opened by a positive result or by the CDC, moved only by case facts (see ``domain.cases``).

``follow`` is called by the fact services whenever a fact becomes active or is rejected: an active positive
test result opens a suspected case (unless one is open), an active case fact moves its case, a rejected
opening closes it. The CDC opens cases and proposes transitions here; transitions that keep or raise a
color wait for a second CDC member, like every such fact.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from civicpass.domain import cases as c
from civicpass.domain.errors import FieldError, InvalidInput, Message, NotFound
from civicpass.domain.facts import Fact, FactKind, FactSource, FactState
from civicpass.domain.features import parse_time
from civicpass.domain.policy import Action, StaffActor, Target, authorize
from civicpass.domain.regions import prefix_of
from civicpass.services.context import Deps
from civicpass.services.ports import UnitOfWork
from civicpass.services.status import StatusChange, notify, recompute_in

POSITIVE_RESULT_AUTHORITY = "system:positive-result"
CASE_FACT_DAYS = 3650  # a case fact holds until a later one replaces it


@dataclass(frozen=True)
class NewCase:
    resident_id: str
    classification: c.CaseState
    onset_at: datetime | None = None
    sampled_at: datetime | None = None
    isolated_at: datetime | None = None
    note: str = ""


def _case_fact(
    deps: Deps, case: c.Case, to: c.CaseState, by: str, state: FactState, source: FactSource
) -> Fact:
    now = deps.clock.now()
    return Fact(
        id=deps.random.new_id(),
        subject_id=case.resident_id,
        kind=FactKind.CASE,
        data={"classification": to.value, "case_id": case.id},
        source=source,
        authority=by,
        effective_at=now,
        expires_at=now + timedelta(days=CASE_FACT_DAYS),
        recorded_at=now,
        state=state,
        proposed_by=by if source is FactSource.STAFF else None,
        note=f"case {case.id}",
    )


def _event(case: c.Case) -> dict[str, Any]:
    return {
        "case": case.id,
        "subject": case.resident_id,
        "state": case.state.value,
        "origin": case.origin.value,
    }


def follow(uow: UnitOfWork, deps: Deps, fact: Fact) -> list[str]:
    """Keep cases in step with a fact that just became active or was rejected; the residents touched."""
    now = deps.clock.now()
    if fact.kind is FactKind.CASE and "case_id" in fact.data:
        case = uow.cases.get(str(fact.data["case_id"]))
        if case is None or case.resident_id != fact.subject_id:
            raise InvalidInput(
                "case_not_of_subject",
                Message("the case named is not this person's", "所指病例不属于该人员"),
                errors=[
                    FieldError(("data", "case_id"), "case_not_of_subject", "a case of the fact's subject")
                ],
            )
        if fact.state is FactState.REJECTED:
            if case.state is c.CaseState.PROPOSED:  # the opening was refused: the case never was
                closed = replace(case, state=c.CaseState.CLOSED, updated_at=now)
                uow.cases.update(closed)
                uow.events.add("case:resident:closed", _event(closed), now)
            return []
        if fact.state is FactState.ACTIVE:
            moved = c.moved(case, c.CaseState(fact.data["classification"]), now)
            uow.cases.update(moved)
            uow.events.add("case:resident:moved", _event(moved), now)
        return []
    positive = fact.kind is FactKind.TEST_RESULT and fact.data.get("result") == "positive"
    if not (positive and fact.state is FactState.ACTIVE):
        return []
    if any(k.open or k.state is c.CaseState.PROPOSED for k in uow.cases.of_resident(fact.subject_id)):
        return []
    resident = uow.residents.get(fact.subject_id)
    if resident is None:
        return []
    sampled = fact.data.get("sampled_at")
    case = c.Case(
        id=deps.random.new_id(),
        resident_id=resident.id,
        region_code=resident.region_code,
        state=c.CaseState.SUSPECTED,
        origin=c.CaseOrigin.POSITIVE_RESULT,
        opened_at=now,
        opened_by=fact.authority,
        sampled_at=parse_time(str(sampled)) if sampled else None,
        source_fact_id=fact.id,
        updated_at=now,
    )
    uow.cases.add(case)
    # The positive result passed its own checks (dual control or a signed feed): the case follows from it.
    uow.facts.add(
        _case_fact(
            deps, case, c.CaseState.SUSPECTED, POSITIVE_RESULT_AUTHORITY, FactState.ACTIVE, FactSource.SYSTEM
        )
    )
    uow.events.add("case:resident:opened", _event(case), now)
    return [resident.id]


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(UTC)


def _get(uow: UnitOfWork, actor: StaffActor, case_id: str) -> c.Case:
    case = uow.cases.get(case_id)
    if case is None:
        raise NotFound("case_not_found", Message("no such case", "病例不存在"))
    authorize(actor, Action.CASE_MANAGE, Target(region=case.region_code)).enforce()
    return case


def open_case(deps: Deps, actor: StaffActor, new: NewCase) -> tuple[c.Case, Fact]:
    """The CDC opens a case; its classification is a proposed fact until a second CDC member approves."""
    if new.classification not in c.OPEN_STATES:
        raise InvalidInput(
            "case_state_invalid",
            Message(
                "a case opens as suspected, confirmed or asymptomatic", "病例应以疑似、确诊或无症状状态开立"
            ),
            errors=[
                FieldError(("classification",), "case_state_invalid", "suspected, confirmed or asymptomatic")
            ],
        )
    now = deps.clock.now()
    with deps.uow() as uow:
        resident = uow.residents.get(new.resident_id)
        if resident is None or not resident.active:
            raise NotFound("resident_not_found", Message("no such resident", "居民不存在"))
        authorize(actor, Action.CASE_MANAGE, Target(region=resident.region_code)).enforce()
        case = c.Case(
            id=deps.random.new_id(),
            resident_id=resident.id,
            region_code=resident.region_code,
            state=c.CaseState.PROPOSED,
            origin=c.CaseOrigin.CDC,
            opened_at=now,
            opened_by=actor.id,
            sampled_at=_utc(new.sampled_at),
            onset_at=_utc(new.onset_at),
            isolated_at=_utc(new.isolated_at),
            updated_at=now,
        )
        uow.cases.add(case)
        fact = replace(
            _case_fact(deps, case, new.classification, actor.id, FactState.PROPOSED, FactSource.STAFF),
            note=new.note or f"case {case.id}",
        )
        uow.facts.add(fact)
        uow.events.add("case:resident:opened", _event(case), now)
        uow.events.add(
            "fact:resident:proposed",
            {"fact": fact.id, "subject": case.resident_id, "kind": "case", "authority": actor.id},
            now,
        )
        uow.commit()
    return case, fact


def propose_transition(deps: Deps, actor: StaffActor, case_id: str, to: c.CaseState, note: str = "") -> Fact:
    """A CDC member moves a case: closing it (recovered, excluded, closed) takes effect at once; any other
    classification keeps the resident red or makes them red, so it waits for a second CDC member."""
    now = deps.clock.now()
    changes: list[StatusChange] = []
    with deps.uow() as uow:
        case = _get(uow, actor, case_id)
        c.check_transition(case, to)
        closing = to not in c.OPEN_STATES
        fact = _case_fact(
            deps, case, to, actor.id, FactState.ACTIVE if closing else FactState.PROPOSED, FactSource.STAFF
        )
        fact = replace(fact, note=note or fact.note, decided_by=actor.id if closing else None)
        uow.facts.add(fact)
        if closing:
            follow(uow, deps, fact)
            changes = recompute_in(uow, deps, [case.resident_id])
            uow.events.add(
                "fact:resident:recorded",
                {"fact": fact.id, "subject": case.resident_id, "kind": "case", "authority": actor.id},
                now,
            )
        else:
            uow.events.add(
                "fact:resident:proposed",
                {"fact": fact.id, "subject": case.resident_id, "kind": "case", "authority": actor.id},
                now,
            )
        uow.commit()
    notify(deps, changes)
    return fact


def set_dates(
    deps: Deps,
    actor: StaffActor,
    case_id: str,
    onset_at: datetime | None,
    sampled_at: datetime | None,
    isolated_at: datetime | None,
) -> c.Case:
    """Set the dates that bound the infectious window (None: unknown; no color depends on them directly)."""
    now = deps.clock.now()
    with deps.uow() as uow:
        case = _get(uow, actor, case_id)
        updated = replace(
            case,
            onset_at=_utc(onset_at),
            sampled_at=_utc(sampled_at),
            isolated_at=_utc(isolated_at),
            updated_at=now,
        )
        uow.cases.update(updated)
        uow.events.add("case:resident:dated", _event(updated), now)
        uow.commit()
    return updated


def get(deps: Deps, actor: StaffActor, case_id: str) -> c.Case:
    with deps.uow() as uow:
        return _get(uow, actor, case_id)


def in_jurisdiction(deps: Deps, actor: StaffActor, states: list[c.CaseState], limit: int) -> list[c.Case]:
    authorize(actor, Action.CASE_MANAGE, Target(region=actor.jurisdiction)).enforce()
    with deps.uow() as uow:
        return uow.cases.in_region(
            prefix_of(actor.jurisdiction), states, min(limit, deps.limits.case_list_limit)
        )
