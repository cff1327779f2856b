"""Staff accounts, staff sign-in, and staff access to residents' data (always with a stated purpose)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from civicpass.domain.access import AccessRecord, StatedPurpose
from civicpass.domain.errors import Conflict, Message, NotAuthenticated, NotFound
from civicpass.domain.identity import Document
from civicpass.domain.policy import Action, StaffActor, Target, authorize
from civicpass.domain.regions import check_region_code, prefix_of
from civicpass.domain.residents import Resident
from civicpass.domain.sessions import SubjectKind
from civicpass.domain.staff import Role, StaffMember, check_password, check_username
from civicpass.services import access
from civicpass.services.auth import open_session
from civicpass.services.context import Deps

PII_FIELDS = ("name", "document", "phone", "address")


@dataclass(frozen=True)
class NewStaff:
    username: str
    password: str
    role: Role
    jurisdiction: str
    display_name: str


def create_staff(deps: Deps, actor: StaffActor | None, new: NewStaff) -> StaffMember:
    """Create a staff account. ``actor`` None means the operator's own CLI on the server (trusted)."""
    check_username(new.username)
    check_password(new.password)
    check_region_code(new.jurisdiction, "jurisdiction")
    if actor is not None:
        authorize(actor, Action.STAFF_CREATE, Target(region=new.jurisdiction)).enforce()
    with deps.uow() as uow:
        if uow.staff.by_username(new.username) is not None:
            raise Conflict("username_taken", Message("this username is taken", "该用户名已被使用"))
        member = StaffMember(
            id=deps.random.new_id(),
            username=new.username,
            display_name=new.display_name.strip() or new.username,
            role=new.role,
            jurisdiction=new.jurisdiction,
            password_hash=deps.passwords.hash(new.password),
            active=True,
            created_at=deps.clock.now(),
        )
        uow.staff.add(member)
        uow.commit()
    return member


@dataclass(frozen=True)
class StaffSession:
    member: StaffMember
    access_token: str
    expires_at: datetime


_DUMMY_HASH: list[str] = []


def sign_in(deps: Deps, username: str, password: str) -> StaffSession:
    """Check a password; unknown users cost the same hash work so timing does not reveal usernames."""
    with deps.uow() as uow:
        member = uow.staff.by_username(username)
        if member is None or not member.active:
            if not _DUMMY_HASH:
                _DUMMY_HASH.append(deps.passwords.hash("civicpass-dummy-password"))
            deps.passwords.verify(_DUMMY_HASH[0], password)
            raise NotAuthenticated(
                "credentials_invalid", Message("wrong username or password", "用户名或密码错误")
            )
        if not deps.passwords.verify(member.password_hash, password):
            raise NotAuthenticated(
                "credentials_invalid", Message("wrong username or password", "用户名或密码错误")
            )
        token, expires = open_session(uow, deps, SubjectKind.STAFF, member.id)
        uow.commit()
    return StaffSession(member, token, expires)


def look_up_resident(deps: Deps, actor: StaffActor, document: Document, purpose: StatedPurpose) -> Resident:
    """Find a resident by document number (blind index) and record who read whose data, when and why.

    The access record is written in the same transaction as the read: no record, no data.
    """
    authorize(actor, Action.RESIDENT_PII_READ).enforce()
    with deps.uow() as uow:
        resident = uow.residents.by_document(document)
        if resident is None:
            raise NotFound(
                "resident_not_found", Message("no resident with this document", "未找到该证件对应的居民")
            )
        authorize(actor, Action.RESIDENT_PII_READ, Target(region=resident.region_code)).enforce()
        access.record(
            uow,
            deps,
            AccessRecord(
                id=deps.random.new_id(),
                at=deps.clock.now(),
                staff_id=actor.id,
                resident_id=resident.id,
                resident_region=resident.region_code,
                action=Action.RESIDENT_PII_READ.value,
                purpose=purpose,
                fields=PII_FIELDS,
            ),
        )
        uow.commit()
    return resident


def list_residents(
    deps: Deps, actor: StaffActor, region_code: str, limit: int, offset: int
) -> list[Resident]:
    """Residents of a region inside the actor's jurisdiction; callers show them masked."""
    check_region_code(region_code)
    authorize(actor, Action.RESIDENT_LIST, Target(region=region_code)).enforce()
    with deps.uow() as uow:
        return uow.residents.in_region(prefix_of(region_code), min(limit, 200), max(offset, 0))


def access_log(deps: Deps, actor: StaffActor, resident_id: str | None, limit: int) -> list[AccessRecord]:
    """Access records about residents of the auditor's own jurisdiction."""
    authorize(actor, Action.ACCESS_LOG_READ, Target(region=actor.jurisdiction)).enforce()
    with deps.uow() as uow:
        return uow.access_log.list(resident_id, prefix_of(actor.jurisdiction), min(limit, 500))
