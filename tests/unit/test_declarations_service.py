"""Versioned forms and residents' declarations over fakes (services/declarations.py)."""

from __future__ import annotations

import copy
import json
from importlib import resources
from typing import Any

import pytest

from civicpass.domain.errors import Conflict, FormValidationFailed, InvalidInput, NotFound, PermissionDenied
from civicpass.domain.policy import ResidentActor, StaffActor
from civicpass.domain.staff import Role
from civicpass.services import declarations
from civicpass.services.context import Deps
from civicpass.services.declarations import Submission
from tests.fakes import FakeClock, FakeStore, fake_deps

BUNDLED = [
    json.loads(f.read_text(encoding="utf-8"))
    for f in sorted((resources.files("civicpass") / "data" / "forms").iterdir(), key=lambda f: f.name)
    if f.name.endswith(".json")
]
RESIDENT = ResidentActor("r-1")
GUARDIAN = ResidentActor("g-1", frozenset({"d-1"}))
CDC = StaffActor("s-1", Role.CDC, "440100")
CHECKIN = {"temperature_c": 36.5, "feels_well": True}


def _bundled(key: str) -> dict[str, Any]:
    return copy.deepcopy(next(doc for doc in BUNDLED if doc["key"] == key))


def _checkin_v2() -> dict[str, Any]:
    """daily_checkin with a new required question: answers to version 1 are not valid version 2 answers."""
    doc = _bundled("daily_checkin")
    doc["schema"]["properties"]["mask_worn"] = {"type": "boolean"}
    doc["schema"]["required"] = [*doc["schema"]["required"], "mask_worn"]
    doc["labels"]["mask_worn"] = {"zh-CN": "佩戴口罩", "en": "Wearing a mask"}
    return doc


@pytest.fixture
def world() -> tuple[Deps, FakeStore, FakeClock]:
    deps, store, _, clock = fake_deps()
    declarations.sync_forms(deps, BUNDLED)
    return deps, store, clock


def _submit(
    deps: Deps,
    answers: Any = CHECKIN,
    actor: ResidentActor = RESIDENT,
    subject: str | None = None,
    version: int | None = None,
    key: str | None = None,
    form: str = "daily_checkin",
) -> Any:
    return declarations.submit(deps, actor, Submission(subject or actor.id, form, version, answers), key)


# --- forms ------------------------------------------------------------------------------------------


def test_syncing_the_bundled_forms_publishes_version_1_of_each(
    world: tuple[Deps, FakeStore, FakeClock],
) -> None:
    deps, store, clock = world
    assert sorted(store.forms) == [("daily_checkin", 1), ("health", 1), ("trip", 1)]
    form = declarations.get_form(deps, "health")
    assert (form.version, form.published_by, form.published_at) == (1, None, clock.now())
    assert form.as_document() == {"version": 1} | _bundled("health")


def test_syncing_the_same_forms_twice_publishes_nothing_the_second_time(
    world: tuple[Deps, FakeStore, FakeClock],
) -> None:
    deps, store, _ = world
    before = dict(store.forms)
    assert declarations.sync_forms(deps, BUNDLED) == []
    assert store.forms == before


def test_a_changed_form_file_becomes_version_2_and_leaves_version_1_alone(
    world: tuple[Deps, FakeStore, FakeClock],
) -> None:
    deps, store, _ = world
    version_1 = store.forms[("daily_checkin", 1)]
    changed = [_checkin_v2() if doc["key"] == "daily_checkin" else doc for doc in BUNDLED]
    published = declarations.sync_forms(deps, changed)
    assert [(f.key, f.version) for f in published] == [("daily_checkin", 2)]
    assert store.forms[("daily_checkin", 1)] == version_1
    assert declarations.get_form(deps, "daily_checkin").version == 2
    assert declarations.get_form(deps, "daily_checkin", 1) == version_1
    assert declarations.sync_forms(deps, changed) == []


def test_a_form_file_changed_only_in_its_labels_is_a_new_version(
    world: tuple[Deps, FakeStore, FakeClock],
) -> None:
    deps, _, _ = world
    doc = _bundled("trip")
    doc["labels"]["places"]["en"] = "Where you have been"
    assert [(f.key, f.version) for f in declarations.sync_forms(deps, [doc])] == [("trip", 2)]


def test_syncing_an_invalid_form_file_publishes_none_of_the_batch() -> None:
    deps, store, _, _ = fake_deps()
    broken = _bundled("trip") | {"schema": {"type": "array"}}
    with pytest.raises(InvalidInput) as caught:
        declarations.sync_forms(deps, [_bundled("health"), broken])
    assert caught.value.reason == "form_definition_invalid"
    assert store.forms == {}


