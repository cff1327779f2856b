"""FastAPI dependencies: the container, and who is calling (resident or staff), as ``Annotated`` aliases."""

from __future__ import annotations

import json
from typing import Annotated, TypeVar
from urllib.parse import urlsplit

from fastapi import Depends, Header, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from civicpass.bootstrap import Container
from civicpass.domain.errors import Message, NotAuthenticated, PermissionDenied
from civicpass.domain.policy import Action, Actor, ResidentActor, StaffActor
from civicpass.services.auth import admitted, authenticate, resident_only
from civicpass.services.context import Deps

STAFF_COOKIE = "civicpass_staff"
Body = TypeVar("Body", bound=BaseModel)
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


def require_token(token: str | None) -> str:
    """The token, or ``token_missing`` when the request carries none."""
    if token is None:
        raise NotAuthenticated("token_missing", Message("sign in first", "请先登录"))
    return token


def _actor(deps: Deps, token: str | None) -> Actor:
    return authenticate(deps, require_token(token))


def _resident(request: Request, deps: ServiceDeps) -> ResidentActor:
    return resident_only(_actor(deps, bearer_token(request)))


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
    actor = admitted(
        _actor(deps, token),
        Action.STAFF_CONSOLE,
        "staff_only",
        Message("this is for staff", "仅限工作人员使用"),
    )
    if not isinstance(actor, StaffActor):  # the policy admits only staff to STAFF_CONSOLE
        raise TypeError("policy admitted a non-staff actor to staff routes")
    return actor


def console_staff(request: Request, deps: Deps) -> StaffActor:
    """The staff member of a console page (bearer token or cookie), as the API's routes authenticate them."""
    return _staff(request, deps)


CurrentResident = Annotated[ResidentActor, Depends(_resident)]
CurrentStaff = Annotated[StaffActor, Depends(_staff)]
IdempotencyKey = Annotated[
    str | None, Header(alias="Idempotency-Key", max_length=100, pattern=r"^[\x21-\x7e]+$")
]


def _is_json(content_type: str) -> bool:
    """``application/json`` or ``application/*+json``, parameters ignored (FastAPI's strict test)."""
    maintype, _, subtype = content_type.split(";", 1)[0].strip().lower().partition("/")
    return maintype == "application" and (subtype == "json" or subtype.endswith("+json"))


def json_body(request: Request, raw: bytes, model: type[Body]) -> Body:
    """The body as ``model``, for a route that reads its own body (the check-in hot path skips FastAPI's
    dependency machinery). A body the model refuses is parsed again as FastAPI does (``json.loads``, then
    the model in Python mode), so refusals are the same: 415 not JSON, 400 malformed JSON, 422 missing or
    invalid fields."""
    if not _is_json(request.headers.get("content-type", "")):  # none at all is refused too, as by FastAPI
        raise RequestValidationError(
            [{"type": "model_attributes_type", "loc": ("body",), "msg": "Input should be a JSON object"}]
        )
    if not raw:
        raise RequestValidationError([{"type": "missing", "loc": ("body",), "msg": "Field required"}])
    try:  # the common case, parsed and validated in one pass; what it refuses is judged again below
        return model.model_validate_json(raw)
    except ValidationError:
        pass
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise RequestValidationError(
            [
                {
                    "type": "json_invalid",
                    "loc": ("body", 0),
                    "msg": "JSON decode error",
                    "ctx": {"error": str(exc)},
                }
            ]
        ) from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        raise RequestValidationError([{**err, "loc": ("body", *err["loc"])} for err in errors]) from None
