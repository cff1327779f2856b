"""Statuses marked due by bulk feed batches (``StatusRepository.mark_due``): a mark row per batch, whose
filter makes the statuses of the residents it names read as due (``mark_filters``) and whose list the
sweep re-evaluates before it drops the mark; no status written by the batch."""

from __future__ import annotations

import random
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic import command

from civicpass.adapters.db import tables as t
from civicpass.adapters.db.migrate import alembic_config, upgrade
from civicpass.adapters.db.status_repositories import SqlStatuses
from civicpass.adapters.db.uow import SqlUnitOfWorkFactory
from civicpass.bootstrap import Container
from civicpass.services import status as status_service
from civicpass.services.demo import make_people
from civicpass.services.ports import StoredStatus
from tests.fakes import FakeClock

_MARKS_0017 = sa.table(
    "status_marks", sa.column("id", sa.Integer), sa.column("marked_at", t.UTCDateTime), sa.column("subjects")
)
"""The marks' columns as migration 0017 made them."""


def _residents_with_status(container: Container, count: int, seed: int = 6) -> list[StoredStatus]:
    """``count`` residents, each with a green status not due before tomorrow."""
    deps = container.deps
    now = deps.clock.now()
    people, _ = make_people(deps, random.Random(seed), count, now)
    statuses = [StoredStatus(p.id, 1, "green", [], 1, now, now + timedelta(days=1), "0" * 64) for p in people]
    with deps.uow() as uow:
        uow.residents.add_many(people)
        uow.statuses.save_many([(s, True) for s in statuses])
        uow.commit()
    return statuses


def test_a_status_marked_due_during_a_re_evaluation_stays_due(container: Container) -> None:
    if container.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has a single writer: a batch cannot commit inside a re-evaluation")
    deps = container.deps
    now = deps.clock.now()
    (status,) = _residents_with_status(container, 1)
    resident = status.subject_id

    with deps.uow() as evaluation:  # what recompute_in does: the status (no marks) and the facts ...
        assert evaluation.statuses.get(resident) == status
        assert evaluation.facts.for_subjects([resident])[resident] == []
        with deps.uow() as batch:  # ... while a bulk batch stores a result and marks the status due
            batch.statuses.mark_due([resident], now)
            batch.commit()
        # ... then the status computed from what it read, due again only tomorrow
        evaluation.statuses.save_many([(replace(status, evaluated_at=now), False)])
        evaluation.commit()

    with deps.uow() as uow:
        stored = uow.statuses.get(resident)
    assert stored == replace(status, evaluated_at=now, marked=True)  # the batch's result not evaluated: due


def test_a_marked_status_reads_as_due_until_the_sweep_drops_its_mark(container: Container) -> None:
    deps = container.deps
    now = deps.clock.now()
    first, second = _residents_with_status(container, 2)
    with deps.uow() as uow:
        uow.statuses.mark_due([first.subject_id, "no-status-yet"], now)
        uow.commit()
    with deps.uow() as uow:
        read = uow.statuses.get(first.subject_id), uow.statuses.get(second.subject_id)
        assert uow.statuses.get("no-status-yet") is None  # a mark creates no status
        many = uow.statuses.get_many([first.subject_id, second.subject_id])
        rows = uow.conn.execute(sa.select(t.statuses).order_by(t.statuses.c.subject_id)).all()  # type: ignore[attr-defined]
    assert read == (replace(first, marked=True), second)
    assert many == {first.subject_id: first, second.subject_id: second}  # a re-evaluation's read: no marks
    assert sorted(rows) == sorted(tuple(vars(s).values())[:-1] for s in (first, second))  # no status written

    later = now + timedelta(minutes=1)
    with deps.uow() as uow:  # a re-evaluation outside the sweep leaves the mark to the sweep
        uow.statuses.save_many([(replace(first, evaluated_at=later), False)])
        uow.commit()
    with deps.uow() as uow:
        assert uow.statuses.get(first.subject_id) == replace(first, evaluated_at=later, marked=True)
    assert status_service.sweep(deps) == 1
    with deps.uow() as uow:
        swept = uow.statuses.get(first.subject_id)
    assert swept is not None
    assert not swept.marked
    assert swept.review_at > now