def test_list_forms_gives_the_latest_version_of_each(world: tuple[Deps, FakeStore, FakeClock]) -> None:
    deps, _, _ = world
    declarations.publish_form(deps, CDC, "daily_checkin", _checkin_v2())
    assert [(f.key, f.version) for f in declarations.list_forms(deps)] == [
        ("daily_checkin", 2),
        ("health", 1),
        ("trip", 1),
    ]


@pytest.mark.parametrize(("key", "version"), [("nope", None), ("health", 2), ("health", 0)])
def test_asking_for_a_form_or_version_that_does_not_exist_is_not_found(
    world: tuple[Deps, FakeStore, FakeClock], key: str, version: int | None
) -> None:
    deps, _, _ = world
    with pytest.raises(NotFound) as caught:
        declarations.get_form(deps, key, version)
    assert caught.value.reason == "form_not_found"


@pytest.mark.parametrize("role", [Role.ADMIN, Role.CDC])
def test_admins_and_cdc_publish_the_next_version_under_their_name(
    world: tuple[Deps, FakeStore, FakeClock], role: Role
) -> None:
    deps, _, _ = world
    form = declarations.publish_form(deps, StaffActor("s-9", role, "440000"), "daily_checkin", _checkin_v2())
    assert (form.key, form.version, form.published_by) == ("daily_checkin", 2, "s-9")


def test_publishing_a_brand_new_form_starts_at_version_1(world: tuple[Deps, FakeStore, FakeClock]) -> None:
    deps, _, _ = world
    doc = _bundled("trip")
    assert declarations.publish_form(deps, CDC, "vaccination", doc).version == 1


@pytest.mark.parametrize(
    "role", [Role.CHECKPOINT_OPERATOR, Role.VENUE_OPERATOR, Role.LAB, Role.COMMUNITY_WORKER, Role.AUDITOR]
)
def test_other_roles_may_not_publish_forms(world: tuple[Deps, FakeStore, FakeClock], role: Role) -> None:
    deps, store, _ = world
    with pytest.raises(PermissionDenied) as caught:
        declarations.publish_form(deps, StaffActor("s-9", role, "440100"), "daily_checkin", _checkin_v2())
    assert caught.value.extra == {"reasons": ["role_not_permitted"]}
    assert ("daily_checkin", 2) not in store.forms


def test_publishing_an_invalid_form_is_refused_and_publishes_nothing(
    world: tuple[Deps, FakeStore, FakeClock],
) -> None:
    deps, store, _ = world
    doc = _checkin_v2() | {"title": {"en": "Daily"}}
    with pytest.raises(InvalidInput) as caught:
        declarations.publish_form(deps, CDC, "daily_checkin", doc)
    assert [(e.path, e.reason) for e in caught.value.errors] == [(("title", "zh-CN"), "title_missing")]
    assert ("daily_checkin", 2) not in store.forms


# --- submissions ----------------------------------------------------------------------------------------


def test_a_submission_is_validated_against_the_latest_version_and_stored(
    world: tuple[Deps, FakeStore, FakeClock],
) -> None:
    deps, store, clock = world
    declaration = _submit(deps)
    assert store.declarations == {declaration.id: declaration}
    assert (declaration.subject_id, declaration.form_key, declaration.form_version) == (
        "r-1",
        "daily_checkin",
        1,
    )
    assert declaration.answers == CHECKIN
    assert declaration.submitted_at == clock.now()
    assert declaration.submitted_by == "r-1"
    assert not declaration.by_proxy


def test_invalid_answers_are_refused_and_nothing_is_stored(world: tuple[Deps, FakeStore, FakeClock]) -> None:
    deps, store, _ = world
    with pytest.raises(FormValidationFailed) as caught:
        _submit(deps, {"temperature_c": 45, "feels_well": True})
    assert [(e.path, e.reason) for e in caught.value.errors] == [
        (("answers", "temperature_c"), "schema_maximum")
    ]
    assert store.declarations == {}


@pytest.mark.parametrize(("form", "version"), [("nope", None), ("daily_checkin", 7)])
def test_a_submission_to_an_unknown_form_or_version_is_not_found(
    world: tuple[Deps, FakeStore, FakeClock], form: str, version: int | None
) -> None:
    deps, store, _ = world
    with pytest.raises(NotFound):
        _submit(deps, form=form, version=version)
    assert store.declarations == {}


def test_after_a_new_version_old_submissions_keep_their_version_and_new_ones_use_the_latest(
    world: tuple[Deps, FakeStore, FakeClock],
) -> None:
    deps, store, _ = world
    old = _submit(deps)
    declarations.publish_form(deps, CDC, "daily_checkin", _checkin_v2())
    assert store.declarations[old.id] == old
    assert old.form_version == 1
    with pytest.raises(FormValidationFailed) as caught:
        _submit(deps)
    assert caught.value.extra == {"form_key": "daily_checkin", "form_version": 2}
    new = _submit(deps, CHECKIN | {"mask_worn": True})
    assert new.form_version == 2


