"""Transparency log benchmark on PostgreSQL: the append rate, and inclusion proofs at 10 million leaves.

1. Append: ``CIVICPASS_BENCH_LOG_EVENTS`` events (default 200,000, status changes of residents) are put
   in the outbox by COPY (not timed), then published as leaves by ``services.transparency.publish`` in
   batches of 5,000, each batch one transaction: reading the events, pseudonymising, canonical JSON,
   leaf and subtree hashes, COPY of leaves and subtree hashes, the signed checkpoint. Target 10,000/s.
2. Proofs: a log of ``CIVICPASS_BENCH_LOG_LEAVES`` leaves (default 10,000,000) whose subtree hashes and
   tiles are computed by PostgreSQL itself (``sha256`` over the RFC 9162 prefixes, level by level: a proof
   reads only them) and vacuumed, as autovacuum keeps a live insert-only table; then ``CIVICPASS_BENCH_PROOFS``
   inclusion proofs (default 20,000) of random leaves through ``services.transparency.inclusion`` from
   ``CIVICPASS_BENCH_PROOF_PROCESSES`` processes (default 2, as two server workers), each proof checked
   with the RFC 9162 verifier first on a sample. Target 5,000/s.

    python -m bench.audit
"""

from __future__ import annotations

import io
import json
import os
import platform
import random
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from bench.common import bench_settings, reset_schema
from civicpass.adapters.db.log_repositories import TILES_FROM_NODES
from civicpass.adapters.messaging import MemoryMessenger
from civicpass.bootstrap import build, migrate
from civicpass.domain import merkle
from civicpass.services import transparency as tl

