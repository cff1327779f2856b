"""Check-in benchmark: bulk COPY import, then sustained check-ins over HTTP on loopback, with PostgreSQL.

1. Prepares ``CIVICPASS_BENCH_RESIDENTS`` residents (default 100,000) with sessions and
   ``CIVICPASS_BENCH_VENUES`` venues (default 97), through the services, and the day partitions (as the
   server's maintenance makes them).
2. Bulk import: ``CIVICPASS_BENCH_COPY_ROWS`` check-ins (default 500,000) of those residents at those
   venues over the past 24 hours, through PostgreSQL COPY in ``CIVICPASS_BENCH_COPY_STREAMS`` parallel
   streams (default 2), every index in place; it checks every row was stored. This is also the morning's
   traffic so far that the HTTP run finds in the table, and the table is then analysed, as autovacuum has
   long done by 8 a.m. on a table that grows all night.
3. Starts ``civicpass serve`` (``CIVICPASS_BENCH_WORKERS`` uvicorn workers, default 2, access log off as
   behind a load balancer) and, for each number of connections in ``CIVICPASS_BENCH_CLIENTS`` (default
   "64,128,256,512"), sends ``CIVICPASS_BENCH_CHECKINS`` check-ins (default 30,000) from a separate
   load-generator process (``bench/loadgen.py``), after a warm-up. Request n is resident n's scan of venue
   n, numbered on from round to round, so the rounds walk through the whole population (as a morning
   peak is many people scanning a few times each, not a few scanning every few seconds); the venue codes
   are those of the current window, minted before each round as the venues' displays show them. It
   records which check-ins were acknowledged (201), then checks each of them is stored, by client id:
   zero loss of acknowledged writes is part of the result, and a loss fails the benchmark.
4. The same load against a do-nothing ASGI app served the same way (``bench/ceiling.py``): the ceiling of
   the server stack and the load generator on this machine at this moment, and the ratio to it.

The load generator shares the machine's two cores with the server and the database, so the rates are
what the whole system does on two cores; each run also prints the CPU time each party used.

    python -m bench.checkins          # or: make bench
"""

from __future__ import annotations

import os
import platform
import random
import re
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

from bench import loadgen
from bench.common import random_keys, reset_schema
from civicpass.adapters.db.partitions import ensure_partitions
from civicpass.adapters.messaging import MemoryMessenger
from civicpass.bootstrap import build, migrate
from civicpass.domain.policy import StaffActor
from civicpass.domain.sessions import SubjectKind
from civicpass.domain.staff import Role
from civicpass.domain.venues import window_start
from civicpass.services import demo, venues
from civicpass.services.auth import open_session
from civicpass.settings import Settings

