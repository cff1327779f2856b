"""Tracing benchmark: 1,000 cases over 100 million check-ins with DuckDB, and over 10 million with SQL on
PostgreSQL (the feed import has its own benchmark, ``bench/feeds.py``).

1. DuckDB: ``CIVICPASS_BENCH_DUCK_ROWS`` check-ins (default 100,000,000) over 14 days of a city of
   ``CIVICPASS_BENCH_DUCK_RESIDENTS`` residents (default 5,000,000) and 50,000 venues (one in ten a bus, its
   rides a boarding and an alighting) are written as the daily Parquet exports (layout, schema and
   manifests of ``adapters/exports.py``), by DuckDB itself from seeded hashes (timed apart: the export).
   ``CIVICPASS_BENCH_CASES`` index residents (default 1,000) with a 4-day infectious window are traced:
   their own check-ins (``visits_of``), their presences (Python), then **the exposure query** (DuckDB, to
   Arrow) and the grading (Python), each timed.
2. SQL on PostgreSQL: ``CIVICPASS_BENCH_PG_ROWS`` check-ins (default 10,000,000) generated in the database
   (``INSERT ... SELECT`` into the day partitions, every index in place, then ANALYZE), the same cases.

    python -m bench.tracing
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import sqlalchemy as sa

from bench.common import bench_settings, reset_schema
from civicpass import __version__
from civicpass.adapters.analytics import DuckDbTracing
from civicpass.adapters.db.partitions import ensure_partitions
from civicpass.adapters.db.tracing_repositories import SqlTracing
from civicpass.adapters.exports import Manifest, day_dir
from civicpass.adapters.messaging import MemoryMessenger
from civicpass.bootstrap import build, migrate
from civicpass.domain import tracing as tr
from civicpass.services.ports import TracingEngine

POSTGRES_URL = os.environ.get("CIVICPASS_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
SCHEMA = "civicpass_bench_tracing"
DUCK_ROWS = int(os.environ.get("CIVICPASS_BENCH_DUCK_ROWS", "100000000"))
DUCK_RESIDENTS = int(os.environ.get("CIVICPASS_BENCH_DUCK_RESIDENTS", "5000000"))
PG_ROWS = int(os.environ.get("CIVICPASS_BENCH_PG_ROWS", "10000000"))
PG_RESIDENTS = int(os.environ.get("CIVICPASS_BENCH_PG_RESIDENTS", "500000"))
CASES = int(os.environ.get("CIVICPASS_BENCH_CASES", "1000"))
VENUES, BUSES = 50_000, 5_000  # venue ids v0000000 .. ; the first BUSES are buses
DAYS = 14
END = datetime(2022, 5, 3, tzinfo=UTC)  # the city's last day ends here (UTC midnight)
START = END - timedelta(days=DAYS)
POLICY = tr.TracingPolicy()


def _rows_sql(first: int, count: int, residents: int, day_start: datetime) -> str:
    """One day of check-ins from seeded hashes: venue visits, and bus rides as boarding + alighting."""
    ts = f"TIMESTAMPTZ '{day_start.isoformat()}'"
    return f"""
WITH base AS (
  SELECT i,
    hash(i, 1) % {residents} AS r,
    hash(i, 2) AS h2,
    {ts} + to_microseconds(CAST(21600000000 + hash(i, 3) % 57600000000 AS BIGINT)) AS at0,
    hash(i, 4) % 100 AS roll
  FROM range({first}, {first + count}) t(i)
),
rows AS (
  SELECT i, 0 AS part, r, CAST({BUSES} + h2 % {VENUES - BUSES} AS BIGINT) AS v, at0 AS "at", roll, NULL AS direction
  FROM base WHERE i % 10 <> 0
  UNION ALL
  SELECT i, 0, r, CAST(h2 % {BUSES} AS BIGINT), at0, roll, 'board' FROM base WHERE i % 10 = 0
  UNION ALL
  SELECT i, 1, r, CAST(h2 % {BUSES} AS BIGINT),
    at0 + to_microseconds(CAST(600000000 + hash(i, 5) % 2100000000 AS BIGINT)), roll, 'alight'
  FROM base WHERE i % 10 = 0
)
SELECT 'c' || lpad(CAST(i AS VARCHAR), 10, '0') || '-' || CAST(part AS VARCHAR) AS id,
  "at",
  'r' || lpad(CAST(r AS VARCHAR), 8, '0') AS resident_id,
  'v' || lpad(CAST(v AS VARCHAR), 7, '0') AS venue_id,
  CASE WHEN roll < 5 THEN 'static_code' WHEN roll < 10 THEN 'checkpoint_scan' ELSE 'rotating_code' END AS method,
  CASE WHEN roll < 5 THEN 'weak' WHEN roll < 10 THEN 'strong' ELSE 'medium' END AS evidence,
  CASE WHEN roll < 5 THEN 'static_code' ELSE '' END AS flags,
  CAST(NULL AS DOUBLE) AS lat, CAST(NULL AS DOUBLE) AS lon,
  CASE WHEN roll >= 10 THEN time_bucket(INTERVAL 5 MINUTE, "at") END AS window_start,
  direction,
  "at" AS recorded_at
