"""Tracing proposals: the contacts a tracing run found, waiting for a second CDC member's decision.

Tracing never changes anyone's color by itself. Its output is a proposal listing each contact with the
evidence; a CDC member other than the one who ran it approves all of it or part of it, and only then are
facts recorded (close contact, spatio-temporal companion, or secondary contact for second-degree runs).
Weak-only contacts are in the proposal so a person can see them, and can never be approved.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from civicpass.domain.errors import Conflict, FieldError, InvalidInput, Message, PermissionDenied
from civicpass.domain.tracing import ContactGrade, TracedContact, moment


class ProposalState(StrEnum):
    PENDING = "pending"
    DECIDED = "decided"  # approved in whole or in part; the rest rejected
    REJECTED = "rejected"


class Decision(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    NOT_PROPOSABLE = "not_proposable"  # weak evidence only


@dataclass(frozen=True)
class ProposedContact:
    resident_id: str
    grade: ContactGrade
    last_exposure: datetime
    longest_seconds: int
    evidence: tuple[Mapping[str, Any], ...]
    decision: Decision
    fact_id: str | None = None
    note: str = ""


@dataclass(frozen=True)
class TracingProposal:
    id: str
    case_id: str
    region_code: str
    requested_by: str
    requested_at: datetime
    engine: str
    policy: Mapping[str, Any]
    contacts: tuple[ProposedContact, ...]
    state: ProposalState = ProposalState.PENDING
    degree: int = 1
    parent_id: str | None = None  # the proposal whose approved contacts a second-degree run traced from
    decided_by: str | None = None
    decided_at: datetime | None = None
    note: str = ""

    def proposable(self) -> list[ProposedContact]:
        return [c for c in self.contacts if c.decision is not Decision.NOT_PROPOSABLE]


def evidence_of(contact: TracedContact, limit: int = 20) -> tuple[dict[str, Any], ...]:
    """The exposures behind a contact, longest first, as shown to the approver (at most ``limit``)."""
    return tuple(
        {
            "venue_id": e.venue_id,
            "vehicle": e.vehicle,
            "from": moment(e.start).isoformat(),
            "to": moment(e.end).isoformat(),
            "minutes": round(e.seconds / 60, 1),
            "evidence": e.evidence.value,
            "index_checkin_id": e.index_checkin_id,
            "contact_checkin_id": e.contact_checkin_id,
        }
        for e in contact.exposures[:limit]
    )


def proposed(contacts: Collection[TracedContact]) -> tuple[ProposedContact, ...]:
    """One proposed contact per resident (the strongest grade over the proposal's index people)."""
    order = list(ContactGrade)
    best: dict[str, TracedContact] = {}
    for c in contacts:
        held = best.get(c.resident_id)
        if held is None or (order.index(c.grade), -c.longest_seconds) < (
            order.index(held.grade),
            -held.longest_seconds,
        ):
            best[c.resident_id] = c
    return tuple(
        ProposedContact(
            c.resident_id,
            c.grade,
            c.last_exposure,
            c.longest_seconds,
            evidence_of(c),
            Decision.PENDING if c.proposable else Decision.NOT_PROPOSABLE,
        )
        for c in sorted(best.values(), key=lambda c: (order.index(c.grade), c.resident_id))
    )


def _check_decidable(proposal: TracingProposal, decider: str) -> None:
    if proposal.state is not ProposalState.PENDING:
        raise Conflict("proposal_decided", Message("this proposal was already decided", "该追踪建议已审批"))
    if proposal.requested_by == decider:
        raise PermissionDenied(
            "own_proposal",
            Message("a proposal must be decided by someone other than its author", "不能审批自己提交的建议"),
            extra={"reasons": ["own_proposal"]},
        )


def approve(
    proposal: TracingProposal, approver: str, chosen: Collection[str] | None, now: datetime, note: str = ""
) -> TracingProposal:
    """Approve the chosen contacts (all proposable ones if None); the other proposable ones are rejected."""
    _check_decidable(proposal, approver)
    decidable = {c.resident_id for c in proposal.proposable()}
    wanted = decidable if chosen is None else set(chosen)
    unknown = sorted(wanted - decidable)
    if unknown:
        weak = {c.resident_id for c in proposal.contacts} & set(unknown)
        raise InvalidInput(
            "contact_not_proposable",
            Message(
                "only proposed contacts with strong or medium evidence can be approved",
                "只能批准证据为强或中的建议密接",
            ),
            errors=[
                FieldError(
                    ("contacts", r),
                    "weak_evidence_only" if r in weak else "not_in_proposal",
                    "not approvable",
                )
                for r in unknown
            ],
        )
    contacts = tuple(
        c
        if c.decision is Decision.NOT_PROPOSABLE
        else replace(c, decision=Decision.APPROVED if c.resident_id in wanted else Decision.REJECTED)
        for c in proposal.contacts
    )
    return replace(
        proposal,
        contacts=contacts,
        state=ProposalState.DECIDED,
        decided_by=approver,
        decided_at=now,
        note=note,
    )


def reject(proposal: TracingProposal, decider: str, now: datetime, note: str) -> TracingProposal:
    _check_decidable(proposal, decider)
    contacts = tuple(
        c if c.decision is Decision.NOT_PROPOSABLE else replace(c, decision=Decision.REJECTED)
        for c in proposal.contacts
    )
    return replace(
        proposal,
        contacts=contacts,
        state=ProposalState.REJECTED,
        decided_by=decider,
        decided_at=now,
        note=note,
    )
