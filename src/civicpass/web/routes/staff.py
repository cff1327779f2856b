"""Staff API: sign-in, accounts, resident look-up (with purpose, logged) and listings (masked)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request, Response, status

from civicpass.domain.access import check_purpose
from civicpass.domain.identity import parse_document
from civicpass.services import staff
from civicpass.services.auth import close_session
from civicpass.web.deps import STAFF_COOKIE, ContainerDep, CurrentStaff, ServiceDeps, bearer_token
from civicpass.web.schemas import (
    LookupIn,
    StaffIn,
    StaffLoginIn,
    access_view,
    resident_masked_view,
    resident_self_view,
    staff_view,
    token_view,
)

router = APIRouter(prefix="/v1/staff", tags=["staff"])


@router.post("/sessions")
def sign_in(body: StaffLoginIn, container: ContainerDep, response: Response) -> dict[str, Any]:
    """Sign in with username and password: a bearer token for the API and a cookie for the console."""
    session = staff.sign_in(container.deps, body.username, body.password)
    response.set_cookie(
        STAFF_COOKIE,
        session.access_token,
        max_age=container.settings.staff_session_hours * 3600,
        httponly=True,
        secure=container.settings.cookie_secure,
        samesite="strict",
    )
    return {"staff": staff_view(session.member), **token_view(session.access_token, session.expires_at)}


@router.delete("/sessions/current", status_code=status.HTTP_204_NO_CONTENT)
def sign_out(request: Request, actor: CurrentStaff, deps: ServiceDeps) -> Response:
    token = bearer_token(request) or request.cookies.get(STAFF_COOKIE)
    if token is not None:
        close_session(deps, token)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(STAFF_COOKIE)
    return response


@router.post("/accounts", status_code=status.HTTP_201_CREATED)
def create_account(body: StaffIn, actor: CurrentStaff, deps: ServiceDeps) -> dict[str, Any]:
    """An administrator creates a staff account inside their own jurisdiction."""
    member = staff.create_staff(
        deps,
        actor,
        staff.NewStaff(body.username, body.password, body.role, body.jurisdiction, body.display_name),
    )
    return staff_view(member)


@router.post("/resident-lookups")
def look_up_resident(body: LookupIn, actor: CurrentStaff, deps: ServiceDeps) -> dict[str, Any]:
    """Find a resident by document number. Needs a stated purpose; the read is written to the access log.

    A POST, so that the document number never appears in a URL or an access log line.
    """
    document = parse_document(body.document.type, body.document.number, body.document.nationality)
    purpose = check_purpose(body.purpose.code, body.purpose.text)
    resident = staff.look_up_resident(deps, actor, document, purpose)
    return {**resident_self_view(resident), "access_logged": True}


@router.get("/residents")
def list_residents(
    actor: CurrentStaff,
    deps: ServiceDeps,
    region_code: str = Query(max_length=6),
    limit: int = Query(50, ge=1, le=200),
    offset: int = Query(0, ge=0, le=10_000_000),
) -> list[dict[str, Any]]:
    """Residents of a region in your jurisdiction, with masked names and documents."""
    return [resident_masked_view(r) for r in staff.list_residents(deps, actor, region_code, limit, offset)]


@router.get("/access-log")
def access_log(
    actor: CurrentStaff,
    deps: ServiceDeps,
    resident_id: str | None = Query(None, max_length=36),
    limit: int = Query(100, ge=1, le=500),
) -> list[dict[str, Any]]:
    """Who read whose data, when and why (auditors)."""
    return [access_view(a) for a in staff.access_log(deps, actor, resident_id, limit)]
