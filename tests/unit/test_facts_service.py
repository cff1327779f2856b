"""Recording facts with dual control (services/facts.py) over fakes, under the bundled rule set."""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from civicpass.adapters.files import bundled_ruleset
from civicpass.adapters.messaging import MemoryMessenger
from civicpass.domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from civicpass.domain.facts import FactKind, FactSource, FactState
from civicpass.domain.features import iso
from civicpass.domain.identity import Document, DocumentType
from civicpass.domain.policy import ResidentActor, StaffActor
from civicpass.domain.residents import Guardianship, Resident, ResidentKind
from civicpass.domain.staff import Role
from civicpass.services import facts, rulesets
from civicpass.services import status as status_service
from civicpass.services.context import Deps
from civicpass.services.facts import NewFact
from tests.fakes import FakeClock, FakeStore, fake_deps, make_resident

SELF, PARENT, CHILD = "r-self", "r-parent", "r-child"
SELF_PHONE, PARENT_PHONE = "+8613800138000", "+8613900139000"
CDC = StaffActor("cdc-1", Role.CDC, "440100")  # Guangzhou
CDC_PROVINCE = StaffActor("cdc-2", Role.CDC, "440000")  # Guangdong
CDC_SHENZHEN = StaffActor("cdc-sz", Role.CDC, "440300")
LAB = StaffActor("lab-1", Role.LAB, "440100")
WORKER = StaffActor("cw-1", Role.COMMUNITY_WORKER, "440106")
DAY = timedelta(days=1)


def _resident(resident_id: str, phone: str | None, kind: ResidentKind = ResidentKind.SELF) -> Resident:
    document = Document(DocumentType.NONE, None) if phone is None else Document(DocumentType.PASSPORT, "E1")
    return make_resident(resident_id, phone=phone, kind=kind, document=document)


@dataclass
class World:
    deps: Deps
    store: FakeStore
    messenger: MemoryMessenger
    clock: FakeClock

    def color(self, subject_id: str = SELF) -> str:
        return self.store.statuses[subject_id].color

    def events(self, name: str) -> list[dict[str, Any]]:
        return [payload for event, payload in self.store.events if event == name]


def _world(document: dict[str, Any] | None = None, *, evaluated: bool = True) -> World:
    deps, store, messenger, clock = fake_deps()
    rulesets.install_bundled(deps, document or bundled_ruleset())
    store.residents[SELF] = _resident(SELF, SELF_PHONE)
    store.residents[PARENT] = _resident(PARENT, PARENT_PHONE)
    store.residents[CHILD] = _resident(CHILD, None, ResidentKind.DEPENDENT)
    link = Guardianship(PARENT, CHILD, "parent", datetime(2022, 1, 1, tzinfo=UTC))
    store.guardianships[(PARENT, CHILD)] = link
    if evaluated:
        status_service.recompute(deps, [SELF, PARENT, CHILD])
    return World(deps, store, messenger, clock)


@pytest.fixture
def world() -> World:
    return _world()


def _data(kind: str, now: datetime) -> dict[str, Any]:
    examples: dict[str, dict[str, Any]] = {
        "case": {"classification": "confirmed"},
        "close_contact": {"case_id": "c-1"},
        "secondary_contact": {},
        "spatiotemporal_companion": {"venue_id": "v-1"},
        "isolation_order": {"place": "home", "until": iso(now + 14 * DAY)},
        "risk_area_arrival": {"region": "420106", "level": "high", "arrived_at": iso(now - DAY)},
        "peer_status": {"issuer": "健康宝", "color": "red"},
        "test_result": {"test": "pcr", "result": "negative", "sampled_at": iso(now - DAY)},
        "vaccination": {"vaccine": "CoronaVac", "dose": 2, "administered_at": iso(now - 90 * DAY)},
    }
    return examples[kind]


def _record(w: World, kind: str, actor: StaffActor = CDC, subject: str = SELF, **extra: Any) -> Any:
    return facts.record(w.deps, actor, NewFact(subject, kind, _data(kind, w.clock.now()), **extra))


def _negative(w: World, sampled: datetime, actor: StaffActor = LAB) -> Any:
    data = {"test": "pcr", "result": "negative", "sampled_at": iso(sampled)}
    return facts.record(w.deps, actor, NewFact(SELF, "test_result", data))


RAISING = [
    "case",
    "close_contact",
    "secondary_contact",
    "spatiotemporal_companion",
    "isolation_order",
    "risk_area_arrival",
    "peer_status",
]


