"""Staff accounts, staff sign-in and audited look-ups of residents over fakes (services/staff.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from civicpass.domain.access import Purpose, StatedPurpose
from civicpass.domain.errors import Conflict, InvalidInput, NotAuthenticated, NotFound, PermissionDenied
from civicpass.domain.identity import Document, parse_document
from civicpass.domain.policy import Action, StaffActor
from civicpass.domain.residents import PersonalData, Resident, ResidentKind
from civicpass.domain.sessions import SubjectKind
from civicpass.domain.staff import Role
from civicpass.services import staff
from civicpass.services.auth import authenticate
from civicpass.services.context import Deps
from civicpass.services.staff import PII_FIELDS, NewStaff
from tests.fakes import FakeClock, FakeStore, fake_deps

PASSWORD = "correct horse battery staple"
PURPOSE = StatedPurpose(Purpose.FOLLOW_UP, "follow up a fever report")
TIANHE_DOC = parse_document("resident_id", "11010519491231002X")
READERS = [Role.CDC, Role.COMMUNITY_WORKER]
NON_READERS = [r for r in Role if r not in READERS]


def _resident(resident_id: str, document: Document, region: str, *, active: bool = True) -> Resident:
    return Resident(
        resident_id,
        "pseudonym-" + resident_id,
        ResidentKind.SELF,
        PersonalData("张小三", document, "+8613800138000", "广州市天河路1号"),
        None,
        region,
        active,
        datetime(2022, 1, 1, tzinfo=UTC),
    )


@pytest.fixture
def world() -> tuple[Deps, FakeStore, FakeClock]:
    deps, store, _, clock = fake_deps()
    store.residents["r-tianhe"] = _resident("r-tianhe", TIANHE_DOC, "440106")
    return deps, store, clock


def _new(
    username: str = "cdc.tianhe", role: Role = Role.CDC, jurisdiction: str = "440106", **changes: Any
) -> NewStaff:
    return replace(NewStaff(username, PASSWORD, role, jurisdiction, " 天河区疾控 "), **changes)


# --- accounts -----------------------------------------------------------------------------------------


def test_the_operator_creates_a_staff_account_with_a_hashed_password(
    world: tuple[Deps, FakeStore, FakeClock],
) -> None:
    deps, store, clock = world
    member = staff.create_staff(deps, None, _new())
    assert store.staff == {member.id: member}
    assert (member.username, member.role, member.jurisdiction, member.display_name) == (
        "cdc.tianhe",
        Role.CDC,
        "440106",
        "天河区疾控",
    )
    assert member.active
    assert member.created_at == clock.now()
    assert PASSWORD not in member.password_hash
    assert deps.passwords.verify(member.password_hash, PASSWORD)


def test_a_blank_display_name_falls_back_to_the_username(world: tuple[Deps, FakeStore, FakeClock]) -> None:
    deps, _, _ = world
    assert staff.create_staff(deps, None, _new(display_name="   ")).display_name == "cdc.tianhe"


@pytest.mark.parametrize(
    ("changes", "reason", "path"),
    [
        ({"username": "ab"}, "username_invalid", ("username",)),
        ({"username": "Admin"}, "username_invalid", ("username",)),
        ({"username": "-admin"}, "username_invalid", ("username",)),
        ({"username": "ad min"}, "username_invalid", ("username",)),
        ({"username": "a" * 65}, "username_invalid", ("username",)),
        ({"password": "short pass1"}, "password_too_short", ("password",)),
        ({"jurisdiction": "4401"}, "region_code_invalid", ("jurisdiction",)),
        ({"jurisdiction": "guangzhou"}, "region_code_invalid", ("jurisdiction",)),
    ],
)
def test_invalid_staff_details_are_refused_on_their_field(
    world: tuple[Deps, FakeStore, FakeClock], changes: dict[str, Any], reason: str, path: tuple[str]
) -> None:
    deps, store, _ = world
    with pytest.raises(InvalidInput) as caught:
        staff.create_staff(deps, None, _new(**changes))
    assert caught.value.reason == reason
    assert caught.value.errors[0].path == path
    assert store.staff == {}


def test_a_username_with_a_trailing_newline_is_refused(world: tuple[Deps, FakeStore, FakeClock]) -> None:
    deps, store, _ = world
    with pytest.raises(InvalidInput):
        staff.create_staff(deps, None, _new(username="cdc.tianhe\n"))
    assert store.staff == {}


@pytest.mark.parametrize("username", ["abc", "a" * 64, "li.wei_2-cdc", "0admin"])
def test_usernames_of_three_to_sixty_four_allowed_characters_are_accepted(
    world: tuple[Deps, FakeStore, FakeClock], username: str
) -> None:
    deps, _, _ = world
    assert staff.create_staff(deps, None, _new(username=username)).username == username


def test_a_password_of_exactly_twelve_characters_is_accepted(
    world: tuple[Deps, FakeStore, FakeClock],
) -> None:
    deps, _, _ = world
    staff.create_staff(deps, None, _new(password="twelve chars"))


def test_a_taken_username_is_a_conflict(world: tuple[Deps, FakeStore, FakeClock]) -> None:
    deps, store, _ = world
    staff.create_staff(deps, None, _new())
    with pytest.raises(Conflict) as caught:
        staff.create_staff(deps, None, _new(role=Role.ADMIN))
    assert caught.value.reason == "username_taken"
    assert len(store.staff) == 1


def test_an_admin_creates_staff_inside_their_jurisdiction(world: tuple[Deps, FakeStore, FakeClock]) -> None:
    deps, _, _ = world
    admin = StaffActor("s-admin", Role.ADMIN, "440100")
    assert staff.create_staff(deps, admin, _new(jurisdiction="440106")).jurisdiction == "440106"
    assert staff.create_staff(deps, admin, _new("cdc.gz", jurisdiction="440100")).jurisdiction == "440100"


@pytest.mark.parametrize("jurisdiction", ["440000", "440300", "110105"])
def test_an_admin_may_not_create_staff_outside_their_jurisdiction(
    world: tuple[Deps, FakeStore, FakeClock], jurisdiction: str
) -> None:
    deps, store, _ = world
    with pytest.raises(PermissionDenied) as caught:
        staff.create_staff(deps, StaffActor("s-admin", Role.ADMIN, "440100"), _new(jurisdiction=jurisdiction))
    assert caught.value.extra == {"reasons": ["outside_jurisdiction"]}
    assert store.staff == {}


@pytest.mark.parametrize("role", [r for r in Role if r is not Role.ADMIN])
def test_only_admins_create_staff(world: tuple[Deps, FakeStore, FakeClock], role: Role) -> None:
    deps, store, _ = world
    with pytest.raises(PermissionDenied) as caught:
        staff.create_staff(deps, StaffActor("s-1", role, "440000"), _new())
    assert caught.value.extra == {"reasons": ["role_not_permitted"]}
    assert store.staff == {}


# --- sign-in ---------------------------------------------------------------------------------------------


def test_staff_sign_in_opens_a_twelve_hour_session(world: tuple[Deps, FakeStore, FakeClock]) -> None:
    deps, store, clock = world
    member = staff.create_staff(deps, None, _new())
    session = staff.sign_in(deps, "cdc.tianhe", PASSWORD)
    assert session.member == member
    assert session.expires_at == clock.now() + timedelta(hours=12)
    stored = store.sessions[deps.digest.secret_digest(session.access_token)]
    assert (stored.kind, stored.subject_id) == (SubjectKind.STAFF, member.id)
    assert authenticate(deps, session.access_token) == StaffActor(member.id, Role.CDC, "440106")


@pytest.mark.parametrize(
    ("username", "password"),
    [("cdc.tianhe", "wrong password!"), ("cdc.tianhe", ""), ("nobody", PASSWORD), ("CDC.tianhe", PASSWORD)],
)
def test_a_wrong_username_or_password_is_not_authenticated_with_one_reason(
    world: tuple[Deps, FakeStore, FakeClock], username: str, password: str
) -> None:
    deps, store, _ = world
    staff.create_staff(deps, None, _new())
    with pytest.raises(NotAuthenticated) as caught:
        staff.sign_in(deps, username, password)
    assert caught.value.reason == "credentials_invalid"
    assert store.sessions == {}


def test_a_deactivated_account_cannot_sign_in(world: tuple[Deps, FakeStore, FakeClock]) -> None:
    deps, store, _ = world
    member = staff.create_staff(deps, None, _new())
    store.staff[member.id] = replace(member, active=False)
    with pytest.raises(NotAuthenticated) as caught:
        staff.sign_in(deps, "cdc.tianhe", PASSWORD)
    assert caught.value.reason == "credentials_invalid"


def test_a_staff_session_expires_after_twelve_hours(world: tuple[Deps, FakeStore, FakeClock]) -> None:
    deps, _, clock = world
    staff.create_staff(deps, None, _new())
    session = staff.sign_in(deps, "cdc.tianhe", PASSWORD)
    clock.advance(hours=12)
    with pytest.raises(NotAuthenticated):
        authenticate(deps, session.access_token)


# --- looking up a resident ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "jurisdiction"), [(Role.CDC, "440000"), (Role.CDC, "440100"), (Role.COMMUNITY_WORKER, "440106")]
)
def test_a_look_up_inside_the_jurisdiction_returns_the_resident_and_records_who_why_and_when(
    world: tuple[Deps, FakeStore, FakeClock], role: Role, jurisdiction: str
) -> None:
    deps, store, clock = world
    found = staff.look_up_resident(deps, StaffActor("s-1", role, jurisdiction), TIANHE_DOC, PURPOSE)
    assert found == store.residents["r-tianhe"]
    [record] = store.access_log
    assert (record.staff_id, record.resident_id, record.action, record.at) == (
        "s-1",
        "r-tianhe",
        Action.RESIDENT_PII_READ.value,
        clock.now(),
    )
    assert record.purpose == PURPOSE
    assert record.fields == PII_FIELDS == ("name", "document", "phone", "address")


def test_every_look_up_is_recorded_separately(world: tuple[Deps, FakeStore, FakeClock]) -> None:
    deps, store, _ = world
    cdc = StaffActor("s-1", Role.CDC, "440100")
    staff.look_up_resident(deps, cdc, TIANHE_DOC, PURPOSE)
    staff.look_up_resident(
        deps, cdc, TIANHE_DOC, StatedPurpose(Purpose.CONTACT_TRACING, "close contact of case 12")
    )
    assert [r.purpose.code for r in store.access_log] == [Purpose.FOLLOW_UP, Purpose.CONTACT_TRACING]
    assert len({r.id for r in store.access_log}) == 2


@pytest.mark.parametrize("jurisdiction", ["440104", "440300", "110000"])
@pytest.mark.parametrize("role", READERS)
def test_a_look_up_outside_the_jurisdiction_is_denied_and_records_nothing(
    world: tuple[Deps, FakeStore, FakeClock], role: Role, jurisdiction: str
) -> None:
    deps, store, _ = world
    with pytest.raises(PermissionDenied) as caught:
        staff.look_up_resident(deps, StaffActor("s-1", role, jurisdiction), TIANHE_DOC, PURPOSE)
    assert caught.value.extra == {"reasons": ["outside_jurisdiction"]}
    assert store.access_log == []


@pytest.mark.parametrize("role", NON_READERS)
def test_roles_without_pii_access_are_denied_and_nothing_is_recorded(
    world: tuple[Deps, FakeStore, FakeClock], role: Role
) -> None:
    deps, store, _ = world
    with pytest.raises(PermissionDenied) as caught:
        staff.look_up_resident(deps, StaffActor("s-1", role, "440106"), TIANHE_DOC, PURPOSE)
    assert caught.value.extra == {"reasons": ["role_not_permitted"]}
    assert store.access_log == []


def test_looking_up_an_unknown_document_is_not_found_and_records_nothing(
    world: tuple[Deps, FakeStore, FakeClock],
) -> None:
    deps, store, _ = world
    other = parse_document("resident_id", "440524188001010014")
    with pytest.raises(NotFound) as caught:
        staff.look_up_resident(deps, StaffActor("s-1", Role.CDC, "440100"), other, PURPOSE)
    assert caught.value.reason == "resident_not_found"
    assert store.access_log == []


def test_the_same_number_as_another_document_type_is_not_found(
    world: tuple[Deps, FakeStore, FakeClock],
) -> None:
    deps, _, _ = world
    passport = parse_document("passport", "11010519491231002X", "CHN")
    with pytest.raises(NotFound):
        staff.look_up_resident(deps, StaffActor("s-1", Role.CDC, "440100"), passport, PURPOSE)


# --- listing residents and reading the access log -----------------------------------------------------------


def test_listing_residents_gives_the_active_residents_of_a_region_inside_the_jurisdiction(
    world: tuple[Deps, FakeStore, FakeClock],
) -> None:
    deps, store, _ = world
    store.residents["r-yuexiu"] = _resident(
        "r-yuexiu", parse_document("passport", "E12345678", "GBR"), "440104"
    )
    store.residents["r-gone"] = _resident(
        "r-gone", parse_document("passport", "E87654321", "GBR"), "440106", active=False
    )
    store.residents["r-beijing"] = _resident(
        "r-beijing", parse_document("passport", "E11111111", "GBR"), "110105"
    )
    worker = StaffActor("s-1", Role.COMMUNITY_WORKER, "440100")
    assert {r.id for r in staff.list_residents(deps, worker, "440100", 50, 0)} == {"r-tianhe", "r-yuexiu"}
    assert [r.id for r in staff.list_residents(deps, worker, "440106", 50, 0)] == ["r-tianhe"]
    assert len(staff.list_residents(deps, worker, "440100", 1, 0)) == 1
    with pytest.raises(PermissionDenied):
        staff.list_residents(deps, worker, "110000", 50, 0)
    with pytest.raises(InvalidInput):
        staff.list_residents(deps, worker, "4401", 50, 0)


def test_only_auditors_read_the_access_log(world: tuple[Deps, FakeStore, FakeClock]) -> None:
    deps, _, _ = world
    staff.look_up_resident(deps, StaffActor("s-1", Role.CDC, "440100"), TIANHE_DOC, PURPOSE)
    records = staff.access_log(deps, StaffActor("s-audit", Role.AUDITOR, "440000"), "r-tianhe", 10)
    assert [(r.staff_id, r.resident_id) for r in records] == [("s-1", "r-tianhe")]
    assert staff.access_log(deps, StaffActor("s-audit", Role.AUDITOR, "440000"), "r-other", 10) == []
    for role in (r for r in Role if r is not Role.AUDITOR):
        with pytest.raises(PermissionDenied):
            staff.access_log(deps, StaffActor("s-2", role, "440000"), None, 10)


def test_an_auditor_sees_no_access_records_about_residents_outside_their_jurisdiction(
    world: tuple[Deps, FakeStore, FakeClock],
) -> None:
    deps, _, _ = world
    staff.look_up_resident(deps, StaffActor("s-1", Role.CDC, "440100"), TIANHE_DOC, PURPOSE)
    beijing_auditor = StaffActor("s-audit", Role.AUDITOR, "110000")
    try:
        records = staff.access_log(deps, beijing_auditor, "r-tianhe", 10)
    except PermissionDenied:
        return
    assert records == []
