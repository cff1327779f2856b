"""Foundation benchmark: declarations and document look-ups through the services, SQLite vs PostgreSQL.

Measures what every later feature stands on: a validated, encrypted, durable write (a health declaration
through the unit of work) and a blind-index look-up that decrypts a resident. Single thread, so the
figures are per-core latency-bound rates; compare the two databases as a ratio measured in one run.

    python -m bench            # or: make bench
    CIVICPASS_BENCH_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/test python -m bench
"""

from __future__ import annotations

import os
import platform
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from bench.common import bench_settings
from civicpass.adapters.db.engine import make_engine
from civicpass.adapters.messaging import MemoryMessenger
from civicpass.bootstrap import Container, build, migrate
from civicpass.domain.identity import Document, DocumentType
from civicpass.domain.policy import ResidentActor
from civicpass.services import demo
from civicpass.services.declarations import Submission, submit

RESIDENTS = int(os.environ.get("CIVICPASS_BENCH_RESIDENTS", "5000"))
DECLARATIONS = int(os.environ.get("CIVICPASS_BENCH_DECLARATIONS", "2000"))
LOOKUPS = int(os.environ.get("CIVICPASS_BENCH_LOOKUPS", "2000"))
POSTGRES_URL = os.environ.get("CIVICPASS_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
SCHEMA = "civicpass_bench"
HEALTH = {
    "temperature_c": 36.6,
    "symptoms": [],
    "contact_history": {
        "confirmed_case": False,
        "suspected_case": False,
        "high_risk_area_visitor": False,
        "fever_cluster": False,
    },
}


def _rate(count: int, seconds: float) -> str:
    return f"{count / seconds:10.0f}/s  ({seconds * 1000 / count:6.2f} ms each)"


def run(container: Container, label: str) -> dict[str, float]:
    migrate(container)
    started = time.perf_counter()
    demo.seed_demo_city(container.deps, RESIDENTS, "bench")
    seed_s = time.perf_counter() - started
    with container.deps.uow() as uow:
        people = uow.residents.in_region("4401", 500, 0)
    documents = [p.pii.document for p in people if p.pii.document.type is DocumentType.RESIDENT_ID]

    started = time.perf_counter()
    for i in range(DECLARATIONS):
        subject = people[i % len(people)]
        submit(
            container.deps, ResidentActor(subject.id), Submission(subject.id, "health", None, HEALTH), None
        )
    declare_s = time.perf_counter() - started

    started = time.perf_counter()
    for i in range(LOOKUPS):
        document: Document = documents[i % len(documents)]
        with container.deps.uow() as uow:
            found = uow.residents.by_document(document)
        if found is None:
            raise RuntimeError("blind-index look-up missed a seeded resident")
    lookup_s = time.perf_counter() - started

    print(f"[{label}]")
    print(f"  seed {RESIDENTS} residents (encrypt + index)   {_rate(RESIDENTS, seed_s)}")
    print(f"  health declarations (validate, store)   {_rate(DECLARATIONS, declare_s)}")
    print(f"  look-ups by document (blind index)      {_rate(LOOKUPS, lookup_s)}")
    return {"seed": RESIDENTS / seed_s, "declare": DECLARATIONS / declare_s, "lookup": LOOKUPS / lookup_s}


def main() -> None:
    print(
        f"civicpass foundation benchmark on {platform.node()} ({os.cpu_count()} cores, Python {platform.python_version()})"
    )
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = build(
            bench_settings(f"sqlite:///{tmp}/bench.db", Path(tmp), None), messenger=MemoryMessenger()
        )
        try:
            lite = run(sqlite, "SQLite (WAL, synchronous=FULL)")
        finally:
            sqlite.dispose()
        admin = make_engine(POSTGRES_URL)
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE'))
            conn.execute(sa.text(f'CREATE SCHEMA "{SCHEMA}"'))
        postgres = build(bench_settings(POSTGRES_URL, Path(tmp), SCHEMA), messenger=MemoryMessenger())
        try:
            pg = run(postgres, "PostgreSQL (psycopg 3)")
        finally:
            postgres.dispose()
            with admin.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE'))
            admin.dispose()
    print("[ratio PostgreSQL / SQLite]")
    for key in ("seed", "declare", "lookup"):
        print(f"  {key:8s} {pg[key] / lite[key]:5.2f}x")


if __name__ == "__main__":
    main()
