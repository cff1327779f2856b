"""Sessions: issuing bearer tokens and turning a presented token back into an actor."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

from civicpass.domain.errors import Message, NotAuthenticated, PermissionDenied
from civicpass.domain.policy import Action, Actor, ResidentActor, StaffActor, authorize
from civicpass.domain.sessions import Session, SubjectKind
from civicpass.services.context import Deps
from civicpass.services.ports import UnitOfWork


def open_session(uow: UnitOfWork, deps: Deps, kind: SubjectKind, subject_id: str) -> tuple[str, datetime]:
    """Create a session inside ``uow`` (the caller commits); return the token and when it expires."""
    token = deps.random.token()
    now = deps.clock.now()
    seconds = (
        deps.limits.resident_session_seconds
        if kind is SubjectKind.RESIDENT
        else deps.limits.staff_session_seconds
    )
    expires = now + timedelta(seconds=seconds)
    uow.sessions.add(Session(deps.digest.secret_digest(token), kind, subject_id, now, expires))
    return token, expires


def unauthenticated() -> NotAuthenticated:
    return NotAuthenticated(
        "token_invalid",
        Message(
            "sign in again: the token is missing, wrong or expired", "请重新登录：凭证缺失、错误或已过期"
        ),
    )


def actors_of(uow: UnitOfWork, deps: Deps, token_digests: Collection[str]) -> dict[str, Actor]:
    """The actors behind live sessions, by token digest; absent when the session or its holder is not live.

    One look-up whatever the number of tokens, so a group commit of check-ins authenticates its whole
    batch at once. No personal data is read.
    """
    now = deps.clock.now()
    actors: dict[str, Actor] = {}
    for digest, holder in uow.sessions.holders(token_digests).items():
        session = holder.session
        if not (holder.active and session.is_live(now)):
            continue
        if session.kind is SubjectKind.STAFF and holder.staff is not None:
            member = holder.staff
            actors[digest] = StaffActor(member.id, member.role, member.jurisdiction)
        elif session.kind is SubjectKind.RESIDENT:
            actors[digest] = ResidentActor(session.subject_id, holder.dependents)
    return actors


def authenticate(deps: Deps, token: str) -> Actor:
    """The actor behind a bearer token; ``NotAuthenticated`` if the token is not a live session."""
    digest = deps.digest.secret_digest(token)
    with deps.uow() as uow:
        actor = actors_of(uow, deps, [digest]).get(digest)
    if actor is None:
        raise unauthenticated()
    return actor


def admitted(actor: Actor, action: Action, reason: str, message: Message) -> Actor:
    """The actor, if the policy lets its kind of actor use these routes at all."""
    decision = authorize(actor, action)
    if not decision.allowed:
        raise PermissionDenied(reason, message, extra={"reasons": list(decision.reasons)})
    return actor


def resident_only(actor: Actor) -> ResidentActor:
    """The actor as a resident; staff are refused the resident app (``residents_only``)."""
    admitted(actor, Action.RESIDENT_APP, "residents_only", Message("this is for residents", "仅限居民使用"))
    if not isinstance(actor, ResidentActor):  # the policy admits only residents to RESIDENT_APP
        raise TypeError("policy admitted a non-resident to resident routes")
    return actor


def close_session(deps: Deps, token: str) -> None:
    with deps.uow() as uow:
        uow.sessions.revoke(deps.digest.secret_digest(token), deps.clock.now())
        uow.commit()
