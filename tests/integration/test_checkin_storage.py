"""Check-in storage on both databases: daily partitions, the retention purge, the Parquet export, the CLI.

The partition asserts apply to PostgreSQL; on SQLite the same calls must be harmless no-ops and the purge
is the unit of work's plain delete.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from typer.testing import CliRunner

from civicpass.adapters.db import tables as t
from civicpass.adapters.db.checkin_repositories import checkin_row
from civicpass.adapters.db.engine import make_engine
from civicpass.adapters.db.migrate import include_object, upgrade
from civicpass.adapters.db.partitions import (
    SqlCheckinStorage,
    ensure_partitions,
    list_partitions,
    partition_name,
)
from civicpass.adapters.exports import SCHEMA, TIMESTAMP, export_day
from civicpass.bootstrap import Container
from civicpass.cli import app
from civicpass.domain.checkins import CheckIn, Direction, Evidence, Flag, Location, Method
from civicpass.services import maintenance
from civicpass.settings import Settings
from tests.conftest import POSTGRES_URL

EXPORTED = [f.name for f in SCHEMA]


def _checkin(n: int, at: datetime) -> CheckIn:
    rotating = n % 3 != 0
    return CheckIn(
        id=f"00000000-0000-4000-9000-{n:012d}",
        client_id=f"client-{n}",
        resident_id=f"00000000-0000-4000-8000-{n % 4:012d}",
        venue_id="00000000-0000-4000-7000-000000000001",
        at=at,
        recorded_at=at + timedelta(seconds=2),
        method=Method.ROTATING_CODE if rotating else Method.STATIC_CODE,
        evidence=Evidence.MEDIUM if rotating else Evidence.WEAK,
        flags=() if rotating else (Flag.STATIC_CODE,),
        location=Location(23.1 + n / 1000, 113.3) if n % 2 else None,
        window_start=at.replace(second=0, microsecond=0) if rotating else None,
        direction=Direction.BOARD if n % 5 == 0 else None,
    )


def _add(container: Container, times: Sequence[datetime], first: int = 1) -> list[CheckIn]:
    checkins = [_checkin(first + i, at) for i, at in enumerate(times)]
    with container.deps.uow() as uow:
        uow.checkins.add_many(checkins)
        uow.commit()
    return checkins


def _ids(engine: sa.Engine, start: datetime | None = None, end: datetime | None = None) -> set[str]:
    c = t.checkins.c
    query = sa.select(c.id)
    if start is not None and end is not None:
        query = query.where(c.at >= start, c.at < end)
    with engine.connect() as conn:
        return set(conn.execute(query).scalars())


def _rows_in(engine: sa.Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(sa.table(table))).scalar_one())


def _drop_daily_partitions(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        for partition in list_partitions(conn):
            if partition.day is not None:
                conn.execute(sa.text(f"DROP TABLE {partition.name}"))


@pytest.fixture
def storage(container: Container) -> Iterator[SqlCheckinStorage]:
    """The storage adapter, with no daily partitions before or after (the test schema outlives a test)."""
    _drop_daily_partitions(container.engine)
    yield SqlCheckinStorage(container.engine)
    _drop_daily_partitions(container.engine)


def _postgres(container: Container) -> bool:
    return container.engine.dialect.name == "postgresql"


def _utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, us, tzinfo=UTC)


# -- partitions -------------------------------------------------------------------------------------


def test_partitions_are_made_once_for_each_requested_day_and_receive_their_rows(
    container: Container, storage: SqlCheckinStorage
) -> None:
    created = ensure_partitions(container.engine, date(2022, 5, 3), 2)
    again = storage.ensure_days(date(2022, 5, 2), date(2022, 5, 5))
    _add(container, [_utc(2022, 5, 3, 0, 0), _utc(2022, 5, 3, 23, 59, 59), _utc(2022, 5, 4, 12, 0)])

    if not _postgres(container):
        assert (created, again, storage.partitions()) == ([], [], [])
        assert len(_ids(container.engine)) == 3
        return
    assert created == ["checkins_p20220503", "checkins_p20220504", "checkins_p20220505"]
    assert again == ["checkins_p20220502"]
    assert storage.partitions() == [
        "checkins_p20220502",
        "checkins_p20220503",
        "checkins_p20220504",
        "checkins_p20220505",
        "checkins_default",
    ]
    assert _rows_in(container.engine, "checkins_p20220503") == 2
    assert _rows_in(container.engine, "checkins_p20220504") == 1
    assert _rows_in(container.engine, "checkins_default") == 0


def test_rows_waiting_in_the_default_partition_move_into_their_new_day(
    container: Container, storage: SqlCheckinStorage
) -> None:
    stored = _add(container, [_utc(2022, 5, 10, 0, 0), _utc(2022, 5, 10, 9, 30), _utc(2022, 5, 11, 0, 0)])
    if _postgres(container):
        assert _rows_in(container.engine, "checkins_default") == 3

    created = storage.ensure_days(date(2022, 5, 10), date(2022, 5, 10))

    with container.deps.uow() as uow:
        read_back = uow.checkins.of_resident(stored[0].resident_id, _utc(2022, 5, 1), _utc(2022, 6, 1))
    assert read_back == [stored[0]]
    assert len(_ids(container.engine)) == 3
    if _postgres(container):
        assert created == ["checkins_p20220510"]
        assert _rows_in(container.engine, "checkins_p20220510") == 2
        assert _rows_in(container.engine, "checkins_default") == 1
    else:
        assert created == []


def test_making_a_partition_while_check_ins_read_and_write_does_not_deadlock(
    container: Container, storage: SqlCheckinStorage
) -> None:
    """The group commit reads the table (prior uses), then inserts a row for a day without a partition yet
    (into the default), while the partition manager makes a day: it waits instead of deadlocking."""
    if not _postgres(container):
        pytest.skip("partitions are PostgreSQL's; SQLite has a single writer")
    now = datetime.now(UTC)
    with container.engine.connect() as writer:
        writer.begin()
        writer.execute(sa.select(sa.func.count()).select_from(t.checkins))  # reads every partition
        with ThreadPoolExecutor(1) as pool:
            making = pool.submit(storage.ensure_days, date(2022, 5, 20), date(2022, 5, 20))
            time.sleep(0.5)  # the maintenance transaction is now waiting for its lock
            writer.execute(sa.insert(t.checkins), [checkin_row(_checkin(1, now))])
            writer.commit()
            assert making.result(timeout=30) == ["checkins_p20220520"]
    assert len(_ids(container.engine)) == 1
    assert _rows_in(container.engine, "checkins_default") == 1


# -- retention --------------------------------------------------------------------------------------


def _purge_events(engine: sa.Engine) -> list[dict[str, Any]]:
    e = t.events.c
    with engine.connect() as conn:
        query = sa.select(e.payload).where(e.name == "checkin:retention:purged").order_by(e.id)
        return [dict(p) for p in conn.execute(query).scalars()]


def test_retention_purge_removes_exactly_the_rows_older_than_the_cutoff_and_records_it(
    container: Container, storage: SqlCheckinStorage
) -> None:
    # The clock reads 2022-05-03 08:00 UTC; 21 days of retention put the cutoff at 2022-04-12 08:00.
    cutoff = _utc(2022, 5, 3, 8) - timedelta(days=21)
    storage.ensure_days(date(2022, 4, 5), date(2022, 4, 5))
    storage.ensure_days(date(2022, 4, 12), date(2022, 4, 12))
    old = _add(
        container,
        [
            _utc(2022, 4, 5, 10),  # in a partition wholly before the cutoff: dropped with it
            _utc(2022, 4, 5, 23, 59, 59, 999999),
            _utc(2022, 4, 10, 12),  # no partition of its own: waits in the default
            cutoff - timedelta(microseconds=1),  # in the partition that straddles the cutoff
        ],
    )
    kept = _add(
        container,
        [cutoff, cutoff + timedelta(hours=1), _utc(2022, 4, 20, 12), _utc(2022, 5, 3, 7, 59)],
        first=100,
    )

    done = maintenance.maintain(container.deps, storage)

    assert _ids(container.engine) == {c.id for c in kept}
    assert (done.purge.cutoff, done.purge.rows) == (cutoff, len(old))
    events = _purge_events(container.engine)
    assert events == [
        {"before": cutoff.isoformat(), "rows": 4, "partitions_dropped": len(done.purge.partitions_dropped)}
    ]
    if _postgres(container):
        assert done.purge.partitions_dropped == ("checkins_p20220405",)
        assert done.partitions_created == [partition_name(date(2022, 5, d)) for d in range(2, 11)]
        assert storage.partitions() == [
            "checkins_p20220412",
            *done.partitions_created,
            "checkins_default",
        ]
    else:
        assert (done.purge.partitions_dropped, done.partitions_created) == ((), [])

    again = maintenance.maintain(container.deps, storage)
    assert (again.partitions_created, again.purge.rows) == ([], 0)
    assert _ids(container.engine) == {c.id for c in kept}


# -- export -----------------------------------------------------------------------------------------


def _database_rows(engine: sa.Engine, start: datetime, end: datetime) -> list[tuple[Any, ...]]:
    """One day of check-ins as stored, in the exported columns, timestamps as naive UTC."""
    c = t.checkins.c
    with engine.connect() as conn:
        query = sa.select(*(c[name] for name in EXPORTED)).where(c.at >= start, c.at < end).order_by(c.id)
        return [
            tuple(v.replace(tzinfo=None) if isinstance(v, datetime) else v for v in r)
            for r in conn.execute(query)
        ]


def _naive_utc(name: str) -> str:
    """A column as DuckDB should return it: timestamps as naive UTC (a zoned one would need pytz)."""
    return f"timezone('UTC', \"{name}\")" if SCHEMA.field(name).type == TIMESTAMP else f'"{name}"'


def _duck(query: str, path: Path) -> list[tuple[Any, ...]]:
    """DuckDB's answer to a query over one Parquet file (the ``?`` in ``read_parquet(?)``), times in UTC."""
    with duckdb.connect() as db:
        db.execute("SET TimeZone = 'UTC'")
        relation = duckdb.sql(query, params=[str(path)], connection=db)
        assert relation is not None
        return [tuple(r) for r in relation.fetchall()]


