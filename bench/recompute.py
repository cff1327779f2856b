"""Status recompute benchmark: the evaluation itself, then ``recompute_everyone`` on SQLite and PostgreSQL.

Builds a synthetic population with about five facts each (health declarations, daily check-ins, negative
tests, some risk-area arrivals, a few contacts, isolation orders and cases, so that every color occurs) at a
fixed moment, and measures:

(a) ``domain.status.evaluate`` over every resident, in memory, single process: the rule engine's own rate;
(b) ``services.status.recompute_everyone`` after bulk-loading the same residents and facts, on SQLite and on
    PostgreSQL: end to end (read facts and statuses in batches, evaluate, write status, history and event),
    first when every status is new (a rule set's first activation) and again when nothing changed.

Single thread, so (a) is a per-core figure. Colors from both databases must equal the in-memory ones.

    python -m bench.recompute
    CIVICPASS_BENCH_RECOMPUTE_RESIDENTS=2000 python -m bench.recompute     # a quick smoke run
"""

from __future__ import annotations

import os
import platform
import random
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from bench.common import bench_settings
from civicpass.adapters.db import tables
from civicpass.adapters.db.engine import make_engine
from civicpass.adapters.files import bundled_ruleset
from civicpass.adapters.messaging import MemoryMessenger
from civicpass.bootstrap import Container, build, migrate
from civicpass.domain.facts import Fact, FactKind, FactSource, FactState
from civicpass.domain.features import iso
from civicpass.domain.rulesets import parse_ruleset
from civicpass.domain.status import evaluate
from civicpass.services import demo
from civicpass.services.status import recompute_everyone

