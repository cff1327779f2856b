"""Venues, venue codes and check-ins as use cases (services/checkins.py) over fakes.

The fakes carry the real COSE codec and the keystore's real logic; the fake clock starts at
2022-05-03T08:00Z, the start of a 5-minute venue code window.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import cbor2
import pytest

from civicpass.adapters.crypto import cose
from civicpass.adapters.files import bundled_ruleset
from civicpass.domain.checkins import CheckIn, Direction, Evidence, Flag, Location, Method
from civicpass.domain.codes import PREFIX, Rejection
from civicpass.domain.errors import InvalidInput, NotFound, PermissionDenied
from civicpass.domain.identity import Document, DocumentType
from civicpass.domain.policy import ResidentActor, StaffActor
from civicpass.domain.residents import Resident, ResidentKind
from civicpass.domain.staff import Role
from civicpass.domain.venues import STATIC_CODE_LIFETIME, Venue, VenueCodeClaims, VenueKind
from civicpass.services import checkins, codes, maintenance, rulesets, venues
from civicpass.services.checkins import ScanIn
from civicpass.services.context import Deps
from civicpass.services.ports import DroppedDays
from civicpass.services.trust import own_trust_list
from civicpass.services.venues import NewVenue
from tests.fakes import FakeClock, FakeStore, fake_deps, make_resident

START = datetime(2022, 5, 3, 8, 0, tzinfo=UTC)
ME, KID, OTHER = "r-1", "r-2", "r-3"
CROWD = [f"r-c{i}" for i in range(10)]
OPERATOR = StaffActor("s-operator", Role.VENUE_OPERATOR, "440100")
OTHER_OPERATOR = StaffActor("s-operator-2", Role.VENUE_OPERATOR, "440100")
ADMIN = StaffActor("s-admin", Role.ADMIN, "440100")
ADMIN_ELSEWHERE = StaffActor("s-admin-bj", Role.ADMIN, "110000")
CHECKPOINT = StaffActor("s-checkpoint", Role.CHECKPOINT_OPERATOR, "440100")
CANTON_TOWER = Location(23.1066, 113.3245)
KM_PER_DEGREE_OF_LATITUDE = 111.195


def north_of(place: Location, km: float) -> Location:
    return Location(place.lat + km / KM_PER_DEGREE_OF_LATITUDE, place.lon)


def _resident(resident_id: str, kind: ResidentKind = ResidentKind.SELF) -> Resident:
    phone = None if kind is ResidentKind.DEPENDENT else "+8613800138" + resident_id[-3:].replace("-", "0")
    return make_resident(
        resident_id, phone=phone, kind=kind, document=Document(DocumentType.PASSPORT, "E99" + resident_id)
    )


@dataclass
class World:
    deps: Deps
    store: FakeStore
    clock: FakeClock

    def venue(
        self, actor: StaffActor = OPERATOR, kind: str = "restaurant", where: Location | None = None
    ) -> Venue:
        lat, lon = (where.lat, where.lon) if where else (None, None)
        return venues.register_venue(self.deps, actor, NewVenue("Cafe 1", kind, "440106", lat, lon))

    def code(self, venue: Venue, static: bool = False) -> str:
        return venues.venue_code(self.deps, OPERATOR, venue.id, static=static).token

    def check_in(
        self,
        token: str,
        who: str = ME,
        client_id: str = "client-0001",
        at: datetime | None = None,
        location: Location | None = None,
        actor: ResidentActor | None = None,
        **kwargs: Any,
    ) -> tuple[CheckIn, bool]:
        scan = ScanIn(token, client_id, at or self.clock.now(), location, **kwargs)
        return checkins.check_in(self.deps, actor or ResidentActor(who), scan)


@pytest.fixture
def world() -> World:
    deps, store, _, clock = fake_deps()
    rulesets.install_bundled(deps, bundled_ruleset())
    for resident_id in (ME, OTHER, *CROWD):
        store.residents[resident_id] = _resident(resident_id)
    store.residents[KID] = _resident(KID, ResidentKind.DEPENDENT)
    return World(deps, store, clock)


# -- the registry ------------------------------------------------------------------------------------


def test_a_venue_operator_registers_a_venue_of_their_own_with_its_location(world: World) -> None:
    venue = venues.register_venue(
        world.deps, OPERATOR, NewVenue("  Cafe \n  1 ", "restaurant", "440106", 23.1066, 113.3245)
    )
    assert (venue.name, venue.kind, venue.region_code) == ("Cafe 1", VenueKind.RESTAURANT, "440106")
    assert (venue.lat, venue.lon, venue.operator_id, venue.active) == (23.1066, 113.3245, OPERATOR.id, True)
    assert venue.created_at == START
    assert world.store.venues == [venue]
    assert (
        "venue:registry:registered",
        {"venue": venue.id, "kind": "restaurant", "by": OPERATOR.id},
    ) in world.store.events


@pytest.mark.parametrize("kind", ["bus", "taxi", "metro_car", "train", "flight"])
def test_vehicles_are_registered_like_venues_without_a_location(world: World, kind: str) -> None:
    vehicle = world.venue(kind=kind)
    assert vehicle.is_vehicle
    assert (vehicle.lat, vehicle.lon) == (None, None)


def test_an_administrator_registers_venues_in_their_jurisdiction_with_no_operator(world: World) -> None:
    venue = world.venue(ADMIN)
    assert venue.operator_id is None


@pytest.mark.parametrize(
    ("actor", "reason"),
    [
        (ADMIN_ELSEWHERE, "outside_jurisdiction"),
        (StaffActor("s-op-bj", Role.VENUE_OPERATOR, "110000"), "outside_jurisdiction"),
        (CHECKPOINT, "role_not_permitted"),
        (StaffActor("s-cdc", Role.CDC, "440100"), "role_not_permitted"),
    ],
)
def test_only_venue_operators_and_administrators_register_venues_in_their_jurisdiction(
    world: World, actor: StaffActor, reason: str
) -> None:
    with pytest.raises(PermissionDenied) as raised:
        world.venue(actor)
    assert raised.value.extra["reasons"] == [reason]
    assert world.store.venues == []


def test_an_unknown_venue_kind_is_refused_naming_the_kinds_there_are(world: World) -> None:
    with pytest.raises(InvalidInput) as raised:
        world.venue(kind="spaceship")
    assert raised.value.reason == "venue_kind_unknown"
    (error,) = raised.value.errors
    assert (error.as_dict()["path"], error.reason) == ("/kind", "venue_kind_unknown")
    assert {"bus", "restaurant", "metro_car"} <= set(error.message.split(", "))


@pytest.mark.parametrize("name", ["", "   \n ", "x" * 201])
def test_a_venue_name_must_have_1_to_200_characters(world: World, name: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        venues.register_venue(world.deps, OPERATOR, NewVenue(name, "market", "440106"))
    assert raised.value.reason == "venue_name_invalid"


def test_a_venue_name_of_exactly_200_characters_is_accepted(world: World) -> None:
    assert (
        len(venues.register_venue(world.deps, OPERATOR, NewVenue("x" * 200, "market", "440106")).name) == 200
    )


@pytest.mark.parametrize("region", ["4401", "44010X", ""])
def test_a_venue_needs_a_six_digit_region_code(world: World, region: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        venues.register_venue(world.deps, OPERATOR, NewVenue("Cafe", "market", region))
    assert raised.value.reason == "region_code_invalid"


def test_a_venue_operator_lists_only_their_own_venues_and_an_administrator_their_jurisdictions(
    world: World,
) -> None:
    mine = world.venue()
    theirs = world.venue(OTHER_OPERATOR)
    assert venues.venues_of(world.deps, OPERATOR) == [mine]
    assert venues.venues_of(world.deps, OTHER_OPERATOR) == [theirs]
    assert {v.id for v in venues.venues_of(world.deps, ADMIN)} == {mine.id, theirs.id}
    assert venues.venues_of(world.deps, StaffActor("a", Role.ADMIN, "440300")) == []


# -- venue codes ----------------------------------------------------------------------------------


def _open(world: World, token: str) -> VenueCodeClaims:
    opened = world.deps.codec.open_venue(token, own_trust_list(world.deps))
    assert isinstance(opened, VenueCodeClaims), opened
    return opened


def test_the_rotating_venue_code_is_signed_names_the_venue_and_its_aligned_5_minute_window(
    world: World,
) -> None:
    venue = world.venue()
    world.clock.advance(minutes=7, seconds=12)
    code = venues.venue_code(world.deps, OPERATOR, venue.id)
    assert code.token.startswith("CP1:")
    assert _open(world, code.token) == code.claims
    c = code.claims
    assert (c.issuer, c.venue_id, c.static) == ("CN-TEST", venue.id, False)
    assert (c.window_start, c.window_end) == (START + timedelta(minutes=5), START + timedelta(minutes=10))


def test_codes_asked_for_within_one_window_share_it_and_the_next_window_is_another(world: World) -> None:
    venue = world.venue()
    first = venues.venue_code(world.deps, OPERATOR, venue.id).claims
    world.clock.advance(minutes=4, seconds=59)
    same = venues.venue_code(world.deps, OPERATOR, venue.id).claims
    world.clock.advance(seconds=1)
    later = venues.venue_code(world.deps, OPERATOR, venue.id).claims
    assert first.window_start == same.window_start == START
    assert first.nonce != same.nonce
    assert later.window_start == START + timedelta(minutes=5)


def test_the_window_length_is_a_setting(world: World) -> None:
    deps, _, _, clock = fake_deps(world.store, venue_code_window_seconds=600)
    clock.advance(minutes=7)
    venue = world.venue()
    c = venues.venue_code(deps, OPERATOR, venue.id).claims
    assert (c.window_start, c.window_end) == (START, START + timedelta(minutes=10))


def test_the_printable_static_code_lasts_years_and_says_it_is_static(world: World) -> None:
    venue = world.venue()
    world.clock.advance(seconds=42, microseconds=5)
    code = venues.venue_code(world.deps, OPERATOR, venue.id, static=True)
    c = code.claims
    assert c.static
    assert c.window_start == START + timedelta(seconds=42)
    assert c.window_end - c.window_start == STATIC_CODE_LIFETIME == timedelta(days=3650)
    assert _open(world, code.token) == c


def test_an_administrator_of_the_jurisdiction_gets_any_venues_code_but_not_one_elsewhere(
    world: World,
) -> None:
    venue = world.venue()
    assert venues.venue_code(world.deps, ADMIN, venue.id).claims.venue_id == venue.id
    with pytest.raises(PermissionDenied) as raised:
        venues.venue_code(world.deps, ADMIN_ELSEWHERE, venue.id)
    assert raised.value.extra["reasons"] == ["outside_jurisdiction"]


def test_another_venue_operator_gets_neither_the_code_nor_the_counts_of_a_venue(world: World) -> None:
    venue = world.venue()
    for attempt in (
        lambda: venues.venue_code(world.deps, OTHER_OPERATOR, venue.id),
        lambda: venues.venue_code(world.deps, OTHER_OPERATOR, venue.id, static=True),
        lambda: venues.hourly_counts(world.deps, OTHER_OPERATOR, venue.id, 24),
    ):
        with pytest.raises(PermissionDenied) as raised:
            attempt()
        assert raised.value.reason == "not_venue_operator"
        assert raised.value.extra["reasons"] == ["not_venue_operator"]


def test_the_code_of_an_unknown_venue_is_not_found(world: World) -> None:
    with pytest.raises(NotFound) as raised:
        venues.venue_code(world.deps, OPERATOR, "no-such-venue")
    assert raised.value.reason == "venue_not_found"


# -- check-ins: grades -------------------------------------------------------------------------------


def test_a_fresh_rotating_code_gives_a_medium_check_in_stored_once_committed(world: World) -> None:
    venue = world.venue()
    world.clock.advance(minutes=2)
    checkin, created = world.check_in(world.code(venue), location=Location(23.1, 113.3))
    assert created
    assert (checkin.method, checkin.evidence, checkin.flags) == (Method.ROTATING_CODE, Evidence.MEDIUM, ())
    assert (checkin.resident_id, checkin.venue_id, checkin.client_id) == (ME, venue.id, "client-0001")
    assert (checkin.at, checkin.recorded_at, checkin.window_start) == (
        world.clock.now(),
        world.clock.now(),
        START,
    )
    assert checkin.location == Location(23.1, 113.3)
    assert world.store.checkins == [checkin]


def test_a_rotating_code_scanned_after_its_window_and_grace_is_weak_stale_code(world: World) -> None:
    venue = world.venue()
    token = world.code(venue)
    world.clock.advance(hours=1)
    checkin, _ = world.check_in(token, at=START + timedelta(minutes=6, seconds=1))
    assert (checkin.evidence, checkin.flags) == (Evidence.WEAK, (Flag.STALE_CODE,))


def test_a_rotating_code_scanned_on_the_last_second_of_its_grace_sent_an_hour_later_is_medium(
    world: World,
) -> None:
    venue = world.venue()
    token = world.code(venue)
    world.clock.advance(hours=1)
    checkin, _ = world.check_in(token, at=START + timedelta(minutes=6))
    assert (checkin.evidence, checkin.flags) == (Evidence.MEDIUM, ())


def test_the_printed_static_code_gives_a_weak_check_in_flagged_static_code(world: World) -> None:
    venue = world.venue()
    token = world.code(venue, static=True)
    world.clock.advance(days=30)
    checkin, _ = world.check_in(token)
    assert (checkin.method, checkin.evidence, checkin.flags) == (
        Method.STATIC_CODE,
        Evidence.WEAK,
        (Flag.STATIC_CODE,),
    )
    assert checkin.window_start is None


def test_the_same_resident_reusing_a_windows_code_10_minutes_later_is_flagged_replayed(
    world: World,
) -> None:
    venue = world.venue()
    token = world.code(venue)
    world.clock.advance(minutes=1)
    first, _ = world.check_in(token, client_id="client-first")
    world.clock.advance(minutes=10)
    again, created = world.check_in(token, client_id="client-again")
    assert created
    assert first.evidence is Evidence.MEDIUM
    assert again.evidence is Evidence.WEAK
    assert Flag.REPLAYED_CODE in again.flags
    assert len(world.store.checkins) == 2


def test_someone_else_using_the_same_code_later_is_stale_but_not_replayed(world: World) -> None:
    venue = world.venue()
    token = world.code(venue)
    world.clock.advance(minutes=1)
    world.check_in(token, client_id="client-first")
    world.clock.advance(minutes=10)
    theirs, _ = world.check_in(token, who=OTHER, client_id="client-other")
    assert theirs.flags == (Flag.STALE_CODE,)


def test_one_code_used_20_km_apart_within_minutes_flags_the_second_use_forwarded(world: World) -> None:
    venue = world.venue()  # no location of its own: only the two phones are compared
    token = world.code(venue)
    world.clock.advance(minutes=1)
    first, _ = world.check_in(token, location=CANTON_TOWER)
    world.clock.advance(minutes=2)
    second, _ = world.check_in(token, who=OTHER, client_id="client-far", location=north_of(CANTON_TOWER, 20))
    assert (first.evidence, first.flags) == (Evidence.MEDIUM, ())
    assert (second.evidence, second.flags) == (Evidence.WEAK, (Flag.FORWARDED,))


def test_one_code_used_a_kilometre_apart_is_not_forwarded(world: World) -> None:
    venue = world.venue()
    token = world.code(venue)
    world.check_in(token, location=CANTON_TOWER)
    world.clock.advance(minutes=2)
    second, _ = world.check_in(token, who=OTHER, client_id="client-near", location=north_of(CANTON_TOWER, 1))
    assert second.evidence is Evidence.MEDIUM


def test_uses_of_different_windows_are_not_compared_for_forwarding(world: World) -> None:
    venue = world.venue()
    world.check_in(world.code(venue), location=CANTON_TOWER)
    world.clock.advance(minutes=5)
    second, _ = world.check_in(
        world.code(venue), who=OTHER, client_id="client-next", location=north_of(CANTON_TOWER, 20)
    )
    assert (second.evidence, second.flags) == (Evidence.MEDIUM, ())


def test_a_forwarded_static_code_is_flagged_both_static_and_forwarded(world: World) -> None:
    venue = world.venue()
    token = world.code(venue, static=True)
    world.check_in(token, location=CANTON_TOWER)
    world.clock.advance(minutes=3)
    second, _ = world.check_in(token, who=OTHER, client_id="client-far", location=north_of(CANTON_TOWER, 20))
    assert second.flags == (Flag.STATIC_CODE, Flag.FORWARDED)


def test_a_phone_3_km_from_a_venue_with_a_location_is_weak_far_from_venue(world: World) -> None:
    venue = world.venue(where=CANTON_TOWER)
    checkin, _ = world.check_in(world.code(venue), location=north_of(CANTON_TOWER, 3))
    assert (checkin.evidence, checkin.flags) == (Evidence.WEAK, (Flag.FAR_FROM_VENUE,))
    near, _ = world.check_in(
        world.code(venue), who=OTHER, client_id="client-near", location=north_of(CANTON_TOWER, 0.2)
    )
    assert (near.evidence, near.flags) == (Evidence.MEDIUM, ())


def test_a_scan_claimed_before_the_codes_window_began_never_gives_medium_evidence(world: World) -> None:
    venue = world.venue()
    world.clock.advance(hours=2)
    token = world.code(venue)  # the 10:00 window
    try:
        checkin, _ = world.check_in(token, at=world.clock.now() - timedelta(hours=3))
    except InvalidInput:
        return
    assert checkin.evidence is Evidence.WEAK


# -- check-ins: idempotency, who, what ---------------------------------------------------------------


def test_a_retried_check_in_with_the_same_client_id_returns_the_stored_one_and_stores_nothing_more(
    world: World,
) -> None:
    venue = world.venue()
    token = world.code(venue)
    scanned = world.clock.now()
    first, created = world.check_in(token, at=scanned)
    world.clock.advance(seconds=40)
    again, created_again = world.check_in(token, at=scanned)
    assert (created, created_again) == (True, False)
    assert again == first
    assert world.store.checkins == [first]


def test_a_retry_arriving_with_another_scan_time_is_still_the_same_check_in(world: World) -> None:
    venue = world.venue()
    token = world.code(venue)
    first, _ = world.check_in(token)
    world.clock.advance(minutes=20)
    again, created = world.check_in(token, at=world.clock.now())
    assert (again, created) == (first, False)
    assert len(world.store.checkins) == 1


def test_a_retry_stamped_anew_more_than_an_hour_after_its_scan_is_a_check_in_of_its_own(world: World) -> None:
    venue = world.venue()
    static = world.code(venue, static=True)  # a code that does not expire, so only the retry span decides
    first, _ = world.check_in(static)
    world.clock.advance(minutes=59)
    assert world.check_in(static, at=world.clock.now()) == (first, False)
    world.clock.advance(minutes=2)
    later, created = world.check_in(static, at=world.clock.now())
    assert created
    assert later.id != first.id
    assert len(world.store.checkins) == 2


def test_the_same_client_id_used_by_another_resident_is_their_own_check_in(world: World) -> None:
    venue = world.venue()
    token = world.code(venue)
    mine, _ = world.check_in(token)
    theirs, created = world.check_in(token, who=OTHER)
    assert created
    assert theirs.id != mine.id
    assert len(world.store.checkins) == 2


def test_a_guardian_checks_in_a_dependent(world: World) -> None:
    venue = world.venue()
    guardian = ResidentActor(ME, frozenset({KID}))
    checkin, _ = world.check_in(world.code(venue), actor=guardian, subject_id=KID)
    assert checkin.resident_id == KID
    assert checkins.my_checkins(world.deps, guardian, KID, 14) == [checkin]
    assert checkins.my_checkins(world.deps, guardian, ME, 14) == []


def test_a_stranger_cannot_check_in_someone_else_nor_read_their_check_ins(world: World) -> None:
    venue = world.venue()
    with pytest.raises(PermissionDenied) as raised:
        world.check_in(world.code(venue), actor=ResidentActor(OTHER), subject_id=ME)
    assert raised.value.extra["reasons"] == ["not_guardian"]
    with pytest.raises(PermissionDenied):
        checkins.my_checkins(world.deps, ResidentActor(OTHER), ME, 14)
    assert world.store.checkins == []


def test_a_bus_check_in_records_boarding(world: World) -> None:
    bus = world.venue(kind="bus")
    checkin, _ = world.check_in(world.code(bus), direction=Direction.BOARD)
    assert checkin.direction is Direction.BOARD


def _repointed(token: str, venue_id: str) -> str:
    """The same signed code with its payload swapped for another venue's (the signature no longer fits)."""
    tagged = cbor2.loads(cose.decode_text(token, PREFIX))
    parts = list(tagged.value)
    claims = cbor2.loads(parts[2])
    claims[2] = venue_id
    parts[2] = cbor2.dumps(claims, canonical=True)
    return cose.encode_text(cbor2.dumps(cbor2.CBORTag(cose.TAG_COSE_SIGN1, parts)), PREFIX)


