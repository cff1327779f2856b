"""Tracing over the daily Parquet exports with DuckDB: the engine for large jobs (a province, many cases).

It runs the same exposure query as the SQL engine (``adapters/tracing_sql.py``) over
``EXPORTS/checkins/day=*/checkins.parquet`` (see ``adapters/exports.py``), so it sees the days exported so
far (those with a manifest), not today's check-ins still in the operational database. The
same SQL runs on Apache Spark when a province outgrows one machine (SPEC 3).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from civicpass.adapters import tracing_sql
from civicpass.adapters.exports import TIMESTAMP
from civicpass.domain.errors import Conflict, Message
from civicpass.domain.tracing import Exposure, IndexPresence, TracingPolicy, Visit

_PRESENCE_SCHEMA = pa.schema(
    [
        ("index_key", pa.string()),
        ("resident_id", pa.string()),
        ("venue_id", pa.string()),
        ("checkin_id", pa.string()),
        ("vehicle", pa.int32()),
        ("s", pa.int64()),
        ("e", pa.int64()),
        ("evidence", pa.string()),
        ("lo", TIMESTAMP),
        ("hi", TIMESTAMP),
    ]
)


class DuckDbTracing:
    name = "duckdb"

    def __init__(self, exports_dir: Path, threads: int | None = None) -> None:
        self.exports_dir = exports_dir
        self.threads = threads

    def _connect(self) -> duckdb.DuckDBPyConnection:
        files = [
            str(p.parent / "checkins.parquet")
            for p in sorted((self.exports_dir / "checkins").glob("day=*/manifest.json"))
        ]
        if not files:
            raise Conflict(
                "exports_missing",
                Message(
                    "there are no check-in exports to trace over yet; use the SQL engine or export days first",
                    "尚无签到导出数据，请使用 SQL 引擎或先导出",
                ),
            )
        db = duckdb.connect(config={"threads": self.threads} if self.threads else {})
        db.execute("SET TimeZone = 'UTC'")
        db.read_parquet(files).create_view("checkins")
        return db

    def visits_of(self, residents: Collection[str], start: datetime, end: datetime) -> list[Visit]:
        if not residents:
            return []
        with self._connect() as db:
            db.register("tc_index", pa.table({"resident_id": pa.array(sorted(residents), pa.string())}))
            rows = db.execute(
                'SELECT id, resident_id, venue_id, CAST("at" AS TIMESTAMP), evidence, direction FROM checkins'
                ' WHERE resident_id IN (SELECT resident_id FROM tc_index) AND "at" >= $lo AND "at" <= $hi',
                {"lo": start, "hi": end},
            ).fetchall()
        return [tracing_sql.visit_of((*r[:3], r[3].replace(tzinfo=UTC), *r[4:])) for r in rows]

    def exposure_table(self, index: Sequence[IndexPresence], policy: TracingPolicy) -> pa.Table:
        """The exposures as an Arrow table (``tracing_sql.EXPOSURE_COLUMNS``), for large jobs."""
        rows = tracing_sql.presence_rows(index, policy)
        columns: dict[str, list[Any]] = {name: [r[name] for r in rows] for name in _PRESENCE_SCHEMA.names}
        lo, hi = tracing_sql.overall_bounds(rows)
        with self._connect() as db:
            db.register("tc_presences", pa.Table.from_pydict(columns, schema=_PRESENCE_SCHEMA))
            query = tracing_sql.exposure_query("duckdb", policy, "$lo", "$hi")
            return db.sql(query, params={"lo": lo, "hi": hi}).to_arrow_table()

    def exposures(self, index: Sequence[IndexPresence], policy: TracingPolicy) -> list[Exposure]:
        if not index:
            return []
        table = self.exposure_table(index, policy)
        return sorted(
            tracing_sql.exposure_of(row)
            for row in zip(*(table.column(n).to_pylist() for n in table.column_names), strict=True)
        )
