"""Venue registry, venue codes and check-ins (场所码 / 乘车登记码)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Response, status

from civicpass.adapters import render
from civicpass.domain.checkins import Direction, Location
from civicpass.services import checkins
from civicpass.web.deps import CurrentResident, CurrentStaff, ServiceDeps
from civicpass.web.schemas import CheckInIn, VenueIn, checkin_view, venue_view

router = APIRouter(tags=["check-ins"])


@router.post("/v1/me/check-ins", status_code=status.HTTP_201_CREATED)
def check_in(
    body: CheckInIn, actor: CurrentResident, deps: ServiceDeps, response: Response
) -> dict[str, Any]:
    """Record a scan of a venue code. Acknowledged only once stored; a retry with the same client id is 200."""
    scan = checkins.ScanIn(
        venue_code=body.venue_code,
        client_id=body.client_id,
        scanned_at=body.scanned_at,
        location=Location(body.location.lat, body.location.lon) if body.location else None,
        subject_id=body.subject_id,
        direction=Direction(body.direction) if body.direction else None,
    )
    stored, created = checkins.check_in(deps, actor, scan)
    if not created:
        response.status_code = status.HTTP_200_OK
    return checkin_view(stored)


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
    new = checkins.NewVenue(
        body.name,
        body.kind,
        body.region_code,
        body.location.lat if body.location else None,
        body.location.lon if body.location else None,
    )
    return venue_view(checkins.register_venue(deps, actor, new))


@router.get("/v1/staff/venues")
def venues(actor: CurrentStaff, deps: ServiceDeps) -> list[dict[str, Any]]:
    """Your venues (venue operators) or those of your jurisdiction (administrators)."""
    return [venue_view(v) for v in checkins.venues_of(deps, actor)]


@router.get("/v1/staff/venues/{venue_id}/code")
def venue_code(venue_id: str, actor: CurrentStaff, deps: ServiceDeps, static: bool = False) -> dict[str, Any]:
    """The venue's rotating code for the current window (the display page refreshes it), or its static code."""
    code = checkins.venue_code(deps, actor, venue_id, static=static)
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
        {"hour": h.isoformat(), "count": n} for h, n in checkins.hourly_counts(deps, actor, venue_id, hours)
    ]