# --- proposals ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", RAISING)
def test_a_fact_that_can_raise_a_color_is_proposed_and_leaves_the_color_as_it_was(
    world: World, kind: str
) -> None:
    fact = _record(world, kind)
    assert fact.state is FactState.PROPOSED
    assert (fact.proposed_by, fact.authority, fact.source) == ("cdc-1", "cdc-1", FactSource.STAFF)
    assert world.store.facts[fact.id].state is FactState.PROPOSED
    assert world.color() == "green"
    assert world.store.statuses[SELF].version == 1
    assert world.events("fact:resident:proposed")[-1]["fact"] == fact.id
    assert [e["previous"] for e in world.events(status_service.STATUS_CHANGED)] == [None, None, None]
    assert world.messenger.sent == []


def test_a_proposed_fact_does_not_show_in_the_residents_status(world: World) -> None:
    _record(world, "close_contact")
    world.clock.advance(days=2)  # past review_at: current() re-evaluates
    shown = status_service.current(world.deps, ResidentActor(SELF), SELF)
    assert (shown.color, shown.reasons) == ("green", [])


def test_a_community_workers_isolation_order_is_proposed_too(world: World) -> None:
    assert _record(world, "isolation_order", WORKER).state is FactState.PROPOSED


def test_the_author_of_a_proposed_fact_cannot_approve_it(world: World) -> None:
    fact = _record(world, "close_contact")
    with pytest.raises(PermissionDenied) as raised:
        facts.approve(world.deps, CDC, fact.id)
    assert raised.value.reason == "own_proposal"
    assert world.store.facts[fact.id].state is FactState.PROPOSED
    assert world.color() == "green"


@pytest.mark.parametrize("approver", [LAB, WORKER], ids=["lab", "community_worker"])
def test_staff_without_the_approve_permission_cannot_approve(world: World, approver: StaffActor) -> None:
    fact = _record(world, "isolation_order", WORKER if approver is LAB else CDC)
    with pytest.raises(PermissionDenied) as raised:
        facts.approve(world.deps, approver, fact.id)
    assert raised.value.extra["reasons"] == ["role_not_permitted"]
    assert world.store.facts[fact.id].state is FactState.PROPOSED


def test_a_cdc_outside_the_residents_region_can_neither_record_nor_approve(world: World) -> None:
    with pytest.raises(PermissionDenied) as recording:
        _record(world, "close_contact", CDC_SHENZHEN)
    assert recording.value.extra["reasons"] == ["outside_jurisdiction"]
    fact = _record(world, "close_contact")
    with pytest.raises(PermissionDenied) as approving:
        facts.approve(world.deps, CDC_SHENZHEN, fact.id)
    assert approving.value.extra["reasons"] == ["outside_jurisdiction"]


def test_proposals_lists_pending_facts_of_the_jurisdiction_only(world: World) -> None:
    fact = _record(world, "close_contact")
    _negative(world, world.clock.now() - DAY)  # active at once: not a proposal
    assert [f.id for f in facts.proposals(world.deps, CDC_PROVINCE)] == [fact.id]
    assert facts.proposals(world.deps, CDC_SHENZHEN) == []
    with pytest.raises(PermissionDenied):
        facts.proposals(world.deps, LAB)


# --- approval -------------------------------------------------------------------------------------


def test_approval_by_another_cdc_activates_the_fact_and_turns_the_code_red(world: World) -> None:
    fact = _record(world, "close_contact")
    world.clock.advance(hours=2)
    approved = facts.approve(world.deps, CDC_PROVINCE, fact.id)
    assert approved.state is FactState.ACTIVE
    assert (approved.decided_by, approved.decided_at) == ("cdc-2", world.clock.now())
    assert world.store.facts[fact.id].state is FactState.ACTIVE
    assert world.color() == "red"
    assert world.store.statuses[SELF].version == 2
    assert world.events("fact:resident:approved")[-1]["decided_by"] == "cdc-2"
    changed = world.events(status_service.STATUS_CHANGED)[-1]
    assert (changed["subject"], changed["previous"], changed["color"]) == (SELF, "green", "red")
    assert changed["rules"] == ["RED-CLOSE-CONTACT"]
    assert changed["version"] == 2
    assert changed["ruleset_version"] == 1


def test_approval_sends_the_resident_a_message_with_the_new_color_and_reason(world: World) -> None:
    facts.approve(world.deps, CDC_PROVINCE, _record(world, "close_contact").id)
    assert [to for to, _ in world.messenger.sent] == [SELF_PHONE]
    text = world.messenger.last_to(SELF_PHONE)
    assert "红码" in text
    assert "Your code is now red" in text
    assert "red: close contact of a case since 2022-05-03" in text
    assert "红码：自2022-05-03起为病例的密切接触者" in text


def test_for_a_dependent_without_a_phone_the_guardian_is_told(world: World) -> None:
    fact = _record(world, "isolation_order", subject=CHILD)
    facts.approve(world.deps, CDC_PROVINCE, fact.id)
    assert world.color(CHILD) == "red"
    assert [to for to, _ in world.messenger.sent] == [PARENT_PHONE]
    assert "Your code is now red" in world.messenger.last_to(PARENT_PHONE)