RESIDENTS = int(os.environ.get("CIVICPASS_BENCH_RECOMPUTE_RESIDENTS", "100000"))
POSTGRES_URL = os.environ.get("CIVICPASS_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
SCHEMA = "civicpass_bench_recompute"
NOW = datetime(2022, 5, 3, 8, 0, tzinfo=UTC)
ZONE = ZoneInfo("Asia/Shanghai")
INSERT_BATCH = 5000
DAY = timedelta(days=1)


class FixedClock:
    """Every run evaluates at the same moment, so the facts' windows and the colors are reproducible."""

    def now(self) -> datetime:
        return NOW


@dataclass(frozen=True)
class Draft:
    """A fact without its subject: the same population is evaluated in memory and loaded into databases."""

    kind: FactKind
    data: dict[str, Any]
    source: FactSource
    effective_at: datetime
    expires_at: datetime | None


def _ago(rng: random.Random, low_days: float, high_days: float) -> datetime:
    return NOW - timedelta(seconds=rng.uniform(low_days * 86400, high_days * 86400))


def _temperature(rng: random.Random) -> float:
    return round(rng.uniform(36.0, 37.1), 1)


def _person(rng: random.Random) -> list[Draft]:
    """About five facts, in proportions that put most people on green and give every color."""
    drafts: list[Draft] = []

    def add(kind: FactKind, data: dict[str, Any], at: datetime, days: int | None, source: FactSource) -> None:
        drafts.append(Draft(kind, data, source, at, None if days is None else at + timedelta(days=days)))

    feverish = rng.random() < 0.02
    declared = _ago(rng, 0, 13)
    temperature = round(rng.uniform(37.4, 38.6), 1) if feverish else _temperature(rng)
    symptoms = ["cough"] if feverish and rng.random() < 0.5 else []
    add(
        FactKind.HEALTH_DECLARATION,
        {"temperature_c": temperature, "symptoms": symptoms},
        declared,
        14,
        FactSource.RESIDENT,
    )

    for days_ago in rng.sample(range(0, 9), rng.choice((2, 3, 3, 4))):
        at = NOW - timedelta(days=days_ago, hours=rng.uniform(0, 10))
        unwell = rng.random() < 0.005
        data = {"temperature_c": _temperature(rng), "feels_well": not unwell, "symptoms": []}
        add(FactKind.DAILY_CHECKIN, data, at, 14, FactSource.RESIDENT)

    tests = rng.random()
    if tests < 0.45:
        first = _ago(rng, 0.5, 6)
        samples = [first] if tests < 0.3 else [first, first + timedelta(hours=rng.uniform(20, 40))]
        for sampled in samples:
            if sampled < NOW - timedelta(hours=2):
                data = {"test": "pcr", "result": "negative", "sampled_at": iso(sampled)}
                add(FactKind.TEST_RESULT, data, sampled + timedelta(hours=2), 14, FactSource.FEED)

    if rng.random() < 0.06:
        arrived = _ago(rng, 0, 10)
        data = {
            "region": "310104",
            "level": rng.choice(("medium", "medium", "high")),
            "arrived_at": iso(arrived),
        }
        add(FactKind.RISK_AREA_ARRIVAL, data, arrived, 21, FactSource.SYSTEM)

    special = rng.random()
    if special < 0.004:
        add(
            FactKind.CASE,
            {"classification": rng.choice(("confirmed", "asymptomatic", "suspected"))},
            _ago(rng, 1, 9),
            None,
            FactSource.STAFF,
        )
    elif special < 0.012:
        add(FactKind.CLOSE_CONTACT, {}, _ago(rng, 1, 20), 28, FactSource.STAFF)
    elif special < 0.016:
        until = NOW + timedelta(days=rng.uniform(-2, 10))
        data = {"place": rng.choice(("home", "facility")), "until": iso(until)}
        add(FactKind.ISOLATION_ORDER, data, until - 14 * DAY, 28, FactSource.STAFF)
    elif special < 0.026:
        add(FactKind.SECONDARY_CONTACT, {}, _ago(rng, 1, 12), 14, FactSource.STAFF)
    elif special < 0.036:
        add(FactKind.SPATIOTEMPORAL_COMPANION, {"venue_id": "bench"}, _ago(rng, 1, 12), 14, FactSource.SYSTEM)
    elif special < 0.038:
        add(
            FactKind.PEER_STATUS,
            {"issuer": "CN-31", "color": rng.choice(("yellow", "red"))},
            _ago(rng, 0, 1),
            1,
            FactSource.FEED,
        )
    return drafts


def population(count: int, seed: int = 2022) -> list[list[Draft]]:
    rng = random.Random(seed)
    return [_person(rng) for _ in range(count)]


def facts_of(subject_id: str, drafts: Sequence[Draft], serial: int) -> list[Fact]:
    return [
        Fact(
            id=f"f{serial:08d}-{i}",
            subject_id=subject_id,
            kind=d.kind,
            data=d.data,
            source=d.source,
            authority="bench",
            effective_at=d.effective_at,
            expires_at=d.expires_at,
            recorded_at=d.effective_at,
            state=FactState.ACTIVE,
        )
        for i, d in enumerate(drafts)
    ]


def _rate(count: int, seconds: float) -> str:
    return f"{count / seconds:10.0f}/s  ({seconds * 1e6 / count:7.1f} µs each, {seconds:7.2f} s)"


def _distribution(colors: Counter[str]) -> str:
    total = sum(colors.values())
    return ", ".join(f"{c} {colors[c]} ({colors[c] * 100 / total:.2f}%)" for c in ("green", "yellow", "red"))


def evaluation(people: Sequence[Sequence[Fact]]) -> tuple[float, Counter[str]]:
    """(a) The rule engine alone: every resident's facts through ``evaluate``, nothing else."""
    ruleset = parse_ruleset(bundled_ruleset())
    evaluate(people[0], ruleset, NOW, ZONE)  # warm the import and regex caches outside the timing
    colors: Counter[str] = Counter()
    started = time.perf_counter()
    rules_now = ruleset.in_effect(NOW)  # as recompute_in does: once per evaluation time, not per resident
    for facts in people:
        colors[evaluate(facts, ruleset, NOW, ZONE, rules_now).color] += 1
    seconds = time.perf_counter() - started
    rules: Counter[str] = Counter()
    for facts in people[: min(len(people), 20000)]:
        rules.update(r.rule_id for r in evaluate(facts, ruleset, NOW, ZONE).reasons)
    facts_total = sum(len(f) for f in people)
    print(
        f"[evaluation: domain.status.evaluate, in memory, 1 process, default rule set ({len(ruleset.rules)} rules)]"
    )
    print(f"  {len(people)} residents, {facts_total} facts ({facts_total / len(people):.2f} each)")
    print(f"  evaluate                                {_rate(len(people), seconds)}")
    print(f"  colors: {_distribution(colors)}")
    print(
        "  rules fired (first 20,000 residents): " + ", ".join(f"{k} {v}" for k, v in sorted(rules.items()))
    )
    return len(people) / seconds, colors


def _resident_ids(container: Container) -> list[str]:
    ids: list[str] = []
    while True:
        with container.deps.uow() as uow:
            batch = uow.residents.ids_after(ids[-1] if ids else "", 10000)
        if not batch:
            return ids
        ids.extend(batch)


def _fact_rows(ids: Sequence[str], drafts: Sequence[Sequence[Draft]]) -> Iterator[dict[str, Any]]:
    """Rows exactly as ``SqlFacts.add`` writes them (the facts table, enum values as strings)."""
    for serial, (subject_id, person) in enumerate(zip(ids, drafts, strict=True)):
        for fact in facts_of(subject_id, person, serial):
            yield {
                **vars(fact),
                "kind": fact.kind.value,
                "source": fact.source.value,
                "state": fact.state.value,
                "data": dict(fact.data),
            }


def _load(container: Container, drafts: Sequence[Sequence[Draft]]) -> tuple[int, float]:
    """Residents through the demo seeder (real encrypted PII), facts by batched insert into the table."""
    started = time.perf_counter()
    demo.seed_demo_city(container.deps, len(drafts), "bench")
    ids = _resident_ids(container)
    if len(ids) != len(drafts):
        raise RuntimeError(f"expected {len(drafts)} residents, found {len(ids)}")
    rows = 0
    batch: list[dict[str, Any]] = []
    with container.engine.begin() as conn:
        for row in _fact_rows(ids, drafts):
            batch.append(row)
            if len(batch) == INSERT_BATCH:
                conn.execute(tables.facts.insert(), batch)
                rows += len(batch)
                batch = []
        if batch:
            conn.execute(tables.facts.insert(), batch)
            rows += len(batch)
    return rows, time.perf_counter() - started


def _stored_colors(container: Container) -> Counter[str]:
    s = tables.statuses.c
    with container.engine.connect() as conn:
        rows = conn.execute(sa.select(s.color, sa.func.count()).group_by(s.color))
        return Counter({row[0]: int(row[1]) for row in rows})


def recompute(
    container: Container, label: str, drafts: Sequence[Sequence[Draft]], expected: Counter[str]
) -> dict[str, float]:
    """(b) End to end: ``recompute_everyone`` twice, first with no stored statuses, then with no changes."""
    migrate(container)
    facts, load_s = _load(container, drafts)
    started = time.perf_counter()
    first = recompute_everyone(container.deps)
    first_s = time.perf_counter() - started
    started = time.perf_counter()
    second = recompute_everyone(container.deps)
    second_s = time.perf_counter() - started
    stored = _stored_colors(container)
    if stored != expected:
        raise RuntimeError(
            f"{label}: stored colors {dict(stored)} differ from the evaluation's {dict(expected)}"
        )
    print(f"[{label}]")
    print(f"  load {len(drafts)} residents + {facts} facts          {_rate(len(drafts), load_s)}")
    print(f"  recompute_everyone, all statuses new    {_rate(first, first_s)}")
    print(f"  recompute_everyone, nothing changed     {_rate(second, second_s)}")
    print(f"  stored colors match the evaluation: {_distribution(stored)}")
    return {"first": first / first_s, "second": second / second_s}


def _in_memory(drafts: Sequence[Sequence[Draft]]) -> list[list[Fact]]:
    return [facts_of(f"r{i:08d}", person, i) for i, person in enumerate(drafts)]


def main() -> None:
    print(
        f"civicpass status recompute benchmark on {platform.node()} "
        f"({os.cpu_count()} cores, Python {platform.python_version()}), {RESIDENTS} residents at {iso(NOW)}"
    )
    drafts = population(RESIDENTS)
    rate, colors = evaluation(_in_memory(drafts))
    print(
        f"  target 20,000 residents/s per core: {'met' if rate >= 20000 else 'NOT met'} ({rate / 20000:.2f}x)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = build(
            bench_settings(f"sqlite:///{tmp}/bench.db", Path(tmp), None),
            messenger=MemoryMessenger(),
            clock=FixedClock(),
        )
        try:
            lite = recompute(sqlite, "SQLite (WAL, synchronous=FULL)", drafts, colors)
        finally:
            sqlite.dispose()
        admin = make_engine(POSTGRES_URL)
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE'))
            conn.execute(sa.text(f'CREATE SCHEMA "{SCHEMA}"'))
        postgres = build(
            bench_settings(POSTGRES_URL, Path(tmp), SCHEMA), messenger=MemoryMessenger(), clock=FixedClock()
        )
        try:
            pg = recompute(postgres, "PostgreSQL (psycopg 3)", drafts, colors)
        finally:
            postgres.dispose()
            with admin.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE'))
            admin.dispose()
    print("[end to end / evaluation alone]")
    for name, figures in (("SQLite", lite), ("PostgreSQL", pg)):
        print(
            f"  {name:10s} all new {figures['first'] / rate:5.2f}x   unchanged {figures['second'] / rate:5.2f}x"
        )


if __name__ == "__main__":
    main()
