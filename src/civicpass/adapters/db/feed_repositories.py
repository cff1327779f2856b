"""SQL repository of the signed data feeds: sources, batches (with their reports), records, quarantine.

On PostgreSQL the bulk writes go through COPY: accepted records' ids in COPY's binary format
(``pg_hot.binary_rows``), quarantined records written as text here (``pg_hot.copy_text``).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from civicpass.adapters.db import pg_hot
from civicpass.adapters.db import tables as t
from civicpass.domain.errors import FieldError
from civicpass.domain.feeds import FeedKind, FeedSource, Rejected, rejection_view
from civicpass.services.ports import StoredBatch

_CHUNK = 5000  # ids per IN list
KNOWN_RECORDS = "SELECT record_id FROM feed_records WHERE source_id = %s AND record_id = ANY({among})"
RECORD_COLUMNS = ("source_id", "record_id", "batch_id")
QUARANTINE_COLUMNS = ("source_id", "batch_id", "line", "record_id", "reasons", "raw", "received_at")


def known_records(source_id: str, record_ids: Collection[str]) -> tuple[str, tuple[str, str]]:
    """PostgreSQL's query of which of a source's record ids are stored, and its parameters: a batch's
    50,000 ids as one parameter, hidden from the planner (``tables.any_text_probed``) and so probed in the
    primary key. Seeing them, it planned a scan of the whole table once the table was some times the
    batch's size, and every batch adds to it (docs/performance.md). Sorted, as PostgreSQL sorts them for
    its probes: a sorted list takes it one pass."""
    among, values = t.any_text_probed(sorted(record_ids))
    return KNOWN_RECORDS.format(among=among), (source_id, values)


class SqlFeeds:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def _insert(self, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
        pg_hot.insert_rows(self.conn, table, rows)

    def add_source(self, source: FeedSource) -> None:
        self.conn.execute(t.feed_sources.insert(), {**vars(source), "kind": source.kind.value})

    def source(self, source_id: str) -> FeedSource | None:
        row = self.conn.execute(sa.select(t.feed_sources).where(t.feed_sources.c.id == source_id)).first()
        if row is None:
            return None
        m = row._mapping
        return FeedSource(**{**dict(m), "kind": FeedKind(m["kind"])})

    def sources(self) -> list[FeedSource]:
        rows = self.conn.execute(sa.select(t.feed_sources).order_by(t.feed_sources.c.name))
        return [FeedSource(**{**dict(r._mapping), "kind": FeedKind(r.kind)}) for r in rows]

    def batch(self, source_id: str, batch_id: str) -> StoredBatch | None:
        b = t.feed_batches.c
        row = self.conn.execute(
            sa.select(b.sha256, b.report).where(b.source_id == source_id, b.batch_id == batch_id)
        ).first()
        return None if row is None else StoredBatch(row.sha256, row.report)

    def add_batch(
        self, source_id: str, batch_id: str, sha256: str, at: datetime, report: dict[str, Any]
    ) -> None:
        self.conn.execute(
            t.feed_batches.insert(),
            {
                "source_id": source_id,
                "batch_id": batch_id,
                "sha256": sha256,
                "received_at": at,
                "report": report,
            },
        )

    def known(self, source_id: str, record_ids: Collection[str]) -> set[str]:
        if pg := pg_hot.connection(self.conn):
            return {row[0] for row in pg.execute(*known_records(source_id, record_ids))}
        r, ids = t.feed_records.c, list(record_ids)
        found: set[str] = set()
        for start in range(0, len(ids), _CHUNK):
            query = sa.select(r.record_id).where(
                r.source_id == source_id, t.among(self.conn, r.record_id, ids[start : start + _CHUNK])
            )
            found.update(self.conn.execute(query).scalars())
        return found

    def add_records(self, source_id: str, batch_id: str, record_ids: Sequence[str]) -> None:
        if pg := pg_hot.connection(self.conn):
            # in key order, so that each adds to the primary key next to the one before (a lab's ids often
            # ascend already: sorting them is then one pass); in COPY's binary format, joined by Arrow
            fields = [
                pg_hot.binary_count(len(RECORD_COLUMNS)),
                pg_hot.binary_text(source_id),
                pg_hot.binary_texts(sorted(record_ids)),
                pg_hot.binary_text(batch_id),
            ]
            pg_hot.copy_binary(pg, "feed_records", RECORD_COLUMNS, pg_hot.binary_rows(fields))
            return
        self._insert(
            t.feed_records,
            [{"source_id": source_id, "record_id": rid, "batch_id": batch_id} for rid in record_ids],
        )

    def quarantine(self, source_id: str, batch_id: str, rejected: Sequence[Rejected], at: datetime) -> None:
        if pg := pg_hot.connection(self.conn):
            # COPY text written by one f-string a record, not value by value through psycopg's row writer:
            # a batch's rejections share a few reasons (a lab's unknown residents, one each), whose JSON
            # is made once
            head = f"{pg_hot.copy_field(source_id)}\t{pg_hot.copy_field(batch_id)}\t"
            tail = f"\t{pg_hot.naive_utc(at)}\n"
            reasons: dict[tuple[FieldError, ...], str] = {}
            lines = []
            for r in rejected:
                if (why := reasons.get(r.reasons)) is None:
                    why = reasons[r.reasons] = pg_hot.copy_field(json.dumps(rejection_view(r)["errors"]))
                record_id = pg_hot.COPY_NULL if r.record_id is None else pg_hot.copy_field(r.record_id)
                lines.append(f"{head}{r.line}\t{record_id}\t{why}\t{pg_hot.copy_field(r.raw)}{tail}")
            pg_hot.copy_text(pg, "feed_quarantine", QUARANTINE_COLUMNS, lines)
            return
        self._insert(
            t.feed_quarantine,
            [
                {
                    "source_id": source_id,
                    "batch_id": batch_id,
                    "line": r.line,
                    "record_id": r.record_id,
                    "reasons": rejection_view(r)["errors"],
                    "raw": r.raw,
                    "received_at": at,
                }
                for r in rejected
            ],
        )

    def quarantined(self, source_id: str, limit: int) -> list[dict[str, Any]]:
        q = t.feed_quarantine.c
        rows = self.conn.execute(
            sa.select(q.batch_id, q.line, q.record_id, q.reasons, q.received_at)
            .where(q.source_id == source_id)
            .order_by(q.id.desc())
            .limit(limit)
        )
        return [{**r._mapping, "received_at": r.received_at.isoformat()} for r in rows]