def test_a_code_or_a_verification_re_evaluates_a_marked_status_first(
    container: Container, clock: FakeClock
) -> None:
    deps = container.deps
    first, second = _residents_with_status(container, 2)
    with deps.uow() as uow:
        uow.statuses.mark_due([first.subject_id], clock.now())
        uow.commit()
    clock.advance(minutes=1)
    assert status_service.fresh(deps, first.subject_id).evaluated_at == clock.now()  # re-evaluated
    assert status_service.fresh(deps, second.subject_id) == second  # not due before tomorrow: as stored


def test_every_process_reads_the_marks_made_and_dropped_in_another(container: Container) -> None:
    """Each unit-of-work factory (a server process) keeps the filters it fetched: a mark made after a
    read is fetched by the next, and one the sweep dropped is forgotten."""
    deps = container.deps
    now = deps.clock.now()
    statuses = _residents_with_status(container, 3)
    ids = [s.subject_id for s in statuses]
    factory = deps.uow
    assert isinstance(factory, SqlUnitOfWorkFactory)
    other = SqlUnitOfWorkFactory(factory.engine, factory.cipher, factory.digest)

    def marked(uow_factory: SqlUnitOfWorkFactory) -> list[bool]:
        with uow_factory() as uow:
            return [status is not None and status.marked for status in map(uow.statuses.get, ids)]

    with deps.uow() as uow:
        uow.statuses.mark_due(ids[:1], now)
        uow.commit()
    assert marked(factory) == marked(other) == [True, False, False]
    with deps.uow() as uow:
        uow.statuses.mark_due(ids[1:2], now)
        uow.commit()
    assert marked(other) == [True, True, False]
    assert len(other.filters) == 2  # one filter a mark, each fetched once
    assert status_service.sweep(deps, limit=1) == 1  # the first mark's resident, then its mark dropped
    assert marked(other) == [False, True, False]
    assert len(other.filters) == 1


def test_the_sweep_re_evaluates_each_marked_batchs_residents_once_then_drops_the_mark(
    container: Container,
) -> None:
    deps = container.deps
    now = deps.clock.now()
    statuses = _residents_with_status(container, 3)
    ids = [s.subject_id for s in statuses]
    with deps.uow() as uow:
        uow.statuses.mark_due(ids[:2], now)
        uow.statuses.mark_due(ids[1:], now)
        uow.commit()
    with deps.uow() as uow:
        assert [m.subject_ids for m in uow.statuses.marks(10)] == [ids[:2], ids[1:]]  # oldest first

    assert status_service.sweep(deps) == 4  # each batch's residents, after it
    with deps.uow() as uow:
        assert uow.statuses.marks(10) == []
        swept = {sid: uow.statuses.get(sid) for sid in ids}
    assert {s is not None and s.marked for s in swept.values()} == {False}
    assert all(s is not None and s.evaluated_at == now and s.review_at > now for s in swept.values())
    assert status_service.sweep(deps) == 0


def test_the_sweep_re_evaluates_only_the_marked_residents_that_have_a_status(container: Container) -> None:
    """A batch names every resident it stored a fact for; one who has never had a status gets it when it
    is first read, not from the sweep (``StatusRepository.with_status``)."""
    deps = container.deps
    now = deps.clock.now()
    (held, never), _ = make_people(deps, random.Random(6), 2, now)
    with deps.uow() as uow:
        uow.residents.add_many([held, never])
        status = StoredStatus(held.id, 1, "green", [], 1, now, now + timedelta(days=1), "0" * 64)
        uow.statuses.save_many([(status, True)])
        uow.statuses.mark_due([held.id, never.id, "no-such-resident"], now)
        uow.commit()
    with deps.uow() as uow:
        assert uow.statuses.with_status([never.id, held.id, "no-such-resident"]) == [held.id]
        assert uow.statuses.with_status([]) == []

    assert status_service.sweep(deps) == 1
    with deps.uow() as uow:
        assert list(uow.statuses.get_many([held.id, never.id])) == [held.id]
        assert uow.statuses.marks(10) == []


