"""Misuse alarms (services/alarms.py) over fakes: a scripted mass change or mass look-up raises an alarm
for auditors, once, and it is in the transparency log; a real outbreak's tracing approval does not."""

from __future__ import annotations

from datetime import timedelta

import pytest

from civicpass.adapters.files import bundled_ruleset
from civicpass.domain.access import Purpose, StatedPurpose
from civicpass.domain.checkins import CheckIn, Evidence, Method
from civicpass.domain.errors import PermissionDenied
from civicpass.domain.features import iso
from civicpass.domain.identity import Document, DocumentType
from civicpass.domain.policy import StaffActor
from civicpass.domain.staff import Role
from civicpass.domain.venues import Venue, VenueKind
from civicpass.services import alarms, facts, rulesets, staff, tracing
from civicpass.services import transparency as tl
from civicpass.services.context import Deps
from civicpass.services.facts import NewFact
from tests.fakes import FakeClock, FakeStore, fake_deps, make_resident

CDC_A = StaffActor("cdc-a", Role.CDC, "440100")
CDC_B = StaffActor("cdc-b", Role.CDC, "440100")
LAB = StaffActor("lab-1", Role.LAB, "440100")
WORKER = StaffActor("cw-1", Role.COMMUNITY_WORKER, "440106")
AUDITOR = StaffActor("aud-1", Role.AUDITOR, "440100")
MIN = timedelta(minutes=1)


def _city(people: int) -> tuple[Deps, FakeStore, FakeClock]:
    deps, store, _, clock = fake_deps(alarm_facts_per_hour=50, alarm_reads_per_hour=30)
    rulesets.install_bundled(deps, bundled_ruleset())
    for n in range(people):
        resident = make_resident(f"r{n:03d}", document=Document(DocumentType.PASSPORT, f"E{n:05d}", "CHN"))
        store.residents[resident.id] = resident
    return deps, store, clock


def test_one_person_recording_facts_about_many_residents_by_hand_raises_one_alarm() -> None:
    deps, store, _ = _city(60)
    for n in range(51):
        facts.record(deps, CDC_A, NewFact(f"r{n:03d}", "close_contact", {}))
    (alarm,) = alarms.scan(deps)
    assert (alarm.kind, alarm.staff_id, alarm.residents, alarm.threshold) == (
        "alarm:staff:bulk_facts",
        "cdc-a",
        51,
        50,
    )
    assert alarms.scan(deps) == []  # raised once an hour
    (listed,) = alarms.recent(deps, AUDITOR)
    assert listed.payload["staff"] == "cdc-a"
    with pytest.raises(PermissionDenied):
        alarms.recent(deps, CDC_B)
    tl.publish(deps)
    assert any(leaf.name == "alarm:staff:bulk_facts" for leaf in store.log_leaves)


def test_looking_up_many_residents_in_an_hour_raises_an_alarm() -> None:
    deps, _, _ = _city(40)
    purpose = StatedPurpose(Purpose.FOLLOW_UP, "calls")
    for n in range(30):
        staff.look_up_resident(deps, WORKER, Document(DocumentType.PASSPORT, f"E{n:05d}", "CHN"), purpose)
    assert alarms.scan(deps) == []  # 30 is the threshold, not over it
    staff.look_up_resident(deps, WORKER, Document(DocumentType.PASSPORT, "E00030", "CHN"), purpose)
    (alarm,) = alarms.scan(deps)
    assert (alarm.kind, alarm.residents) == ("alarm:staff:bulk_reads", 31)


def test_an_old_burst_is_outside_the_hour() -> None:
    deps, _, clock = _city(60)
    for n in range(51):
        facts.record(deps, CDC_A, NewFact(f"r{n:03d}", "close_contact", {}))
    clock.advance(hours=2)
    assert alarms.scan(deps) == []


def test_a_real_outbreaks_tracing_approval_raises_no_alarm() -> None:
    deps, store, clock = _city(120)
    store.venues.append(Venue("hall", "hall", VenueKind.OFFICE, "440106", clock.now()))
    noon = clock.now() - timedelta(hours=20)
    for n in range(120):
        at = noon + (n % 10) * MIN
        store.checkins.append(
            CheckIn(f"c{n}", f"k{n}", f"r{n:03d}", "hall", at, at, Method.ROTATING_CODE, Evidence.MEDIUM, ())
        )
    data = {"test": "pcr", "result": "positive", "sampled_at": iso(clock.now() - timedelta(hours=3))}
    facts.approve(deps, CDC_B, facts.record(deps, LAB, NewFact("r000", "test_result", data)).id)
    (case,) = store.cases.values()
    proposal = tracing.run(deps, CDC_A, case.id)
    decided = tracing.approve(deps, CDC_B, proposal.id, None)
    assert sum(1 for c in decided.contacts if c.fact_id) > 100  # over a hundred contact facts in minutes
    assert alarms.scan(deps) == []
