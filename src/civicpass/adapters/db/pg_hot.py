"""The check-in group commit's statements on PostgreSQL, in plain SQL on the transaction's psycopg connection.

Why not SQLAlchemy Core here: on these machines Core adds 200-300 µs of CPU to every statement (cache-key
generation, parameter and result processing) on top of psycopg's ~100 µs round trip, and a group commit
runs seven statements; at a morning peak that overhead, not the database, decided the rate (figures in
docs/performance.md). Parameters go in binary (``%b``): psycopg dumps an array of 32 strings five times
faster so than as text. Each statement below has one fixed text whatever the batch size (arrays, ``ANY``,
``unnest``), so psycopg prepares it on the server after a few uses and PostgreSQL skips parsing and
planning too. Only the hot path lives here; the repositories call it on PostgreSQL and use Core on SQLite,
and the integration tests run every repository method on both.

Columns hold UTC as ``timestamp without time zone`` (``tables.UTCDateTime``): values go in naive UTC and
come out with the UTC zone attached, exactly as the Core type does; where many cross (a re-evaluation's
facts and statuses), as ``timestamptz`` converted in the statement (``selected``), which psycopg loads
and dumps aware in C, in the session's zone, UTC (``engine.make_engine``).
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable, Collection, Hashable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from civicpass.adapters.db import tables as t
from civicpass.domain.checkins import CodeKey
from civicpass.domain.sessions import Session, SubjectKind
from civicpass.domain.staff import Role, StaffMember
from civicpass.services.ports import SessionHolder


def connection(conn: sa.Connection) -> psycopg.Connection[Any] | None:
    """The psycopg connection under ``conn`` (same transaction) on PostgreSQL; None on other databases."""
    if conn.dialect.name != "postgresql":
        return None
    driver = conn.connection.driver_connection
    return driver if isinstance(driver, psycopg.Connection) else None


def utc(value: datetime | None) -> datetime | None:
    """A time read from a ``timestamp without time zone`` column (naive UTC) with the UTC zone attached."""
    return None if value is None else value.replace(tzinfo=UTC)


def selected(column: sa.Column[Any]) -> str:
    """A column as a select list names it: a time (naive UTC) as ``timestamptz``, so that psycopg loads it
    aware, in C (0.2 against 0.7 µs a time for ``utc`` after the naive one is loaded)."""
    if isinstance(column.type, t.UTCDateTime):
        return f"{column.name} AT TIME ZONE 'UTC'"
    return column.name


def naive_utc(value: datetime | None) -> datetime | None:
    return None if value is None else _naive(value)


def _naive(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None)


_STAFF = [c.name for c in t.staff.columns]
SESSION_HOLDERS = (
    "SELECT s.token_digest, s.kind, s.subject_id, s.created_at, s.expires_at, s.revoked_at, r.active,"
    " (SELECT array_agg(g.dependent_id) FROM guardianships g WHERE g.guardian_id = r.id), "
    + ", ".join(f"st.{name}" for name in _STAFF)
    + " FROM sessions s"
    " LEFT JOIN residents r ON s.kind = 'resident' AND r.id = s.subject_id"
    " LEFT JOIN staff st ON s.kind = 'staff' AND st.id = s.subject_id"
    " WHERE s.token_digest = ANY(%b)"
)


def session_holders(pg: psycopg.Connection[Any], digests: Collection[str]) -> dict[str, SessionHolder]:
    """Sessions with their holders (resident: active, dependents; staff: the member) in one statement."""
    holders = {}
    for row in pg.execute(SESSION_HOLDERS, (list(digests),)):
        session = Session(
            row[0],
            SubjectKind(row[1]),
            row[2],
            row[3].replace(tzinfo=UTC),
            row[4].replace(tzinfo=UTC),
            utc(row[5]),
        )
        staff_row = dict(zip(_STAFF, row[8:], strict=True))
        staff = (
            StaffMember(
                **{**staff_row, "role": Role(staff_row["role"]), "created_at": utc(staff_row["created_at"])}
            )
            if staff_row["id"] is not None
            else None
        )
        active = bool(row[6]) if session.kind is SubjectKind.RESIDENT else staff is not None and staff.active
        holders[session.token_digest] = SessionHolder(session, active, frozenset(row[7] or ()), staff)
    return holders


_VENUE_NAMES = [c.name for c in t.venues.columns]
_CHECKIN_NAMES = [c.name for c in t.checkins.columns]
VENUE_COLUMNS = ", ".join(_VENUE_NAMES)
CHECKIN_COLUMNS = ", ".join(_CHECKIN_NAMES)
_TIMES = {c.name for c in t.checkins.columns if isinstance(c.type, t.UTCDateTime)}


def venues(pg: psycopg.Connection[Any], ids: Collection[str]) -> list[dict[str, Any]]:
    """Venue rows by id, as mappings with the created time in UTC."""
    rows = pg.execute(f"SELECT {VENUE_COLUMNS} FROM venues WHERE id = ANY(%b)", (list(ids),))
    found = [dict(zip(_VENUE_NAMES, r, strict=True)) for r in rows]
    return [{**venue, "created_at": utc(venue["created_at"])} for venue in found]


def checkins_of_clients(
    pg: psycopg.Connection[Any], keys: Collection[tuple[str, str]], start: datetime, end: datetime
) -> list[dict[str, Any]]:
    """Check-in rows with these (resident, client id) pairs between ``start`` and ``end`` (retries).

    The pairs are joined, not two ``ANY`` lists: the unique index is probed once per pair, not once per
    resident and client id combination (32 pairs: 32 probes a day instead of 1,024).
    """
    residents, clients = [r for r, _ in keys], [c for _, c in keys]
    rows = pg.execute(
        f"SELECT {', '.join('c.' + name for name in _CHECKIN_NAMES)}"
        " FROM unnest(%b::text[], %b::text[]) AS k(resident_id, client_id)"
        " JOIN checkins c ON c.resident_id = k.resident_id AND c.client_id = k.client_id"
        " WHERE c.at BETWEEN %b AND %b",
        (residents, clients, naive_utc(start), naive_utc(end)),
    )
    return [_checkin_row(r) for r in rows]


def _checkin_row(row: Sequence[Any]) -> dict[str, Any]:
    return {
        name: utc(value) if name in _TIMES else value for name, value in zip(_CHECKIN_NAMES, row, strict=True)
    }


USE_COLUMNS = "venue_id, window_start, method, resident_id, at, lat, lon"


RESIDENTS_USES = f"SELECT {USE_COLUMNS} FROM checkins WHERE resident_id = ANY(%b) AND at BETWEEN %b AND %b"


def _use(row: Sequence[Any]) -> tuple[Any, ...]:
    """A ``USE_COLUMNS`` row with its two times in UTC."""
    return (row[0], utc(row[1]), row[2], row[3], utc(row[4]), row[5], row[6])


def uses_by_residents(
    pg: psycopg.Connection[Any], residents: Collection[str], start: datetime, end: datetime
) -> list[tuple[Any, ...]]:
    """(venue, window start, method, resident, at, lat, lon) of these residents' scans, at any venue.

    No condition on the venue: with one, PostgreSQL may probe the (venue, time) index instead, once per
    venue, and read every scan of a busy venue in the window (measured: thousands of rows per group commit,
    growing through the day); without one, only the resident index fits.
    """
    rows = pg.execute(RESIDENTS_USES, (list(residents), naive_utc(start), naive_utc(end)))
    return [_use(r) for r in rows]


LOCATED_USES = (  # per code, through the partial index of located scans (``tables.checkins``)
    f"SELECT u.* FROM unnest(%b::text[], %b::timestamp[]) AS k(venue_id, window_start)"
    f" CROSS JOIN LATERAL (SELECT {USE_COLUMNS} FROM checkins c"
    " WHERE c.venue_id = k.venue_id AND c.at BETWEEN %b AND %b AND c.lat IS NOT NULL"
    " AND CASE WHEN k.window_start IS NULL THEN c.method = 'static_code'"
    " ELSE c.window_start = k.window_start END"
    " AND NOT c.resident_id = ANY(%b) LIMIT %b) AS u"
)


def located_uses(
    pg: psycopg.Connection[Any],
    codes: Collection[CodeKey],
    others_than: Collection[str],
    start: datetime,
    end: datetime,
    limit: int,
) -> list[tuple[Any, ...]]:
    """Scans with a location of each of these codes (a window, or the static code) by other residents, at
    most ``limit`` per code: a busy code cannot crowd out a quiet one's uses."""
    keys = list(codes)
    rows = pg.execute(
        LOCATED_USES,
        (
            [k.venue_id for k in keys],
            [naive_utc(k.window_start) for k in keys],
            naive_utc(start),
            naive_utc(end),
            list(others_than),
            limit,
        ),
    )
    return [_use(r) for r in rows]


