"""Health codes: issue (GB/T 38963 code generation), verify (code verification), the trust list, printouts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse

from civicpass.adapters import render
from civicpass.domain.checkins import Direction
from civicpass.services import codes
from civicpass.services.trust import signed_trust_list
from civicpass.web.deps import CurrentResident, CurrentStaff, ServiceDeps
from civicpass.web.schemas import CheckpointScanIn, TokenIn

router = APIRouter(tags=["codes"])


def _issued_view(issued: codes.IssuedCode) -> dict[str, Any]:
    c = issued.claims
    return {
        "token": issued.token,
        "color": c.color,
        "kind": c.kind.value,
        "status_version": c.status_version,
        "issued_at": c.issued_at.isoformat(),
        "expires_at": c.expires_at.isoformat(),
        "refresh_after_seconds": issued.refresh_after_seconds,
    }


@router.get("/v1/me/code")
def my_code(actor: CurrentResident, deps: ServiceDeps) -> dict[str, Any]:
    """A dynamic code for you, valid for minutes: refresh it before ``expires_at``; render the token as a QR."""
    return _issued_view(codes.issue(deps, actor, actor.id))


@router.get("/v1/me/dependents/{dependent_id}/code")
def dependent_code(dependent_id: str, actor: CurrentResident, deps: ServiceDeps) -> dict[str, Any]:
    """A dependent's code shown on your phone (kind ``proxy``)."""
    return _issued_view(codes.issue(deps, actor, dependent_id))


@router.get("/v1/me/code/offline")
def offline_code(
    actor: CurrentResident,
    deps: ServiceDeps,
    subject_id: str | None = Query(None, max_length=36, description="a dependent's id"),
    days: int = Query(None, ge=1, le=7, description="validity in days (default: the instance's setting)"),
    format: str = Query("svg", pattern="^(svg|pdf|json)$"),
) -> Response:
    """A printable offline code (SVG or PDF) for someone without a phone: longer validity, lower assurance."""
    subject = subject_id or actor.id
    issued = codes.issue(deps, actor, subject, offline_days=days or deps.limits.offline_code_days)
    if format == "json":
        return JSONResponse(_issued_view(issued))
    name = issued.masked_name
    until = issued.claims.expires_at.astimezone(deps.zone).strftime("%Y-%m-%d %H:%M")
    issuer = deps.issuer.names.get("zh-CN", deps.issuer.id)
    if format == "pdf":
        pdf = render.offline_page_pdf(issued.token, name, issued.claims.color, until, issuer)
        return Response(pdf, media_type="application/pdf", headers={"Cache-Control": "no-store"})
    svg = render.offline_page_svg(issued.token, name, issued.claims.color, until, issuer)
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "no-store"})


@router.get("/v1/codes/qr.svg")
def qr_svg(
    token: str = Query(min_length=8, max_length=1024, pattern=r"^(CP1|HC1):[0-9A-Z $%*+\-./:]+$"),
) -> Response:
    """The QR symbol of a code token (SVG, error correction Q, alphanumeric mode), cached per token."""
    return Response(
        render.qr_svg(token), media_type="image/svg+xml", headers={"Cache-Control": "private, max-age=120"}
    )


@router.post("/v1/codes/verify")
def verify_offline(body: TokenIn, deps: ServiceDeps) -> dict[str, Any]:
    """What any verifier can tell from the code and this instance's trust list alone (no personal data)."""
    return codes.verify_offline(deps, body.token).as_dict()


@router.post("/v1/staff/verifications")
def verify_online(body: CheckpointScanIn, actor: CurrentStaff, deps: ServiceDeps) -> dict[str, Any]:
    """Checkpoint verification: the offline checks plus the current status (which wins) and a masked name.

    With ``venue_id`` (a checkpoint bound to a venue or vehicle) a strong-evidence check-in is recorded.
    """
    online = codes.verify_online(
        deps,
        actor,
        body.token,
        venue_id=body.venue_id,
        client_id=body.client_id,
        direction=Direction(body.direction) if body.direction else None,
    )
    return {
        **online.verification.as_dict(),
        "masked_name": online.masked_name,
        "current_color": online.current_color,
        "status_changed_since_issue": online.changed_since_issue,
    }


@router.get("/.well-known/civicpass/trust-list")
def trust_list(deps: ServiceDeps) -> dict[str, Any]:
    """This instance's signed trust list: issuer keys (JWK) with their states and validity."""
    return signed_trust_list(deps)
