"""Resident-facing API: phone verification, enrolment, sign-in, profile and dependents."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response, status

from civicpass.domain.identity import parse_document
from civicpass.services import enrolment, residents
from civicpass.services.auth import close_session
from civicpass.web.deps import CurrentResident, ServiceDeps, bearer_token
from civicpass.web.schemas import (
    CodeIn,
    DependentIn,
    EnrolIn,
    GuardianIn,
    PhoneIn,
    SignInIn,
    related_view,
    resident_self_view,
    token_view,
)

router = APIRouter(prefix="/v1", tags=["residents"])


@router.post("/phone-verifications", status_code=status.HTTP_201_CREATED)
def start_phone_verification(body: PhoneIn, deps: ServiceDeps) -> dict[str, Any]:
    """Send a six-digit one-time code to the phone (GB/T 38963: part of code-usage application)."""
    sent = enrolment.start_phone_verification(deps, body.phone)
    return {"id": sent.challenge_id, "expires_at": sent.expires_at.isoformat()}


@router.post("/phone-verifications/{challenge_id}/confirm")
def confirm_phone(challenge_id: str, body: CodeIn, deps: ServiceDeps) -> dict[str, Any]:
    """Exchange the code for a single-use verification token."""
    verified = enrolment.confirm_phone(deps, challenge_id, body.code)
    return {"verification_token": verified.verification_token, "expires_at": verified.expires_at.isoformat()}


@router.post("/residents", status_code=status.HTTP_201_CREATED)
def enrol(body: EnrolIn, deps: ServiceDeps) -> dict[str, Any]:
    """Enrol yourself with a verified phone and an identity document; returns you signed in."""
    document = parse_document(body.document.type, body.document.number, body.document.nationality)
    signed = enrolment.enrol(
        deps, body.verification_token, body.name, document, body.region_code, body.birth_date, body.address
    )
    return {
        "resident": resident_self_view(signed.resident),
        **token_view(signed.access_token, signed.expires_at),
    }


@router.post("/sessions")
def sign_in(body: SignInIn, deps: ServiceDeps) -> dict[str, Any]:
    """Sign in with a fresh phone verification."""
    signed = enrolment.sign_in(deps, body.verification_token)
    return {
        "resident": resident_self_view(signed.resident),
        **token_view(signed.access_token, signed.expires_at),
    }


@router.delete("/sessions/current", status_code=status.HTTP_204_NO_CONTENT)
def sign_out(request: Request, actor: CurrentResident, deps: ServiceDeps) -> Response:
    """End this session: the token stops working at once."""
    token = bearer_token(request)
    if token is not None:
        close_session(deps, token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me")
def me(actor: CurrentResident, deps: ServiceDeps) -> dict[str, Any]:
    """Your own record, your dependents and your guardians."""
    return _profile(deps, actor)


def _profile(deps: ServiceDeps, actor: CurrentResident, resident_id: str | None = None) -> dict[str, Any]:
    p = residents.profile(deps, actor, resident_id)
    return {
        **resident_self_view(p.resident),
        "dependents": [related_view(r, link, masked=False) for r, link in p.dependents],
        "guardians": [related_view(r, link, masked=True) for r, link in p.guardians],
    }


@router.post("/me/dependents", status_code=status.HTTP_201_CREATED)
def add_dependent(body: DependentIn, actor: CurrentResident, deps: ServiceDeps) -> dict[str, Any]:
    """Enrol a dependent (a child or an elder without a phone) whom you will manage."""
    document = parse_document(body.document.type, body.document.number, body.document.nationality)
    dependent = residents.add_dependent(
        deps, actor, body.name, document, body.birth_date, body.region_code, body.relation, body.address
    )
    return resident_self_view(dependent)


@router.get("/me/dependents/{dependent_id}")
def get_dependent(dependent_id: str, actor: CurrentResident, deps: ServiceDeps) -> dict[str, Any]:
    return _profile(deps, actor, dependent_id)


@router.delete("/me/dependents/{dependent_id}", status_code=status.HTTP_204_NO_CONTENT)
def remove_dependent(dependent_id: str, actor: CurrentResident, deps: ServiceDeps) -> Response:
    """Stop managing a dependent; with no guardian left the dependent is deactivated."""
    residents.remove_dependent(deps, actor, dependent_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/me/dependents/{dependent_id}/guardians", status_code=status.HTTP_201_CREATED)
def add_guardian(
    dependent_id: str, body: GuardianIn, actor: CurrentResident, deps: ServiceDeps
) -> dict[str, Any]:
    """Add a second guardian (an enrolled resident, by phone number)."""
    other = residents.add_guardian(deps, actor, dependent_id, body.phone, body.relation)
    return {"guardian_id": other.id, "dependent_id": dependent_id}
