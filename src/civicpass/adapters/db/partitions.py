"""Daily partitions of the check-in table on PostgreSQL: made ahead of time, dropped whole when expired.

``checkins`` is ``PARTITION BY RANGE (at)`` with one partition per UTC day, ``checkins_pYYYYMMDD`` holding
``[YYYY-MM-DD 00:00, next day 00:00)`` (``at`` is stored as naive UTC), and ``checkins_default`` catching
any row whose day has no partition yet, so that an acknowledged write never fails for want of one.

PostgreSQL refuses to create a partition while the default partition holds rows of its range, so a day
that already has rows in the default is made as a standalone table, the rows are moved into it, and it is
then attached; all in one transaction, with the default locked (ACCESS EXCLUSIVE) meanwhile (PostgreSQL 15 docs,
"Table Partitioning", 5.11.2.2 "Partition Maintenance" and ``ALTER TABLE ... ATTACH PARTITION``).

On SQLite there are no partitions: making them is a no-op and expiry is the unit of work's plain delete.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa

from civicpass.adapters.db import tables as t
from civicpass.services.ports import DroppedDays

PARENT = "checkins"
DEFAULT = "checkins_default"
DAILY = re.compile(r"^checkins_p(\d{8})$")
LOCK_TIMEOUT = "10s"
"""DDL here waits for locks the hot insert path also needs; a long wait would queue every check-in behind it,
so it gives up instead and the next maintenance run tries again."""
ADVISORY_LOCK = 0x63686B70  # "chkp": one partition manager at a time across processes


@dataclass(frozen=True)
class Partition:
    name: str
    day: date | None
    """The UTC day it holds; None for the default partition."""


def partition_name(day: date) -> str:
    return f"checkins_p{day:%Y%m%d}"


def _is_postgres(bind: sa.Engine | sa.Connection) -> bool:
    return bind.dialect.name == "postgresql"


def _bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start, start + timedelta(days=1)


def _literal(at: datetime) -> str:
    """A bound as the naive UTC timestamp literal the ``at`` column holds (DDL takes no parameters)."""
    return f"'{at.astimezone(UTC):%Y-%m-%d %H:%M:%S}'"


def _table(name: str) -> sa.TableClause:
    """A lightweight handle on a partition (or the default) with the parent's columns, for DML."""
    return sa.table(name, *(sa.column(c.name, c.type) for c in t.checkins.columns))


def _exists(conn: sa.Connection, name: str) -> bool:
    return conn.execute(sa.text("SELECT to_regclass(:name) IS NOT NULL"), {"name": name}).scalar_one() is True


def _prepare(conn: sa.Connection) -> None:
    conn.execute(sa.text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK})


def list_partitions(conn: sa.Connection) -> list[Partition]:
    """The partitions of ``checkins`` (daily ones by day, then the default); empty on SQLite."""
    if not _is_postgres(conn):
        return []
    names = conn.execute(
        sa.text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = to_regclass(:parent)"
        ),
        {"parent": PARENT},
    ).scalars()
    partitions = []
    for name in names:
        match = DAILY.match(name)
        if match:
            partitions.append(Partition(name, datetime.strptime(match[1], "%Y%m%d").date()))
        elif name == DEFAULT:
            partitions.append(Partition(name, None))
    return sorted(partitions, key=lambda p: (p.day is None, p.day or date.min))


