"""The staff console's first pages: sign-in, a venue operator's venues, and the venue display page.

The display page is what a venue's screen shows all day: the venue's rotating code as a QR, replaced by
the next one as each window ends (5 minutes by default), so a photograph of the code stops working soon.
It reads the code from the same API the console uses (``GET /v1/staff/venues/{id}/code``) with the staff
cookie, and keeps retrying through a network outage. ``?static=true`` shows the printable static code for
venues without a screen (graded weaker). Pages are server-rendered (Jinja2) and bilingual (zh-CN, en).
A request without a staff session is sent to the sign-in page and back.

Every page carries a Content-Security-Policy: scripts and styles run only from the page's own inline
blocks, marked with a nonce drawn per response (no inline event handlers, nothing from elsewhere), the
page may be framed by nobody, and forms post only to this origin. An injected tag cannot run.
"""

from __future__ import annotations

import secrets
from pathlib import Path as FilePath
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from civicpass.adapters import render
from civicpass.domain.errors import CivicpassError, NotAuthenticated
from civicpass.domain.policy import StaffActor
from civicpass.services import venues
from civicpass.web.deps import ServiceDeps, console_staff
from civicpass.web.problems import status_of

router = APIRouter(prefix="/console", include_in_schema=False)
templates = Jinja2Templates(directory=FilePath(__file__).parent / "templates")


def content_security_policy(nonce: str) -> str:
    """The pages' policy: their own nonce-marked inline script and style, data: images, this origin else."""
    return (
        f"default-src 'self'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    )


def _page(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    nonce = secrets.token_urlsafe(18)
    response = templates.TemplateResponse(
        request, name, {**context, "csp_nonce": nonce}, status_code=status_code
    )
    response.headers["Content-Security-Policy"] = content_security_policy(nonce)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def _refused(request: Request, error: CivicpassError) -> Response:
    if isinstance(error, NotAuthenticated):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/console/sign-in?next={quote(target, safe='')}", status_code=303)
    return _page(request, "error.html", status_of(error), error=error)


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in(request: Request, next: str = Query("/console/venues", max_length=500)) -> HTMLResponse:
    """A form that signs a staff member in through the API (which sets the console cookie)."""
    safe_next = next if next.startswith("/console/") else "/console/venues"  # no open redirect
    return _page(request, "sign_in.html", next=safe_next)


@router.get("/venues", response_class=HTMLResponse)
def my_venues(request: Request, deps: ServiceDeps) -> Response:
    """The venues a venue operator runs (an administrator's jurisdiction), each with its display page."""
    try:
        actor: StaffActor = console_staff(request, deps)
        listed = venues.venues_of(deps, actor)
    except CivicpassError as error:
        return _refused(request, error)
    return _page(request, "venues.html", actor=actor, venues=listed)


@router.get("/venues/{venue_id}/display", response_class=HTMLResponse)
def venue_display(
    request: Request, deps: ServiceDeps, venue_id: str = Path(max_length=36), static: bool = False
) -> Response:
    """The venue's screen: its current code as a QR, refreshed as each window ends; or its static code."""
    try:
        actor = console_staff(request, deps)
        venue = venues.venue_of(deps, actor, venue_id)
        code = venues.venue_code(deps, actor, venue_id, static=static)
    except CivicpassError as error:
        return _refused(request, error)
    return _page(
        request,
        "venue_display.html",
        venue=venue,
        code=code,
        qr_svg=render.qr_svg(code.token),
        static=static,
        served_at=deps.clock.now().isoformat(),
        window_end_local=code.claims.window_end.astimezone(deps.zone).strftime("%H:%M:%S"),
    )
