"""The CDC's cases and contact tracing: open and move cases, run tracing, approve or reject its proposals."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, status
from pydantic import Field

from civicpass.domain.cases import Case, CaseState, parse_state
from civicpass.domain.proposals import TracingProposal
from civicpass.services import cases, tracing
from civicpass.web.deps import CurrentStaff, ServiceDeps
from civicpass.web.schemas import Instant, RejectIn, Strict, fact_view

router = APIRouter(prefix="/v1/staff", tags=["cases"])

Engine = Literal["sql", "duckdb"]


class CaseIn(Strict):
    resident_id: str = Field(max_length=36)
    classification: Literal["suspected", "confirmed", "asymptomatic"]
    onset_at: Instant | None = None
    sampled_at: Instant | None = None
    isolated_at: Instant | None = None
    note: str = Field("", max_length=500)


class CaseDatesIn(Strict):
    """All three, each a time or null (unknown): the dates are replaced together."""

    onset_at: Instant | None
    sampled_at: Instant | None
    isolated_at: Instant | None


class TransitionIn(Strict):
    to: str = Field(max_length=16, examples=["confirmed"])
    note: str = Field("", max_length=500)


class TracingIn(Strict):
    engine: Engine = Field(description="sql: the operational database, today included; duckdb: the exports")


class ApproveIn(Strict):
    contacts: list[str] | Literal["all"] = Field(
        description='"all" proposable contacts, or a list of their resident ids', max_length=10_000
    )
    note: str = Field("", max_length=500)


def _time(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def case_view(case: Case) -> dict[str, Any]:
    return {
        "id": case.id,
        "resident_id": case.resident_id,
        "region_code": case.region_code,
        "state": case.state.value,
        "origin": case.origin.value,
        "opened_at": case.opened_at.isoformat(),
        "opened_by": case.opened_by,
        "sampled_at": _time(case.sampled_at),
        "onset_at": _time(case.onset_at),
        "isolated_at": _time(case.isolated_at),
    }


def proposal_view(proposal: TracingProposal) -> dict[str, Any]:
    return {
        "id": proposal.id,
        "case_id": proposal.case_id,
        "state": proposal.state.value,
        "degree": proposal.degree,
        "parent_id": proposal.parent_id,
        "engine": proposal.engine,
        "policy_seconds": dict(proposal.policy),
        "requested_by": proposal.requested_by,
        "requested_at": proposal.requested_at.isoformat(),
        "decided_by": proposal.decided_by,
        "decided_at": _time(proposal.decided_at),
        "note": proposal.note,
        "contacts": [
            {
                "resident_id": c.resident_id,
                "grade": c.grade.value,
                "decision": c.decision.value,
                "last_exposure": c.last_exposure.isoformat(),
                "longest_minutes": round(c.longest_seconds / 60, 1),
                "evidence": [dict(e) for e in c.evidence],
                "fact_id": c.fact_id,
            }
            for c in proposal.contacts
        ],
    }


@router.post("/cases", status_code=status.HTTP_201_CREATED)
def open_case(body: CaseIn, actor: CurrentStaff, deps: ServiceDeps) -> dict[str, Any]:
    """Open a case; its classification is a proposed fact until a second CDC member approves it."""
    new = cases.NewCase(
        body.resident_id,
        CaseState(body.classification),
        body.onset_at,
        body.sampled_at,
        body.isolated_at,
        body.note,
    )
    case, fact = cases.open_case(deps, actor, new)
    return {"case": case_view(case), "fact": fact_view(fact)}


@router.get("/cases")
def list_cases(
    actor: CurrentStaff,
    deps: ServiceDeps,
    state: Annotated[list[CaseState] | None, Query(max_length=8)] = None,
    limit: int = Query(100, ge=1, le=500),
) -> list[dict[str, Any]]:
    """Cases in your jurisdiction, newest first (optionally of some states)."""
    return [case_view(c) for c in cases.in_jurisdiction(deps, actor, state or [], limit)]


@router.get("/cases/{case_id}")
def get_case(case_id: str, actor: CurrentStaff, deps: ServiceDeps) -> dict[str, Any]:
    return case_view(cases.get(deps, actor, case_id))


@router.put("/cases/{case_id}/dates")
def date_case(case_id: str, body: CaseDatesIn, actor: CurrentStaff, deps: ServiceDeps) -> dict[str, Any]:
    """Set symptom onset, sampling and isolation times (null: unknown): they bound the infectious window."""
    return case_view(cases.set_dates(deps, actor, case_id, body.onset_at, body.sampled_at, body.isolated_at))


@router.post("/cases/{case_id}/transitions", status_code=status.HTTP_201_CREATED)
def move_case(case_id: str, body: TransitionIn, actor: CurrentStaff, deps: ServiceDeps) -> dict[str, Any]:
    """Move a case: a closing state takes effect at once, any other waits for a second CDC member."""
    return fact_view(cases.propose_transition(deps, actor, case_id, parse_state(body.to), body.note))


@router.post("/cases/{case_id}/tracing", status_code=status.HTTP_201_CREATED)
def run_tracing(case_id: str, body: TracingIn, actor: CurrentStaff, deps: ServiceDeps) -> dict[str, Any]:
    """Trace the case over its infectious window: a proposal, which changes nothing until approved."""
    return proposal_view(tracing.run(deps, actor, case_id, body.engine))


@router.get("/cases/{case_id}/tracing")
def case_proposals(case_id: str, actor: CurrentStaff, deps: ServiceDeps) -> list[str]:
    """The case's tracing proposals, oldest first."""
    return tracing.of_case(deps, actor, case_id)


@router.get("/tracing/{proposal_id}")
def get_proposal(proposal_id: str, actor: CurrentStaff, deps: ServiceDeps) -> dict[str, Any]:
    return proposal_view(tracing.get(deps, actor, proposal_id))


@router.post("/tracing/{proposal_id}/approve")
def approve_proposal(
    proposal_id: str, body: ApproveIn, actor: CurrentStaff, deps: ServiceDeps
) -> dict[str, Any]:
    """Approve all contacts (or those listed); the rest are rejected. Not by the one who ran it."""
    chosen = None if body.contacts == "all" else body.contacts
    return proposal_view(tracing.approve(deps, actor, proposal_id, chosen, body.note))


@router.post("/tracing/{proposal_id}/reject")
def reject_proposal(
    proposal_id: str, body: RejectIn, actor: CurrentStaff, deps: ServiceDeps
) -> dict[str, Any]:
    return proposal_view(tracing.reject(deps, actor, proposal_id, body.note))


@router.post("/tracing/{proposal_id}/second-degree", status_code=status.HTTP_201_CREATED)
def second_degree(
    proposal_id: str, body: TracingIn, actor: CurrentStaff, deps: ServiceDeps
) -> dict[str, Any]:
    """Trace the approved close contacts of this proposal: their close contacts become secondary contacts."""
    return proposal_view(tracing.run_second_degree(deps, actor, proposal_id, body.engine))
