"""The daily Parquet export of check-ins, for analytics (DuckDB, Spark), with a manifest beside it.

Layout (Hive-style, so ``read_parquet('exports/checkins/*/*.parquet', hive_partitioning = true)`` works)::

    OUT/checkins/day=YYYY-MM-DD/checkins.parquet   zstd-compressed, the schema below
    OUT/checkins/day=YYYY-MM-DD/manifest.json      rows, bytes, SHA-256 of the Parquet file, schema, ...

Rows are streamed from the database in batches, so memory stays bounded by one batch whatever the day's
volume. Each file is written to a temporary name and renamed into place (the Parquet file first, then the
manifest that describes it), so a reader never sees half a file; exporting a day again replaces it.

Resident and venue ids are pseudonymous database ids; the client id a phone chose and the staff member
who recorded a checkpoint scan are left out.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa

from civicpass import __version__
from civicpass.adapters.db.checkin_repositories import SqlCheckins

TIMESTAMP = pa.timestamp("us", tz="UTC")
SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("at", TIMESTAMP, nullable=False),
        pa.field("resident_id", pa.string(), nullable=False),
        pa.field("venue_id", pa.string(), nullable=False),
        pa.field("method", pa.string(), nullable=False),
        pa.field("evidence", pa.string(), nullable=False),
        pa.field("flags", pa.string(), nullable=False),
        pa.field("lat", pa.float64()),
        pa.field("lon", pa.float64()),
        pa.field("window_start", TIMESTAMP),
        pa.field("direction", pa.string()),
        pa.field("recorded_at", TIMESTAMP, nullable=False),
    ]
)
BATCH = 50_000
CHUNK = 1 << 20


@dataclass(frozen=True)
class Manifest:
    table: str
    day: str
    rows: int
    bytes: int
    sha256: str
    schema: list[dict[str, Any]]
    exported_at: str
    civicpass_version: str

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=1) + "\n"


def day_dir(out_dir: Path, day: date) -> Path:
    return out_dir / "checkins" / f"day={day.isoformat()}"


def _schema_description() -> list[dict[str, Any]]:
    return [{"name": f.name, "type": str(f.type), "nullable": f.nullable} for f in SCHEMA]


def _batches(engine: sa.Engine, day: date, batch: int) -> Iterator[pa.RecordBatch]:
    start = datetime.combine(day, time(), UTC)
    with engine.connect() as conn:
        for rows in SqlCheckins(conn).stream(start, start + timedelta(days=1), batch):
            columns = {name: [row[name] for row in rows] for name in SCHEMA.names}
            yield pa.RecordBatch.from_pydict(columns, schema=SCHEMA)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _temporary(directory: Path, suffix: str) -> Path:
    fd, name = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=suffix)
    os.close(fd)
    return Path(name)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def export_day(
    engine: sa.Engine,
    day: date,
    out_dir: Path,
    *,
    exported_at: datetime | None = None,
    batch: int = BATCH,
) -> Manifest:
    """Write one UTC day's check-ins as Parquet with its manifest, replacing an earlier export of the day."""
    target = day_dir(out_dir, day)
    target.mkdir(parents=True, exist_ok=True)
    parquet = _temporary(target, ".parquet")
    manifest_file = _temporary(target, ".json")
    try:
        rows = 0
        with pq.ParquetWriter(parquet, SCHEMA, compression="zstd") as writer:
            for record_batch in _batches(engine, day, batch):
                writer.write_batch(record_batch)
                rows += record_batch.num_rows
        _fsync(parquet)
        manifest = Manifest(
            table="checkins",
            day=day.isoformat(),
            rows=rows,
            bytes=parquet.stat().st_size,
            sha256=_sha256(parquet),
            schema=_schema_description(),
            exported_at=(exported_at or datetime.now(UTC)).astimezone(UTC).isoformat(),
            civicpass_version=__version__,
        )
        manifest_file.write_text(manifest.to_json(), encoding="utf-8")
        _fsync(manifest_file)
        parquet.replace(target / "checkins.parquet")
        manifest_file.replace(target / "manifest.json")
    finally:
        parquet.unlink(missing_ok=True)
        manifest_file.unlink(missing_ok=True)
    return manifest
