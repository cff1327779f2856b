"""Dependents and co-guardians over fakes (services/residents.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest

from civicpass.adapters.messaging import MemoryMessenger
from civicpass.domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from civicpass.domain.identity import Document, DocumentType, gb11643_check_character, parse_document
from civicpass.domain.policy import ResidentActor
from civicpass.domain.residents import MAX_DEPENDENTS, Resident, ResidentKind
from civicpass.services import enrolment, residents
from civicpass.services.auth import authenticate
from civicpass.services.context import Deps
from tests.fakes import FakeClock, FakeStore, fake_deps

NO_DOCUMENT = Document(DocumentType.NONE, None)


def _resident_id(born: str, serial: str, district: str = "440106") -> Document:
    first17 = district + born + serial
    return parse_document("resident_id", first17 + gb11643_check_character(first17))


@dataclass
class World:
    deps: Deps
    store: FakeStore
    messenger: MemoryMessenger
    clock: FakeClock

    def enrol(self, phone: str, serial: str, region: str = "440106") -> tuple[Resident, str]:
        sent = enrolment.start_phone_verification(self.deps, phone)
        match = re.search(r"\b(\d{6})\b", self.messenger.last_to("+86" + phone))
        assert match is not None
        token = enrolment.confirm_phone(self.deps, sent.challenge_id, match.group(1)).verification_token
        signed_in = enrolment.enrol(
            self.deps,
            token,
            "监护人" + serial,
            _resident_id("19800101", serial),
            region,
            None,
            "广州市天河路1号",
        )
        return signed_in.resident, signed_in.access_token

    def actor(self, token: str) -> ResidentActor:
        actor = authenticate(self.deps, token)
        assert isinstance(actor, ResidentActor)
        return actor

    def add_child(self, token: str, name: str = "小明", **overrides: object) -> Resident:
        values: dict[str, object] = {
            "name": name,
            "document": NO_DOCUMENT,
            "birth_date": date(2015, 3, 1),
            "region_code": None,
            "relation": "child",
            "address": None,
        }
        values.update(overrides)
        return residents.add_dependent(self.deps, self.actor(token), **values)  # type: ignore[arg-type]


@pytest.fixture
def world() -> World:
    return World(*fake_deps())


@pytest.fixture
def guardian(world: World) -> tuple[Resident, str]:
    return world.enrol("13800138000", "111")


def test_a_dependent_without_a_document_needs_a_birth_date(
    world: World, guardian: tuple[Resident, str]
) -> None:
    with pytest.raises(InvalidInput) as caught:
        world.add_child(guardian[1], birth_date=None)
    assert caught.value.reason == "birth_date_required"
    assert caught.value.errors[0].path == ("birth_date",)
    assert len(world.store.residents) == 1


def test_a_dependent_without_a_document_is_enrolled_under_the_guardian(
    world: World, guardian: tuple[Resident, str]
) -> None:
    parent, token = guardian
    child = world.add_child(token, name=" 小  明 ")
    assert world.store.residents[child.id] == child
    assert child.kind is ResidentKind.DEPENDENT
    assert child.pii.name == "小 明"
    assert child.pii.document == NO_DOCUMENT
    assert child.pii.phone is None
    assert child.birth_date == date(2015, 3, 1)
    assert child.region_code == parent.region_code
    assert child.pii.address == parent.pii.address
    assert child.active
    [link] = world.store.guardianships.values()
    assert (link.guardian_id, link.dependent_id, link.relation) == (parent.id, child.id, "child")
    assert world.actor(token).dependents == frozenset({child.id})


def test_a_dependent_may_have_their_own_region_and_address(
    world: World, guardian: tuple[Resident, str]
) -> None:
    child = world.add_child(guardian[1], region_code="110105", address=" 北京市朝阳路2号 ")
    assert child.region_code == "110105"
    assert child.pii.address == "北京市朝阳路2号"


def test_a_dependent_with_a_resident_id_takes_the_birth_date_from_it(
    world: World, guardian: tuple[Resident, str]
) -> None:
    child = world.add_child(guardian[1], document=_resident_id("20150301", "222"), birth_date=None)
    assert child.birth_date == date(2015, 3, 1)


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"relation": "cousin"}, "relation_unknown"),
        ({"name": ""}, "name_invalid"),
        ({"region_code": "4401"}, "region_code_invalid"),
    ],
)
def test_invalid_dependent_details_are_refused(
    world: World, guardian: tuple[Resident, str], overrides: dict[str, Any], reason: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        world.add_child(guardian[1], **overrides)
    assert caught.value.reason == reason
    assert len(world.store.residents) == 1
    assert world.store.guardianships == {}


def test_a_dependent_whose_document_is_already_enrolled_is_a_conflict(
    world: World, guardian: tuple[Resident, str]
) -> None:
    world.add_child(guardian[1], document=_resident_id("20150301", "222"))
    with pytest.raises(Conflict) as caught:
        world.add_child(guardian[1], document=_resident_id("20150301", "222"))
    assert caught.value.reason == "document_already_enrolled"


def test_several_dependents_without_a_document_do_not_conflict(
    world: World, guardian: tuple[Resident, str]
) -> None:
    world.add_child(guardian[1], name="小明")
    world.add_child(guardian[1], name="小红")
    assert len(world.store.guardianships) == 2


def test_a_guardian_manages_at_most_ten_dependents(world: World, guardian: tuple[Resident, str]) -> None:
    for i in range(MAX_DEPENDENTS):
        world.add_child(guardian[1], name=f"孩子{i}")
    with pytest.raises(Conflict) as caught:
        world.add_child(guardian[1], name="多一个")
    assert caught.value.reason == "too_many_dependents"
    assert len(world.store.guardianships) == MAX_DEPENDENTS


def test_a_dependent_may_have_two_guardians_but_not_three(
    world: World, guardian: tuple[Resident, str]
) -> None:
    _, token = guardian
    second, second_token = world.enrol("13900139000", "333")
    third, _ = world.enrol("13700137000", "444")
    child = world.add_child(token)
    added = residents.add_guardian(world.deps, world.actor(token), child.id, "139 0013 9000", "parent")
    assert added == second
    assert world.actor(second_token).dependents == frozenset({child.id})
    with pytest.raises(Conflict) as caught:
        residents.add_guardian(world.deps, world.actor(second_token), child.id, "13700137000", "grandparent")
    assert caught.value.reason == "too_many_guardians"
    assert {g.guardian_id for g in world.store.guardianships.values()} == {guardian[0].id, second.id}
    assert third.id not in {g.guardian_id for g in world.store.guardianships.values()}


def test_adding_an_existing_guardian_again_is_a_conflict(
    world: World, guardian: tuple[Resident, str]
) -> None:
    world.enrol("13900139000", "333")
    child = world.add_child(guardian[1])
    residents.add_guardian(world.deps, world.actor(guardian[1]), child.id, "13900139000", "parent")
    with pytest.raises(Conflict) as caught:
        residents.add_guardian(world.deps, world.actor(guardian[1]), child.id, "13900139000", "parent")
    assert caught.value.reason == "already_guardian"
    with pytest.raises(Conflict):
        residents.add_guardian(world.deps, world.actor(guardian[1]), child.id, "13800138000", "parent")


def test_a_co_guardian_must_be_an_enrolled_resident(world: World, guardian: tuple[Resident, str]) -> None:
    child = world.add_child(guardian[1])
    with pytest.raises(NotFound) as caught:
        residents.add_guardian(world.deps, world.actor(guardian[1]), child.id, "13900139000", "parent")
    assert caught.value.reason == "resident_not_enrolled"


def test_a_co_guardian_needs_a_known_relation(world: World, guardian: tuple[Resident, str]) -> None:
    world.enrol("13900139000", "333")
    child = world.add_child(guardian[1])
    with pytest.raises(InvalidInput) as caught:
        residents.add_guardian(world.deps, world.actor(guardian[1]), child.id, "13900139000", "neighbour")
    assert caught.value.reason == "relation_unknown"


def test_removing_one_of_two_guardians_keeps_the_dependent_active(
    world: World, guardian: tuple[Resident, str]
) -> None:
    _, second_token = world.enrol("13900139000", "333")
    child = world.add_child(guardian[1])
    residents.add_guardian(world.deps, world.actor(guardian[1]), child.id, "13900139000", "parent")
    residents.remove_dependent(world.deps, world.actor(guardian[1]), child.id)
    assert world.store.residents[child.id].active
    assert world.actor(guardian[1]).dependents == frozenset()
    assert world.actor(second_token).dependents == frozenset({child.id})


def test_a_dependent_left_with_no_guardian_is_deactivated_not_deleted(
    world: World, guardian: tuple[Resident, str]
) -> None:
    child = world.add_child(guardian[1])
    residents.remove_dependent(world.deps, world.actor(guardian[1]), child.id)
    assert child.id in world.store.residents
    assert not world.store.residents[child.id].active
    assert world.store.guardianships == {}
    assert residents.profile(world.deps, world.actor(guardian[1])).dependents == []


def test_a_non_guardian_may_not_remove_add_guardians_to_or_view_a_dependent(
    world: World, guardian: tuple[Resident, str]
) -> None:
    _, stranger_token = world.enrol("13900139000", "333")
    child = world.add_child(guardian[1])
    stranger = world.actor(stranger_token)
    for attempt in (
        lambda: residents.remove_dependent(world.deps, stranger, child.id),
        lambda: residents.add_guardian(world.deps, stranger, child.id, "13900139000", "parent"),
        lambda: residents.profile(world.deps, stranger, child.id),
    ):
        with pytest.raises(PermissionDenied) as caught:
            attempt()
        assert caught.value.extra == {"reasons": ["not_guardian"]}
    assert world.store.residents[child.id].active
    assert len(world.store.guardianships) == 1


def test_a_profile_lists_dependents_and_guardians(world: World, guardian: tuple[Resident, str]) -> None:
    parent, token = guardian
    second, _ = world.enrol("13900139000", "333")
    child = world.add_child(token)
    residents.add_guardian(world.deps, world.actor(token), child.id, "13900139000", "grandparent")
    own = residents.profile(world.deps, world.actor(token))
    assert own.resident == parent
    assert [(r.id, g.relation) for r, g in own.dependents] == [(child.id, "child")]
    assert own.guardians == []
    theirs = residents.profile(world.deps, world.actor(token), child.id)
    assert theirs.resident == child
    assert {(r.id, g.relation) for r, g in theirs.guardians} == {
        (parent.id, "child"),
        (second.id, "grandparent"),
    }
