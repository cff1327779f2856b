"""Check-ins recorded in batches (services/checkins.record_batch), as the group commit records them.

One transaction takes many residents' scans: each scan gets its own outcome, a bad one never fails the
others, and grading sees the earlier scans of the same batch as it sees stored ones.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from civicpass.adapters.files import bundled_ruleset
from civicpass.domain.checkins import CheckIn, Evidence, Flag, Location
from civicpass.domain.errors import InvalidInput, NotAuthenticated, NotFound, PermissionDenied
from civicpass.domain.policy import StaffActor
from civicpass.domain.residents import Guardianship, ResidentKind
from civicpass.domain.sessions import Session, SubjectKind
from civicpass.domain.staff import Role, StaffMember
from civicpass.services import rulesets, venues
from civicpass.services.checkins import Outcome, ScanIn, TokenScan, record_batch
from civicpass.services.venues import NewVenue, VenueCodes
from tests.fakes import fake_deps, make_resident

START = datetime(2022, 5, 3, 8, 0, tzinfo=UTC)
OPERATOR = StaffActor("s-operator", Role.VENUE_OPERATOR, "440100")
CANTON_TOWER = Location(23.1066, 113.3245)
RESIDENTS = ["r-1", "r-2", "r-3", "r-4"]


class Batch:
    def __init__(self) -> None:
        self.deps, self.store, _, self.clock = fake_deps()
        rulesets.install_bundled(self.deps, bundled_ruleset())
        for rid in RESIDENTS:
            self.store.residents[rid] = make_resident(rid, phone="+86138001380" + rid[-1])
            self.session(rid, rid)
        self.store.residents["kid"] = make_resident("kid", phone=None, kind=ResidentKind.DEPENDENT)
        self.store.guardianships[("r-1", "kid")] = Guardianship("r-1", "kid", "parent", START)
        self.venue = venues.register_venue(self.deps, OPERATOR, NewVenue("Market", "market", "440106"))
        self.codes = VenueCodes(self.deps)

    def session(self, token: str, subject: str, kind: SubjectKind = SubjectKind.RESIDENT) -> None:
        digest = self.deps.digest.secret_digest(token)
        self.store.sessions[digest] = Session(digest, kind, subject, START, START + timedelta(days=30))

    def code(self, static: bool = False) -> str:
        return venues.venue_code(self.deps, OPERATOR, self.venue.id, static=static).token

    def scan(self, token: str, client_id: str, **fields: object) -> TokenScan:
        values: dict[str, object] = {"venue_code": self.code(), "scanned_at": self.clock.now(), **fields}
        return TokenScan(self.deps.digest.secret_digest(token), ScanIn(client_id=client_id, **values))  # type: ignore[arg-type]

    def record(self, *items: TokenScan) -> list[Outcome]:
        return record_batch(self.deps, list(items), self.codes)


@pytest.fixture
def batch() -> Batch:
    return Batch()


def stored(outcome: Outcome) -> CheckIn:
    assert isinstance(outcome, tuple), outcome
    checkin, created = outcome
    assert created
    return checkin


def test_each_scan_of_a_batch_gets_its_own_outcome_and_the_good_ones_are_stored(batch: Batch) -> None:
    outcomes = batch.record(
        batch.scan("r-1", "client-good-1"),
        batch.scan("nobody", "client-no-session"),
        batch.scan("r-2", "client-bad-code", venue_code="CP1:NOT-A-CODE"),
        batch.scan("r-3", "client-too-old", scanned_at=START - timedelta(days=2)),
        batch.scan("r-4", "client-someone-elses-child", subject_id="kid"),
        batch.scan("r-1", "client-my-child", subject_id="kid"),
        batch.scan("r-2", "client-good-2"),
    )
    kinds = [type(o).__name__ if not isinstance(o, tuple) else "stored" for o in outcomes]
    assert kinds == [
        "stored",
        "NotAuthenticated",
        "InvalidInput",
        "InvalidInput",
        "PermissionDenied",
        "stored",
        "stored",
    ]
    assert isinstance(outcomes[2], InvalidInput)
    assert outcomes[2].reason == "venue_code_invalid"
    assert isinstance(outcomes[3], InvalidInput)
    assert outcomes[3].reason == "scan_time_invalid"
    assert isinstance(outcomes[1], NotAuthenticated)
    assert isinstance(outcomes[4], PermissionDenied)
    assert {(c.resident_id, c.client_id) for c in batch.store.checkins} == {
        ("r-1", "client-good-1"),
        ("kid", "client-my-child"),
        ("r-2", "client-good-2"),
    }


def test_staff_tokens_are_refused_residents_only_in_a_batch(batch: Batch) -> None:
    batch.store.staff["s-1"] = StaffMember(
        "s-1", "checker", "Op", Role.CHECKPOINT_OPERATOR, "440100", "x", True, START
    )
    batch.session("staff-token", "s-1", SubjectKind.STAFF)
    (outcome,) = batch.record(batch.scan("staff-token", "client-staff"))
    assert isinstance(outcome, PermissionDenied)
    assert outcome.reason == "residents_only"
    assert batch.store.checkins == []


def test_the_same_scan_twice_in_one_batch_is_stored_once_and_the_second_is_answered_with_it(
    batch: Batch,
) -> None:
    scan = batch.scan("r-1", "client-twice")
    first, second = batch.record(scan, scan)
    assert isinstance(second, tuple)
    assert second == (stored(first), False)
    assert len(batch.store.checkins) == 1


def test_a_scan_retried_in_a_later_batch_returns_what_the_first_stored(batch: Batch) -> None:
    scan = batch.scan("r-1", "client-retry")
    (first,) = batch.record(scan)
    batch.clock.advance(hours=3)
    (again,) = batch.record(scan)
    assert again == (stored(first), False)
    assert len(batch.store.checkins) == 1


def test_a_replay_within_one_batch_is_flagged_as_if_the_first_scan_were_stored(batch: Batch) -> None:
    code = batch.code()
    batch.clock.advance(minutes=12)  # the phone sends both scans late, in one request burst
    first, later = batch.record(
        batch.scan("r-1", "client-a", venue_code=code, scanned_at=START),
        batch.scan("r-1", "client-b", venue_code=code, scanned_at=START + timedelta(minutes=12)),
    )
    assert stored(first).evidence is Evidence.MEDIUM
    assert Flag.REPLAYED_CODE in stored(later).flags
    assert stored(later).evidence is Evidence.WEAK


def test_one_code_used_20_km_apart_within_one_batch_flags_the_second_use_forwarded(batch: Batch) -> None:
    code = batch.code()
    far = Location(CANTON_TOWER.lat + 20 / 111.195, CANTON_TOWER.lon)
    here, there = batch.record(
        batch.scan("r-1", "client-here", venue_code=code, location=CANTON_TOWER),
        batch.scan("r-2", "client-there", venue_code=code, location=far),
    )
    assert stored(here).flags == ()
    assert stored(there).flags == (Flag.FORWARDED,)


def test_a_batch_grades_against_scans_stored_by_earlier_batches(batch: Batch) -> None:
    code = batch.code()
    far = Location(CANTON_TOWER.lat + 20 / 111.195, CANTON_TOWER.lon)
    batch.record(batch.scan("r-1", "client-here", venue_code=code, location=CANTON_TOWER))
    (there,) = batch.record(batch.scan("r-2", "client-there", venue_code=code, location=far))
    assert stored(there).flags == (Flag.FORWARDED,)


def test_a_deactivated_venue_refuses_its_scans_in_a_batch(batch: Batch) -> None:
    code = batch.code()
    with batch.deps.uow() as uow:
        uow.venues.update(replace(batch.venue, active=False))
        uow.commit()
    (outcome,) = batch.record(batch.scan("r-1", "client-closed", venue_code=code))
    assert isinstance(outcome, NotFound)
    assert outcome.reason == "venue_not_found"


def test_opened_codes_are_remembered_until_the_keys_change(batch: Batch) -> None:
    code = batch.code()
    batch.codes.refresh()
    first = batch.codes.open(code)
    assert batch.codes.open(code) is first  # remembered: not decoded and verified again
    batch.codes.refresh()
    assert batch.codes.open(code) is first  # the keys did not change
    batch.deps.keystore.rotate(START, timedelta(days=1))
    batch.codes.refresh()
    again = batch.codes.open(code)
    assert again is not first  # verified again under the new key set
    assert again == first  # the retired key still verifies the code


@pytest.mark.parametrize("when", ["9999-12-31T23:59:59+00:00", "0001-01-01T00:00:00+00:00"])
def test_a_scan_time_at_the_ends_of_the_calendar_is_refused_alone(batch: Batch, when: str) -> None:
    outcomes = batch.record(
        batch.scan("r-1", "client-good-1"),
        batch.scan("r-2", "client-far-off", scanned_at=datetime.fromisoformat(when)),
        batch.scan("r-3", "client-good-2"),
    )
    assert isinstance(outcomes[1], InvalidInput)
    assert outcomes[1].reason == "scan_time_invalid"
    assert {c.client_id for c in batch.store.checkins} == {"client-good-1", "client-good-2"}
