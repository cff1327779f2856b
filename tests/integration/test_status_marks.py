"""Statuses marked due by bulk feed batches (``StatusRepository.mark_due``): a counter updated in place
that makes a status read as due, a queue of marks for the sweep, and marks that a re-evaluation clears
only if no batch marked the status while it evaluated."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic import command

from civicpass.adapters.db import tables as t
from civicpass.adapters.db.migrate import alembic_config, upgrade
from civicpass.bootstrap import Container
from civicpass.services import status as status_service
from civicpass.services.demo import make_people
from civicpass.services.ports import StoredStatus
from tests.fakes import FakeClock


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
    assert stored is not None
    assert stored.due_marks == 1  # the batch's result has not been evaluated: still marked ...
    assert stored.review_at <= now  # ... and due


def test_a_marked_status_reads_as_due_until_a_re_evaluation_that_read_the_mark(container: Container) -> None:
    deps = container.deps
    now = deps.clock.now()
    first, second = _residents_with_status(container, 2)
    with deps.uow() as uow:
        uow.statuses.mark_due([first.subject_id, "no-status-yet"], now)
        uow.commit()
    with deps.uow() as uow:
        read = uow.statuses.get_many([first.subject_id, second.subject_id, "no-status-yet"])
        review_column = uow.conn.execute(  # type: ignore[attr-defined]
            sa.select(t.statuses.c.review_at).where(t.statuses.c.subject_id == first.subject_id)
        ).scalar_one()
    assert set(read) == {first.subject_id, second.subject_id}  # a mark creates no status
    assert (read[first.subject_id].due_marks, read[first.subject_id].review_at) == (1, first.evaluated_at)
    assert review_column == first.review_at  # marked in place: the indexed review time is not touched
    assert read[second.subject_id] == second

    later = now + timedelta(minutes=1)
    with deps.uow() as uow:  # a re-evaluation that read the mark clears it
        evaluated = replace(read[first.subject_id], evaluated_at=later, review_at=first.review_at)
        uow.statuses.save_many([(evaluated, False)])
        uow.commit()
    with deps.uow() as uow:
        cleared = uow.statuses.get(first.subject_id)
    assert cleared is not None
    assert (cleared.due_marks, cleared.review_at) == (0, first.review_at)

    with deps.uow() as uow:  # so does the single save
        uow.statuses.mark_due([second.subject_id], now)
        uow.commit()
    with deps.uow() as uow:
        marked = uow.statuses.get(second.subject_id)
        assert marked is not None
        uow.statuses.save(replace(marked, evaluated_at=later, review_at=second.review_at), changed=False)
        uow.commit()
    with deps.uow() as uow:
        assert uow.statuses.get(second.subject_id) == replace(second, evaluated_at=later)


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
        swept = uow.statuses.get_many(ids)
    assert {s.due_marks for s in swept.values()} == {0}
    assert all(s.evaluated_at == now and s.review_at > now for s in swept.values())  # by the rules
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
    upgrade(engine, "head")
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
            sa.insert(t.status_marks), {"marked_at": datetime(2022, 5, 3, tzinfo=UTC), "subjects": "r-1"}
        )
    with pytest.raises(RuntimeError, match="1 status marks are pending"):
        command.downgrade(alembic_config(engine), "0016")
    with engine.begin() as conn:
        conn.execute(sa.delete(t.status_marks))
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
    upgrade(engine, "head")
    columns = {c["name"]: c for c in sa.inspect(engine).get_columns("status_marks")}
    assert columns["claimed_until"]["nullable"]
    with engine.begin() as conn:
        conn.execute(
            sa.insert(t.status_marks), {"marked_at": datetime(2022, 5, 3, tzinfo=UTC), "subjects": "r-1"}
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