_CASTS = {
    "at": "timestamp",
    "recorded_at": "timestamp",
    "window_start": "timestamp",
    "lat": "float8",
    "lon": "float8",
}
INSERT_CHECKINS = (
    f"INSERT INTO checkins ({CHECKIN_COLUMNS}) SELECT * FROM unnest("
    + ", ".join(f"%b::{_CASTS.get(name, 'text')}[]" for name in _CHECKIN_NAMES)
    + ") ON CONFLICT (resident_id, client_id, at) DO NOTHING RETURNING id"
)


def column_arrays(
    rows: Sequence[Mapping[str, Any]], names: Sequence[str], convert: Mapping[str, Callable[[Any], Any]]
) -> list[list[Any]]:
    """The rows as one list per column (the arrays of an ``unnest`` statement), each value of a column in
    ``convert`` passed through its converter (times to naive UTC where the column takes them so, JSON to
    its text)."""
    return [
        [fn(row[name]) for row in rows] if (fn := convert.get(name)) else [row[name] for row in rows]
        for name in names
    ]


_CHECKIN_CONVERT = dict.fromkeys(_TIMES, naive_utc)


def insert_checkins(pg: psycopg.Connection[Any], rows: Sequence[dict[str, Any]]) -> set[str]:
    """Insert check-in rows in one statement (one array per column); the ids of the rows inserted."""
    columns = column_arrays(rows, _CHECKIN_NAMES, _CHECKIN_CONVERT)
    return {r[0] for r in pg.execute(INSERT_CHECKINS, columns)}


