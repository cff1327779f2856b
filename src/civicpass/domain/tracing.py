"""Contact tracing: who shared a place or a vehicle with an infectious person, for how long, on what evidence.

A check-in is a moment; presence is a span. A venue check-in means presence for ``dwell`` (default 60
minutes). A vehicle boarding lasts until the same person's next check-in on that vehicle if it is an
alighting within ``max_ride``, otherwise for ``ride`` (default 60 minutes); an alighting is not a
presence of its own. An index person's (a case's) presences count only inside their infectious window.

An **exposure** is a contact's presence overlapping an index presence at the same venue or vehicle, the
index presence widened by ``buffer`` on both sides (aerosols linger; clocks differ). Its evidence is the
weaker of the two check-ins'. Exposures are graded per (index, contact):

- **close contact**: strong or medium evidence and at least ``close_after`` (15 minutes) of one overlap, or
  any strong or medium overlap on the same vehicle trip;
- **spatio-temporal companion** (时空伴随): strong or medium evidence, shorter overlap;
- **weak only**: every exposure rests on weak evidence (a static or forwarded code...). Listed apart so a
  person can look, never proposed: a forwarded code is how Zhengzhou turned 871 people red in 2022.

This module is the reference semantics in plain Python (``exposures``); the SQL and DuckDB engines compute
the same exposures at scale and are tested against it and against each other. Grading is shared.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from civicpass.domain.checkins import Direction, Evidence

_RANK = {Evidence.WEAK: 0, Evidence.MEDIUM: 1, Evidence.STRONG: 2}


@dataclass(frozen=True)
class TracingPolicy:
    """The published tracing parameters (all configurable; defaults after the Chinese CDC's 2022 guidance)."""

    dwell: timedelta = timedelta(minutes=60)
    ride: timedelta = timedelta(minutes=60)
    max_ride: timedelta = timedelta(hours=6)
    buffer: timedelta = timedelta(minutes=30)
    close_after: timedelta = timedelta(minutes=15)
    infectious_before: timedelta = timedelta(days=2)

    @property
    def reach(self) -> timedelta:
        """How far before an index presence a contact's check-in can lie and still overlap it."""
        return max(self.dwell, self.max_ride) + self.buffer

    def seconds(self) -> dict[str, int]:
        """The span parameters in whole seconds, as the SQL engines take them."""
        return {
            "dwell": int(self.dwell.total_seconds()),
            "ride": int(self.ride.total_seconds()),
            "max_ride": int(self.max_ride.total_seconds()),
            "buffer": int(self.buffer.total_seconds()),
        }


@dataclass(frozen=True)
class IndexPerson:
    """Someone to trace from: a case (key = case id) or, for second-degree tracing, a contact."""

    key: str
    resident_id: str
    start: datetime  # the infectious window
    end: datetime


@dataclass(frozen=True)
class Visit:
    """One check-in as tracing reads it (a row of the operational table or of the Parquet export)."""

    id: str
    resident_id: str
    venue_id: str
    at: datetime
    evidence: Evidence
    direction: Direction | None = None


@dataclass(frozen=True)
class Presence:
    checkin_id: str
    resident_id: str
    venue_id: str
    vehicle: bool
    start: int  # epoch seconds, whole (every engine truncates the same way)
    end: int
    evidence: Evidence


@dataclass(frozen=True, order=True)
class Exposure:
    index_key: str
    contact_id: str
    venue_id: str
    index_checkin_id: str
    contact_checkin_id: str
    start: int
    end: int
    vehicle: bool
    evidence: Evidence = field(compare=False)

    @property
    def seconds(self) -> int:
        return self.end - self.start


class ContactGrade(StrEnum):
    CLOSE = "close_contact"
    COMPANION = "spatiotemporal_companion"
    WEAK_ONLY = "weak_only"


@dataclass(frozen=True)
class TracedContact:
    index_key: str
    resident_id: str
    grade: ContactGrade
    last_exposure: datetime
    longest_seconds: int
    exposures: tuple[Exposure, ...]  # the evidence, longest first

    @property
    def proposable(self) -> bool:
        return self.grade is not ContactGrade.WEAK_ONLY


def epoch(moment: datetime) -> int:
    return int(moment.timestamp()) if moment.tzinfo else int(moment.replace(tzinfo=UTC).timestamp())


def moment(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def weaker(a: Evidence, b: Evidence) -> Evidence:
    return a if _RANK[a] <= _RANK[b] else b


def presences(visits: Iterable[Visit], vehicles: Mapping[str, bool], policy: TracingPolicy) -> list[Presence]:
    """Each visit's presence span; an alighting ends its boarding's span (see the module docstring)."""
    spans = policy.seconds()
    by_place: dict[tuple[str, str], list[Visit]] = defaultdict(list)
    for visit in visits:
        by_place[visit.resident_id, visit.venue_id].append(visit)
    found = []
    for (_, venue_id), seq in by_place.items():
        seq.sort(key=lambda v: (v.at, v.id))
        vehicle = vehicles.get(venue_id, False)
        for i, visit in enumerate(seq):
            if visit.direction is Direction.ALIGHT:
                continue
            start = epoch(visit.at)
            nxt = seq[i + 1] if i + 1 < len(seq) else None
            if not vehicle:
                end = start + spans["dwell"]
            elif (
                nxt is not None
                and nxt.direction is Direction.ALIGHT
                and epoch(nxt.at) - start <= spans["max_ride"]
            ):
                end = epoch(nxt.at)
            else:
                end = start + spans["ride"]
            found.append(Presence(visit.id, visit.resident_id, venue_id, vehicle, start, end, visit.evidence))
    return found


@dataclass(frozen=True)
class IndexPresence:
    """An index person's presence, cut to their infectious window (the input of the exposure query)."""

    index_key: str
    presence: Presence

    def bounds(self, policy: TracingPolicy) -> tuple[datetime, datetime]:
        """The check-in times that can overlap it (boardings' alightings included)."""
        p = self.presence
        low = moment(p.start) - policy.reach
        high = moment(p.end) + policy.buffer + (policy.max_ride if p.vehicle else timedelta(0))
        return low, high


def index_presences(
    index: Sequence[IndexPerson], visits: Iterable[Visit], vehicles: Mapping[str, bool], policy: TracingPolicy
) -> list[IndexPresence]:
    """The index people's presences inside their windows (visits: theirs, from window start - max_ride)."""
    by_resident: dict[str, list[Visit]] = defaultdict(list)
    for visit in visits:
        by_resident[visit.resident_id].append(visit)
    found = []
    for person in index:
        low, high = epoch(person.start), epoch(person.end)
        for p in presences(by_resident.get(person.resident_id, []), vehicles, policy):
            if p.start < high and p.end > low:
                clipped = Presence(
                    p.checkin_id,
                    p.resident_id,
                    p.venue_id,
                    p.vehicle,
                    max(p.start, low),
                    min(p.end, high),
                    p.evidence,
                )
                found.append(IndexPresence(person.key, clipped))
    found.sort(key=lambda ip: (ip.index_key, ip.presence.start, ip.presence.checkin_id))
    return found


def exposure(index: IndexPresence, contact: Presence, policy: TracingPolicy) -> Exposure | None:
    """The overlap of a contact's presence with a (buffered) index presence, if any."""
    p, buffer = index.presence, int(policy.buffer.total_seconds())
    if contact.resident_id == p.resident_id or contact.venue_id != p.venue_id:
        return None
    start, end = max(contact.start, p.start - buffer), min(contact.end, p.end + buffer)
    if start >= end:
        return None
    return Exposure(
        index.index_key,
        contact.resident_id,
        p.venue_id,
        p.checkin_id,
        contact.checkin_id,
        start,
        end,
        p.vehicle,
        weaker(p.evidence, contact.evidence),
    )


def exposures(
    index: Sequence[IndexPresence],
    visits: Iterable[Visit],
    vehicles: Mapping[str, bool],
    policy: TracingPolicy,
) -> list[Exposure]:
    """Every exposure to the index presences among ``visits`` (the reference the engines must match)."""
    at_venue: dict[str, list[Presence]] = defaultdict(list)
    for p in presences(visits, vehicles, policy):
        at_venue[p.venue_id].append(p)
    found = []
    for ip in index:
        for contact in at_venue.get(ip.presence.venue_id, []):
            if (e := exposure(ip, contact, policy)) is not None:
                found.append(e)
    return sorted(found)


def grade(found: Iterable[Exposure], policy: TracingPolicy) -> list[TracedContact]:
    """One graded contact per (index, resident), ordered by index, grade and resident."""
    close_after = int(policy.close_after.total_seconds())
    grouped: dict[tuple[str, str], list[Exposure]] = defaultdict(list)
    for e in found:
        grouped[e.index_key, e.contact_id].append(e)
    contacts = []
    for (index_key, resident_id), group in grouped.items():
        usable = [e for e in group if e.evidence is not Evidence.WEAK]
        if not usable:
            level, counted = ContactGrade.WEAK_ONLY, group
        elif any(e.vehicle or e.seconds >= close_after for e in usable):
            level, counted = ContactGrade.CLOSE, usable
        else:
            level, counted = ContactGrade.COMPANION, usable
        ordered = sorted(group, key=lambda e: (-e.seconds, e.start, e.contact_checkin_id, e.index_checkin_id))
        contacts.append(
            TracedContact(
                index_key,
                resident_id,
                level,
                moment(max(e.end for e in counted)),
                max(e.seconds for e in counted),
                tuple(ordered),
            )
        )
    order = list(ContactGrade)
    contacts.sort(key=lambda c: (c.index_key, order.index(c.grade), c.resident_id))
    return contacts