def test_migration_0017_adds_the_marks_and_refuses_to_drop_pending_ones(empty_database: sa.Engine) -> None:
    engine = empty_database
    upgrade(engine, "0017")
    found = sa.inspect(engine)
    columns = {c["name"]: c for c in found.get_columns("statuses")}
    assert "due_marks" in columns
    assert not columns["due_marks"]["nullable"]
    assert "status_marks" in found.get_table_names()
    assert "due_marks" not in {c for i in found.get_indexes("statuses") for c in i["column_names"]}
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            options = conn.execute(
                sa.text("SELECT reloptions FROM pg_class WHERE oid = 'statuses'::regclass")
            ).scalar_one()
        assert options == ["fillfactor=70"]

    with engine.begin() as conn:
        conn.execute(
            sa.insert(_MARKS_0017), {"marked_at": datetime(2022, 5, 3, tzinfo=UTC), "subjects": "r-1"}
        )
    with pytest.raises(RuntimeError, match="1 status marks are pending"):
        command.downgrade(alembic_config(engine), "0016")
    with engine.begin() as conn:
        conn.execute(sa.delete(_MARKS_0017))
    command.downgrade(alembic_config(engine), "0016")
    back = sa.inspect(engine)
    assert "due_marks" not in {c["name"] for c in back.get_columns("statuses")}
    assert "status_marks" not in back.get_table_names()


def test_migration_0018_stores_the_marks_subjects_uncompressed(empty_database: sa.Engine) -> None:
    """PostgreSQL's default storage tried pglz on each mark's list of ids and gave up: no compression."""
    engine = empty_database
    if engine.dialect.name != "postgresql":
        pytest.skip("column storage is PostgreSQL's")
    query = sa.text(
        "SELECT attstorage FROM pg_attribute WHERE attrelid = 'status_marks'::regclass AND attname = 'subjects'"
    )
    upgrade(engine, "head")
    with engine.connect() as conn:
        assert conn.execute(query).scalar_one() == "e"  # external: out of line, uncompressed
    command.downgrade(alembic_config(engine), "0017")
    with engine.connect() as conn:
        assert conn.execute(query).scalar_one() == "x"  # extended: the default for text


def test_each_sweep_claims_a_mark_of_its_own_until_its_claim_runs_out(
    container: Container, clock: FakeClock
) -> None:
    """Every server worker runs the sweep: a mark claimed by one is not taken by another until the claim
    has run out (its worker stopped), so the workers share the marks out."""
    deps = container.deps
    ids = [s.subject_id for s in _residents_with_status(container, 3)]
    with deps.uow() as uow:
        uow.statuses.mark_due(ids[:2], clock.now())
        uow.statuses.mark_due(ids[2:], clock.now())
        uow.commit()

    def claim() -> list[str] | None:
        with deps.uow() as uow:
            mark = uow.statuses.claim_mark(clock.now(), clock.now() + status_service.MARK_CLAIM)
            uow.commit()
        return None if mark is None else mark.subject_ids

    assert claim() == ids[:2]  # the oldest first
    assert claim() == ids[2:]  # a second sweep: the next one
    assert claim() is None  # a third: none left
    clock.advance(seconds=status_service.MARK_CLAIM.total_seconds() - 1)
    assert claim() is None
    clock.advance(seconds=1)  # the first two sweeps' workers stopped: their claims ran out
    assert claim() == ids[:2]
    with deps.uow() as uow:
        assert [m.subject_ids for m in uow.statuses.marks(10)] == [ids[:2], ids[2:]]  # claimed, not dropped


def test_a_sweep_passes_over_a_mark_another_is_claiming_without_waiting(container: Container) -> None:
    if container.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has a single writer: a second claim cannot run inside the first")
    deps = container.deps
    now = deps.clock.now()
    ids = [s.subject_id for s in _residents_with_status(container, 2)]
    with deps.uow() as uow:
        uow.statuses.mark_due(ids[:1], now)
        uow.statuses.mark_due(ids[1:], now)
        uow.commit()
    with deps.uow() as first:
        taken = first.statuses.claim_mark(now, now + status_service.MARK_CLAIM)  # not committed yet
        with deps.uow() as second:
            # without SKIP LOCKED this claim would wait for the first transaction, which waits for it
            second.conn.execute(sa.text("SET LOCAL lock_timeout = '5s'"))
            other = second.statuses.claim_mark(now, now + status_service.MARK_CLAIM)
            second.commit()
        first.commit()
    assert taken is not None
    assert other is not None
    assert (taken.subject_ids, other.subject_ids) == (ids[:1], ids[1:])


