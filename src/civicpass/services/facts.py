"""Recording facts about residents, with dual control for anything that could raise a color.

Staff never set a color. They record a fact with its authority; if the fact is of a kind that raises
colors, or would raise this resident's color under the active rules (now or when it takes effect), it
waits as a proposal until a second staff member with the right role approves it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from civicpass.domain import facts as f
from civicpass.domain.errors import Message, NotFound
from civicpass.domain.policy import Action, StaffActor, Target, authorize
from civicpass.domain.regions import prefix_of
from civicpass.domain.residents import Resident
from civicpass.domain.status import evaluate
from civicpass.services import cases
from civicpass.services.context import Deps
from civicpass.services.ports import UnitOfWork
from civicpass.services.status import StatusChange, active_ruleset, notify, recompute_in

RAISING_KINDS = frozenset(
    {
        f.FactKind.CASE,
        f.FactKind.CLOSE_CONTACT,
        f.FactKind.SECONDARY_CONTACT,
        f.FactKind.SPATIOTEMPORAL_COMPANION,
        f.FactKind.ISOLATION_ORDER,
        f.FactKind.RISK_AREA_ARRIVAL,
        f.FactKind.PEER_STATUS,
    }
)
"""Kinds that raise colors under any sensible rule set; staff-recorded ones always need approval."""


@dataclass(frozen=True)
class NewFact:
    subject_id: str
    kind: str
    data: Mapping[str, Any]
    effective_at: datetime | None = None
    expires_at: datetime | None = None
    note: str = ""


def _subject(uow: UnitOfWork, subject_id: str) -> Resident:
    resident = uow.residents.get(subject_id)
    if resident is None or not resident.active:
        raise NotFound("resident_not_found", Message("no such resident", "居民不存在"))
    return resident


def _would_raise(uow: UnitOfWork, deps: Deps, fact: f.Fact) -> bool:
    """Whether the fact, once active, gives a higher color now or at the moment it takes effect."""
    ruleset = active_ruleset(uow).ruleset
    existing = uow.facts.for_subjects([fact.subject_id])[fact.subject_id]
    with_fact = [*existing, replace(fact, state=f.FactState.ACTIVE)]
    for moment in {deps.clock.now(), max(deps.clock.now(), fact.effective_at)}:
        before = evaluate(existing, ruleset, moment, deps.zone).color
        after = evaluate(with_fact, ruleset, moment, deps.zone).color
        if ruleset.rank(after) > ruleset.rank(before):
            return True
    return False


def record(deps: Deps, actor: StaffActor, new: NewFact) -> f.Fact:
    """Record a fact: active at once if it cannot raise a color, otherwise proposed for approval."""
    kind = f.check_fact_data(new.kind, new.data)
    now = deps.clock.now()
    with deps.uow() as uow:
        subject = _subject(uow, new.subject_id)
        authorize(
            actor, Action.FACT_RECORD, Target(region=subject.region_code, fact_kind=kind.value)
        ).enforce()
        fact = f.Fact(
            id=deps.random.new_id(),
            subject_id=subject.id,
            kind=kind,
            data=dict(new.data),
            source=f.FactSource.STAFF,
            authority=actor.id,
            effective_at=new.effective_at or now,
            expires_at=new.expires_at,
            recorded_at=now,
            state=f.FactState.ACTIVE,
            proposed_by=actor.id,
            note=new.note,
        )
        raising = (kind in RAISING_KINDS and not _closes_case(kind, new.data)) or (
            kind is f.FactKind.TEST_RESULT and new.data.get("result") == "positive"
        )
        if raising or _would_raise(uow, deps, fact):
            fact = replace(fact, state=f.FactState.PROPOSED)
        uow.facts.add(fact)
        changes: list[StatusChange] = []
        if fact.state is f.FactState.ACTIVE:
            uow.events.add("fact:resident:recorded", _event(fact), now)
            cases.follow(uow, deps, fact)
            changes = recompute_in(uow, deps, [subject.id])
        else:
            uow.events.add("fact:resident:proposed", _event(fact), now)
        uow.commit()
    notify(deps, changes)
    return fact


def _closes_case(kind: f.FactKind, data: Mapping[str, Any]) -> bool:
    """A case fact that ends a case (recovered, excluded, closed) lowers colors; it still must not raise."""
    return kind is f.FactKind.CASE and data.get("classification") in f.CLOSING_CASE_CLASSES


def _event(fact: f.Fact) -> dict[str, Any]:
    return {
        "fact": fact.id,
        "subject": fact.subject_id,
        "kind": fact.kind.value,
        "authority": fact.authority,
        "proposed_by": fact.proposed_by,
        "decided_by": fact.decided_by,
        "state": fact.state.value,
    }


def _proposal(uow: UnitOfWork, actor: StaffActor, fact_id: str) -> f.Fact:
    fact = uow.facts.get(fact_id)
    if fact is None:
        raise NotFound("fact_not_found", Message("no such fact", "事实记录不存在"))
    authorize(actor, Action.FACT_APPROVE, Target(region=_subject(uow, fact.subject_id).region_code)).enforce()
    return fact


def approve(deps: Deps, actor: StaffActor, fact_id: str) -> f.Fact:
    """The second pair of eyes: activates a proposed fact and re-evaluates the resident."""
    now = deps.clock.now()
    with deps.uow() as uow:
        approved = f.approve(_proposal(uow, actor, fact_id), actor.id, now)
        uow.facts.update(approved)
        uow.events.add("fact:resident:approved", _event(approved), now)
        cases.follow(uow, deps, approved)
        changes = recompute_in(uow, deps, [approved.subject_id])
        uow.commit()
    notify(deps, changes)
    return approved


def reject(deps: Deps, actor: StaffActor, fact_id: str, note: str) -> f.Fact:
    now = deps.clock.now()
    with deps.uow() as uow:
        rejected = f.reject(_proposal(uow, actor, fact_id), actor.id, now, note)
        uow.facts.update(rejected)
        uow.events.add("fact:resident:rejected", _event(rejected), now)
        cases.follow(uow, deps, rejected)
        uow.commit()
    return rejected


def proposals(deps: Deps, actor: StaffActor, limit: int = 100) -> list[f.Fact]:
    """Proposed facts about residents of the actor's jurisdiction, oldest first."""
    authorize(actor, Action.FACT_APPROVE, Target(region=actor.jurisdiction)).enforce()
    with deps.uow() as uow:
        return uow.facts.proposed(prefix_of(actor.jurisdiction), min(limit, 500))