def copy_rows(pg: psycopg.Connection[Any], table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    """Bulk insert through COPY (psycopg adapts each value; times as naive UTC, JSON columns as JSON text,
    which PostgreSQL parses into the column's type).

    The columns that need converting are found once, not per value: a feed's batch COPYs 50,000 facts.
    """
    if not rows:
        return
    names = list(rows[0])
    times = {c.name for c in table.columns if isinstance(c.type, t.UTCDateTime)}
    jsons = {c.name for c in table.columns if isinstance(c.type, sa.JSON)}
    converters = [
        (i, naive_utc if n in times else json.dumps) for i, n in enumerate(names) if n in times or n in jsons
    ]
    with pg.cursor() as cur, cur.copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy:
        for row in rows:
            cells = [row[n] for n in names]
            for i, convert in converters:
                cells[i] = convert(cells[i])
            copy.write_row(cells)


COPY_NULL = "\\N"
"""NULL in COPY's text format."""
_COPY_SPECIAL = ("\\", "\t", "\n", "\r")


def copy_field(value: str) -> str:
    """A text value as COPY's text format writes it: backslash, tab, newline and carriage return escaped."""
    if not any(c in value for c in _COPY_SPECIAL):
        return value
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def copy_text(pg: psycopg.Connection[Any], table: str, columns: Sequence[str], lines: Sequence[str]) -> None:
    """Bulk insert of rows already written as COPY text (fields by ``copy_field``, ``\\N`` for NULL, each
    line ending in a newline): a bulk batch's rows are formatted by one f-string each, not value by value
    through psycopg's row writer (3-5 µs per row here)."""
    if not lines:
        return
    with pg.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for start in range(0, len(lines), 10_000):
            copy.write("".join(lines[start : start + 10_000]))


_BINARY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)  # signature, flags, no extension
_BINARY_TRAILER = struct.pack("!h", -1)
_LENGTH = struct.Struct("!i").pack
_TIMESTAMP = struct.Struct("!iq").pack
_POSTGRES_EPOCH = datetime(2000, 1, 1)
_MICROSECOND = timedelta(microseconds=1)
BINARY_NULL = _LENGTH(-1)
"""NULL in COPY's binary format."""
_BYTES = pa.large_binary()
_NOTHING = pa.scalar(b"", _BYTES)  # the separator of joined fields
_COPY_CHUNK = 1 << 20