FROM rows
"""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def write_exports(out: Path) -> float:
    """The city's 14 daily exports, written by DuckDB (with manifests); returns the seconds it took."""
    per_day = DUCK_ROWS // DAYS // 11 * 10  # bus rides are two rows: 10 draws make 11 rows
    started = time.perf_counter()
    with duckdb.connect() as db:
        db.execute("SET TimeZone = 'UTC'")
        for n in range(DAYS):
            day = START + timedelta(days=n)
            target = day_dir(out, day.date())
            target.mkdir(parents=True, exist_ok=True)
            parquet = target / "checkins.parquet"
            query = _rows_sql(n * per_day, per_day, DUCK_RESIDENTS, day)
            db.execute(
                f"COPY ({query}) TO '{parquet}' (FORMAT PARQUET, COMPRESSION ZSTD, ROW_GROUP_SIZE 1000000)"
            )
            rows = db.execute(f"SELECT count(*) FROM '{parquet}'").fetchone()
            manifest = Manifest(
                "checkins",
                day.date().isoformat(),
                int(rows[0]) if rows else 0,
                parquet.stat().st_size,
                _sha256(parquet),
                [],
                datetime.now(UTC).isoformat(),
                __version__,
            )
            (target / "manifest.json").write_text(manifest.to_json())
    return time.perf_counter() - started


