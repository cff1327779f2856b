"""The synthetic demo city (services/demo.py): idempotent seeding, valid data, one account per role."""

from __future__ import annotations

from collections import Counter

import pytest

from civicpass.domain.identity import DocumentType, parse_document
from civicpass.domain.phone import normalize_phone
from civicpass.domain.regions import contains
from civicpass.domain.residents import ResidentKind
from civicpass.domain.staff import Role
from civicpass.services import demo, staff
from civicpass.services.context import Deps
from civicpass.services.demo import DEMO_CITY, DEMO_DISTRICTS, DemoReport
from tests.fakes import FakeStore, fake_deps

SECRET = "demo-secret-for-tests"
RESIDENTS = 200


@pytest.fixture(scope="module")
def seeded() -> tuple[Deps, FakeStore, DemoReport]:
    deps, store, _, _ = fake_deps()
    report = demo.seed_demo_city(deps, RESIDENTS, SECRET)
    return deps, store, report


def test_seeding_creates_the_asked_number_of_residents_with_some_dependents(
    seeded: tuple[Deps, FakeStore, DemoReport],
) -> None:
    _, store, report = seeded
    assert report.created
    assert report.residents == len(store.residents) == RESIDENTS
    kinds = Counter(r.kind for r in store.residents.values())
    assert kinds[ResidentKind.DEPENDENT] == report.dependents > 0
    assert kinds[ResidentKind.SELF] == RESIDENTS - report.dependents
    assert report.venues == len(store.venues) >= 10


def test_seeding_creates_one_staff_account_per_role_for_the_demo_city(
    seeded: tuple[Deps, FakeStore, DemoReport],
) -> None:
    _, store, report = seeded
    assert sorted(m.role for m in store.staff.values()) == sorted(Role)
    assert {m.jurisdiction for m in store.staff.values()} == {DEMO_CITY}
    assert [s.role for s in report.staff] == list(Role)
    assert {s.username for s in report.staff} == {m.username for m in store.staff.values()}


def test_the_reported_demo_passwords_sign_in(seeded: tuple[Deps, FakeStore, DemoReport]) -> None:
    deps, _, report = seeded
    for account in report.staff:
        assert staff.sign_in(deps, account.username, account.password).member.role is account.role


def test_demo_passwords_derive_from_the_secret(seeded: tuple[Deps, FakeStore, DemoReport]) -> None:
    _, _, report = seeded
    assert demo.demo_staff_passwords(SECRET) == report.staff
    assert {s.password for s in demo.demo_staff_passwords("another")}.isdisjoint(
        {s.password for s in report.staff}
    )
    assert len({s.password for s in report.staff}) == len(Role)


def test_demo_residents_are_valid_people_of_the_demo_districts(
    seeded: tuple[Deps, FakeStore, DemoReport],
) -> None:
    _, store, _ = seeded
    adults = [r for r in store.residents.values() if r.kind is ResidentKind.SELF]
    for resident in adults:
        document = resident.pii.document
        assert parse_document(document.type.value, document.number) == document
        assert document.birth_date() == resident.birth_date
        assert document.number is not None
        assert document.number[:6] == resident.region_code
        assert resident.pii.phone is not None
        assert normalize_phone(resident.pii.phone) == resident.pii.phone
    for resident in store.residents.values():
        assert resident.region_code in DEMO_DISTRICTS
        assert contains(DEMO_CITY, resident.region_code)
        assert resident.active
    assert len({r.pii.document.number for r in adults}) == len(adults)
    assert len({r.pii.phone for r in adults}) == len(adults)


def test_every_demo_dependent_has_no_document_and_one_guardian_at_the_same_address(
    seeded: tuple[Deps, FakeStore, DemoReport],
) -> None:
    _, store, _ = seeded
    dependents = [r for r in store.residents.values() if r.kind is ResidentKind.DEPENDENT]
    for child in dependents:
        assert child.pii.document.type is DocumentType.NONE
        assert child.pii.phone is None
        [link] = [g for g in store.guardianships.values() if g.dependent_id == child.id]
        guardian = store.residents[link.guardian_id]
        assert guardian.kind is ResidentKind.SELF
        assert guardian.pii.address == child.pii.address
        assert child.birth_date is not None
        assert guardian.birth_date is not None
        assert child.birth_date > guardian.birth_date
    assert len(store.guardianships) == len(dependents)


def test_seeding_again_creates_nothing() -> None:
    deps, store, _, _ = fake_deps()
    demo.seed_demo_city(deps, RESIDENTS, SECRET)
    residents, staff_members, venues, links = (
        dict(store.residents),
        dict(store.staff),
        list(store.venues),
        dict(store.guardianships),
    )
    again = demo.seed_demo_city(deps, RESIDENTS, SECRET)
    assert not again.created
    assert again.residents == RESIDENTS
    assert again.venues == len(venues)
    assert store.residents == residents
    assert store.staff == staff_members
    assert store.venues == venues
    assert store.guardianships == links


def test_seeding_again_restores_a_missing_demo_staff_account_only() -> None:
    deps, store, _, _ = fake_deps()
    demo.seed_demo_city(deps, 20, SECRET)
    lab = next(m for m in store.staff.values() if m.role is Role.LAB)
    del store.staff[lab.id]
    report = demo.seed_demo_city(deps, 20, SECRET)
    assert not report.created
    assert sorted(m.role for m in store.staff.values()) == sorted(Role)
    assert len(store.residents) == 20


def test_the_same_seed_gives_the_same_city() -> None:
    def city() -> list[tuple[str, str | None, str]]:
        deps, store, _, _ = fake_deps()
        demo.seed_demo_city(deps, 50, SECRET, seed=7)
        return sorted((r.pii.name, r.pii.document.number, r.region_code) for r in store.residents.values())

    assert city() == city()