def test_a_submission_may_choose_an_older_version(world: tuple[Deps, FakeStore, FakeClock]) -> None:
    deps, _, _ = world
    declarations.publish_form(deps, CDC, "daily_checkin", _checkin_v2())
    assert _submit(deps, version=1).form_version == 1
    with pytest.raises(FormValidationFailed):
        _submit(deps, CHECKIN | {"mask_worn": True}, version=1)


def test_a_guardian_declaring_for_a_dependent_is_recorded_as_a_proxy_submission(
    world: tuple[Deps, FakeStore, FakeClock],
) -> None:
    deps, _, _ = world
    declaration = _submit(deps, actor=GUARDIAN, subject="d-1")
    assert declaration.subject_id == "d-1"
    assert declaration.submitted_by == "g-1"
    assert declaration.by_proxy


def test_a_resident_may_not_declare_for_someone_who_is_not_their_dependent(
    world: tuple[Deps, FakeStore, FakeClock],
) -> None:
    deps, store, _ = world
    with pytest.raises(PermissionDenied) as caught:
        _submit(deps, actor=RESIDENT, subject="d-1")
    assert caught.value.extra == {"reasons": ["not_guardian"]}
    assert store.declarations == {}


def test_a_retried_submission_with_the_same_idempotency_key_returns_the_first_declaration(
    world: tuple[Deps, FakeStore, FakeClock],
) -> None:
    deps, store, clock = world
    first = _submit(deps, key="key-1")
    clock.advance(seconds=5)
    again = _submit(deps, dict(reversed(list(CHECKIN.items()))), key="key-1")
    assert again == first
    assert list(store.declarations) == [first.id]


def test_an_idempotency_key_reused_with_a_different_body_is_a_conflict(
    world: tuple[Deps, FakeStore, FakeClock],
) -> None:
    deps, store, _ = world
    first = _submit(deps, key="key-1")
    with pytest.raises(Conflict) as caught:
        _submit(deps, CHECKIN | {"temperature_c": 37.0}, key="key-1")
    assert caught.value.reason == "idempotency_key_reused"
    with pytest.raises(Conflict):
        _submit(deps, version=1, key="key-1")
    assert list(store.declarations) == [first.id]


def test_idempotency_keys_are_scoped_to_the_submitting_resident(
    world: tuple[Deps, FakeStore, FakeClock],
) -> None:
    deps, store, _ = world
    mine = _submit(deps, key="key-1")
    theirs = _submit(deps, actor=ResidentActor("r-2"), key="key-1")
    assert mine.id != theirs.id
    assert len(store.declarations) == 2


def test_without_an_idempotency_key_every_submission_is_a_new_declaration(
    world: tuple[Deps, FakeStore, FakeClock],
) -> None:
    deps, store, _ = world
    _submit(deps)
    _submit(deps)
    assert len(store.declarations) == 2


def test_a_failed_submission_does_not_use_up_its_idempotency_key(
    world: tuple[Deps, FakeStore, FakeClock],
) -> None:
    deps, store, _ = world
    with pytest.raises(FormValidationFailed):
        _submit(deps, {"temperature_c": 45, "feels_well": True}, key="key-1")
    assert store.idempotency == {}
    assert _submit(deps, key="key-1").form_version == 1


def test_declarations_are_listed_newest_first_for_the_subject_or_their_guardian(
    world: tuple[Deps, FakeStore, FakeClock],
) -> None:
    deps, _, clock = world
    first = _submit(deps, actor=GUARDIAN, subject="d-1")
    clock.advance(minutes=1)
    second = _submit(deps, actor=GUARDIAN, subject="d-1")
    _submit(deps, actor=GUARDIAN)
    assert [d.id for d in declarations.list_declarations(deps, GUARDIAN, "d-1")] == [second.id, first.id]
    assert [d.id for d in declarations.list_declarations(deps, GUARDIAN, "d-1", limit=1)] == [second.id]
    assert declarations.list_declarations(deps, ResidentActor("d-1"), "d-1") != []
    with pytest.raises(PermissionDenied):
        declarations.list_declarations(deps, RESIDENT, "d-1")


def test_a_retry_after_a_new_version_is_published_still_replays_the_first_declaration(
    world: tuple[Deps, FakeStore, FakeClock],
) -> None:
    deps, store, _ = world
    first = _submit(deps, key="key-1")
    declarations.publish_form(deps, CDC, "daily_checkin", _checkin_v2())
    assert _submit(deps, key="key-1") == first
    assert list(store.declarations) == [first.id]
