"""Venue registry, venue codes and check-ins (场所码 / 乘车登记码)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from civicpass.adapters import render
from civicpass.domain.checkins import Direction, Location
from civicpass.services import checkins, venues
from civicpass.services.auth import authenticate, resident_only
from civicpass.services.intake import CheckinIntake
from civicpass.web.deps import (
    CurrentResident,
    CurrentStaff,
    ServiceDeps,
    bearer_token,
    json_body,
    require_token,
)
from civicpass.web.fastlane import LaneRoute
from civicpass.web.schemas import CheckInIn, VenueIn, checkin_view, venue_view

router = APIRouter(tags=["check-ins"])


async def check_in(request: Request, raw: bytes) -> Response:
    """Record a scan of a venue code. Acknowledged only once stored; a retry with the same client id is 200.

    The hot path of a morning peak, served by the lane (``web.fastlane``) with the body already read:
    the body is parsed here, and the scan goes to this worker's group commit (``services.intake``), which
    authenticates, grades and stores it with the scans arriving alongside it, and answers after the
    commit. Over capacity it answers 503 with Retry-After at once.
    """
    token = require_token(bearer_token(request))
    container = request.app.state.container
    try:
        body = json_body(request, raw, CheckInIn)
    except RequestValidationError:  # credentials are judged before the body, as on every other route
        await run_in_threadpool(lambda: resident_only(authenticate(container.deps, token)))
        raise
    scan = checkins.ScanIn(
        venue_code=body.venue_code,
        client_id=body.client_id,
        scanned_at=body.scanned_at,
        location=Location(body.location.lat, body.location.lon) if body.location else None,
        subject_id=body.subject_id,
        direction=Direction(body.direction) if body.direction else None,
    )
    intake: CheckinIntake = request.app.state.checkin_intake
    stored, created = await intake.submit(
        checkins.TokenScan(container.deps.digest.secret_digest(token), scan)
    )
    return JSONResponse(
        checkin_view(stored), status_code=status.HTTP_201_CREATED if created else status.HTTP_200_OK
    )


@router.post(
    "/v1/me/check-ins",
    status_code=status.HTTP_201_CREATED,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": CheckInIn.model_json_schema()}},
        }
    },
)
async def check_in_route(request: Request) -> Response:
    """Record a scan of a venue code. Acknowledged only once stored; a retry with the same client id is 200.

    Documents the operation; requests to it are served by the lane in front of FastAPI (``check_in``).
    """
    return await check_in(request, await request.body())


FAST_ROUTES = {("POST", "/v1/me/check-ins"): LaneRoute(check_in, CheckInIn, "resident")}
"""Served by the fast lane (``web.fastlane``) too: the peak's hot path skips FastAPI's routing layers."""


@router.get("/v1/me/check-ins")
def my_check_ins(
    actor: CurrentResident,
    deps: ServiceDeps,
    subject_id: str | None = Query(None, max_length=36),
    days: int = Query(14, ge=1, le=21),
) -> list[dict[str, Any]]:
    """Your check-ins (or a dependent's) of the last days, with the evidence each gives."""
    return [checkin_view(c) for c in checkins.my_checkins(deps, actor, subject_id or actor.id, days)]


@router.post("/v1/staff/venues", status_code=status.HTTP_201_CREATED)
def register_venue(body: VenueIn, actor: CurrentStaff, deps: ServiceDeps) -> dict[str, Any]:
    """Register a venue or vehicle (bus, taxi, metro car, train, flight)."""
    new = venues.NewVenue(
        body.name,
        body.kind,
        body.region_code,
        body.location.lat if body.location else None,
        body.location.lon if body.location else None,
    )
    return venue_view(venues.register_venue(deps, actor, new))


@router.get("/v1/staff/venues")
def list_venues(actor: CurrentStaff, deps: ServiceDeps) -> list[dict[str, Any]]:
    """Your venues (venue operators) or those of your jurisdiction (administrators)."""
    return [venue_view(v) for v in venues.venues_of(deps, actor)]


@router.get("/v1/staff/venues/{venue_id}/code")
def venue_code(venue_id: str, actor: CurrentStaff, deps: ServiceDeps, static: bool = False) -> dict[str, Any]:
    """The venue's rotating code for the current window (the display page refreshes it), or its static code."""
    code = venues.venue_code(deps, actor, venue_id, static=static)
    return {
        "token": code.token,
        "static": code.claims.static,
        "window_start": code.claims.window_start.isoformat(),
        "window_end": code.claims.window_end.isoformat(),
        "qr_svg": render.qr_svg(code.token),
    }


@router.get("/v1/staff/venues/{venue_id}/counts")
def venue_counts(
    venue_id: str, actor: CurrentStaff, deps: ServiceDeps, hours: int = Query(24, ge=1, le=24 * 21)
) -> list[dict[str, Any]]:
    """Hourly check-ins at your own venue; counts under 5 are shown as null (suppressed)."""
    return [
        {"hour": h.isoformat(), "count": n} for h, n in venues.hourly_counts(deps, actor, venue_id, hours)
    ]