POSTGRES_URL = os.environ.get("CIVICPASS_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
SCHEMA = "civicpass_bench_audit"
EVENTS = int(os.environ.get("CIVICPASS_BENCH_LOG_EVENTS", "200000"))
LEAVES = int(os.environ.get("CIVICPASS_BENCH_LOG_LEAVES", "10000000"))
PROOFS = int(os.environ.get("CIVICPASS_BENCH_PROOFS", "20000"))
PROCESSES = int(os.environ.get("CIVICPASS_BENCH_PROOF_PROCESSES", "2"))


def _reset(create: bool = True) -> None:
    reset_schema(POSTGRES_URL, SCHEMA, create)


def _connect(autocommit: bool = False) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(POSTGRES_URL, options=f"-c search_path={SCHEMA}", autocommit=autocommit)


def append_rate(tmp: Path) -> float:
    container = build(bench_settings(POSTGRES_URL, tmp, SCHEMA), messenger=MemoryMessenger())
    migrate(container)
    tl.publish(container.deps)  # what migrating wrote
    at = datetime(2022, 5, 3, tzinfo=UTC)
    buffer = io.StringIO()
    for n in range(EVENTS):
        payload = {
            "subject": f"resident-{n % 50_000}",
            "version": n // 50_000 + 1,
            "color": "yellow",
            "previous": "green",
            "rules": ["YELLOW-DECLARED-SYMPTOMS-TESTS"],
            "ruleset_version": 1,
            "inputs_digest": f"{n:064x}",
        }
        buffer.write(
            f"status:resident:changed\t{json.dumps(payload)}\t{(at + timedelta(seconds=n)).isoformat()}\n"
        )
    with (
        _connect() as conn,
        conn.cursor() as cur,
        cur.copy("COPY events (name, payload, created_at) FROM STDIN") as copy,
    ):
        copy.write(buffer.getvalue())
    started = time.perf_counter()
    appended = 0
    while published := tl.publish(container.deps):
        appended += published
    seconds = time.perf_counter() - started
    head = tl.head(container.deps)
    assert appended == EVENTS, (appended, EVENTS)
    with container.deps.uow() as uow:
        leaves = [leaf.leaf_hash for leaf in uow.log.leaves(0, 1000)]
        assert uow.log.nodes([(0, 0)])[(0, 0)] == leaves[0]
    rate = appended / seconds
    print(
        f"[append, PostgreSQL] {appended:,} leaves in {seconds:.1f} s = {rate:,.0f} leaves/s (log size {head.size:,})"
    )
    container.dispose()
    return rate


def build_big_log(tmp: Path) -> None:
    """LEAVES leaf hashes and every complete subtree's hash, computed by PostgreSQL level by level."""
    container = build(bench_settings(POSTGRES_URL, tmp / "big", SCHEMA), messenger=MemoryMessenger())
    migrate(container)
    container.dispose()
    started = time.perf_counter()
    with _connect() as conn:
        conn.execute("TRUNCATE log_nodes, log_leaves, log_tiles")
        conn.execute(
            "INSERT INTO log_nodes (level, idx, hash) SELECT 0, i,"
            " sha256('\\x00'::bytea || convert_to('{\"leaf\":' || i || '}', 'UTF8'))"
            " FROM generate_series(0, %s - 1) AS i",
            (LEAVES,),
        )
        level, count = 0, LEAVES
        while count > 1:
            conn.execute(
                "INSERT INTO log_nodes (level, idx, hash)"
                " SELECT %s + 1, a.idx / 2, sha256('\\x01'::bytea || a.hash || b.hash)"
                " FROM log_nodes a JOIN log_nodes b ON b.level = a.level AND b.idx = a.idx + 1"
                " WHERE a.level = %s AND a.idx %% 2 = 0",
                (level, level),
            )
            level, count = level + 1, count // 2
        conn.execute(TILES_FROM_NODES)
        root = _root_of(conn, LEAVES)
        conn.execute(
            "UPDATE log_state SET size = %s, root = %s, last_event_id = 2147483647, updated_at = now() WHERE id = 1",
            (LEAVES, root),
        )
    # As autovacuum has long done on a live log (an insert-only table is vacuumed as it grows): hint bits
    # set and statistics taken, so that proofs do not pay for the bulk build's first reads.
    with _connect(autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) log_nodes")
        conn.execute("VACUUM (ANALYZE) log_tiles")
    print(
        f"[big log] {LEAVES:,} leaves' subtree hashes built by PostgreSQL in {time.perf_counter() - started:.0f} s"
    )


def _root_of(conn: psycopg.Connection[tuple[object, ...]], size: int) -> bytes:
    found = {}
    for level, idx in merkle.pieces(0, size):
        row = conn.execute(
            "SELECT hash FROM log_nodes WHERE level = %s AND idx = %s", (level, idx)
        ).fetchone()
        assert row is not None
        found[(level, idx)] = bytes(row[0])  # type: ignore[arg-type]
    (root,) = merkle.range_hashes(found, [(0, size)])
    return root


def _prove(args: tuple[str, int, int]) -> tuple[int, float]:
    tmp, count, seed = args
    container = build(bench_settings(POSTGRES_URL, Path(tmp), SCHEMA), messenger=MemoryMessenger())
    rng = random.Random(seed)
    tl.inclusion(container.deps, 0)  # warm the pool
    started = time.perf_counter()
    for _ in range(count):
        tl.inclusion(container.deps, rng.randrange(LEAVES))
    seconds = time.perf_counter() - started
    container.dispose()
    return count, seconds


def proof_rate(tmp: Path) -> float:
    container = build(bench_settings(POSTGRES_URL, tmp / "big", SCHEMA), messenger=MemoryMessenger())
    for index in random.Random(1).sample(range(LEAVES), 50):  # a sample, checked with the verifier
        proof = tl.inclusion(container.deps, index)
        leaf = merkle.leaf_hash(f'{{"leaf":{index}}}'.encode())
        merkle.verify_inclusion(index, LEAVES, leaf, proof.proof, proof.root)
    container.dispose()
    per = PROOFS // PROCESSES
    started = time.perf_counter()
    with ProcessPoolExecutor(PROCESSES) as pool:
        done = list(pool.map(_prove, [(str(tmp / "big"), per, k) for k in range(PROCESSES)]))
    wall = time.perf_counter() - started
    total = sum(n for n, _ in done)
    rate = total / max(s for _, s in done)
    print(
        f"[inclusion proofs at {LEAVES:,} leaves, {PROCESSES} processes] {total:,} proofs: {rate:,.0f} proofs/s"
        f" ({wall:.1f} s with start-up); 50 sampled proofs verified"
    )
    return rate


def main() -> None:
    print(
        f"civicpass audit benchmark on {platform.node()} ({os.cpu_count()} cores, Python {platform.python_version()})"
    )
    _reset()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            append_rate(Path(tmp))
            build_big_log(Path(tmp))
            proof_rate(Path(tmp))
    finally:
        _reset(create=False)


if __name__ == "__main__":
    main()
