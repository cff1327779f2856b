"""Check-in benchmark: sustained check-ins over HTTP on loopback with PostgreSQL, and bulk COPY import.

1. Starts ``civicpass serve`` (PostgreSQL, ``CIVICPASS_BENCH_WORKERS`` uvicorn workers, default 2) on a free
   loopback port, prepares residents with sessions and a venue with a rotating code, then drives
   ``CIVICPASS_BENCH_CHECKINS`` check-ins (default 20,000) from ``CIVICPASS_BENCH_CLIENTS`` concurrent
   connections (default 64) in a separate process. It counts acknowledged (201) check-ins and then the rows
   stored, and fails if they differ: zero loss of acknowledged writes is part of the result.
2. Bulk import: ``CIVICPASS_BENCH_COPY_ROWS`` rows (default 500,000) through PostgreSQL COPY (psycopg),
   in ``CIVICPASS_BENCH_COPY_STREAMS`` parallel streams (default 2), checking every row was stored.

    python -m bench.checkins          # or: make bench
"""

from __future__ import annotations

import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx2
import psycopg
import sqlalchemy as sa

from bench import loadgen
from bench.common import random_keys
from civicpass.adapters.db.engine import make_engine
from civicpass.adapters.db.partitions import ensure_partitions
from civicpass.adapters.messaging import MemoryMessenger
from civicpass.bootstrap import build, migrate
from civicpass.domain.policy import StaffActor
from civicpass.domain.sessions import SubjectKind
from civicpass.domain.staff import Role
from civicpass.services import demo, venues
from civicpass.services.auth import open_session
from civicpass.settings import Settings