def _refused(world: World, token: str) -> str:
    with pytest.raises(InvalidInput) as raised:
        world.check_in(token)
    assert raised.value.reason == "venue_code_invalid"
    (error,) = raised.value.errors
    assert error.as_dict()["path"] == "/venue_code"
    assert error.reason in raised.value.message.en
    assert world.store.checkins == []
    return error.reason


def test_a_venue_code_repointed_at_another_venue_is_refused_bad_signature(world: World) -> None:
    mine, other = world.venue(), world.venue(OTHER_OPERATOR)
    assert _refused(world, _repointed(world.code(mine), other.id)) == Rejection.BAD_SIGNATURE


def test_a_venue_code_from_another_instance_is_refused_unknown_kid(world: World) -> None:
    foreign_deps, foreign_store, _, foreign_clock = fake_deps()
    foreign = World(foreign_deps, foreign_store, foreign_clock)
    token = foreign.code(foreign.venue())
    assert _refused(world, token) == Rejection.UNKNOWN_KID


@pytest.mark.parametrize(
    ("text", "reason"),
    [("not a venue code", Rejection.BAD_PREFIX), ("CP1:%%%%", Rejection.BAD_BASE45)],
)
def test_text_that_is_no_venue_code_is_refused_with_the_reason(world: World, text: str, reason: str) -> None:
    assert _refused(world, text) == reason


