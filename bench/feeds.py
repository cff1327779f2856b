"""Feed import benchmark (issue 6): signed test results through ``services.feeds.import_batch`` on PostgreSQL.

Enrols ``CIVICPASS_BENCH_FEED_RECORDS`` residents with resident ID numbers (default 200,000; the demo's
synthetic people, about one in nine a child without a document) and gives each with a document a
current status, as after a morning of codes; registers a lab source with its Ed25519 key; then signs one
test result for each of these residents, sampled over a morning (06:00-12:00, to the second: a batch's
times mostly distinct, as a lab's are), in batches of 50,000 (JSON Lines, the signed format of
docs/formats/feeds.md; CSV with ``CIVICPASS_BENCH_FEED_FORMAT=csv``), and imports them twice over:

0. **the parser alone**: one batch of the load in each format, parsed by the Arrow parser (the server's)
   and by the reference (``domain.feeds.parse_batch``), the best CPU per record of a few runs;

1. **one stream**: the batches one after another in one worker process, as one server worker imports one
   lab's uploads (signature, parsing and validation of every record, resident look-up by blind index, the
   duplicate check, COPY of facts and record ids, the report, the residents' statuses marked due);
2. **concurrent streams**: as many batches again (new record ids, the same residents after the status
   sweep has re-evaluated them), imported by ``CIVICPASS_BENCH_FEED_STREAMS`` processes at once (default
   2), as labs upload to the server's running workers.

3. **the sweep catching up**: the statuses the concurrent part marked due, re-evaluated by
   ``services.status.sweep`` in as many processes at once (the server's workers each run it; each sweep
   claims a batch's mark of its own), timed until no mark is left; each resident is re-evaluated once.
   It prints the CPU per status of its workers and of their backends, as the import parts do per record.
4. **travel stays**: one stay for each resident from a transport source (``RECORDS`` in all), ending
   within the last 14 days, about one in eight in one of four risk areas declared ten days before (and
   so an arrival fact), imported by as many processes at once as the second part.
5. **quarantine**: ``RECORDS`` test results for people not enrolled, imported by one process: each
   record rejected as ``resident_unknown``, reported and kept in quarantine.

Every timed part runs in worker processes spawned as uvicorn spawns a server's workers (fresh interpreters
holding their batches, not forks of the process that made the population), each started and connected
before the clock.

So every record is a different resident whose status is not yet due, as on a day of mass testing: each
record costs a document check, a blind index, a look-up and a status marked due (a batch that names the
same residents again and again, or residents without a status, would skip most of that).
``CIVICPASS_BENCH_FEED_POPULATION`` enrols more residents than there are records (the records go to the
first of them), for a province's proportions: a batch then names a smaller share of all statuses. Each
import part checks that the facts stored equal the records accepted, and prints records per second and the
CPU per record of its worker processes and of their PostgreSQL backends.

    python -m bench.feeds
"""

from __future__ import annotations

import gc
import json
import multiprocessing
import os
import platform
import random
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench.common import bench_settings, reset_schema
from civicpass.adapters.crypto import b64url
from civicpass.adapters.feed_parser import ArrowFeedParser
from civicpass.adapters.messaging import MemoryMessenger
from civicpass.bootstrap import Container, build, migrate
from civicpass.domain import feeds as fd
from civicpass.domain.facts import FactKind
from civicpass.domain.identity import Document
from civicpass.domain.policy import StaffActor
from civicpass.domain.staff import Role
from civicpass.services import feeds
from civicpass.services import status as status_service
from civicpass.services.context import Deps
from civicpass.services.demo import make_people
from civicpass.services.ports import RiskArea, StoredStatus
from civicpass.settings import Settings