POSTGRES_URL = os.environ.get("CIVICPASS_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
SCHEMA = "civicpass_bench_checkins"
CHECKINS = int(os.environ.get("CIVICPASS_BENCH_CHECKINS", "30000"))
CLIENTS = [int(n) for n in os.environ.get("CIVICPASS_BENCH_CLIENTS", "64,128,256,512").split(",")]
WORKERS = int(os.environ.get("CIVICPASS_BENCH_WORKERS", "2"))
RESIDENTS = int(os.environ.get("CIVICPASS_BENCH_RESIDENTS", "100000"))
VENUES = int(os.environ.get("CIVICPASS_BENCH_VENUES", "97"))
COPY_ROWS = int(os.environ.get("CIVICPASS_BENCH_COPY_ROWS", "500000"))
COPY_STREAMS = int(os.environ.get("CIVICPASS_BENCH_COPY_STREAMS", "2"))
PATH = "/v1/me/check-ins"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _reset_schema(create: bool = True) -> None:
    reset_schema(POSTGRES_URL, SCHEMA, create)


class City:
    """Residents with bearer tokens and venues, made through the services; the venues' current codes."""

    def __init__(self, env: dict[str, str]) -> None:
        os.environ.update(env)
        container = build(Settings(), messenger=MemoryMessenger())
        migrate(container)
        demo.seed_demo_city(container.deps, RESIDENTS, "bench")
        with container.deps.uow() as uow:
            self.resident_ids = uow.residents.ids_after("", RESIDENTS)
            self.tokens = [
                open_session(uow, container.deps, SubjectKind.RESIDENT, rid)[0] for rid in self.resident_ids
            ]
            uow.commit()
        self.venue_ids = [
            venues.register_venue(
                container.deps, ADMIN, venues.NewVenue(f"Bench venue {n}", "market", "440106")
            ).id
            for n in range(VENUES)
        ]
        today = datetime.now(UTC).date()
        ensure_partitions(container.engine, today - timedelta(days=1), 8)  # as the server's maintenance does
        container.dispose()

    def current_codes(self) -> list[str]:
        """Each venue's rotating code of the current window, as its display page shows it now."""
        container = build(Settings(), messenger=MemoryMessenger())
        try:
            return [venues.venue_code(container.deps, ADMIN, v).token for v in self.venue_ids]
        finally:
            container.dispose()


ADMIN = StaffActor("bench-admin", Role.ADMIN, "440100")


# -- bulk import -------------------------------------------------------------------------------------


def _split_lines(payload: bytes, parts: int) -> list[bytes]:
    """Cut COPY text into ``parts`` pieces at line ends."""
    pieces, start = [], 0
    for k in range(1, parts + 1):
        end = len(payload) if k == parts else payload.index(b"\n", len(payload) * k // parts) + 1
        pieces.append(payload[start:end])
        start = end
    return pieces


COPY_COLUMNS = "id, at, client_id, resident_id, venue_id, recorded_at, method, evidence, flags, window_start"


def _copy_stream(payload: bytes) -> None:
    """One COPY stream on its own connection (parallel streams use both cores of the database)."""
    chunk = 1 << 20
    with psycopg.connect(POSTGRES_URL, options=f"-c search_path={SCHEMA}") as conn:
        with conn.cursor() as cur, cur.copy(f"COPY checkins ({COPY_COLUMNS}) FROM STDIN") as copy:
            for offset in range(0, len(payload), chunk):
                copy.write(payload[offset : offset + chunk])
        conn.commit()


def copy_import(city: City) -> float:
    """Bulk import through COPY, as a feed or a migration loads check-ins from a file.

    The rows are prepared as COPY text first (the file's contents; not timed); the timing covers
    streaming the text in 1 MiB chunks and the commits of ``COPY_STREAMS`` parallel streams, with every
    index and constraint in place.
    """
    rng = random.Random(2022)
    now = datetime.now(UTC).replace(microsecond=0)
    lines = []
    for i in range(COPY_ROWS):
        at = now - timedelta(seconds=rng.randrange(1, 86_400))
        window = window_start(at, timedelta(minutes=5)).replace(tzinfo=None)
        lines.append(
            f"{uuid.uuid4().hex}\t{at.replace(tzinfo=None).isoformat()}\t{uuid.uuid4().hex}\t"
            f"{city.resident_ids[i % len(city.resident_ids)]}\t{rng.choice(city.venue_ids)}\t"
            f"{at.replace(tzinfo=None).isoformat()}\trotating_code\tmedium\t\t{window.isoformat()}\n"
        )
    payload = "".join(lines).encode()
    parts = _split_lines(payload, COPY_STREAMS)
    before = _stored()
    started = time.perf_counter()
    with ThreadPoolExecutor(COPY_STREAMS) as pool:
        list(pool.map(_copy_stream, parts))
    seconds = time.perf_counter() - started
    if _stored() - before != COPY_ROWS:
        raise SystemExit(f"COPY stored {_stored() - before} rows, expected {COPY_ROWS}")
    rate = COPY_ROWS / seconds
    print(
        f"[bulk import via COPY, {COPY_STREAMS} streams] {COPY_ROWS} rows in {seconds:.1f} s = {rate:,.0f} rows/s"
    )
    return rate


def _stored() -> int:
    with psycopg.connect(POSTGRES_URL, options=f"-c search_path={SCHEMA}") as conn:
        row = conn.execute("SELECT count(*) FROM checkins").fetchone()
        return int(row[0]) if row else 0


def _stored_client_ids() -> set[str]:
    """Client ids of the check-ins recorded in the last hour (the HTTP runs'; the import's are older)."""
    since = datetime.now(UTC).replace(tzinfo=None) - timedelta(hours=1)
    with psycopg.connect(POSTGRES_URL, options=f"-c search_path={SCHEMA}") as conn:
        return {r[0] for r in conn.execute("SELECT client_id FROM checkins WHERE recorded_at > %s", (since,))}


def _analyse() -> None:
    with psycopg.connect(POSTGRES_URL, options=f"-c search_path={SCHEMA}", autocommit=True) as conn:
        conn.execute("ANALYZE")


# -- HTTP --------------------------------------------------------------------------------------------


def _cpu_seconds(pids: set[int] | None = None, pattern: bytes | None = None) -> float:
    """CPU time (user + system) used so far by the given processes, or those whose command line matches."""
    total, ticks = 0.0, os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            command = Path(f"/proc/{entry}/cmdline").read_bytes()
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if (pids is not None and int(entry) in pids) or (pattern is not None and re.search(pattern, command)):
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def _server_pids(server: subprocess.Popen[bytes]) -> set[int]:
    children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
    return {server.pid, *(int(c) for c in children)}


def http_checkins(city: City, env: dict[str, str], workdir: Path) -> list[dict[str, float]]:
    port = _free_port()
    server_env = {
        **os.environ,
        **env,
        "CIVICPASS_PORT": str(port),
        "CIVICPASS_WORKERS": str(WORKERS),
        "CIVICPASS_ACCESS_LOG": "false",
    }
    log = (workdir / "server.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "civicpass", "serve"], env=server_env, stdout=log, stderr=log
    )
    results = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx2.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx2.TransportError:
                time.sleep(0.2)
        time.sleep(6)  # the first maintenance run, 5 s after start-up, is done before measuring
        sent = 1000
        loadgen.run(  # warm-up, not counted
            "127.0.0.1", port, PATH, city.tokens, loadgen.checkin_body(city.current_codes()), sent, 64
        )
        for clients in CLIENTS:
            body = loadgen.checkin_body(city.current_codes())
            before = _stored_client_ids()
            pids = _server_pids(server)
            cpu = {
                "server": _cpu_seconds(pids),
                "database": _cpu_seconds(pattern=rb"^postgres: "),
            }
            tally = loadgen.run("127.0.0.1", port, PATH, city.tokens, body, CHECKINS, clients, first=sent)
            sent += CHECKINS
            used = {
                "server": _cpu_seconds(pids) - cpu["server"],
                "database": _cpu_seconds(pattern=rb"^postgres: ") - cpu["database"],
            }
            stored = _stored_client_ids() - before
            results.append(_report(clients, tally, stored, used))
    finally:
        server.terminate()
        server.wait(timeout=60)
        log.close()
    closed = re.findall(
        r"intake closed: (\d+) check-ins in (\d+) group commits", (workdir / "server.log").read_text()
    )
    checkins, commits = (sum(int(c[k]) for c in closed) for k in (0, 1))
    if commits:
        print(
            f"[group commits] {checkins} check-ins in {commits} commits: {checkins / commits:.1f} per commit"
        )
    return results


def _report(clients: int, tally: loadgen.Tally, stored: set[str], used: dict[str, float]) -> dict[str, float]:
    acknowledged = set(tally.acknowledged)
    rate = len(acknowledged) / tally.seconds
    print(f"[HTTP check-ins, PostgreSQL, {WORKERS} server workers, {clients} connections]")
    print(f"  answers {dict(sorted(tally.statuses.items()))}, transport errors {tally.transport_errors}")
    print(f"  acknowledged (201) {len(acknowledged)}, stored {len(stored)}")
    print(f"  rate {rate:,.0f} acknowledged check-ins/s over {tally.seconds:.1f} s")
    print(f"  latency p50 {tally.percentile(0.5) * 1000:.1f} ms, p99 {tally.percentile(0.99) * 1000:.1f} ms")
    n = max(1, len(acknowledged))
    print(
        "  CPU per check-in: server {:.0f} us, database {:.0f} us (the load generator's own is extra)".format(
            used["server"] / n * 1e6, used["database"] / n * 1e6
        )
    )
    missing = acknowledged - stored
    if missing:
        raise SystemExit(f"LOSS: {len(missing)} acknowledged check-ins are not stored")
    print("  zero loss: every acknowledged check-in is stored (checked by client id)")
    return {"clients": clients, "rate": rate, "acknowledged": len(acknowledged), "stored": len(stored)}


def http_ceiling(city: City) -> float:
    """The same load against a do-nothing app (``bench/ceiling.py``) served the same way."""
    port = _free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "bench.ceiling:app",
        "--port",
        str(port),
        "--workers",
        str(WORKERS),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    server = subprocess.Popen(command)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        body = loadgen.checkin_body(city.current_codes())
        loadgen.run("127.0.0.1", port, PATH, city.tokens, body, 1000, 64)
        clients = 128 if 128 in CLIENTS else CLIENTS[0]
        tally = loadgen.run("127.0.0.1", port, PATH, city.tokens, body, CHECKINS, clients)
    finally:
        server.terminate()
        server.wait(timeout=30)
    rate = len(tally.acknowledged) / tally.seconds
    print(
        f"[HTTP ceiling: a do-nothing ASGI app, {WORKERS} workers, {clients} connections] {rate:,.0f} answers/s"
    )
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
            "CIVICPASS_LOG_INTERVAL_SECONDS": "0",
        }
        try:
            city = City(env)
            copy_import(city)
            _analyse()
            results = http_checkins(city, env, Path(tmp))
            ceiling = http_ceiling(city)
            for result in results:
                print(
                    f"[check-ins / ceiling] {result['clients']:.0f} connections: "
                    f"{result['rate'] / ceiling:.2f} of what a do-nothing app answers"
                )
        finally:
            _reset_schema(create=False)


if __name__ == "__main__":
    main()
