"""Status use cases over fakes (services/status.py), fed by facts that declarations derive.

The fake clock starts at 2022-05-03T08:00Z, 16:00 in Shanghai.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from civicpass.adapters.files import bundled_forms, bundled_ruleset
from civicpass.adapters.messaging import MemoryMessenger
from civicpass.domain.errors import Conflict, NotFound, PermissionDenied
from civicpass.domain.facts import Fact, FactKind, FactSource, FactState
from civicpass.domain.features import iso
from civicpass.domain.policy import ResidentActor, StaffActor
from civicpass.domain.residents import Resident
from civicpass.domain.staff import Role
from civicpass.services import declarations, risk_areas, rulesets
from civicpass.services import status as status_service
from civicpass.services.context import Deps
from civicpass.services.declarations import Submission
from tests.fakes import FakeClock, FakeStore, fake_deps, make_resident

ZONE = ZoneInfo("Asia/Shanghai")
ME, OTHER = "r-1", "r-2"
PHONE = "+8613800138000"
ACTOR = ResidentActor(ME)
HUBEI_CDC = StaffActor("cdc-hb", Role.CDC, "420000")
DAY, HOUR = timedelta(days=1), timedelta(hours=1)
NO_CONTACTS = {
    "confirmed_case": False,
    "suspected_case": False,
    "high_risk_area_visitor": False,
    "fever_cluster": False,
}
FEVER = {"temperature_c": 38.3, "symptoms": ["fever", "cough"], "contact_history": NO_CONTACTS}
WELL = {"temperature_c": 36.6, "feels_well": True}


def _resident(resident_id: str, phone: str | None) -> Resident:
    return make_resident(resident_id, phone=phone)


@dataclass
class World:
    deps: Deps
    store: FakeStore
    messenger: MemoryMessenger
    clock: FakeClock

    def current(self, subject: str = ME) -> Any:
        return status_service.current(self.deps, ResidentActor(subject), subject)

    def rules(self, subject: str = ME) -> list[str]:
        return [r["rule_id"] for r in self.store.statuses[subject].reasons]

    def declare(self, form: str, answers: Any, subject: str = ME) -> Any:
        return declarations.submit(
            self.deps, ResidentActor(subject), Submission(subject, form, None, answers), None
        )

    def derived(self, kind: FactKind) -> list[Fact]:
        return [f for f in self.store.facts.values() if f.kind is kind]


def _world(yellow_release: str = "tests", *, install: bool = True) -> World:
    deps, store, messenger, clock = fake_deps()
    if install:
        document = copy.deepcopy(bundled_ruleset())
        document["parameters"]["yellow_release"] = yellow_release
        rulesets.install_bundled(deps, document)
    declarations.sync_forms(deps, bundled_forms())
    store.residents[ME] = _resident(ME, PHONE)
    store.residents[OTHER] = _resident(OTHER, "+8613900139000")
    return World(deps, store, messenger, clock)


@pytest.fixture
def world() -> World:
    return _world()


def _close_contact(subject: str, at: datetime) -> Fact:
    return Fact(
        "cc-" + subject,
        subject,
        FactKind.CLOSE_CONTACT,
        {},
        FactSource.STAFF,
        "cdc-1",
        at,
        None,
        at,
        FactState.ACTIVE,
    )


# --- current() ------------------------------------------------------------------------------------


def test_the_first_read_computes_the_status(world: World) -> None:
    assert world.store.statuses == {}
    shown = world.current()
    assert (shown.subject_id, shown.version, shown.color, shown.reasons) == (ME, 1, "green", [])
    assert (shown.evaluated_at, shown.ruleset_version) == (world.clock.now(), 1)
    assert shown.review_at == world.clock.now() + 24 * HOUR
    assert world.store.statuses[ME] == shown
    changed = [p for e, p in world.store.events if e == status_service.STATUS_CHANGED]
    assert [(p["subject"], p["previous"], p["color"]) for p in changed] == [(ME, None, "green")]


def test_the_status_is_served_from_the_cache_until_its_review_time(world: World) -> None:
    first = world.current()
    world.store.facts["cc"] = _close_contact(ME, world.clock.now())  # not through a use case: no recompute
    world.clock.current = first.review_at - timedelta(seconds=1)
    assert world.current() == first
    world.clock.current = first.review_at
    fresh = world.current()
    assert (fresh.color, fresh.version, fresh.evaluated_at) == ("red", 2, first.review_at)


def test_a_guardian_reads_a_dependents_status_and_a_stranger_cannot(world: World) -> None:
    guardian = ResidentActor(OTHER, frozenset({ME}))
    assert status_service.current(world.deps, guardian, ME).color == "green"
    with pytest.raises(PermissionDenied) as raised:
        status_service.current(world.deps, ResidentActor("r-9"), ME)
    assert raised.value.extra["reasons"] == ["not_guardian"]


def test_reading_the_status_of_an_unknown_resident_is_not_found(world: World) -> None:
    with pytest.raises(NotFound):
        world.current("r-9")


def test_without_an_active_rule_set_there_is_no_status() -> None:
    w = _world(install=False)
    with pytest.raises(Conflict) as raised:
        w.current()
    assert raised.value.reason == "no_active_ruleset"
    assert status_service.recompute(w.deps, [ME]) == []


# --- recompute ------------------------------------------------------------------------------------


def test_recompute_writes_a_new_version_only_when_the_color_or_reasons_change(world: World) -> None:
    deps, store, clock = world.deps, world.store, world.clock
    assert [c.current.version for c in status_service.recompute(deps, [ME])] == [1]
    clock.advance(hours=5)
    assert status_service.recompute(deps, [ME]) == []
    assert (store.statuses[ME].version, store.statuses[ME].evaluated_at) == (1, clock.now())
    assert len(status_service.history(deps, ACTOR, ME)) == 1

    store.facts["cc"] = _close_contact(ME, clock.now())
    changes = status_service.recompute(deps, [ME])
    assert [(c.subject_id, c.previous, c.current.color, c.current.version) for c in changes] == [
        (ME, "green", "red", 2)
    ]
    clock.advance(minutes=30)
    assert status_service.recompute(deps, [ME]) == []
    history = status_service.history(deps, ACTOR, ME)
    assert [(h.version, h.color) for h in history] == [(2, "red"), (1, "green")]


def test_a_recompute_that_changes_the_color_tells_the_resident(world: World) -> None:
    status_service.recompute(world.deps, [ME])
    world.store.facts["cc"] = _close_contact(ME, world.clock.now())
    status_service.recompute(world.deps, [ME])
    assert [to for to, _ in world.messenger.sent] == [PHONE]
    assert "Your code is now red" in world.messenger.last_to(PHONE)


def test_history_is_only_for_the_resident_and_their_guardians(world: World) -> None:
    status_service.recompute(world.deps, [ME])
    with pytest.raises(PermissionDenied):
        status_service.history(world.deps, ResidentActor(OTHER), ME)


def test_recompute_everyone_evaluates_all_residents(world: World) -> None:
    assert status_service.recompute_everyone(world.deps) == 2
    assert sorted(world.store.statuses) == [ME, OTHER]


# --- sweep ----------------------------------------------------------------------------------------


def test_sweep_re_evaluates_only_statuses_due_for_review(world: World) -> None:
    world.store.facts["cc"] = _close_contact(ME, world.clock.now())
    status_service.recompute(world.deps, [ME, OTHER])  # ME red (review in 1 h), OTHER green (in 24 h)
    world.clock.advance(hours=1)
    assert status_service.sweep(world.deps) == 1
    assert world.store.statuses[ME].evaluated_at == world.clock.now()
    assert world.store.statuses[OTHER].evaluated_at == world.clock.now() - HOUR


def test_sweep_lets_a_risk_area_arrival_lapse_to_green_after_14_days(world: World) -> None:
    arrived = world.clock.now()
    data = {"region": "420106", "level": "medium", "arrived_at": iso(arrived)}
    world.store.facts["a"] = Fact(
        "a",
        ME,
        FactKind.RISK_AREA_ARRIVAL,
        data,
        FactSource.SYSTEM,
        "t",
        arrived,
        arrived + 21 * DAY,
        arrived,
        FactState.ACTIVE,
    )
    status_service.recompute(world.deps, [ME])
    assert world.store.statuses[ME].color == "yellow"
    world.clock.current = arrived + 14 * DAY - HOUR
    status_service.sweep(world.deps)
    assert world.store.statuses[ME].color == "yellow"
    world.clock.current = arrived + 14 * DAY
    assert status_service.sweep(world.deps) >= 1
    assert world.store.statuses[ME].color == "green"
    assert "Your code is now green" in world.messenger.last_to(PHONE)


def test_sweep_lets_declared_symptoms_lapse_to_green_when_the_declaration_expires(world: World) -> None:
    declared_at = world.clock.now()
    world.declare("health", FEVER)
    assert world.store.statuses[ME].color == "yellow"
    world.clock.current = declared_at + 14 * DAY
    status_service.sweep(world.deps)
    assert world.store.statuses[ME].color == "green"


# --- declarations derive facts --------------------------------------------------------------------


def test_a_health_declaration_with_fever_turns_the_code_yellow(world: World) -> None:
    declaration = world.declare("health", FEVER)
    [fact] = world.derived(FactKind.HEALTH_DECLARATION)
    assert (fact.source, fact.authority, fact.state) == (FactSource.RESIDENT, ME, FactState.ACTIVE)
    assert fact.data == {"temperature_c": 38.3, "symptoms": ["fever", "cough"]}
    assert fact.expires_at == declaration.submitted_at + 14 * DAY
    assert world.store.statuses[ME].color == "yellow"
    assert world.rules() == ["YELLOW-DECLARED-SYMPTOMS-TESTS"]
    assert (
        world.store.statuses[ME].reasons[0]["text"]["en"]
        == "yellow: fever or symptoms declared on 2022-05-03"
    )


def test_a_normal_health_declaration_keeps_the_code_green(world: World) -> None:
    world.declare("health", {"temperature_c": 36.5, "symptoms": [], "contact_history": NO_CONTACTS})
    assert world.store.statuses[ME].color == "green"


def test_a_guardian_declaring_for_a_dependent_is_the_facts_authority(world: World) -> None:
    guardian = ResidentActor(OTHER, frozenset({ME}))
    declarations.submit(world.deps, guardian, Submission(ME, "health", None, FEVER), None)
    [fact] = world.derived(FactKind.HEALTH_DECLARATION)
    assert (fact.subject_id, fact.authority) == (ME, OTHER)
    assert world.store.statuses[ME].color == "yellow"


def test_declared_symptoms_turn_green_after_7_normal_daily_checkins_with_release_by_checkins() -> None:
    w = _world("checkins")
    w.declare("health", FEVER)
    for day in range(1, 8):
        w.clock.advance(days=1)
        w.declare("daily_checkin", WELL)
        expected = "green" if day == 7 else "yellow"
        assert w.store.statuses[ME].color == expected, day
    assert len(w.derived(FactKind.DAILY_CHECKIN)) == 7
    assert "Your code is now green" in w.messenger.last_to(PHONE)


def test_an_abnormal_daily_checkin_turns_the_code_yellow() -> None:
    w = _world("checkins")
    w.declare("daily_checkin", {"temperature_c": 36.6, "feels_well": False})
    assert w.rules() == ["YELLOW-DECLARED-SYMPTOMS-CHECKINS"]
    assert "(0 so far)" in w.store.statuses[ME].reasons[0]["release"]["en"]


def test_a_daily_checkin_after_a_declaration_counts_towards_release() -> None:
    w = _world("checkins")
    w.declare("health", FEVER)
    w.clock.advance(days=1)
    w.declare("daily_checkin", WELL)
    assert "(1 so far)" in w.store.statuses[ME].reasons[0]["release"]["en"]


# --- trips and risk areas -------------------------------------------------------------------------


def _declare_area(w: World, region: str, level: str, start: datetime, end: datetime | None = None) -> Any:
    return risk_areas.declare(w.deps, HUBEI_CDC, region, level, start, end)


def test_a_trip_through_a_declared_risk_area_gives_an_arrival_fact_and_a_yellow_code(world: World) -> None:
    _declare_area(world, "420106", "high", datetime(2022, 4, 20, tzinfo=ZONE))
    world.declare("trip", {"places": [{"place": "420106", "from": "2022-04-28", "to": "2022-05-01"}]})
    [fact] = world.derived(FactKind.RISK_AREA_ARRIVAL)
    assert (fact.source, fact.authority) == (FactSource.SYSTEM, risk_areas.RISK_AREA_AUTHORITY)
    assert fact.data == {"region": "420106", "level": "high", "arrived_at": "2022-04-30T16:00:00Z"}
    assert fact.expires_at == datetime(2022, 5, 1, tzinfo=ZONE) + 21 * DAY  # from the arrival
    assert world.rules() == ["YELLOW-RISK-AREA-ARRIVAL-TESTS"]
    text = world.store.statuses[ME].reasons[0]["text"]["en"]
    assert text == "yellow: arrived from a high-risk area (420106) on 2022-05-01"


def test_the_planned_arrival_date_is_the_arrival(world: World) -> None:
    _declare_area(world, "420100", "medium", datetime(2022, 4, 20, tzinfo=ZONE))
    trip = {
        "places": [{"place": "420106", "from": "2022-04-28", "to": "2022-04-30"}],
        "planned_arrival": {"region": "440106", "date": "2022-05-02"},
    }
    world.declare("trip", trip)
    [fact] = world.derived(FactKind.RISK_AREA_ARRIVAL)
    assert fact.data["arrived_at"] == iso(datetime(2022, 5, 2, tzinfo=ZONE))
    assert fact.data["level"] == "medium"


def test_an_arrival_declared_late_expires_counted_from_the_arrival_a_planned_one_from_the_declaration(
    world: World,
) -> None:
    """An arrival fact is held ARRIVAL_FACT_DAYS from the arrival (the local midnight of its day),
    however late it is declared: a trip that ended 23 days ago is kept already expired. An arrival today
    or on a past planned date counts from that day too; one still to come counts from the declaration (a
    year typed wrong must not hold a fact for years)."""
    _declare_area(world, "420106", "high", datetime(2022, 3, 1, tzinfo=ZONE))
    now = world.clock.now()  # 2022-05-03T16:00+08:00
    world.declare("trip", {"places": [{"place": "420106", "from": "2022-04-05", "to": "2022-04-10"}]})
    stay = [{"place": "420106", "from": "2022-04-28", "to": "2022-04-30"}]
    for day in ("2022-05-01", "2022-05-03", "2032-05-04"):
        world.declare("trip", {"places": stay, "planned_arrival": {"region": "440106", "date": day}})
    expiry = {f.data["arrived_at"]: f.expires_at for f in world.derived(FactKind.RISK_AREA_ARRIVAL)}
    midnight = {day: datetime(2022, 5, day, tzinfo=ZONE) for day in (1, 3)}
    assert expiry == {
        iso(datetime(2022, 4, 10, tzinfo=ZONE)): datetime(2022, 4, 10, tzinfo=ZONE) + 21 * DAY,
        iso(midnight[1]): midnight[1] + 21 * DAY,
        iso(midnight[3]): midnight[3] + 21 * DAY,
        iso(datetime(2032, 5, 4, tzinfo=ZONE)): now + 21 * DAY,
    }
    assert expiry[iso(datetime(2022, 4, 10, tzinfo=ZONE))] < now  # stored, no longer held
    assert all(e.tzinfo is UTC for e in expiry.values())


def test_a_place_in_both_a_high_and_a_medium_risk_area_counts_as_high(world: World) -> None:
    _declare_area(world, "420000", "medium", datetime(2022, 4, 1, tzinfo=ZONE))
    _declare_area(world, "420106", "high", datetime(2022, 4, 1, tzinfo=ZONE))
    world.declare("trip", {"places": [{"place": "420106", "from": "2022-04-28", "to": "2022-05-01"}]})
    assert [f.data["level"] for f in world.derived(FactKind.RISK_AREA_ARRIVAL)] == ["high"]


@pytest.mark.parametrize("place", ["440106", "420111", "JPN"])
def test_a_trip_outside_every_risk_area_derives_nothing(world: World, place: str) -> None:
    _declare_area(world, "420106", "high", datetime(2022, 4, 20, tzinfo=ZONE))
    world.declare("trip", {"places": [{"place": place, "from": "2022-04-28", "to": "2022-05-01"}]})
    assert world.store.facts == {}
    assert ME not in world.store.statuses


def test_a_risk_area_declared_only_after_the_visit_derives_nothing(world: World) -> None:
    _declare_area(world, "420106", "high", datetime(2022, 5, 3, tzinfo=ZONE))
    world.declare("trip", {"places": [{"place": "420106", "from": "2022-04-28", "to": "2022-05-01"}]})
    assert world.store.facts == {}


def test_a_risk_area_that_ended_before_the_visit_derives_nothing(world: World) -> None:
    _declare_area(
        world, "420106", "high", datetime(2022, 4, 1, tzinfo=ZONE), datetime(2022, 4, 28, tzinfo=ZONE)
    )
    world.declare("trip", {"places": [{"place": "420106", "from": "2022-04-28", "to": "2022-05-01"}]})
    assert world.store.facts == {}


def test_a_risk_area_starting_at_midnight_after_the_resident_left_derives_nothing(world: World) -> None:
    _declare_area(world, "420106", "high", datetime(2022, 5, 2, tzinfo=ZONE))
    world.declare("trip", {"places": [{"place": "420106", "from": "2022-04-28", "to": "2022-05-01"}]})
    assert world.store.facts == {}


def test_only_a_cdc_with_jurisdiction_declares_risk_areas(world: World) -> None:
    with pytest.raises(PermissionDenied) as outside:
        risk_areas.declare(
            world.deps, StaffActor("cdc-gz", Role.CDC, "440100"), "420106", "high", world.clock.now(), None
        )
    assert outside.value.extra["reasons"] == ["outside_jurisdiction"]
    with pytest.raises(PermissionDenied) as role:
        risk_areas.declare(
            world.deps,
            StaffActor("cw", Role.COMMUNITY_WORKER, "420000"),
            "420106",
            "high",
            world.clock.now(),
            None,
        )
    assert role.value.extra["reasons"] == ["role_not_permitted"]
    assert world.store.risk_areas == []
