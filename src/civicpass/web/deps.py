"""FastAPI dependencies: the container, and who is calling (resident or staff), as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Header, Request

from civicpass.bootstrap import Container
from civicpass.domain.errors import Message, NotAuthenticated, PermissionDenied
from civicpass.domain.policy import Action, Actor, ResidentActor, StaffActor, authorize
from civicpass.services.auth import authenticate
from civicpass.services.context import Deps

STAFF_COOKIE = "civicpass_staff"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


def _deps(request: Request) -> Deps:
    return _container(request).deps


ContainerDep = Annotated[Container, Depends(_container)]
ServiceDeps = Annotated[Deps, Depends(_deps)]


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def _actor(deps: Deps, token: str | None, action: Action, reason: str, message: Message) -> Actor:
    """Authenticate the token and let the policy decide whether its kind of actor may use these routes."""
    if token is None:
        raise NotAuthenticated("token_missing", Message("sign in first", "请先登录"))
    actor = authenticate(deps, token)
    decision = authorize(actor, action)
    if not decision.allowed:
        raise PermissionDenied(reason, message, extra={"reasons": list(decision.reasons)})
    return actor


def _resident(request: Request, deps: ServiceDeps) -> ResidentActor:
    actor = _actor(
        deps,
        bearer_token(request),
        Action.RESIDENT_APP,
        "residents_only",
        Message("this is for residents", "仅限居民使用"),
    )
    if not isinstance(actor, ResidentActor):  # the policy admits only residents to RESIDENT_APP
        raise TypeError("policy admitted a non-resident to resident routes")
    return actor


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin") or request.headers.get("referer")
    if origin is None:
        return False
    return urlsplit(origin).netloc == request.headers.get("host")


def _staff(request: Request, deps: ServiceDeps) -> StaffActor:
    token = bearer_token(request)
    if token is None:
        token = request.cookies.get(STAFF_COOKIE)
        # A cookie rides along on cross-site requests; state changes by cookie must come from our own pages.
        if token is not None and request.method not in SAFE_METHODS and not _same_origin(request):
            raise PermissionDenied(
                "cross_site_request",
                Message("cross-site request refused", "拒绝跨站请求"),
                extra={"reasons": ["csrf"]},
            )
    actor = _actor(
        deps, token, Action.STAFF_CONSOLE, "staff_only", Message("this is for staff", "仅限工作人员使用")
    )
    if not isinstance(actor, StaffActor):  # the policy admits only staff to STAFF_CONSOLE
        raise TypeError("policy admitted a non-staff actor to staff routes")
    return actor


CurrentResident = Annotated[ResidentActor, Depends(_resident)]
CurrentStaff = Annotated[StaffActor, Depends(_staff)]
IdempotencyKey = Annotated[
    str | None, Header(alias="Idempotency-Key", max_length=100, pattern=r"^[\x21-\x7e]+$")
]
