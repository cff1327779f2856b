"""Contact tracing runs and their approval (dual control): only an approved proposal changes facts.

A CDC member runs tracing for a case (or, second-degree, from an approved proposal's close contacts) on
the SQL engine (the operational database; small jobs, today's check-ins included) or the DuckDB engine
(the Parquet exports; large jobs). The run stores a proposal; a different CDC member approves all or part
of it, and only then are close-contact, companion or secondary-contact facts recorded and the contacts'
colors recomputed. Weak-only contacts are shown and can never be approved (``domain.proposals``).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from civicpass.domain import proposals as p
from civicpass.domain import tracing as tr
from civicpass.domain.cases import OPEN_STATES, Case
from civicpass.domain.errors import Conflict, FieldError, InvalidInput, Message, NotFound
from civicpass.domain.facts import Fact, FactKind, FactSource, FactState
from civicpass.domain.policy import Action, StaffActor, Target, authorize
from civicpass.services import tasks
from civicpass.services.context import Deps
from civicpass.services.ports import TracingEngine, UnitOfWork
from civicpass.services.status import StatusChange, notify, recompute_in

ENGINES = ("sql", "duckdb")


def _engine(uow: UnitOfWork, deps: Deps, name: str) -> TracingEngine:
    if name == "sql":
        return uow.tracing
    if name == "duckdb" and deps.analytics is not None:
        return deps.analytics
    raise InvalidInput(
        "tracing_engine_unknown",
        Message(f"unknown tracing engine {name!r}", "未知的追踪引擎"),
        errors=[FieldError(("engine",), "tracing_engine_unknown", ", ".join(ENGINES))],
    )


def trace(
    uow: UnitOfWork, deps: Deps, engine: TracingEngine, index: Sequence[tr.IndexPerson]
) -> list[tr.TracedContact]:
    """Graded contacts of the index people, read through ``engine`` (venue kinds from the database)."""
    policy = deps.tracing
    if not index:
        return []
    start = min(person.start for person in index) - policy.max_ride
    end = max(person.end for person in index)
    visits = engine.visits_of({person.resident_id for person in index}, start, end)
    venues = uow.venues.get_many({v.venue_id for v in visits})
    vehicles = {venue_id: venue.is_vehicle for venue_id, venue in venues.items()}
    presences = tr.index_presences(index, visits, vehicles, policy)
    return tr.grade(engine.exposures(presences, policy), policy)


def _case(uow: UnitOfWork, actor: StaffActor, case_id: str, action: Action) -> Case:
    case = uow.cases.get(case_id)
    if case is None:
        raise NotFound("case_not_found", Message("no such case", "病例不存在"))
    authorize(actor, action, Target(region=case.region_code)).enforce()
    return case


def _store(
    uow: UnitOfWork,
    deps: Deps,
    actor: StaffActor,
    case: Case,
    engine: TracingEngine,
    contacts: Collection[tr.TracedContact],
    degree: int = 1,
    parent: p.TracingProposal | None = None,
    excluded: Collection[str] = (),
) -> p.TracingProposal:
    now = deps.clock.now()
    found = p.proposed([c for c in contacts if c.resident_id not in excluded])
    if degree > 1:  # only the close contacts of contacts become secondary contacts
        found = tuple(
            c if c.grade is tr.ContactGrade.CLOSE else replace(c, decision=p.Decision.NOT_PROPOSABLE)
            for c in found
        )
    policy = {k: int(v.total_seconds()) for k, v in vars(deps.tracing).items()}
    proposal = p.TracingProposal(
        id=deps.random.new_id(),
        case_id=case.id,
        region_code=case.region_code,
        requested_by=actor.id,
        requested_at=now,
        engine=engine.name,
        policy=policy,
        contacts=found,
        degree=degree,
        parent_id=parent.id if parent else None,
    )
    uow.proposals.add(proposal)
    uow.events.add(
        "tracing:proposal:created",
        {
            "proposal": proposal.id,
            "case": case.id,
            "degree": degree,
            "engine": engine.name,
            "by": actor.id,
            "contacts": len(found),
            "proposable": len(proposal.proposable()),
        },
        now,
    )
    return proposal


def run(deps: Deps, actor: StaffActor, case_id: str, engine: str = "sql") -> p.TracingProposal:
    """Trace a case over its infectious window and store the result as a proposal."""
    with deps.uow() as uow:
        case = _case(uow, actor, case_id, Action.TRACING_RUN)
        if case.state not in OPEN_STATES:
            raise Conflict(
                "case_not_open",
                Message(f"a {case.state.value} case is not traced", "该病例不在可追踪状态"),
            )
        source = _engine(uow, deps, engine)
        start, end = case.infectious_window(deps.tracing.infectious_before)
        contacts = trace(uow, deps, source, [tr.IndexPerson(case.id, case.resident_id, start, end)])
        proposal = _store(uow, deps, actor, case, source, contacts, excluded={case.resident_id})
        uow.commit()
    return proposal


def run_second_degree(
    deps: Deps, actor: StaffActor, proposal_id: str, engine: str = "sql"
) -> p.TracingProposal:
    """Trace the approved close contacts of a decided proposal, from their exposure to their approval."""
    with deps.uow() as uow:
        parent = _proposal(uow, actor, proposal_id, Action.TRACING_RUN)
        if parent.state is not p.ProposalState.DECIDED:
            raise Conflict(
                "proposal_not_decided",
                Message(
                    "second-degree tracing starts from an approved proposal", "二次追踪须基于已批准的追踪建议"
                ),
            )
        case = _case(uow, actor, parent.case_id, Action.TRACING_RUN)
        decided = parent.decided_at or deps.clock.now()
        index = [
            tr.IndexPerson(c.resident_id, c.resident_id, _first_exposure(c), decided)
            for c in parent.contacts
            if c.decision is p.Decision.APPROVED and c.grade is tr.ContactGrade.CLOSE
        ]
        source = _engine(uow, deps, engine)
        contacts = trace(uow, deps, source, index)
        first_degree = {c.resident_id for c in parent.contacts if c.decision is p.Decision.APPROVED}
        proposal = _store(
            uow,
            deps,
            actor,
            case,
            source,
            contacts,
            degree=parent.degree + 1,
            parent=parent,
            excluded=first_degree | {case.resident_id},
        )
        uow.commit()
    return proposal


def _first_exposure(contact: p.ProposedContact) -> datetime:
    starts = [datetime.fromisoformat(str(e["from"])) for e in contact.evidence]
    return min(starts, default=contact.last_exposure)


def _proposal(uow: UnitOfWork, actor: StaffActor, proposal_id: str, action: Action) -> p.TracingProposal:
    proposal = uow.proposals.get(proposal_id)
    if proposal is None:
        raise NotFound("proposal_not_found", Message("no such tracing proposal", "追踪建议不存在"))
    authorize(actor, action, Target(region=proposal.region_code)).enforce()
    return proposal


def get(deps: Deps, actor: StaffActor, proposal_id: str) -> p.TracingProposal:
    with deps.uow() as uow:
        return _proposal(uow, actor, proposal_id, Action.TRACING_RUN)


def of_case(deps: Deps, actor: StaffActor, case_id: str) -> list[str]:
    with deps.uow() as uow:
        _case(uow, actor, case_id, Action.TRACING_RUN)
        return uow.proposals.of_case(case_id)


_FACT_KIND = {
    (1, tr.ContactGrade.CLOSE): FactKind.CLOSE_CONTACT,
    (1, tr.ContactGrade.COMPANION): FactKind.SPATIOTEMPORAL_COMPANION,
}


def _contact_fact(deps: Deps, proposal: p.TracingProposal, contact: p.ProposedContact, approver: str) -> Fact:
    kind = _FACT_KIND.get((proposal.degree, contact.grade), FactKind.SECONDARY_CONTACT)
    now = deps.clock.now()
    return Fact(
        id=deps.random.new_id(),
        subject_id=contact.resident_id,
        kind=kind,
        data={
            "case_id": proposal.case_id,
            "proposal_id": proposal.id,
            "grade": contact.grade.value,
            "last_exposure": contact.last_exposure.isoformat(),
        },
        source=FactSource.STAFF,
        authority=approver,
        effective_at=contact.last_exposure,
        expires_at=contact.last_exposure + timedelta(days=deps.limits.contact_fact_days),
        recorded_at=now,
        state=FactState.ACTIVE,
        proposed_by=proposal.requested_by,
        decided_by=approver,
        decided_at=now,
        note=f"tracing proposal {proposal.id} for case {proposal.case_id}",
    )


def approve(
    deps: Deps, actor: StaffActor, proposal_id: str, chosen: Collection[str] | None, note: str = ""
) -> p.TracingProposal:
    """A second CDC member approves all (``chosen`` None) or some contacts: facts are recorded for them."""
    now = deps.clock.now()
    with deps.uow() as uow:
        proposal = _proposal(uow, actor, proposal_id, Action.TRACING_APPROVE)
        decided = p.approve(proposal, actor.id, chosen, now, note)
        contacts, touched, recorded = [], [], []
        for contact in decided.contacts:
            if contact.decision is p.Decision.APPROVED and uow.residents.get(contact.resident_id) is not None:
                fact = _contact_fact(deps, decided, contact, actor.id)
                uow.facts.add(fact)
                uow.events.add(
                    "fact:resident:approved",
                    {"fact": fact.id, "subject": fact.subject_id, "kind": fact.kind.value, "by": actor.id},
                    now,
                )
                contact = replace(contact, fact_id=fact.id)
                touched.append(contact.resident_id)
                recorded.append(fact)
            contacts.append(contact)
        decided = replace(decided, contacts=tuple(contacts))
        uow.proposals.update(decided)
        uow.events.add(
            "tracing:proposal:approved",
            {"proposal": decided.id, "case": decided.case_id, "by": actor.id, "approved": len(touched)},
            now,
        )
        changes: list[StatusChange] = recompute_in(uow, deps, touched)
        planned = tasks.plan(uow, deps, recorded, actor.id)
        uow.commit()
    notify(deps, changes)
    tasks.announce(deps, planned)
    return decided


def reject(deps: Deps, actor: StaffActor, proposal_id: str, note: str) -> p.TracingProposal:
    now = deps.clock.now()
    with deps.uow() as uow:
        proposal = _proposal(uow, actor, proposal_id, Action.TRACING_APPROVE)
        rejected = p.reject(proposal, actor.id, now, note)
        uow.proposals.update(rejected)
        uow.events.add(
            "tracing:proposal:rejected",
            {"proposal": rejected.id, "case": rejected.case_id, "by": actor.id},
            now,
        )
        uow.commit()
    return rejected