def test_an_exported_day_read_by_duckdb_has_the_databases_rows_and_a_true_manifest(
    container: Container, tmp_path: Path
) -> None:
    day = date(2022, 5, 2)
    start = _utc(2022, 5, 2)
    inside = [start, *(start + timedelta(hours=3 * h, minutes=h) for h in range(1, 8))]
    inside.append(start + timedelta(days=1, microseconds=-1))
    _add(container, [start - timedelta(microseconds=1), *inside, start + timedelta(days=1)])
    out = tmp_path / "exports"

    manifest = export_day(container.engine, day, out, exported_at=container.deps.clock.now(), batch=4)

    folder = out / "checkins" / "day=2022-05-02"
    parquet = folder / "checkins.parquet"
    [(count, distinct)] = _duck("SELECT count(*), count(DISTINCT id) FROM read_parquet(?)", parquet)
    expected = _database_rows(container.engine, start, start + timedelta(days=1))
    assert count == distinct == manifest.rows == len(inside) == len(expected)
    columns = ", ".join(_naive_utc(name) for name in EXPORTED)
    assert _duck(f"SELECT {columns} FROM read_parquet(?) ORDER BY id", parquet) == expected  # noqa: S608 (our column names)
    described = _duck("DESCRIBE SELECT * FROM read_parquet(?, hive_partitioning = false)", parquet)
    assert [d[0] for d in described] == EXPORTED
    assert {d[0]: d[1] for d in described}["at"] == "TIMESTAMP WITH TIME ZONE"
    assert manifest.sha256 == hashlib.sha256(parquet.read_bytes()).hexdigest()
    assert manifest.bytes == parquet.stat().st_size
    written = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert written["sha256"] == manifest.sha256
    assert (written["table"], written["day"], written["rows"]) == ("checkins", "2022-05-02", len(inside))
    assert written["exported_at"] == "2022-05-03T08:00:00+00:00"
    assert [f["name"] for f in written["schema"]] == EXPORTED

    _add(container, [start + timedelta(hours=1, seconds=1)], first=500)
    again = export_day(container.engine, day, out)
    assert again.rows == len(inside) + 1
    assert _duck("SELECT count(*) FROM read_parquet(?)", parquet) == [(len(inside) + 1,)]
    assert sorted(p.name for p in folder.iterdir()) == ["checkins.parquet", "manifest.json"]

    empty = export_day(container.engine, date(2022, 4, 1), out)
    assert empty.rows == 0
    empty_file = out / "checkins" / "day=2022-04-01" / "checkins.parquet"
    assert _duck("SELECT count(*) FROM read_parquet(?)", empty_file) == [(0,)]
    every_day = out / "checkins" / "*" / "checkins.parquet"
    by_day = "SELECT day::VARCHAR, count(*) FROM read_parquet(?, hive_partitioning = true) GROUP BY day"
    assert _duck(by_day, every_day) == [("2022-05-02", len(inside) + 1)]