def _create_day(conn: sa.Connection, day: date) -> bool:
    """Make one day's partition unless it exists, moving any of its rows out of the default first."""
    name = partition_name(day)
    if _exists(conn, name):
        return False
    start, end = _bounds(day)
    has_default = _exists(conn, DEFAULT)
    if has_default:
        # Block new rows from landing in the default partition between the move and the attach. The
        # attach needs ACCESS EXCLUSIVE on the default, so take that at once: a weaker lock upgraded later
        # deadlocks with any check-in transaction that read the table and then inserts.
        conn.execute(sa.text(f"LOCK TABLE {DEFAULT} IN ACCESS EXCLUSIVE MODE"))
    conn.execute(sa.text(f"CREATE TABLE {name} (LIKE {PARENT} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"))
    # With a matching CHECK constraint the attach need not scan the new table to prove its rows fit.
    conn.execute(
        sa.text(
            f"ALTER TABLE {name} ADD CONSTRAINT {name}_range"
            f" CHECK (at >= {_literal(start)} AND at < {_literal(end)})"
        )
    )
    if has_default:
        source = _table(DEFAULT)
        waiting = sa.and_(source.c.at >= start, source.c.at < end)
        names = [c.name for c in t.checkins.columns]
        conn.execute(sa.insert(_table(name)).from_select(names, sa.select(source).where(waiting)))
        conn.execute(sa.delete(source).where(waiting))
    conn.execute(
        sa.text(
            f"ALTER TABLE {PARENT} ATTACH PARTITION {name}"
            f" FOR VALUES FROM ({_literal(start)}) TO ({_literal(end)})"
        )
    )
    conn.execute(sa.text(f"ALTER TABLE {name} DROP CONSTRAINT {name}_range"))
    return True


def ensure_partitions(bind: sa.Engine | sa.Connection, start_day: date, days_ahead: int) -> list[str]:
    """Make the partitions of ``start_day`` .. ``start_day + days_ahead`` (UTC days) that are missing.

    Idempotent; returns the names made. Given an engine, each day is its own short transaction; given a
    connection, the work joins the caller's transaction. A no-op on SQLite.
    """
    if not _is_postgres(bind):
        return []
    days = [start_day + timedelta(days=n) for n in range(days_ahead + 1)]
    created = []
    for day in days:
        if isinstance(bind, sa.Engine):
            with bind.begin() as conn:
                _prepare(conn)
                made = _create_day(conn, day)
        else:
            _prepare(bind)
            made = _create_day(bind, day)
        if made:
            created.append(partition_name(day))
    return created


def drop_before(conn: sa.Connection, cutoff: datetime) -> DroppedDays:
    """Drop the daily partitions wholly before ``cutoff`` and delete the default partition's older rows.

    Returns the partitions dropped and the rows they and the default held (counted before dropping). The
    partition that straddles the cutoff is left for the caller's ``DELETE ... WHERE at < cutoff``; on
    SQLite that delete is the whole purge and this does nothing.
    """
    if not _is_postgres(conn):
        return DroppedDays((), 0)
    _prepare(conn)
    rows = 0
    if _exists(conn, DEFAULT):  # before the table lock below: this delete may have a lot to do
        default = _table(DEFAULT)
        rows += int(conn.execute(sa.delete(default).where(default.c.at < cutoff)).rowcount or 0)
    expired = [p.name for p in list_partitions(conn) if p.day is not None and _bounds(p.day)[1] <= cutoff]
    for name in expired:  # counted first: expired days take no new rows (scans older than a day are refused)
        rows += int(conn.execute(sa.select(sa.func.count()).select_from(_table(name))).scalar_one())
    if expired:
        # Dropping a partition locks it, then the parent. Queries lock the parent, then the partitions; so
        # the parent goes first here too, or a check-in reading the table could deadlock with the drop.
        # The lock stops every check-in until the commit, so only the drops happen under it.
        conn.execute(sa.text(f"LOCK TABLE {PARENT} IN ACCESS EXCLUSIVE MODE"))
    for name in expired:
        conn.execute(sa.text(f"DROP TABLE {name}"))
    dropped = expired
    return DroppedDays(tuple(dropped), rows)


class SqlCheckinStorage:
    """The ``CheckinStorage`` port over an engine: each call is one transaction of its own."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def ensure_days(self, first: date, last: date) -> list[str]:
        return ensure_partitions(self.engine, first, (last - first).days)

    def drop_days_before(self, cutoff: datetime) -> DroppedDays:
        with self.engine.begin() as conn:
            return drop_before(conn, cutoff)

    def partitions(self) -> list[str]:
        with self.engine.connect() as conn:
            return [p.name for p in list_partitions(conn)]