def test_a_residents_health_code_is_not_a_venue_code(world: World) -> None:
    health_code = codes.issue(world.deps, ResidentActor(OTHER), OTHER).token
    assert _refused(world, health_code) == Rejection.MALFORMED_CLAIMS


def test_a_venue_code_signed_with_a_revoked_key_is_refused_revoked_key(world: World) -> None:
    token = world.code(world.venue())
    codes.revoke_key(world.deps, world.deps.keystore.active(world.clock.now()).kid)
    assert _refused(world, token) == Rejection.REVOKED_KEY


def test_surrounding_whitespace_around_a_venue_code_is_ignored(world: World) -> None:
    checkin, _ = world.check_in("  " + world.code(world.venue()) + "\n")
    assert checkin.evidence is Evidence.MEDIUM


def test_a_code_of_an_unknown_or_deactivated_venue_is_not_found(world: World) -> None:
    venue = world.venue()
    token = world.code(venue)
    world.store.venues = [replace(venue, active=False)]
    with pytest.raises(NotFound) as raised:
        world.check_in(token)
    assert raised.value.reason == "venue_not_found"
    world.store.venues = []
    with pytest.raises(NotFound):
        world.check_in(token)
    assert world.store.checkins == []


@pytest.mark.parametrize(
    "offset",
    [
        pytest.param(timedelta(hours=-24, seconds=-1), id="more than 24 hours ago"),
        pytest.param(timedelta(seconds=31), id="in the future beyond 30 s of skew"),
        pytest.param(timedelta(days=2), id="days ahead"),
    ],
)
def test_a_scan_time_outside_the_last_24_hours_is_refused(world: World, offset: timedelta) -> None:
    token = world.code(world.venue(), static=True)
    world.clock.advance(days=2)
    with pytest.raises(InvalidInput) as raised:
        world.check_in(token, at=world.clock.now() + offset)
    assert raised.value.reason == "scan_time_invalid"
    assert [e.as_dict()["path"] for e in raised.value.errors] == ["/scanned_at"]
    assert world.store.checkins == []