def binary_count(fields: int) -> bytes:
    """The start of a row in COPY's binary format: its number of fields."""
    return struct.pack("!h", fields)


def binary_text(value: str) -> bytes:
    """A text (or varchar) field in COPY's binary format: its length in bytes, then its UTF-8."""
    encoded = value.encode()
    return _LENGTH(len(encoded)) + encoded


def binary_texts(values: Sequence[str]) -> pa.Array:
    """``binary_text`` of each value (a column of a bulk batch), made by Arrow: the values' UTF-8 and their
    lengths in bytes as big-endian 32-bit prefixes, joined in C (``binary_rows``)."""
    return _prefixed(pa.array(values, _BYTES))


def _prefixed(data: pa.Array) -> pa.Array:
    lengths = pc.binary_length(data).to_numpy().astype(">i4")
    prefixes = pa.FixedSizeBinaryArray.from_buffers(pa.binary(4), len(data), [None, pa.py_buffer(lengths)])
    return pc.binary_join_element_wise(prefixes.cast(_BYTES), data, _NOTHING)


def binary_coded(values: Sequence[Hashable], field: Callable[[Any], bytes]) -> pa.Array | bytes:
    """The fields of a column of few distinct values (a batch's kinds, its expiries), each made once by
    ``field`` and repeated by Arrow; one field for every row if the column holds one value (``binary_rows``
    takes either)."""
    if values and values.count(values[0]) == len(values):  # compared, not hashed: an enum hashes in Python
        return field(values[0])
    distinct: dict[Hashable, int] = {}
    positions = [distinct.setdefault(v, len(distinct)) for v in values]
    return pa.array([field(v) for v in distinct], _BYTES).take(pa.array(positions, pa.int32()))


def binary_rows(fields: Sequence[pa.Array | bytes], order: Sequence[int] | None = None) -> memoryview:
    """Rows in COPY's binary format, one from each of ``fields`` (an Arrow column of ``binary_texts`` or
    ``binary_coded``, or one field every row shares) joined in C, in ``order`` (positions; else as they
    come): the rows' bytes, end to end. Joining each row's fields in Python cost a feed fact about 1 µs
    more (docs/performance.md)."""
    columns = [f if isinstance(f, pa.Array) else pa.scalar(f, _BYTES) for f in fields]
    rows = pc.binary_join_element_wise(*columns, _NOTHING)
    if order is not None:
        rows = rows.take(pa.array(order, pa.int64()))
    offsets = np.frombuffer(rows.buffers()[1], np.int64, len(rows) + 1, rows.offset * 8)
    return memoryview(rows.buffers()[2])[offsets[0] : offsets[-1]]


def binary_timestamp(value: datetime) -> bytes:
    """A ``timestamp without time zone`` field (naive UTC, as ``naive_utc``) in COPY's binary format:
    microseconds since 2000-01-01."""
    return _TIMESTAMP(8, (_naive(value) - _POSTGRES_EPOCH) // _MICROSECOND)


def copy_binary(pg: psycopg.Connection[Any], table: str, columns: Sequence[str], rows: memoryview) -> None:
    """Bulk insert of rows already written in COPY's binary format (``binary_rows``). Binary fields spare
    PostgreSQL parsing them, times above all (a timestamp read from text costs it 0.5 µs): 2.1 µs less of
    PostgreSQL per feed fact than COPY text (docs/decisions.md)."""
    if not rows:
        return
    with (
        pg.cursor() as cur,
        cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT binary)") as copy,
    ):
        copy.write(_BINARY_HEADER)
        for start in range(0, len(rows), _COPY_CHUNK):
            copy.write(rows[start : start + _COPY_CHUNK])
        copy.write(_BINARY_TRAILER)


def insert_rows(conn: sa.Connection, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    """Many rows at once: COPY on PostgreSQL, one executemany elsewhere."""
    if not rows:
        return
    if pg := connection(conn):
        copy_rows(pg, table, rows)
    else:
        conn.execute(table.insert(), list(rows))