POSTGRES_URL = os.environ.get("CIVICPASS_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
SCHEMA = "civicpass_bench_feeds"
RECORDS = int(os.environ.get("CIVICPASS_BENCH_FEED_RECORDS", "200000"))
POPULATION = max(RECORDS, int(os.environ.get("CIVICPASS_BENCH_FEED_POPULATION", "0")))
STREAMS = int(os.environ.get("CIVICPASS_BENCH_FEED_STREAMS", "2"))
BATCH = 50_000
FORMAT = os.environ.get("CIVICPASS_BENCH_FEED_FORMAT", "jsonl")
"""The import parts' batches: JSON Lines (``jsonl``, the default) or CSV (``csv``)."""


def _population(deps: Deps, holders: int) -> list[Document]:
    """Enrol residents until ``holders`` of them hold a document, each with a current green status;
    their documents."""
    now = deps.clock.now()
    people, links = make_people(deps, random.Random(2022), holders * 6 // 5, now)
    documents = [p.pii.document for p in people if p.pii.document.number is not None][:holders]
    assert len(documents) == holders, "too few residents with a document"
    for start in range(0, len(people), 100_000):
        chunk = people[start : start + 100_000]
        with deps.uow() as uow:
            uow.residents.add_many(chunk)
            uow.statuses.save_many(
                [
                    (StoredStatus(p.id, 1, "green", [], 1, now, now + timedelta(days=1), "0" * 64), True)
                    for p in chunk
                ]
            )
            uow.commit()
    with deps.uow() as uow:
        uow.guardianships.add_many(links)
        uow.commit()
    return documents


def _swept(engine: sa.Engine) -> None:
    """Every status re-evaluated and not due before tomorrow, as after the status sweep has caught up
    with the previous part (untimed)."""
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE statuses SET review_at = now() + interval '1 day'"))
        conn.execute(sa.text("DELETE FROM status_marks"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        # as autovacuum would have, meanwhile: the residents enrolled days before a morning of mass
        # testing, all visible, so that their look-up can read the index alone
        conn.execute(sa.text("VACUUM ANALYZE statuses, residents"))


@dataclass(frozen=True)
class Batch:
    batch_id: str
    body: bytes
    signature: str
    records: int
    media_type: str


def _sampled_at(n: int) -> str:
    """When the ``n``-th sample was taken: a morning's sampling, 06:00-12:00 to the second, so that a
    batch's times are mostly distinct, as a lab's are (each one is checked as a time)."""
    second = n * 7919 % 21_600  # a prime step: neighbouring records are not neighbouring seconds
    return f"2022-05-02T{6 + second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}+08:00"


CSV_HEADER = "record_id,kind,document_type,document_number,nationality,test,result,sampled_at"
MEDIA_TYPES = {"jsonl": "application/jsonl", "csv": "text/csv"}


def _line(n: int, doc: Document, form: str) -> str:
    """The ``n``-th test result, for the holder of ``doc``, as a line of JSON Lines or a row of CSV."""
    if form == "csv":
        fields = [f"bench-{n}", "test_result", doc.type.value, doc.number, doc.nationality]
        return ",".join([*(field or "" for field in fields), "pcr", "negative", _sampled_at(n)])
    record = {
        "record_id": f"bench-{n}",
        "kind": "test_result",
        "document": {"type": doc.type.value, "number": doc.number, "nationality": doc.nationality},
        "test": "pcr",
        "result": "negative",
        "sampled_at": _sampled_at(n),
    }
    return json.dumps(record)


def _body(documents: list[Document], start: int, end: int, first: int, form: str) -> bytes:
    lines = [_line(n, documents[(n - first) % len(documents)], form) for n in range(start, end)]
    return "\n".join([CSV_HEADER, *lines] if form == "csv" else lines).encode()


def _batches(
    source: str, key: Ed25519PrivateKey, documents: list[Document], first: int, form: str = FORMAT
) -> list[Batch]:
    """``RECORDS`` signed test results numbered from ``first``, in batches of ``BATCH``."""
    made = []
    for start in range(first, first + RECORDS, BATCH):
        end = min(start + BATCH, first + RECORDS)
        body = _body(documents, start, end, first, form)
        batch_id = f"bench-{start}"
        signature = b64url.encode(key.sign(fd.signing_input(source, batch_id, form, body)))
        made.append(Batch(batch_id, body, signature, end - start, MEDIA_TYPES[form]))
    return made


TRAVEL_AREAS = {"420100": "high", "310101": "medium", "440106": "high", "440305": "medium"}
"""The risk areas declared for the travel part, ten days before it and still in force."""
DISTRICTS = [f"4401{d:02d}" for d in range(3, 19)] + [f"4403{d:02d}" for d in range(3, 11)]
DISTRICTS += ["420106", "420111", "310101", "110105"]
"""Where the travel part's stays were: districts of two cities, and four beyond."""


def _stays(source: str, key: Ed25519PrivateKey, documents: list[Document], now: datetime) -> list[Batch]:
    """``RECORDS`` signed travel stays, one for each resident, ending 20 minutes to 14 days ago after 1 to
    72 hours, in ``DISTRICTS`` (about one in eight in a risk area meanwhile)."""
    cst = timezone(timedelta(hours=8))
    made = []
    for start in range(0, RECORDS, BATCH):
        lines = []
        for n in range(start, min(start + BATCH, RECORDS)):
            doc = documents[n % len(documents)]
            end = now - timedelta(minutes=20 + n * 7919 % (14 * 24 * 60))
            stay = {
                "record_id": f"stay-{n}",
                "kind": "travel",
                "document": {"type": doc.type.value, "number": doc.number, "nationality": doc.nationality},
                "region": DISTRICTS[n * 31 % len(DISTRICTS)],
                "from": (end - timedelta(hours=1 + n % 72)).astimezone(cst).isoformat(timespec="seconds"),
                "to": end.astimezone(cst).isoformat(timespec="seconds"),
            }
            lines.append(json.dumps(stay))
        body = "\n".join(lines).encode()
        batch_id = f"stays-{start}"
        signature = b64url.encode(key.sign(fd.signing_input(source, batch_id, "jsonl", body)))
        made.append(Batch(batch_id, body, signature, len(lines), MEDIA_TYPES["jsonl"]))
    return made


def travel_source(deps: Deps, admin: StaffActor, key: Ed25519PrivateKey) -> str:
    """A transport source, and ``TRAVEL_AREAS`` declared ten days ago (the benchmark's set-up)."""
    now = deps.clock.now()
    with deps.uow() as uow:
        for n, (region, level) in enumerate(TRAVEL_AREAS.items()):
            uow.risk_areas.add(
                RiskArea(f"bench-area-{n}", region, level, now - timedelta(days=10), None, None, now)
            )
        uow.commit()
    return feeds.register_source(
        deps, admin, feeds.NewSource("Bench rail", "travel", _public(key), "440100")
    ).id


def _public(key: Ed25519PrivateKey) -> str:
    return b64url.encode(
        key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )


def _import(deps: Deps, source: str, batches: list[Batch], rejecting: bool = False) -> int:
    """Import the batches one after another; the records accepted (or with ``rejecting``, whose batches
    name residents not enrolled, the records rejected, each as ``resident_unknown``)."""
    done = 0
    for b in batches:
        report = feeds.import_batch(deps, source, b.batch_id, b.body, b.media_type, b.signature)
        if rejecting:
            reasons = {e["reason"] for r in report["rejections"] for e in r["errors"]}
            assert report["accepted"] == 0, {k: v for k, v in report.items() if k != "rejections"}
            assert reasons == {"resident_unknown"}, report["rejections"][:3]
        else:
            assert report["rejected"] == 0, report["rejections"][:3]
        done += int(report["rejected" if rejecting else "accepted"])
    return done


def parser_part(documents: list[Document]) -> None:
    """A batch of the load parsed alone, in each format, by the Arrow parser and by the reference: the
    best of a few runs' CPU per record (this process)."""
    latest = fd.latest_time(datetime.now(UTC))
    accepted = fd.ACCEPTS[fd.FeedKind.LAB]
    figures = []
    for form, media_type in MEDIA_TYPES.items():
        body = _body(documents, 0, BATCH, 0, form)
        for name, parse, runs in (("Arrow", ArrowFeedParser(), 5), ("reference", fd.parse_batch, 2)):
            best = float("inf")
            for _ in range(runs):
                started = time.process_time()
                parsed = parse(body, media_type, accepted, latest)
                best = min(best, time.process_time() - started)
            assert len(parsed.valid) == BATCH, parsed.rejected[:3]
            figures.append(f"{form} {name} {best / BATCH * 1e6:.2f} us")
    print(f"[feed parser, {BATCH:,} records, best CPU per record] " + ", ".join(figures))


def _worker(
    settings: Settings,
    ready: Any,
    results: Any,
    start: Callable[[Container], Any],
    work: Callable[[Container, Any], Any],
) -> None:
    """A benchmark worker, as a server's: a container (and a connection) of its own; ``start`` opens what
    it needs before the clock, then its start-up objects are frozen as a server's worker freezes them
    (civicpass.web.app's lifespan), it waits for the others at ``ready`` and puts in ``results`` what
    ``work`` returns (given what ``start`` did), or its error's repr, so that the parent fails with it
    instead of waiting."""
    container = build(settings, messenger=MemoryMessenger())
    try:
        started = start(container)
        gc.freeze()
        ready.wait(timeout=600)
        try:
            results.put(work(container, started))
        except BaseException as error:
            results.put(repr(error))
            raise
    finally:
        gc.unfreeze()
        container.dispose()


def _stream(
    settings: Settings, source: str, batches: list[Batch], rejecting: bool, ready: Any, results: Any
) -> None:
    """One stream: imports once every stream is ready, and reports the records it accepted (or rejected),
    its own CPU seconds and those of its database backend (None if the connection changed on the way)."""

    def start(container: Container) -> tuple[float, int]:
        # one pooled connection serves every batch: its backend's CPU is the database's share
        container.engine.pool.dispose()
        return _backend_cpu(container.engine)

    def work(container: Container, backend: tuple[float, int]) -> tuple[int, float, float | None]:
        (backend_before, pid), own = backend, time.process_time()
        done = _import(container.deps, source, batches, rejecting)
        own = time.process_time() - own
        backend_after, pid_after = _backend_cpu(container.engine)
        return done, own, backend_after - backend_before if pid_after == pid else None

    _worker(settings, ready, results, start, work)


def _backend_cpu(engine: sa.Engine) -> tuple[float, int]:
    """CPU seconds used so far by the backend of a fresh connection of ``engine`` (kept open), and its pid."""
    with engine.connect() as conn:
        pid = int(conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one())
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"), pid


def _stored(engine: sa.Engine, kind: str = "test_result") -> tuple[int, int]:
    """The facts of ``kind`` and the accepted records stored so far."""
    with engine.connect() as conn:
        facts = conn.execute(sa.text("SELECT count(*) FROM facts WHERE kind = :k"), {"k": kind}).scalar_one()
        return int(facts), int(conn.execute(sa.text("SELECT count(*) FROM feed_records")).scalar_one())


def _in_processes(target: Any, arguments: list[tuple[Any, ...]]) -> tuple[list[Any], float]:
    """``target(*arguments[k], ready, results)`` in a process each, started as uvicorn starts a server's
    workers (spawned: a fresh interpreter, not a fork of this one and the population it holds); what each
    puts in ``results`` and the seconds from when all of them are ready (at the barrier) until the last."""
    context = multiprocessing.get_context("spawn")
    ready, results = context.Barrier(len(arguments) + 1), context.SimpleQueue()
    workers = [context.Process(target=target, args=(*args, ready, results)) for args in arguments]
    for worker in workers:
        worker.start()
    ready.wait(timeout=600)
    started = time.perf_counter()
    reports = [results.get() for _ in workers]
    seconds = time.perf_counter() - started
    for worker in workers:
        worker.join()
    assert not any(isinstance(r, str) for r in reports), reports  # a worker's error, as repr
    return reports, seconds


def import_streams(
    settings: Settings, source: str, batches: list[Batch], streams: int, travel: bool = False
) -> float:
    """The batches imported by ``streams`` processes at once; records per second. Prints them with the CPU
    per record, of the streams' processes and of their database backends. Test results must each have
    made a fact; travel stays each a stored record, and some of them (those in a risk area) a fact."""
    container = build(settings, messenger=MemoryMessenger())
    kind = FactKind.RISK_AREA_ARRIVAL if travel else FactKind.TEST_RESULT
    facts_before, records_before = _stored(container.engine, kind)
    reports, seconds = _in_processes(
        _stream, [(settings, source, batches[k::streams], False) for k in range(streams)]
    )
    facts_after, records_after = _stored(container.engine, kind)
    facts, records = facts_after - facts_before, records_after - records_before
    container.dispose()
    accepted: int = sum(n for n, _, _ in reports)
    sent = sum(b.records for b in batches)
    assert records == accepted == sent, (records, accepted, sent)
    assert (0 < facts < accepted) if travel else facts == accepted, (facts, accepted)
    label = ("one stream" if streams == 1 else f"{streams} concurrent streams") + (
        ", travel stays" if travel else f", {FORMAT}"
    )
    made = f" ({facts:,} arrival facts)" if travel else ""
    print(
        f"[feed import, PostgreSQL, {label}] {accepted:,} records{made} in {len(batches)} batches in"
        f" {seconds:.1f} s = {accepted / seconds:,.0f} records/s; CPU per record: {_cpu_per(accepted, reports)}"
    )
    return accepted / seconds


def quarantine_part(settings: Settings, source: str, batches: list[Batch]) -> float:
    """Batches of test results for residents not enrolled, imported by one process: every record
    rejected (``resident_unknown``), reported and kept in quarantine; rejected records per second."""
    container = build(settings, messenger=MemoryMessenger())

    def quarantined() -> int:
        with container.engine.connect() as conn:
            return int(conn.execute(sa.text("SELECT count(*) FROM feed_quarantine")).scalar_one())

    before = quarantined()
    reports, seconds = _in_processes(_stream, [(settings, source, batches, True)])
    kept = quarantined() - before
    container.dispose()
    rejected: int = sum(n for n, _, _ in reports)
    assert kept == rejected == sum(b.records for b in batches), (kept, rejected)
    print(
        f"[feed import, PostgreSQL, one stream, residents not enrolled] {rejected:,} records rejected into"
        f" quarantine in {len(batches)} batches in {seconds:.1f} s = {rejected / seconds:,.0f} records/s;"
        f" CPU per record: {_cpu_per(rejected, reports)}"
    )
    return rejected / seconds


def _not_enrolled(deps: Deps, count: int) -> list[Document]:
    """``count`` documents of people not enrolled: the demo's synthetic people of another seed, less any
    whose document happens to be an enrolled resident's."""
    people, _ = make_people(deps, random.Random(2023), count * 3 // 2, deps.clock.now())
    documents = [p.pii.document for p in people if p.pii.document.number is not None]
    with deps.uow() as uow:
        enrolled = uow.residents.ids_of_materials([d.index_material for d in documents])
    documents = [d for d, holder in zip(documents, enrolled, strict=True) if holder is None][:count]
    assert len(documents) == count, "too few documents"
    return documents


def _sweeper(settings: Settings, ready: Any, results: Any) -> None:
    """One server worker's sweep: re-evaluate marked statuses until no mark is left to claim; reports how
    many, its own CPU seconds and those of its database backend (None if the connection changed)."""

    def start(container: Container) -> tuple[float, int]:
        # the pool's connection open, as in a worker that has served; it serves every transaction
        container.engine.pool.dispose()
        with container.deps.uow() as uow:
            uow.statuses.marks(1)
        return _backend_cpu(container.engine)

    def work(container: Container, backend: tuple[float, int]) -> tuple[int, float, float | None]:
        (backend_before, pid), own = backend, time.process_time()
        done = 0
        while swept := status_service.sweep(container.deps, limit=BATCH):
            done += swept
        own = time.process_time() - own
        backend_after, pid_after = _backend_cpu(container.engine)
        return done, own, backend_after - backend_before if pid_after == pid else None

    _worker(settings, ready, results, start, work)


def sweep_part(settings: Settings) -> float:
    """The marks the concurrent part left, taken by ``STREAMS`` sweeps at once; re-evaluations per second."""
    container = build(settings, messenger=MemoryMessenger())
    with container.deps.uow() as uow:
        marks = uow.statuses.marks(1000)
    container.dispose()
    marked = sum(len(m.subject_ids) for m in marks)
    reports, seconds = _in_processes(_sweeper, [(settings,) for _ in range(STREAMS)])
    counts = [n for n, _, _ in reports]
    assert sum(counts) == marked, (counts, marked)  # each marked resident re-evaluated once
    print(
        f"[status sweep, PostgreSQL, {STREAMS} workers] {marked:,} marked statuses ({len(marks)} batches)"
        f" re-evaluated in {seconds:.1f} s = {marked / seconds:,.0f}/s (by worker: {counts});"
        f" CPU per status: {_cpu_per(marked, reports)}"
    )
    return marked / seconds


def _cpu_per(done: int, reports: list[tuple[int, float, float | None]]) -> str:
    """The CPU per item of workers' reports (count, own seconds, backend seconds or None)."""
    own = sum(cpu for _, cpu, _ in reports) / done * 1e6
    backends = [cpu for _, _, cpu in reports]
    database = "not measured" if None in backends else f"{sum(b or 0 for b in backends) / done * 1e6:.1f} us"
    return f"Python {own:.1f} us, PostgreSQL {database}"


def main() -> None:
    print(
        f"civicpass feed benchmark on {platform.node()} ({os.cpu_count()} cores, Python {platform.python_version()})"
    )
    assert FORMAT in MEDIA_TYPES, f"CIVICPASS_BENCH_FEED_FORMAT is one of {', '.join(MEDIA_TYPES)}"
    reset_schema(POSTGRES_URL, SCHEMA)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            settings = bench_settings(POSTGRES_URL, Path(tmp), SCHEMA)
            container = build(settings, messenger=MemoryMessenger())
            migrate(container)
            documents = _population(container.deps, POPULATION)
            key = Ed25519PrivateKey.generate()
            admin = StaffActor("bench-admin", Role.ADMIN, "440100")
            source = feeds.register_source(
                container.deps, admin, feeds.NewSource("Bench lab", "lab", _public(key), "440100")
            ).id
            rail = travel_source(container.deps, admin, key)
            engine = container.engine
            parser_part(documents)
            _swept(engine)
            one_stream, concurrent = (_batches(source, key, documents, first) for first in (0, RECORDS))
            stays = _stays(rail, key, documents, container.deps.clock.now())
            strangers = _batches(source, key, _not_enrolled(container.deps, RECORDS), 2 * RECORDS)
            del documents  # the workers are spawned and hold only their batches
            import_streams(settings, source, one_stream, 1)
            _swept(engine)
            import_streams(settings, source, concurrent, STREAMS)
            sweep_part(settings)
            _swept(engine)
            import_streams(settings, rail, stays, STREAMS, travel=True)
            quarantine_part(settings, source, strangers)
            container.dispose()
    finally:
        reset_schema(POSTGRES_URL, SCHEMA, create=False)


if __name__ == "__main__":
    main()