@pytest.mark.parametrize(
    "offset",
    [
        pytest.param(timedelta(hours=-24), id="exactly 24 hours ago"),
        pytest.param(timedelta(seconds=30), id="30 s ahead (clock skew)"),
    ],
)
def test_a_scan_time_at_the_edges_of_what_is_accepted_is_stored(world: World, offset: timedelta) -> None:
    token = world.code(world.venue(), static=True)
    world.clock.advance(days=2)
    checkin, created = world.check_in(token, at=world.clock.now() + offset)
    assert created
    assert checkin.at == world.clock.now() + offset


def test_a_printed_static_code_still_checks_in_a_month_after_the_signing_key_rotated(world: World) -> None:
    token = world.code(world.venue(), static=True)
    codes.rotate_key(world.deps)
    world.clock.advance(days=30)
    checkin, _ = world.check_in(token)
    assert checkin.flags == (Flag.STATIC_CODE,)


# -- checkpoint scans ---------------------------------------------------------------------------------


def test_a_checkpoint_verifying_a_residents_code_on_a_bus_records_strong_boarding_and_alighting(
    world: World,
) -> None:
    bus = world.venue(kind="bus")
    token = codes.issue(world.deps, ResidentActor(ME), ME).token
    board = codes.verify_online(
        world.deps, CHECKPOINT, token, venue_id=bus.id, client_id="board-0001", direction=Direction.BOARD
    )
    assert board.verification.valid
    world.clock.advance(minutes=1)
    codes.verify_online(
        world.deps, CHECKPOINT, token, venue_id=bus.id, client_id="alight-0001", direction=Direction.ALIGHT
    )
    stored = checkins.my_checkins(world.deps, ResidentActor(ME), ME, 1)
    assert [(c.method, c.evidence, c.flags, c.direction) for c in stored] == [
        (Method.CHECKPOINT_SCAN, Evidence.STRONG, (), Direction.BOARD),
        (Method.CHECKPOINT_SCAN, Evidence.STRONG, (), Direction.ALIGHT),
    ]
    assert {(c.venue_id, c.recorded_by) for c in stored} == {(bus.id, CHECKPOINT.id)}
    assert [c.at for c in stored] == [START, START + timedelta(minutes=1)]