POSTGRES_URL = os.environ.get("CIVICPASS_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
SCHEMA = "civicpass_bench_checkins"
CHECKINS = int(os.environ.get("CIVICPASS_BENCH_CHECKINS", "20000"))
CLIENTS = int(os.environ.get("CIVICPASS_BENCH_CLIENTS", "64"))
WORKERS = int(os.environ.get("CIVICPASS_BENCH_WORKERS", "2"))
RESIDENTS = int(os.environ.get("CIVICPASS_BENCH_RESIDENTS", "20000"))
VENUES = int(os.environ.get("CIVICPASS_BENCH_VENUES", "97"))
LOAD_PROCESSES = int(os.environ.get("CIVICPASS_BENCH_LOAD_PROCESSES", "1"))
PATH = "/v1/me/check-ins"
COPY_ROWS = int(os.environ.get("CIVICPASS_BENCH_COPY_ROWS", "500000"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _reset_schema() -> None:
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE'))
        conn.execute(sa.text(f'CREATE SCHEMA "{SCHEMA}"'))
    admin.dispose()


def prepare(env: dict[str, str]) -> tuple[list[str], list[str]]:
    """Residents with bearer tokens and venues with their current rotating codes, made through the services."""
    os.environ.update(env)
    container = build(Settings(), messenger=MemoryMessenger())
    migrate(container)
    demo.seed_demo_city(container.deps, RESIDENTS, "bench")
    with container.deps.uow() as uow:
        ids = uow.residents.ids_after("", RESIDENTS)
        tokens = [open_session(uow, container.deps, SubjectKind.RESIDENT, rid)[0] for rid in ids]
        uow.commit()
    admin = StaffActor("bench-admin", Role.ADMIN, "440100")
    codes = []
    for n in range(VENUES):
        new = venues.NewVenue(f"Bench venue {n}", "market", "440106")
        venue = venues.register_venue(container.deps, admin, new)
        codes.append(venues.venue_code(container.deps, admin, venue.id).token)
    container.dispose()
    return tokens, codes


def http_checkins(env: dict[str, str], workdir: Path) -> dict[str, float]:
    tokens, codes = prepare(env)
    port = _free_port()
    server_env = {**os.environ, **env, "CIVICPASS_PORT": str(port), "CIVICPASS_WORKERS": str(WORKERS)}
    log = (workdir / "server.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "civicpass", "serve"], env=server_env, stdout=log, stderr=log
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx2.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx2.TransportError:
                time.sleep(0.2)
        before = _stored_client_ids()
        # A short warm-up (imports, connection pools, the venue code's first opening), not counted.
        loadgen.run("127.0.0.1", port, PATH, tokens, loadgen.checkin_body(codes), 500, CLIENTS)
        warm = _stored_client_ids() - before
        tally = loadgen.run(
            "127.0.0.1", port, PATH, tokens, loadgen.checkin_body(codes), CHECKINS, CLIENTS, LOAD_PROCESSES
        )
    finally:
        server.terminate()
        server.wait(timeout=60)
        log.close()
    stored = _stored_client_ids() - before - warm
    acknowledged = set(tally.acknowledged)
    rate = len(acknowledged) / tally.seconds
    print(f"[HTTP check-ins, PostgreSQL, {WORKERS} server workers, {CLIENTS} connections, {LOAD_PROCESSES} load processes]")
    print(f"  answers {dict(sorted(tally.statuses.items()))}, transport errors {tally.transport_errors}")
    print(f"  acknowledged (201) {len(acknowledged)}, stored {len(stored)}")
    print(f"  rate {rate:10.0f} acknowledged check-ins/s over {tally.seconds:.1f} s")
    print(f"  latency p50 {tally.percentile(0.5) * 1000:.1f} ms, p99 {tally.percentile(0.99) * 1000:.1f} ms")
    missing = acknowledged - stored
    if missing:
        raise SystemExit(f"LOSS: {len(missing)} acknowledged check-ins are not stored")
    print("  zero loss: every acknowledged check-in is stored (checked by client id)")
    return {"rate": rate, "acknowledged": len(acknowledged), "stored": len(stored)}


def _stored_client_ids() -> set[str]:
    engine = make_engine(POSTGRES_URL, schema=SCHEMA)
    with engine.connect() as conn:
        ids = set(conn.execute(sa.text("SELECT client_id FROM checkins")).scalars())
    engine.dispose()
    return ids


def _stored() -> int:
    engine = make_engine(POSTGRES_URL, schema=SCHEMA)
    with engine.connect() as conn:
        count = int(conn.execute(sa.text("SELECT count(*) FROM checkins")).scalar_one())
    engine.dispose()
    return count


COPY_STREAMS = int(os.environ.get("CIVICPASS_BENCH_COPY_STREAMS", "2"))


def _split_lines(payload: bytes, parts: int) -> list[bytes]:
    """Cut COPY text into ``parts`` pieces at line ends."""
    pieces, start = [], 0
    for k in range(1, parts + 1):
        end = len(payload) if k == parts else payload.index(b"\n", len(payload) * k // parts) + 1
        pieces.append(payload[start:end])
        start = end
    return pieces


def _copy_stream(payload: bytes) -> None:
    """One COPY stream on its own connection (parallel streams use both cores of the database)."""
    chunk = 1 << 20
    with psycopg.connect(POSTGRES_URL, options=f"-c search_path={SCHEMA}") as conn:
        with (
            conn.cursor() as cur,
            cur.copy(
                "COPY checkins (id, at, client_id, resident_id, venue_id, recorded_at, method, evidence, flags) FROM STDIN"
            ) as copy,
        ):
            for offset in range(0, len(payload), chunk):
                copy.write(payload[offset : offset + chunk])
        conn.commit()


def copy_import() -> float:
    """Bulk import through COPY, as a feed or a migration loads check-ins from a file.

    The rows are prepared as COPY text first (the file's contents; not timed), the day partitions exist
    (as the server's maintenance makes them), and the timing covers streaming the text in 1 MiB chunks
    and the commits of ``COPY_STREAMS`` parallel streams, with every index and constraint in place.
    """
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    lines = []
    for i in range(COPY_ROWS):
        at = now - timedelta(seconds=i % 86_400)
        lines.append(
            f"{uuid.uuid4().hex}\t{at.isoformat()}\t{uuid.uuid4().hex}\tr{i % 100_000}\tv{i % 500}\t"
            f"{now.isoformat()}\trotating_code\tmedium\t\n"
        )
    payload = "".join(lines).encode()
    engine = make_engine(POSTGRES_URL, schema=SCHEMA)
    with engine.begin() as conn:
        ensure_partitions(conn, (now - timedelta(days=2)).date(), 4)
    engine.dispose()
    parts = _split_lines(payload, COPY_STREAMS)
    before = _stored()
    started = time.perf_counter()
    with ThreadPoolExecutor(COPY_STREAMS) as pool:
        list(pool.map(_copy_stream, parts))
    seconds = time.perf_counter() - started
    if _stored() - before != COPY_ROWS:
        raise SystemExit(f"COPY stored {_stored() - before} rows, expected {COPY_ROWS}")
    rate = COPY_ROWS / seconds
    print(f"[bulk import via COPY] {COPY_ROWS} rows in {seconds:.1f} s = {rate:10.0f} rows/s")
    return rate


def main() -> None:
    print(
        f"civicpass check-in benchmark on {platform.node()} ({os.cpu_count()} cores, Python {platform.python_version()})"
    )
    _reset_schema()
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **{f"CIVICPASS_{name.upper()}": value for name, value in random_keys().items()},
            "CIVICPASS_DATABASE_URL": POSTGRES_URL,
            "CIVICPASS_DATABASE_SCHEMA": SCHEMA,
            "CIVICPASS_DATA_DIR": tmp,
            "CIVICPASS_PASSWORD_TIME_COST": "1",
            "CIVICPASS_PASSWORD_MEMORY_COST": "1024",
            "CIVICPASS_SWEEP_INTERVAL_SECONDS": "0",
        }
        try:
            http_checkins(env, Path(tmp))
            copy_import()
        finally:
            _reset_schema()
            admin = make_engine(POSTGRES_URL)
            with admin.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE'))
            admin.dispose()


if __name__ == "__main__":
    main()