def test_a_resident_never_evaluated_before_is_told_when_an_approved_fact_makes_the_code_red() -> None:
    w = _world(evaluated=False)
    facts.approve(w.deps, CDC_PROVINCE, _record(w, "close_contact").id)
    assert w.color() == "red"
    assert [to for to, _ in w.messenger.sent] == [SELF_PHONE]


def test_a_fact_cannot_be_approved_twice(world: World) -> None:
    fact = _record(world, "close_contact")
    facts.approve(world.deps, CDC_PROVINCE, fact.id)
    with pytest.raises(Conflict) as raised:
        facts.approve(world.deps, StaffActor("cdc-3", Role.CDC, "440100"), fact.id)
    assert raised.value.reason == "fact_not_proposed"


def test_approving_an_unknown_fact_is_not_found(world: World) -> None:
    with pytest.raises(NotFound) as raised:
        facts.approve(world.deps, CDC_PROVINCE, "no-such-fact")
    assert raised.value.reason == "fact_not_found"


# --- rejection ------------------------------------------------------------------------------------


def test_rejection_keeps_the_color_and_the_fact_can_no_longer_be_approved(world: World) -> None:
    fact = _record(world, "case")
    rejected = facts.reject(world.deps, CDC_PROVINCE, fact.id, "wrong person")
    assert (rejected.state, rejected.decided_by, rejected.note) == (
        FactState.REJECTED,
        "cdc-2",
        "wrong person",
    )
    assert world.events("fact:resident:rejected")[-1]["fact"] == fact.id
    assert world.color() == "green"
    assert world.store.statuses[SELF].version == 1
    with pytest.raises(Conflict):
        facts.approve(world.deps, CDC_PROVINCE, fact.id)
    assert world.messenger.sent == []


def test_the_author_cannot_reject_their_own_proposal_either(world: World) -> None:
    fact = _record(world, "case")
    with pytest.raises(PermissionDenied) as raised:
        facts.reject(world.deps, CDC, fact.id, "oops")
    assert raised.value.reason == "own_proposal"


# --- facts that cannot raise are active at once ---------------------------------------------------


def test_a_negative_test_recorded_by_a_lab_is_active_at_once(world: World) -> None:
    fact = _negative(world, world.clock.now() - timedelta(hours=3))
    assert fact.state is FactState.ACTIVE
    assert world.store.facts[fact.id].state is FactState.ACTIVE
    assert world.events("fact:resident:recorded")[-1]["fact"] == fact.id
    assert world.store.statuses[SELF].evaluated_at == world.clock.now()


def test_a_vaccination_recorded_by_a_lab_is_active_at_once(world: World) -> None:
    assert _record(world, "vaccination", LAB).state is FactState.ACTIVE


def test_a_positive_test_is_proposed(world: World) -> None:
    data = {"test": "antigen", "result": "positive", "sampled_at": iso(world.clock.now())}
    fact = facts.record(world.deps, LAB, NewFact(SELF, "test_result", data))
    assert fact.state is FactState.PROPOSED


def test_a_negative_test_that_releases_a_close_contact_turns_the_code_green_and_says_so(world: World) -> None:
    facts.approve(world.deps, CDC_PROVINCE, _record(world, "close_contact").id)
    world.clock.advance(days=14)
    fact = _negative(world, world.clock.now())
    assert fact.state is FactState.ACTIVE
    assert world.color() == "green"
    assert "Your code is now green" in world.messenger.last_to(SELF_PHONE)
    assert "绿码" in world.messenger.last_to(SELF_PHONE)


def test_a_future_dated_raising_fact_is_proposed_and_raises_the_color_only_when_it_takes_effect(
    world: World,
) -> None:
    starts = world.clock.now() + 2 * DAY
    fact = _record(world, "isolation_order", effective_at=starts)
    assert fact.state is FactState.PROPOSED
    assert fact.effective_at == starts
    facts.approve(world.deps, CDC_PROVINCE, fact.id)
    assert world.color() == "green"
    world.clock.current = starts
    status_service.recompute(world.deps, [SELF])
    assert world.color() == "red"


def _tested_contacts_are_red() -> dict[str, Any]:
    """A deliberately odd rule set in which a negative test after a close contact raises the color."""
    document = copy.deepcopy(bundled_ruleset())
    rule = copy.deepcopy(document["rules"][3])
    rule.update(
        identifier="RED-TESTED-CONTACT",
        logic={"and": [{"var": "close_contact.active"}, {"var": "close_contact.negative_test_after"}]},
    )
    document["rules"] = [rule]
    return document


def test_a_fact_of_a_harmless_kind_that_would_raise_the_color_now_is_proposed() -> None:
    w = _world(_tested_contacts_are_red())
    facts.approve(w.deps, CDC_PROVINCE, _record(w, "close_contact").id)
    assert w.color() == "green"
    w.clock.advance(hours=1)
    assert _negative(w, w.clock.now()).state is FactState.PROPOSED