def test_a_retried_checkpoint_scan_with_the_same_client_id_is_recorded_once(world: World) -> None:
    venue = world.venue()
    token = codes.issue(world.deps, ResidentActor(ME), ME).token
    for _ in range(2):
        codes.verify_online(world.deps, CHECKPOINT, token, venue_id=venue.id, client_id="scan-00001")
        world.clock.advance(seconds=5)
    assert len(world.store.checkins) == 1


def test_a_checkpoint_scan_without_a_venue_records_no_check_in(world: World) -> None:
    token = codes.issue(world.deps, ResidentActor(ME), ME).token
    assert codes.verify_online(world.deps, CHECKPOINT, token).verification.valid
    assert world.store.checkins == []


def test_a_checkpoint_scan_naming_an_unknown_venue_is_not_found_and_records_nothing(world: World) -> None:
    token = codes.issue(world.deps, ResidentActor(ME), ME).token
    with pytest.raises(NotFound) as raised:
        codes.verify_online(world.deps, CHECKPOINT, token, venue_id="no-such-venue")
    assert raised.value.reason == "venue_not_found"
    assert world.store.checkins == []


def test_an_invalid_residents_code_at_a_checkpoint_records_no_check_in(world: World) -> None:
    venue = world.venue()
    token = codes.issue(world.deps, ResidentActor(ME), ME).token
    world.clock.advance(minutes=10)
    online = codes.verify_online(world.deps, CHECKPOINT, token, venue_id=venue.id)
    assert online.verification.reasons == (Rejection.EXPIRED,)
    assert world.store.checkins == []