# -- command line -----------------------------------------------------------------------------------


def test_checkins_cli_maintains_storage_and_exports_a_day(
    cli_env: Settings, container: Container, storage: SqlCheckinStorage, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    yesterday = (now - timedelta(days=1)).date()
    _add(container, [now - timedelta(days=30), datetime.combine(yesterday, datetime.min.time(), UTC)])
    _add(container, [datetime.combine(yesterday, datetime.min.time(), UTC) + timedelta(hours=5)], first=10)
    runner = CliRunner()

    maintained = runner.invoke(app, ["checkins", "maintain"])
    assert maintained.exit_code == 0, maintained.output
    assert "purged 1 check-ins before" in maintained.output
    if _postgres(container):
        assert partition_name(now.date() + timedelta(days=7)) in maintained.output
    else:
        assert "partitions created: none" in maintained.output

    out = tmp_path / "analytics"
    exported = runner.invoke(app, ["checkins", "export", "--day", yesterday.isoformat(), "--out", str(out)])
    assert exported.exit_code == 0, exported.output
    assert f"2 check-ins of {yesterday.isoformat()}" in exported.output
    manifest = json.loads(
        (out / "checkins" / f"day={yesterday}" / "manifest.json").read_text(encoding="utf-8")
    )
    assert manifest["rows"] == 2

    by_default = runner.invoke(app, ["checkins", "export"])
    assert by_default.exit_code == 0, by_default.output
    assert (cli_env.data_dir / "exports" / "checkins" / f"day={yesterday}" / "checkins.parquet").is_file()

    assert runner.invoke(app, ["checkins", "export", "--day", "2022-13-01"]).exit_code == 2


# -- migrations ---------------------------------------------------------------------------------------


@pytest.mark.postgres
def test_migration_0005_leaves_each_partition_two_indexes_and_keeps_its_rows(postgres_schema: str) -> None:
    """From 0004 with daily partitions holding rows: the natural key and (venue, time) stay on every
    partition, the primary key on the random id and (resident, time) go, and no row is lost."""
    schema = postgres_schema + "_m5"
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(POSTGRES_URL, schema=schema)
    try:
        upgrade(engine, "0004")
        ensure_partitions(engine, date(2022, 5, 2), 2)
        rows = [checkin_row(_checkin(n, _utc(2022, 5, 2 + n % 3, 8))) for n in range(1, 31)]
        with engine.begin() as conn:
            conn.execute(sa.insert(t.checkins), rows)

        upgrade(engine, "head")

        with engine.connect() as conn:
            indexes = conn.execute(
                sa.text(
                    "SELECT t.relname, i.relname FROM pg_index x"
                    " JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid"
                    " JOIN pg_namespace n ON n.oid = t.relnamespace"
                    " WHERE n.nspname = :schema AND t.relname LIKE 'checkins%'"
                ),
                {"schema": schema},
            ).all()
            diff = compare_metadata(
                MigrationContext.configure(
                    conn, opts={"compare_type": True, "include_object": include_object}
                ),
                t.metadata,
            )
            stored = conn.execute(sa.select(sa.func.count()).select_from(t.checkins)).scalar_one()
        by_table: dict[str, set[str]] = {}
        for table, index in indexes:
            by_table.setdefault(table, set()).add(index)
        tables = [
            "checkins",
            "checkins_default",
            "checkins_p20220502",
            "checkins_p20220503",
            "checkins_p20220504",
        ]
        assert sorted(by_table) == tables
        for table in tables:  # the unique key and the (venue, time) indexes, all and located, nothing else
            kinds = sorted(
                "venue_id_at" in i or i.startswith("ix_checkins_venue_at") for i in by_table[table]
            )
            assert kinds == [False, True, True], (table, by_table[table])
            assert not any(
                "pkey" in i or i.startswith("pk_") or "resident_id_at" in i for i in by_table[table]
            )
        assert diff == []
        assert stored == 30
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
