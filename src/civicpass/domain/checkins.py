"""Venue and vehicle check-ins (场所码 / 乘车登记码) and the strength of their evidence.

Every check-in records how it was made and so how much it proves. A checkpoint operator scanning the
resident's own code at a bound venue is strong evidence; a resident scanning a fresh rotating venue code
is medium; a stale or replayed rotating code, a printed static code, or one venue code used from places
too far apart within minutes (a forwarded code, as in Zhengzhou in June 2022) is weak, with a flag saying
why. Weak evidence is never enough on its own to raise anyone's color (the tracing rules enforce it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class Method(StrEnum):
    CHECKPOINT_SCAN = "checkpoint_scan"  # staff scanned the resident's code at a bound venue or vehicle
    ROTATING_CODE = "rotating_code"  # the resident scanned a venue's rotating code
    STATIC_CODE = "static_code"  # the resident scanned a printed static venue code


class Evidence(StrEnum):
    STRONG = "strong"
    MEDIUM = "medium"
    WEAK = "weak"


class Flag(StrEnum):
    STATIC_CODE = "static_code"  # a printed code anyone can photograph and forward
    STALE_CODE = "stale_code"  # scanned after the rotating code's window (and grace) ended
    REPLAYED_CODE = "replayed_code"  # the same window's code used again by the same resident much later
    FAR_FROM_VENUE = "far_from_venue"  # the phone was far from the venue's known location
    FORWARDED = "forwarded"  # the same code was used from places too far apart within minutes


class Direction(StrEnum):
    BOARD = "board"
    ALIGHT = "alight"


@dataclass(frozen=True)
class Location:
    lat: float
    lon: float

    def km_to(self, other: Location) -> float:
        """Great-circle distance (haversine, mean Earth radius 6371.0088 km)."""
        p1, p2 = math.radians(self.lat), math.radians(other.lat)
        dp, dl = p2 - p1, math.radians(other.lon - self.lon)
        a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
        return 2 * 6371.0088 * math.asin(min(1.0, math.sqrt(a)))


@dataclass(frozen=True)
class GradingPolicy:
    window: timedelta = timedelta(minutes=5)
    grace: timedelta = timedelta(minutes=1)
    replay_after: timedelta = timedelta(minutes=10)
    far_from_venue_km: float = 1.0
    forwarding_km: float = 5.0
    forwarding_within: timedelta = timedelta(minutes=10)


@dataclass(frozen=True)
class Scan:
    """What a resident's scan of a venue code says, before grading."""

    venue_id: str
    method: Method
    scanned_at: datetime
    window_start: datetime | None  # rotating codes only
    location: Location | None


@dataclass(frozen=True)
class CodeKey:
    """One venue code: a rotating code's window at a venue, or (``window_start`` None) its static code."""

    venue_id: str
    window_start: datetime | None


@dataclass(frozen=True)
class PriorUse:
    """An earlier check-in with the same venue code window (for replay and forwarding checks)."""

    resident_id: str
    at: datetime
    location: Location | None


def grade_scan(
    scan: Scan,
    resident_id: str,
    venue_location: Location | None,
    prior: Sequence[PriorUse],
    policy: GradingPolicy = GradingPolicy(),
) -> tuple[Evidence, tuple[Flag, ...]]:
    """The evidence a resident's own scan gives, and every reason it is weak."""
    flags: list[Flag] = []
    if scan.method is Method.STATIC_CODE:
        flags.append(Flag.STATIC_CODE)
    elif scan.window_start is not None:
        valid_from, valid_to = (
            scan.window_start - policy.grace,
            scan.window_start + policy.window + policy.grace,
        )
        if not valid_from <= scan.scanned_at <= valid_to:  # after its window, or claimed before it existed
            flags.append(Flag.STALE_CODE)
        if any(p.resident_id == resident_id and scan.scanned_at - p.at >= policy.replay_after for p in prior):
            flags.append(Flag.REPLAYED_CODE)
    distance = scan.location.km_to(venue_location) if scan.location and venue_location else 0.0
    if distance > policy.far_from_venue_km:
        flags.append(Flag.FAR_FROM_VENUE)
    if scan.location is not None:
        for p in prior:
            close_in_time = abs(scan.scanned_at - p.at) <= policy.forwarding_within
            if (
                close_in_time
                and p.location is not None
                and scan.location.km_to(p.location) > policy.forwarding_km
            ):
                flags.append(Flag.FORWARDED)
                break
    return (Evidence.WEAK if flags else Evidence.MEDIUM), tuple(flags)


@dataclass(frozen=True)
class CheckIn:
    id: str
    client_id: str
    resident_id: str
    venue_id: str
    at: datetime
    recorded_at: datetime
    method: Method
    evidence: Evidence
    flags: tuple[Flag, ...]
    location: Location | None = None
    window_start: datetime | None = None
    direction: Direction | None = None
    recorded_by: str | None = None