# -- hourly counts ------------------------------------------------------------------------------------


def _crowd(world: World, venue: Venue, people: int, start: int = 0) -> None:
    for i in range(people):
        world.check_in(world.code(venue), who=CROWD[start + i], client_id=f"crowd-{start + i:04d}")
        world.clock.advance(minutes=1)


def test_hourly_counts_below_5_are_suppressed_and_5_or_more_are_shown(world: World) -> None:
    venue = world.venue()
    _crowd(world, venue, 5)  # 08:00-08:04
    world.clock.current = START + timedelta(hours=1, minutes=10)
    _crowd(world, venue, 4, start=5)  # 09:10-09:13
    world.clock.advance(hours=1)
    assert venues.hourly_counts(world.deps, OPERATOR, venue.id, 24) == [
        (START, 5),
        (START + timedelta(hours=1), None),
    ]


def test_hourly_counts_are_of_the_venue_asked_for_only(world: World) -> None:
    venue, elsewhere = world.venue(), world.venue()
    _crowd(world, venue, 5)
    _crowd(world, elsewhere, 1, start=5)
    assert venues.hourly_counts(world.deps, OPERATOR, venue.id, 24) == [(START, 5)]
    assert venues.hourly_counts(world.deps, ADMIN, elsewhere.id, 24) == [(START, None)]


