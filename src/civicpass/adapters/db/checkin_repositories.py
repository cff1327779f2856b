"""SQL repositories of the venue registry and check-ins (the high-volume table)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from civicpass.adapters.db import tables as t
from civicpass.domain.checkins import CheckIn, Direction, Evidence, Flag, Location, Method, PriorUse
from civicpass.domain.venues import Venue, VenueKind


class _Repo:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn


def _venue(row: sa.Row[Any]) -> Venue:
    m = row._mapping
    return Venue(
        m["id"],
        m["name"],
        VenueKind(m["kind"]),
        m["region_code"],
        m["created_at"],
        m["lat"],
        m["lon"],
        m["operator_id"],
        m["active"],
    )


class SqlVenues(_Repo):
    def _row(self, v: Venue) -> dict[str, Any]:
        return {**vars(v), "kind": v.kind.value}

    def add(self, venue: Venue) -> None:
        self.conn.execute(t.venues.insert(), self._row(venue))

    def add_many(self, venues: Sequence[Venue]) -> None:
        if venues:
            self.conn.execute(t.venues.insert(), [self._row(v) for v in venues])

    def get(self, venue_id: str) -> Venue | None:
        row = self.conn.execute(sa.select(t.venues).where(t.venues.c.id == venue_id)).first()
        return None if row is None else _venue(row)

    def update(self, venue: Venue) -> None:
        self.conn.execute(t.venues.update().where(t.venues.c.id == venue.id).values(**self._row(venue)))

    def of_operator(self, operator_id: str) -> list[Venue]:
        v = t.venues.c
        return [
            _venue(r)
            for r in self.conn.execute(
                sa.select(t.venues).where(v.operator_id == operator_id).order_by(v.name)
            )
        ]

    def in_region(self, prefix: str, limit: int, offset: int) -> list[Venue]:
        v = t.venues.c
        query = (
            sa.select(t.venues)
            .where(v.region_code.startswith(prefix))
            .order_by(v.name, v.id)
            .limit(limit)
            .offset(offset)
        )
        return [_venue(r) for r in self.conn.execute(query)]

    def count(self) -> int:
        return int(self.conn.execute(sa.select(sa.func.count()).select_from(t.venues)).scalar_one())


def checkin_row(c: CheckIn) -> dict[str, Any]:
    return {
        "id": c.id,
        "at": c.at,
        "client_id": c.client_id,
        "resident_id": c.resident_id,
        "venue_id": c.venue_id,
        "recorded_at": c.recorded_at,
        "method": c.method.value,
        "evidence": c.evidence.value,
        "flags": ",".join(f.value for f in c.flags),
        "lat": c.location.lat if c.location else None,
        "lon": c.location.lon if c.location else None,
        "window_start": c.window_start,
        "direction": c.direction.value if c.direction else None,
        "recorded_by": c.recorded_by,
    }


def _checkin(row: sa.Row[Any]) -> CheckIn:
    m = row._mapping
    return CheckIn(
        id=m["id"],
        client_id=m["client_id"],
        resident_id=m["resident_id"],
        venue_id=m["venue_id"],
        at=m["at"],
        recorded_at=m["recorded_at"],
        method=Method(m["method"]),
        evidence=Evidence(m["evidence"]),
        flags=tuple(Flag(f) for f in m["flags"].split(",") if f),
        location=Location(m["lat"], m["lon"]) if m["lat"] is not None and m["lon"] is not None else None,
        window_start=m["window_start"],
        direction=Direction(m["direction"]) if m["direction"] else None,
        recorded_by=m["recorded_by"],
    )


class SqlCheckins(_Repo):
    def add_many(self, checkins: Sequence[CheckIn]) -> None:
        if checkins:
            self.conn.execute(t.checkins.insert(), [checkin_row(c) for c in checkins])

    def find(self, resident_id: str, client_id: str, around: datetime, days: int = 2) -> CheckIn | None:
        """An earlier check-in with this client id (idempotent retries), within ``days`` of ``around``."""
        c = t.checkins.c
        query = sa.select(t.checkins).where(
            c.resident_id == resident_id,
            c.client_id == client_id,
            c.at.between(around - timedelta(days=days), around + timedelta(days=days)),
        )
        row = self.conn.execute(query).first()
        return None if row is None else _checkin(row)

    def prior_uses(
        self,
        venue_id: str,
        window_start: datetime | None,
        start: datetime,
        end: datetime,
        resident_id: str,
        located: bool,
    ) -> list[PriorUse]:
        """Earlier scans of the same venue code window (or static code) that grading can use.

        Only the ones that can matter: this resident's own (replay; found through the resident index) and,
        when the new scan has a location to compare, the others that have one (forwarding).
        """
        c = t.checkins.c
        same_code = c.window_start == window_start if window_start else c.method == Method.STATIC_CODE.value
        base = sa.select(c.resident_id, c.at, c.lat, c.lon).where(
            c.venue_id == venue_id, c.at.between(start, end), same_code
        )
        queries = [base.where(c.resident_id == resident_id)]
        if located:
            queries.append(base.where(c.lat.is_not(None), c.resident_id != resident_id).limit(1000))
        return [
            PriorUse(
                r.resident_id,
                r.at,
                Location(r.lat, r.lon) if r.lat is not None and r.lon is not None else None,
            )
            for query in queries
            for r in self.conn.execute(query)
        ]

    def of_resident(self, resident_id: str, start: datetime, end: datetime) -> list[CheckIn]:
        c = t.checkins.c
        query = (
            sa.select(t.checkins).where(c.resident_id == resident_id, c.at.between(start, end)).order_by(c.at)
        )
        return [_checkin(r) for r in self.conn.execute(query)]

    def hourly_counts(self, venue_id: str, start: datetime, end: datetime) -> list[tuple[datetime, int]]:
        """Check-ins per hour at one venue (UTC hour starts)."""
        c = t.checkins.c
        rows = self.conn.execute(sa.select(c.at).where(c.venue_id == venue_id, c.at >= start, c.at < end))
        counts: dict[datetime, int] = {}
        for (at,) in rows:
            hour = at.replace(minute=0, second=0, microsecond=0)
            counts[hour] = counts.get(hour, 0) + 1
        return sorted(counts.items())

    def count_between(self, start: datetime, end: datetime) -> int:
        c = t.checkins.c
        return int(
            self.conn.execute(sa.select(sa.func.count()).where(c.at >= start, c.at < end)).scalar_one()
        )

    def delete_before(self, cutoff: datetime) -> int:
        result = self.conn.execute(t.checkins.delete().where(t.checkins.c.at < cutoff))
        return int(result.rowcount or 0)

    def stream(self, start: datetime, end: datetime, batch: int = 50_000) -> Iterator[list[dict[str, Any]]]:
        """Rows of a time range in batches, oldest first (for exports)."""
        c = t.checkins.c
        result = self.conn.execution_options(yield_per=batch).execute(
            sa.select(t.checkins).where(c.at >= start, c.at < end).order_by(c.at, c.id)
        )
        for chunk in result.partitions(batch):
            yield [dict(r._mapping) for r in chunk]
