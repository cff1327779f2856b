"""Grading a resident's scan of a venue code (domain/checkins.py) and the venue code's claims (domain/venues.py).

Pure functions, no I/O. The default policy: a 5-minute window with 1 minute of grace, a replay after
10 minutes, far from the venue beyond 1.0 km, forwarded beyond 5 km within 10 minutes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from civicpass.domain.checkins import (
    Evidence,
    Flag,
    GradingPolicy,
    Location,
    Method,
    PriorUse,
    Scan,
    grade_scan,
)
from civicpass.domain.codes import CTI, EXP, IAT, ISS, SUB
from civicpass.domain.venues import (
    STATIC_CODE_LIFETIME,
    VEHICLES,
    VENUE_CLAIM,
    Venue,
    VenueCodeClaims,
    VenueKind,
    window_start,
)

WINDOW = datetime(2022, 5, 3, 8, 0, tzinfo=UTC)
VENUE = Location(23.1066, 113.3245)  # Canton Tower, Guangzhou
BAIYUN_AIRPORT = Location(23.3924, 113.2988)
KM_PER_DEGREE_OF_LATITUDE = 111.195  # 2 * pi * 6371.0088 / 360
ME, OTHER = "r-me", "r-other"
DEFAULT = GradingPolicy()


def north_of(place: Location, km: float) -> Location:
    return Location(place.lat + km / KM_PER_DEGREE_OF_LATITUDE, place.lon)


def rotating(after: timedelta = timedelta(minutes=1), location: Location | None = None) -> Scan:
    return Scan("v-1", Method.ROTATING_CODE, WINDOW + after, WINDOW, location)


def static(at: datetime = WINDOW, location: Location | None = None) -> Scan:
    return Scan("v-1", Method.STATIC_CODE, at, None, location)


def grade(
    scan: Scan,
    prior: list[PriorUse] | None = None,
    venue_location: Location | None = None,
    policy: GradingPolicy = DEFAULT,
) -> tuple[Evidence, tuple[Flag, ...]]:
    return grade_scan(scan, ME, venue_location, prior or [], policy)


# -- the three grades --------------------------------------------------------------------------------


def test_a_fresh_rotating_code_scanned_at_the_venue_is_medium_evidence_without_flags() -> None:
    assert grade(rotating(location=VENUE), venue_location=VENUE) == (Evidence.MEDIUM, ())


def test_a_fresh_rotating_code_without_any_location_is_medium_evidence() -> None:
    assert grade(rotating()) == (Evidence.MEDIUM, ())


def test_a_printed_static_code_is_always_weak_evidence_flagged_static_code() -> None:
    assert grade(static()) == (Evidence.WEAK, (Flag.STATIC_CODE,))
    assert grade(static(location=VENUE), venue_location=VENUE) == (Evidence.WEAK, (Flag.STATIC_CODE,))


def test_grading_a_residents_own_scan_never_gives_strong_evidence_only_a_checkpoint_does() -> None:
    scans = [rotating(), rotating(location=VENUE), static(), rotating(timedelta(hours=1))]
    assert all(grade(s)[0] is not Evidence.STRONG for s in scans)


# -- stale codes ---------------------------------------------------------------------------------------


def test_a_rotating_code_scanned_exactly_at_the_end_of_window_and_grace_is_still_fresh() -> None:
    assert grade(rotating(timedelta(minutes=6))) == (Evidence.MEDIUM, ())


def test_a_rotating_code_scanned_one_second_after_window_and_grace_is_weak_stale_code() -> None:
    assert grade(rotating(timedelta(minutes=6, seconds=1))) == (Evidence.WEAK, (Flag.STALE_CODE,))


def test_a_rotating_code_scanned_an_hour_later_is_weak_stale_code() -> None:
    assert grade(rotating(timedelta(hours=1))) == (Evidence.WEAK, (Flag.STALE_CODE,))


def test_the_stale_boundary_follows_the_configured_window_and_grace() -> None:
    policy = GradingPolicy(window=timedelta(minutes=2), grace=timedelta(seconds=30))
    assert grade(rotating(timedelta(minutes=2, seconds=30)), policy=policy) == (Evidence.MEDIUM, ())
    assert grade(rotating(timedelta(minutes=2, seconds=31)), policy=policy)[1] == (Flag.STALE_CODE,)


def test_a_static_code_is_never_stale_however_old_the_scan() -> None:
    assert grade(static(WINDOW + timedelta(days=3000))) == (Evidence.WEAK, (Flag.STATIC_CODE,))


def test_a_rotating_code_claimed_to_be_scanned_an_hour_before_its_window_began_is_weak_stale_code() -> None:
    evidence, flags = grade(rotating(-timedelta(hours=1)))
    assert evidence is Evidence.WEAK
    assert Flag.STALE_CODE in flags


def test_a_scan_a_few_seconds_before_the_window_began_is_fresh_phone_clocks_drift() -> None:
    assert grade(rotating(-timedelta(seconds=20))) == (Evidence.MEDIUM, ())


# -- replayed codes ------------------------------------------------------------------------------------

# A replay is a window's code used again much later, so with a 5-minute window it is also stale; a long
# window lets the replay be seen on its own.
LONG_WINDOW = GradingPolicy(window=timedelta(hours=1))


def test_the_same_resident_using_the_same_windows_code_again_10_minutes_later_is_replayed() -> None:
    first = PriorUse(ME, WINDOW + timedelta(minutes=1), None)
    again = rotating(timedelta(minutes=11))
    assert grade(again, [first], policy=LONG_WINDOW) == (Evidence.WEAK, (Flag.REPLAYED_CODE,))


def test_the_same_resident_using_the_code_again_just_under_10_minutes_later_is_not_replayed() -> None:
    first = PriorUse(ME, WINDOW + timedelta(minutes=1), None)
    again = rotating(timedelta(minutes=11, seconds=-1))
    assert grade(again, [first], policy=LONG_WINDOW) == (Evidence.MEDIUM, ())


def test_a_replay_under_the_default_window_is_flagged_both_stale_and_replayed() -> None:
    first = PriorUse(ME, WINDOW + timedelta(minutes=1), None)
    assert grade(rotating(timedelta(minutes=12)), [first]) == (
        Evidence.WEAK,
        (Flag.STALE_CODE, Flag.REPLAYED_CODE),
    )


def test_another_resident_using_the_same_code_later_is_not_a_replay() -> None:
    first = PriorUse(OTHER, WINDOW + timedelta(minutes=1), None)
    assert grade(rotating(timedelta(minutes=30)), [first], policy=LONG_WINDOW) == (Evidence.MEDIUM, ())


def test_replay_is_not_judged_for_static_codes_only_static_code_is_flagged() -> None:
    first = PriorUse(ME, WINDOW, None)
    assert grade(static(WINDOW + timedelta(minutes=30)), [first]) == (Evidence.WEAK, (Flag.STATIC_CODE,))


# -- far from the venue --------------------------------------------------------------------------------


def test_a_phone_more_than_1_km_from_the_venue_is_weak_far_from_venue() -> None:
    assert grade(rotating(location=north_of(VENUE, 1.01)), venue_location=VENUE) == (
        Evidence.WEAK,
        (Flag.FAR_FROM_VENUE,),
    )


def test_a_phone_within_1_km_of_the_venue_is_not_far() -> None:
    assert grade(rotating(location=north_of(VENUE, 0.99)), venue_location=VENUE) == (Evidence.MEDIUM, ())


def test_a_phone_exactly_at_the_far_from_venue_distance_is_not_far() -> None:
    phone = north_of(VENUE, 1.0)
    exactly = GradingPolicy(far_from_venue_km=phone.km_to(VENUE))
    assert grade(rotating(location=phone), venue_location=VENUE, policy=exactly) == (Evidence.MEDIUM, ())
    just_under = GradingPolicy(far_from_venue_km=phone.km_to(VENUE) - 1e-6)
    assert grade(rotating(location=phone), venue_location=VENUE, policy=just_under)[1] == (
        Flag.FAR_FROM_VENUE,
    )


def test_distance_is_not_judged_when_the_venue_or_the_phone_has_no_location() -> None:
    assert grade(rotating(location=BAIYUN_AIRPORT)) == (Evidence.MEDIUM, ())
    assert grade(rotating(), venue_location=VENUE) == (Evidence.MEDIUM, ())


# -- forwarded codes -----------------------------------------------------------------------------------


def test_one_code_used_more_than_5_km_apart_within_minutes_is_weak_forwarded() -> None:
    other = PriorUse(OTHER, WINDOW + timedelta(minutes=1), VENUE)
    scan = rotating(timedelta(minutes=2), location=north_of(VENUE, 5.1))
    assert grade(scan, [other]) == (Evidence.WEAK, (Flag.FORWARDED,))


def test_one_code_used_less_than_5_km_apart_within_minutes_is_not_forwarded() -> None:
    other = PriorUse(OTHER, WINDOW + timedelta(minutes=1), VENUE)
    scan = rotating(timedelta(minutes=2), location=north_of(VENUE, 4.9))
    assert grade(scan, [other]) == (Evidence.MEDIUM, ())


def test_one_code_used_exactly_the_forwarding_distance_apart_is_not_forwarded() -> None:
    far = north_of(VENUE, 5.0)
    other = PriorUse(OTHER, WINDOW + timedelta(minutes=1), VENUE)
    exactly = GradingPolicy(forwarding_km=far.km_to(VENUE))
    assert grade(rotating(timedelta(minutes=2), location=far), [other], policy=exactly) == (
        Evidence.MEDIUM,
        (),
    )


def test_uses_far_apart_exactly_10_minutes_apart_are_forwarded_and_beyond_10_minutes_are_not() -> None:
    statics = GradingPolicy(window=timedelta(hours=1))
    other = PriorUse(OTHER, WINDOW, VENUE)
    far = north_of(VENUE, 20)
    at_ten = static(WINDOW + timedelta(minutes=10), location=far)
    beyond = static(WINDOW + timedelta(minutes=10, seconds=1), location=far)
    assert grade(at_ten, [other], policy=statics) == (Evidence.WEAK, (Flag.STATIC_CODE, Flag.FORWARDED))
    assert grade(beyond, [other], policy=statics) == (Evidence.WEAK, (Flag.STATIC_CODE,))


def test_an_earlier_scan_of_a_prior_use_counts_too_forwarding_is_symmetric_in_time() -> None:
    later = PriorUse(OTHER, WINDOW + timedelta(minutes=4), VENUE)
    scan = rotating(timedelta(minutes=1), location=north_of(VENUE, 20))
    assert grade(scan, [later]) == (Evidence.WEAK, (Flag.FORWARDED,))


def test_prior_uses_without_a_location_never_show_forwarding() -> None:
    other = PriorUse(OTHER, WINDOW + timedelta(minutes=1), None)
    assert grade(rotating(location=BAIYUN_AIRPORT), [other]) == (Evidence.MEDIUM, ())


def test_a_scan_without_a_location_is_never_flagged_forwarded() -> None:
    other = PriorUse(OTHER, WINDOW + timedelta(minutes=1), BAIYUN_AIRPORT)
    assert grade(rotating(), [other]) == (Evidence.MEDIUM, ())


def test_forwarding_is_flagged_once_however_many_far_prior_uses_there_are() -> None:
    prior = [PriorUse(f"r-{i}", WINDOW + timedelta(minutes=1), BAIYUN_AIRPORT) for i in range(3)]
    assert grade(rotating(location=VENUE), prior) == (Evidence.WEAK, (Flag.FORWARDED,))


# -- several flags ------------------------------------------------------------------------------------


def test_a_forwarded_static_code_far_from_the_venue_carries_every_reason() -> None:
    other = PriorUse(OTHER, WINDOW, VENUE)
    scan = static(WINDOW + timedelta(minutes=3), location=BAIYUN_AIRPORT)
    assert grade(scan, [other], venue_location=VENUE) == (
        Evidence.WEAK,
        (Flag.STATIC_CODE, Flag.FAR_FROM_VENUE, Flag.FORWARDED),
    )


def test_a_stale_replayed_rotating_code_far_away_and_forwarded_carries_all_four_reasons() -> None:
    mine = PriorUse(ME, WINDOW + timedelta(minutes=1), VENUE)
    scan = rotating(timedelta(minutes=11), location=BAIYUN_AIRPORT)
    assert grade(scan, [mine], venue_location=VENUE) == (
        Evidence.WEAK,
        (Flag.STALE_CODE, Flag.REPLAYED_CODE, Flag.FAR_FROM_VENUE, Flag.FORWARDED),
    )


# -- distance ------------------------------------------------------------------------------------------


def test_canton_tower_to_baiyun_airport_is_about_32_km_as_the_crow_flies() -> None:
    assert VENUE.km_to(BAIYUN_AIRPORT) == pytest.approx(31.9, abs=1.0)
    assert BAIYUN_AIRPORT.km_to(VENUE) == pytest.approx(VENUE.km_to(BAIYUN_AIRPORT))


def test_one_degree_of_latitude_is_111_2_km_and_beijing_to_shanghai_about_1068_km() -> None:
    assert Location(0, 0).km_to(Location(1, 0)) == pytest.approx(111.195, abs=0.01)
    beijing, shanghai = Location(39.9042, 116.4074), Location(31.2304, 121.4737)
    assert beijing.km_to(shanghai) == pytest.approx(1068, abs=5)


def test_a_place_is_no_distance_from_itself_and_antipodes_are_half_the_circumference_apart() -> None:
    assert VENUE.km_to(VENUE) == 0.0
    assert Location(0, 0).km_to(Location(0, 180)) == pytest.approx(20015.1, abs=0.5)


# -- rotation windows ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "start"),
    [
        (datetime(2022, 5, 3, 8, 0, 0, tzinfo=UTC), datetime(2022, 5, 3, 8, 0, tzinfo=UTC)),
        (datetime(2022, 5, 3, 8, 4, 59, 999999, tzinfo=UTC), datetime(2022, 5, 3, 8, 0, tzinfo=UTC)),
        (datetime(2022, 5, 3, 8, 5, 0, tzinfo=UTC), datetime(2022, 5, 3, 8, 5, tzinfo=UTC)),
        (datetime(2022, 5, 3, 8, 7, 31, tzinfo=UTC), datetime(2022, 5, 3, 8, 5, tzinfo=UTC)),
        (datetime(2022, 5, 3, 23, 59, 59, tzinfo=UTC), datetime(2022, 5, 3, 23, 55, tzinfo=UTC)),
    ],
)
def test_five_minute_windows_are_aligned_to_the_epoch(moment: datetime, start: datetime) -> None:
    assert window_start(moment, timedelta(minutes=5)) == start


def test_window_start_is_the_same_whatever_the_time_zone_of_the_moment() -> None:
    beijing = datetime(2022, 5, 4, 0, 7, tzinfo=ZoneInfo("Asia/Shanghai"))
    start = window_start(beijing, timedelta(minutes=5))
    assert start == datetime(2022, 5, 3, 16, 5, tzinfo=UTC)
    assert start.tzinfo is UTC


def test_every_moment_lies_in_its_own_window() -> None:
    window = timedelta(seconds=300)
    for second in range(0, 3600, 37):
        moment = WINDOW + timedelta(seconds=second)
        start = window_start(moment, window)
        assert start <= moment < start + window


# -- venues -------------------------------------------------------------------------------------------


def test_buses_taxis_metro_cars_trains_and_flights_are_vehicles_and_the_rest_are_not() -> None:
    assert {k.value for k in VEHICLES} == {"bus", "taxi", "metro_car", "train", "flight"}
    created = WINDOW
    assert Venue("v", "B1", VenueKind.BUS, "440106", created).is_vehicle
    assert not Venue("v", "Market", VenueKind.MARKET, "440106", created).is_vehicle


# -- venue code claims --------------------------------------------------------------------------------


def claims(static_code: bool = False) -> VenueCodeClaims:
    end = WINDOW + (STATIC_CODE_LIFETIME if static_code else timedelta(minutes=5))
    return VenueCodeClaims("CN-TEST", "v-1", WINDOW, end, b"\x01" * 16, static_code)


@pytest.mark.parametrize("static_code", [False, True])
def test_venue_code_claims_survive_a_cwt_round_trip(static_code: bool) -> None:
    original = claims(static_code)
    assert VenueCodeClaims.from_cwt(original.to_cwt()) == original


def test_venue_code_claims_use_the_registered_cwt_keys_and_a_private_venue_claim() -> None:
    cwt = claims().to_cwt()
    assert cwt == {
        ISS: "CN-TEST",
        SUB: "v-1",
        IAT: int(WINDOW.timestamp()),
        EXP: int((WINDOW + timedelta(minutes=5)).timestamp()),
        CTI: b"\x01" * 16,
        VENUE_CLAIM: {1: "venue", 2: False},
    }
    assert (ISS, SUB, EXP, IAT, CTI, VENUE_CLAIM) == (1, 2, 4, 6, 7, -70002)


def _spoiled(**changes: Any) -> dict[Any, Any]:
    cwt: dict[Any, Any] = claims().to_cwt()
    for key, value in changes.items():
        target = {"iss": ISS, "sub": SUB, "exp": EXP, "iat": IAT, "cti": CTI, "venue": VENUE_CLAIM}[key]
        if value is None:
            del cwt[target]
        else:
            cwt[target] = value
    return cwt


@pytest.mark.parametrize(
    "cwt",
    [
        pytest.param(_spoiled(venue=None), id="no venue claim (a health code)"),
        pytest.param(_spoiled(venue={1: "person", 2: False}), id="wrong kind"),
        pytest.param(_spoiled(venue={1: "venue"}), id="static flag missing"),
        pytest.param(_spoiled(venue={1: "venue", 2: 0}), id="static flag not a boolean"),
        pytest.param(_spoiled(venue=["venue", False]), id="venue claim not a map"),
        pytest.param(_spoiled(iss=None), id="no issuer"),
        pytest.param(_spoiled(iss=7), id="issuer not text"),
        pytest.param(_spoiled(sub=b"v-1"), id="venue id not text"),
        pytest.param(_spoiled(cti="nonce"), id="nonce not bytes"),
        pytest.param(_spoiled(exp=None), id="no expiry"),
        pytest.param(_spoiled(iat="2022-05-03"), id="window start not an integer"),
        pytest.param(_spoiled(exp=True), id="expiry a boolean"),
        pytest.param(_spoiled(iat=False), id="window start a boolean"),
        pytest.param(_spoiled(exp=10**20), id="expiry out of range"),
        pytest.param(_spoiled(iat=-(10**20)), id="window start out of range"),
        pytest.param({}, id="empty"),
    ],
)
def test_malformed_venue_code_claims_are_refused(cwt: dict[Any, Any]) -> None:
    assert VenueCodeClaims.from_cwt(cwt) is None