def _index(residents: int) -> list[tr.IndexPerson]:
    """CASES index residents, infectious during the city's last 4 days."""
    step = max(1, residents // CASES)
    return [
        tr.IndexPerson(f"case-{k}", f"r{k * step:08d}", END - timedelta(days=4), END - timedelta(hours=1))
        for k in range(CASES)
    ]


def _vehicles(visits: list[tr.Visit]) -> dict[str, bool]:
    return {v.venue_id: int(v.venue_id[1:]) < BUSES for v in visits}


def trace(engine: TracingEngine, label: str, residents: int) -> None:
    index = _index(residents)
    started = time.perf_counter()
    start = min(p.start for p in index) - POLICY.max_ride  # as services.tracing.trace reads them
    visits = engine.visits_of({p.resident_id for p in index}, start, END)
    looked = time.perf_counter()
    presences = tr.index_presences(index, visits, _vehicles(visits), POLICY)
    ready = time.perf_counter()
    if isinstance(engine, DuckDbTracing):
        table = engine.exposure_table(presences, POLICY)
        queried = time.perf_counter()
        found = sorted(
            tr_exposure
            for tr_exposure in (
                _exposure(row)
                for row in zip(*(table.column(n).to_pylist() for n in table.column_names), strict=True)
            )
        )
    else:
        found = engine.exposures(presences, POLICY)
        queried = time.perf_counter()
    converted = time.perf_counter()
    contacts = tr.grade(found, POLICY)
    graded = time.perf_counter()
    grades = {g.value: sum(1 for c in contacts if c.grade is g) for g in tr.ContactGrade}
    print(f"[{label}] {len(index)} cases, {len(visits)} of their check-ins, {len(presences)} presences")
    print(
        f"  index check-ins (visits_of): {looked - started:.2f} s; presences (Python): {ready - looked:.2f} s"
    )
    print(f"  exposure query: {queried - ready:.2f} s -> {len(found)} exposures")
    print(f"  to Python: {converted - queried:.2f} s; grading: {graded - converted:.2f} s -> {grades}")
    print(f"  total: {graded - started:.2f} s")


def _exposure(row: tuple[object, ...]) -> tr.Exposure:
    from civicpass.adapters.tracing_sql import exposure_of

    return exposure_of(row)


def duckdb_part(tmp: Path) -> None:
    out = tmp / "exports"
    seconds = write_exports(out)
    size = sum(p.stat().st_size for p in out.rglob("*.parquet"))
    engine = DuckDbTracing(out)
    total = sum(json.loads(p.read_text())["rows"] for p in out.rglob("manifest.json"))
    print(
        f"[DuckDB exports] {total:,} check-ins over {DAYS} days written in {seconds:.1f} s "
        f"({size / 1e9:.2f} GB Parquet, zstd) - the export, timed apart"
    )
    trace(engine, "DuckDB over Parquet", DUCK_RESIDENTS)


def _reset_schema(create: bool = True) -> None:
    reset_schema(POSTGRES_URL, SCHEMA, create)


def postgres_part(tmp: Path) -> None:
    container = build(bench_settings(POSTGRES_URL, tmp, SCHEMA), messenger=MemoryMessenger())
    migrate(container)
    ensure_partitions(container.engine, START.date(), DAYS + 1)
    per_day = PG_ROWS // DAYS // 11 * 10
    started = time.perf_counter()
    with container.engine.begin() as conn:
        for n in range(DAYS):
            day = START + timedelta(days=n)
            conn.execute(sa.text(_pg_rows_sql(n * per_day, per_day, PG_RESIDENTS, day)))
    loaded = time.perf_counter() - started
    with container.engine.connect() as conn:
        conn.execute(sa.text("ANALYZE checkins"))
        conn.commit()
        count = conn.execute(sa.text("SELECT count(*) FROM checkins")).scalar_one()
    print(f"[PostgreSQL] {count:,} check-ins generated in the database in {loaded:.1f} s (INSERT ... SELECT)")
    with container.engine.begin() as conn:
        trace(SqlTracing(conn), "SQL on PostgreSQL", PG_RESIDENTS)
    container.dispose()


def _pg_rows_sql(first: int, count: int, residents: int, day_start: datetime) -> str:
    """The same shape of city as the DuckDB one, generated by PostgreSQL (``hashint8`` for the draws)."""
    ts = f"TIMESTAMP '{day_start.replace(tzinfo=None).isoformat()}'"

    def draw(k: int, modulo: int) -> str:
        return f"(abs(hashint8(i * 7 + {k})) % {modulo})"

    return f"""
INSERT INTO checkins (id, at, client_id, resident_id, venue_id, recorded_at, method, evidence, flags,
                      window_start, direction)
WITH base AS (
  SELECT i, {draw(1, residents)} AS r, {draw(2, 1 << 30)} AS h2,
    {ts} + make_interval(secs => 21600 + {draw(3, 57600)}) AS at0, {draw(4, 100)} AS roll
  FROM generate_series({first}::bigint, {first + count - 1}::bigint) AS t(i)
),
rows AS (
  SELECT i, 0 AS part, r, {BUSES} + h2 % {VENUES - BUSES} AS v, at0 AS at, roll, NULL::text AS direction
  FROM base WHERE i % 10 <> 0
  UNION ALL
  SELECT i, 0, r, h2 % {BUSES}, at0, roll, 'board' FROM base WHERE i % 10 = 0
  UNION ALL
  SELECT i, 1, r, h2 % {BUSES}, at0 + make_interval(secs => 600 + {draw(5, 2100)}), roll, 'alight'
  FROM base WHERE i % 10 = 0
)
SELECT 'c' || lpad(i::text, 10, '0') || '-' || part, at, 'bench-' || i || '-' || part,
  'r' || lpad(r::text, 8, '0'), 'v' || lpad(v::text, 7, '0'), at,
  CASE WHEN roll < 5 THEN 'static_code' WHEN roll < 10 THEN 'checkpoint_scan' ELSE 'rotating_code' END,
  CASE WHEN roll < 5 THEN 'weak' WHEN roll < 10 THEN 'strong' ELSE 'medium' END,
  CASE WHEN roll < 5 THEN 'static_code' ELSE '' END,
  CASE WHEN roll >= 10 THEN date_bin('5 minutes', at, TIMESTAMP '2000-01-01') END,
  direction
FROM rows
"""


def main() -> None:
    print(
        f"civicpass tracing benchmark on {platform.node()} ({os.cpu_count()} cores, Python {platform.python_version()})"
    )
    with tempfile.TemporaryDirectory() as tmp:
        duckdb_part(Path(tmp))
        _reset_schema()
        try:
            postgres_part(Path(tmp))
        finally:
            _reset_schema(create=False)


if __name__ == "__main__":
    main()