def test_migration_0019_adds_the_claims(empty_database: sa.Engine) -> None:
    engine = empty_database
    upgrade(engine, "0019")
    columns = {c["name"]: c for c in sa.inspect(engine).get_columns("status_marks")}
    assert columns["claimed_until"]["nullable"]
    with engine.begin() as conn:
        conn.execute(
            sa.insert(_MARKS_0017), {"marked_at": datetime(2022, 5, 3, tzinfo=UTC), "subjects": "r-1"}
        )
    command.downgrade(alembic_config(engine), "0018")
    assert "claimed_until" not in {c["name"] for c in sa.inspect(engine).get_columns("status_marks")}
    with engine.connect() as conn:  # the pending mark kept (SQLite rebuilds the table to drop a column)
        assert conn.execute(sa.text("SELECT subjects FROM status_marks")).scalars().all() == ["r-1"]


def test_sweeps_pass_over_the_due_statuses_another_is_re_evaluating(
    container: Container, clock: FakeClock
) -> None:
    """The time-based part of the sweep holds the statuses it re-evaluates until it has saved them: a
    second worker's sweep takes the next ones instead of waiting or doing the same again."""
    if container.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has a single writer: a second sweep cannot run inside the first")
    deps = container.deps
    statuses = _residents_with_status(container, 3)
    clock.advance(days=2)  # every review time has come
    now = clock.now()
    with deps.uow() as first:
        taken = first.statuses.claim_due(now, 1)
        with deps.uow() as second:
            second.conn.execute(sa.text("SET LOCAL lock_timeout = '5s'"))
            others = second.statuses.claim_due(now, 10)
            second.commit()
        first.commit()
    assert len(taken) == 1
    assert sorted(taken + others) == sorted(s.subject_id for s in statuses)  # each taken by one of them


def test_migration_0025_gives_marks_filters_and_takes_the_counters_back_on_the_way_down(
    empty_database: sa.Engine,
) -> None:
    """Statuses lose their mark counter; a mark pending across the change gets a token and no filter, so
    that it may name anyone until the sweep drops it; going back, its residents' counters count it."""
    engine = empty_database
    upgrade(engine, "0024")
    statuses = sa.table(
        "statuses",
        *(sa.column(c.name, c.type) for c in t.statuses.columns),
        sa.column("due_marks", sa.Integer),
    )
    now = datetime(2022, 5, 3, tzinfo=UTC)
    rows = [
        {
            "subject_id": f"r-{n}",
            "version": 1,
            "color": "green",
            "reasons": [],
            "ruleset_version": 1,
            "evaluated_at": now,
            "review_at": now + timedelta(days=1),
            "inputs_digest": "0" * 64,
            "due_marks": 0,
        }
        for n in (1, 2, 3)
    ]
    with engine.begin() as conn:
        conn.execute(sa.insert(statuses), rows)
        conn.execute(sa.insert(_MARKS_0017), {"marked_at": now, "subjects": "r-1\nr-2\nr-9"})
    upgrade(engine, "0025")
    assert "due_marks" not in {c["name"] for c in sa.inspect(engine).get_columns("statuses")}
    with engine.connect() as conn:
        ((token, bloom),) = conn.execute(sa.select(t.status_marks.c.token, t.status_marks.c.bloom)).all()
        assert re.fullmatch("[0-9a-f]{32}", token)
        assert bloom is None
        read = [SqlStatuses(conn).get(f"r-{n}") for n in (1, 2, 3)]
    assert [s is not None and s.marked for s in read] == [True, True, True]  # no filter: anyone
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            storage = conn.execute(
                sa.text(
                    "SELECT attstorage FROM pg_attribute"
                    " WHERE attrelid = 'status_marks'::regclass AND attname = 'bloom'"
                )
            ).scalar_one()
        assert storage == "e"  # external: out of line, uncompressed

    command.downgrade(alembic_config(engine), "0024")
    with engine.connect() as conn:
        counted = conn.execute(sa.select(statuses.c.subject_id, statuses.c.due_marks)).all()
        assert conn.execute(sa.select(_MARKS_0017.c.subjects)).scalars().all() == ["r-1\nr-2\nr-9"]
    assert sorted(counted) == [("r-1", 1), ("r-2", 1), ("r-3", 0)]
    assert {c["name"] for c in sa.inspect(engine).get_columns("status_marks")} == {
        "id",
        "marked_at",
        "subjects",
        "claimed_until",
    }
