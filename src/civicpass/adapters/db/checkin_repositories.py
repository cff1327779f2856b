"""SQL repositories of the venue registry and check-ins (the high-volume table)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite

from civicpass.adapters.db import pg_hot
from civicpass.adapters.db import tables as t
from civicpass.domain.checkins import CheckIn, CodeKey, Direction, Evidence, Flag, Location, Method, PriorUse
from civicpass.domain.venues import Venue, VenueKind


class _Repo:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn


def _venue(m: Mapping[Any, Any]) -> Venue:
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
        return None if row is None else _venue(row._mapping)

    def get_many(self, venue_ids: Collection[str]) -> dict[str, Venue]:
        if not venue_ids:
            return {}
        if pg := pg_hot.connection(self.conn):
            rows: Iterable[Mapping[Any, Any]] = pg_hot.venues(pg, venue_ids)
        else:
            rows = self.conn.execute(sa.select(t.venues).where(t.venues.c.id.in_(list(venue_ids)))).mappings()
        return {(v := _venue(r)).id: v for r in rows}

    def update(self, venue: Venue) -> None:
        self.conn.execute(t.venues.update().where(t.venues.c.id == venue.id).values(**self._row(venue)))

    def of_operator(self, operator_id: str) -> list[Venue]:
        v = t.venues.c
        return [
            _venue(r._mapping)
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
        return [_venue(r._mapping) for r in self.conn.execute(query)]

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


def _checkin(m: Mapping[Any, Any]) -> CheckIn:
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


PLACED_PER_CODE = 1000
"""Other residents' located uses of one code that forwarding checks compare with, at most."""

UNIQUE_SCAN = ("resident_id", "client_id", "at")
"""A scan is stored once: the same resident, client id and scan time (the unique key; a retry)."""


def _uses_of(codes: Collection[CodeKey], rows: Iterable[tuple[Any, ...]]) -> dict[CodeKey, list[PriorUse]]:
    """(venue, window start, method, resident, at, lat, lon) rows as the uses of each of ``codes``."""
    found: dict[CodeKey, list[PriorUse]] = {}
    static = Method.STATIC_CODE.value  # an enum member's value is a property: looked up once
    for venue, window, method, resident, at, lat, lon in rows:
        if method == static:
            key = CodeKey(venue, None)
        elif window is not None:
            key = CodeKey(venue, window)
        else:  # a checkpoint scan used no venue code
            continue
        if key in codes:
            where = Location(lat, lon) if lat is not None and lon is not None else None
            found.setdefault(key, []).append(PriorUse(resident, at, where))
    return found


class SqlCheckins(_Repo):
    def add_many(self, checkins: Sequence[CheckIn]) -> None:
        if checkins:
            self.conn.execute(t.checkins.insert(), [checkin_row(c) for c in checkins])

    def add_new(self, checkins: Sequence[CheckIn]) -> set[str]:
        """Insert in one statement, skipping any whose (resident, client id, time) is already stored.

        A twin committed by another worker at the same moment is skipped, not an error that would fail
        the whole group commit; the ids returned are the rows this statement inserted.
        """
        if not checkins:
            return set()
        rows = [checkin_row(c) for c in checkins]
        if pg := pg_hot.connection(self.conn):
            return pg_hot.insert_checkins(pg, rows)
        statement = sqlite.insert(t.checkins).on_conflict_do_nothing(index_elements=UNIQUE_SCAN)
        return set(self.conn.execute(statement.returning(t.checkins.c.id), rows).scalars())

    def find_many(
        self, keys: Collection[tuple[str, str]], start: datetime, end: datetime
    ) -> dict[tuple[str, str], CheckIn]:
        """Stored check-ins by (resident, client id) made between ``start`` and ``end`` (retries)."""
        if not keys:
            return {}
        if pg := pg_hot.connection(self.conn):
            rows: Iterable[Mapping[Any, Any]] = pg_hot.checkins_of_clients(pg, keys, start, end)
        else:
            residents, clients = {r for r, _ in keys}, {k for _, k in keys}
            c = t.checkins.c
            query = sa.select(t.checkins).where(
                c.resident_id.in_(residents), c.client_id.in_(clients), c.at.between(start, end)
            )
            rows = self.conn.execute(query).mappings()
        found = map(_checkin, rows)
        return {key: k for k in found if (key := (k.resident_id, k.client_id)) in keys}

    def prior_uses(
        self,
        codes: Collection[CodeKey],
        start: datetime,
        end: datetime,
        residents: Collection[str],
        located: Collection[CodeKey],
    ) -> dict[CodeKey, list[PriorUse]]:
        """Earlier scans of these venue codes between ``start`` and ``end`` that grading can use.

        Only the ones that can matter: the given residents' own (replays) and, for the codes in
        ``located`` (a new scan there has a location to compare), the others that have a location
        (forwarding), at most 1,000 of them per code. The residents' own are found through the resident
        index whatever the venue's traffic: a code window at a metro station at 8 a.m. has thousands of
        scans, a resident a handful in 20 minutes.
        """
        if not codes:
            return {}
        placed: list[tuple[Any, ...]] = []
        if pg := pg_hot.connection(self.conn):
            own = pg_hot.uses_by_residents(pg, residents, start, end)
            if located:
                placed = pg_hot.located_uses(pg, located, residents, start, end, PLACED_PER_CODE)
        else:
            c = t.checkins.c
            columns = (c.venue_id, c.window_start, c.method, c.resident_id, c.at, c.lat, c.lon)
            between = c.at.between(start, end)
            mine = sa.select(*columns).where(c.resident_id.in_(list(residents)), between)
            own = [tuple(r) for r in self.conn.execute(mine)]
            for key in located:  # a query per code keeps the limit per code
                same_code = (
                    c.method == Method.STATIC_CODE.value
                    if key.window_start is None
                    else c.window_start == key.window_start
                )
                others = sa.select(*columns).where(
                    c.venue_id == key.venue_id,
                    between,
                    same_code,
                    c.lat.is_not(None),
                    c.resident_id.not_in(list(residents)),
                )
                placed += [tuple(r) for r in self.conn.execute(others.limit(PLACED_PER_CODE))]
        # Own uses are fetched at every venue (see ``pg_hot.uses_by_residents``); each row counts only for its
        # own exact code.
        found = _uses_of(codes, own)
        for key, uses in _uses_of(located, placed).items():
            found.setdefault(key, []).extend(uses)
        return found

    def of_resident(self, resident_id: str, start: datetime, end: datetime) -> list[CheckIn]:
        c = t.checkins.c
        query = (
            sa.select(t.checkins).where(c.resident_id == resident_id, c.at.between(start, end)).order_by(c.at)
        )
        return [_checkin(r._mapping) for r in self.conn.execute(query)]

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