def test_a_fact_of_a_harmless_kind_that_would_raise_the_color_when_it_takes_effect_is_proposed() -> None:
    w = _world(_tested_contacts_are_red())
    facts.approve(w.deps, CDC_PROVINCE, _record(w, "close_contact").id)
    sampled = w.clock.now() + DAY
    data = {"test": "pcr", "result": "negative", "sampled_at": iso(sampled)}
    fact = facts.record(w.deps, LAB, NewFact(SELF, "test_result", data, effective_at=sampled))
    assert fact.state is FactState.PROPOSED
    assert w.color() == "green"


# --- who may record what --------------------------------------------------------------------------

PERMITTED = {
    Role.LAB: {"test_result", "vaccination"},
    Role.COMMUNITY_WORKER: {"test_result", "isolation_order", "risk_area_arrival"},
    Role.CDC: {*RAISING, "test_result", "vaccination"},
}
STAFF_KINDS = [*RAISING, "test_result", "vaccination"]


@pytest.mark.parametrize(
    ("role", "kind"),
    [(role, kind) for role in PERMITTED for kind in STAFF_KINDS if kind not in PERMITTED[role]],
)
def test_each_role_records_only_its_permitted_fact_kinds(world: World, role: Role, kind: str) -> None:
    actor = StaffActor("s-9", role, "440100")
    with pytest.raises(PermissionDenied) as raised:
        _record(world, kind, actor)
    assert raised.value.extra["reasons"] == ["fact_kind_not_permitted"]
    assert world.store.facts == {}


@pytest.mark.parametrize(
    ("role", "kind"), [(role, kind) for role in PERMITTED for kind in sorted(PERMITTED[role])]
)
def test_each_role_may_record_its_permitted_fact_kinds(world: World, role: Role, kind: str) -> None:
    fact = _record(world, kind, StaffActor("s-9", role, "440100"))
    assert world.store.facts[fact.id].kind is FactKind(kind)


@pytest.mark.parametrize("kind", ["health_declaration", "daily_checkin"])
def test_staff_cannot_record_what_only_residents_declare(world: World, kind: str) -> None:
    data = {"temperature_c": 38.5, "feels_well": False, "symptoms": ["fever"]}
    with pytest.raises(PermissionDenied) as raised:
        facts.record(world.deps, CDC, NewFact(SELF, kind, data))
    assert raised.value.extra["reasons"] == ["fact_kind_not_permitted"]


@pytest.mark.parametrize("role", [Role.AUDITOR, Role.ADMIN, Role.VENUE_OPERATOR, Role.CHECKPOINT_OPERATOR])
def test_roles_without_the_record_permission_record_nothing(world: World, role: Role) -> None:
    with pytest.raises(PermissionDenied) as raised:
        _record(world, "test_result", StaffActor("s-9", role, "440100"))
    assert raised.value.extra["reasons"] == ["role_not_permitted"]


# --- invalid input --------------------------------------------------------------------------------


def test_invalid_fact_data_is_refused_naming_each_bad_field(world: World) -> None:
    data = {"test": "saliva", "result": "negative", "sampled_at": "2022-05-03T08:00:00"}
    with pytest.raises(InvalidInput) as raised:
        facts.record(world.deps, LAB, NewFact(SELF, "test_result", data))
    assert raised.value.reason == "fact_invalid"
    assert {(e.path, e.reason) for e in raised.value.errors} == {
        (("data", "test"), "fact_field_invalid"),
        (("data", "sampled_at"), "fact_time_invalid"),
    }
    assert world.store.facts == {}


def test_missing_and_mistyped_fields_are_refused(world: World) -> None:
    data = {"place": "hotel", "until": True}
    with pytest.raises(InvalidInput) as raised:
        facts.record(world.deps, CDC, NewFact(SELF, "isolation_order", data))
    assert {(e.path, e.reason) for e in raised.value.errors} == {
        (("data", "place"), "fact_field_invalid"),
        (("data", "until"), "fact_field_invalid"),
    }


def test_an_unknown_fact_kind_is_refused(world: World) -> None:
    with pytest.raises(InvalidInput) as raised:
        facts.record(world.deps, CDC, NewFact(SELF, "horoscope", {}))
    assert raised.value.reason == "fact_kind_unknown"
    assert raised.value.errors[0].path == ("kind",)


def test_a_fact_about_an_unknown_or_inactive_resident_is_not_found(world: World) -> None:
    with pytest.raises(NotFound):
        _record(world, "close_contact", subject="r-nobody")
    world.store.residents[SELF] = replace(world.store.residents[SELF], active=False)
    with pytest.raises(NotFound):
        _record(world, "close_contact")
