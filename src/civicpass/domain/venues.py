"""Venues and vehicles where check-ins happen (the check-in component extends this registry)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class VenueKind(StrEnum):
    MARKET = "market"
    RESTAURANT = "restaurant"
    OFFICE = "office"
    SCHOOL = "school"
    HOSPITAL = "hospital"
    TRANSIT_STATION = "transit_station"
    RESIDENTIAL = "residential"
    OTHER = "other"


@dataclass(frozen=True)
class Venue:
    id: str
    name: str
    kind: VenueKind
    region_code: str
    created_at: datetime