def test_hourly_counts_cover_only_the_hours_asked_for(world: World) -> None:
    venue = world.venue()
    _crowd(world, venue, 5)
    world.clock.current = START + timedelta(hours=3)
    assert venues.hourly_counts(world.deps, OPERATOR, venue.id, 2) == []
    assert venues.hourly_counts(world.deps, OPERATOR, venue.id, 3) == [(START, 5)]


def test_the_suppression_floor_is_a_setting(world: World) -> None:
    deps, _, _, clock = fake_deps(world.store, min_count_shown=2)
    venue = world.venue()
    _crowd(world, venue, 2)
    clock.advance(minutes=10)
    assert venues.hourly_counts(deps, OPERATOR, venue.id, 24) == [(START, 2)]
    assert venues.hourly_counts(world.deps, OPERATOR, venue.id, 24) == [(START, None)]


# -- retention ----------------------------------------------------------------------------------------


class NoPartitions:
    """The ``CheckinStorage`` port as SQLite has it: no daily partitions, so the delete is the whole purge."""

    def ensure_days(self, first: date, last: date) -> list[str]:
        return []

    def drop_days_before(self, cutoff: datetime) -> DroppedDays:
        return DroppedDays((), 0)

    def partitions(self) -> list[str]:
        return []


def test_purge_removes_only_check_ins_older_than_the_retention_days(world: World) -> None:
    venue = world.venue()
    token = world.code(venue, static=True)
    old, _ = world.check_in(token, client_id="client-old")
    world.clock.advance(days=1)
    recent, _ = world.check_in(token, client_id="client-recent")
    world.clock.current = START + timedelta(days=21)  # the cutoff is exactly the old check-in's time
    assert maintenance.purge_expired(world.deps, NoPartitions()).rows == 0
    assert world.store.checkins == [old, recent]
    world.clock.advance(seconds=1)
    purge = maintenance.purge_expired(world.deps, NoPartitions())
    assert (purge.cutoff, purge.rows) == (START + timedelta(seconds=1), 1)
    assert world.store.checkins == [recent]
    assert (
        "checkin:retention:purged",
        {"before": (START + timedelta(seconds=1)).isoformat(), "rows": 1, "partitions_dropped": 0},
    ) in world.store.events


def test_the_retention_period_is_a_setting(world: World) -> None:
    deps, _, _, clock = fake_deps(world.store, checkin_retention_days=7)
    venue = world.venue()
    world.check_in(world.code(venue, static=True))
    clock.advance(days=7)
    assert maintenance.purge_expired(deps, NoPartitions()).rows == 0
    clock.advance(seconds=1)
    assert maintenance.purge_expired(deps, NoPartitions()).rows == 1
    assert world.store.checkins == []
