"""Sessions: issuing bearer tokens and turning a presented token back into an actor."""

from __future__ import annotations

from datetime import datetime, timedelta

from civicpass.domain.errors import Message, NotAuthenticated
from civicpass.domain.policy import Actor, ResidentActor, StaffActor
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


def _unauthenticated() -> NotAuthenticated:
    return NotAuthenticated(
        "token_invalid",
        Message(
            "sign in again: the token is missing, wrong or expired", "请重新登录：凭证缺失、错误或已过期"
        ),
    )


def authenticate(deps: Deps, token: str) -> Actor:
    """The actor behind a bearer token; ``NotAuthenticated`` if the token is not a live session."""
    with deps.uow() as uow:
        session = uow.sessions.get(deps.digest.secret_digest(token))
        if session is None or not session.is_live(deps.clock.now()):
            raise _unauthenticated()
        if session.kind is SubjectKind.STAFF:
            member = uow.staff.get(session.subject_id)
            if member is None or not member.active:
                raise _unauthenticated()
            return StaffActor(member.id, member.role, member.jurisdiction)
        resident = uow.residents.get(session.subject_id)
        if resident is None or not resident.active:
            raise _unauthenticated()
        dependents = frozenset(g.dependent_id for g in uow.guardianships.dependents_of(resident.id))
        return ResidentActor(resident.id, dependents)


def close_session(deps: Deps, token: str) -> None:
    with deps.uow() as uow:
        uow.sessions.revoke(deps.digest.secret_digest(token), deps.clock.now())
        uow.commit()
