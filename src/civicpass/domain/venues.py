"""Venues and vehicles where check-ins happen, and the venue code they display (场所码).

A venue displays a rotating venue code: a signed token (the same COSE stack as health codes) naming the
venue and a time window (default 5 minutes), refreshed by its display page. A printed static code exists
for venues without a screen and is always graded weaker. CWT claims: 1 iss, 2 sub = venue id, 6 iat =
window start, 4 exp = window end, 7 cti, and the private claim ``-70002`` = {1: "venue", 2: static}.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from civicpass.domain.codes import CTI, EXP, IAT, ISS, SUB

VENUE_CLAIM = -70002
STATIC_CODE_LIFETIME = timedelta(days=3650)


class VenueKind(StrEnum):
    MARKET = "market"
    RESTAURANT = "restaurant"
    OFFICE = "office"
    SCHOOL = "school"
    HOSPITAL = "hospital"
    TRANSIT_STATION = "transit_station"
    RESIDENTIAL = "residential"
    OTHER = "other"
    BUS = "bus"
    TAXI = "taxi"
    METRO_CAR = "metro_car"
    TRAIN = "train"
    FLIGHT = "flight"


VEHICLES = frozenset({VenueKind.BUS, VenueKind.TAXI, VenueKind.METRO_CAR, VenueKind.TRAIN, VenueKind.FLIGHT})


@dataclass(frozen=True)
class Venue:
    id: str
    name: str
    kind: VenueKind
    region_code: str
    created_at: datetime
    lat: float | None = None
    lon: float | None = None
    operator_id: str | None = None
    active: bool = True

    @property
    def is_vehicle(self) -> bool:
        return self.kind in VEHICLES


def window_start(moment: datetime, window: timedelta) -> datetime:
    """The start of the rotation window containing ``moment`` (windows are aligned to the epoch)."""
    seconds = int(window.total_seconds())
    return datetime.fromtimestamp(int(moment.timestamp()) // seconds * seconds, UTC)


@dataclass(frozen=True)
class VenueCodeClaims:
    issuer: str
    venue_id: str
    window_start: datetime
    window_end: datetime
    nonce: bytes
    static: bool

    def to_cwt(self) -> dict[int, Any]:
        return {
            ISS: self.issuer,
            SUB: self.venue_id,
            EXP: int(self.window_end.timestamp()),
            IAT: int(self.window_start.timestamp()),
            CTI: self.nonce,
            VENUE_CLAIM: {1: "venue", 2: self.static},
        }

    @classmethod
    def from_cwt(cls, claims: Mapping[Any, Any]) -> VenueCodeClaims | None:
        private = claims.get(VENUE_CLAIM)
        if (
            not isinstance(private, Mapping)
            or private.get(1) != "venue"
            or not isinstance(private.get(2), bool)
        ):
            return None
        iss, sub, exp, iat, cti = (claims.get(k) for k in (ISS, SUB, EXP, IAT, CTI))
        if not (isinstance(iss, str) and isinstance(sub, str) and isinstance(cti, bytes)):
            return None
        if (
            not (isinstance(exp, int) and isinstance(iat, int))
            or isinstance(exp, bool)
            or isinstance(iat, bool)
        ):
            return None
        try:
            start, end = datetime.fromtimestamp(iat, UTC), datetime.fromtimestamp(exp, UTC)
        except (OverflowError, OSError, ValueError):
            return None
        return cls(iss, sub, start, end, cti, private[2])
