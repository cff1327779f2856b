"""SQL repositories of follow-up tasks and appeals."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from civicpass.adapters.db import tables as t
from civicpass.domain.appeals import Appeal, AppealState
from civicpass.domain.errors import conflicting_write
from civicpass.domain.tasks import Task, TaskKind, TaskOutcome


def _task(m: Any) -> Task:
    fields = {k: m[k] for k in Task.__dataclass_fields__}
    outcome = m["outcome"]
    return Task(
        **{**fields, "kind": TaskKind(m["kind"]), "outcome": TaskOutcome(outcome) if outcome else None}
    )


def _task_row(task: Task) -> dict[str, Any]:
    return {**vars(task), "kind": task.kind.value, "outcome": task.outcome.value if task.outcome else None}


class SqlTasks:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def add_many(self, tasks: Sequence[Task]) -> None:
        if tasks:
            self.conn.execute(t.tasks.insert(), [_task_row(task) for task in tasks])

    def get(self, task_id: str) -> Task | None:
        row = self.conn.execute(sa.select(t.tasks).where(t.tasks.c.id == task_id)).first()
        return None if row is None else _task(row._mapping)

    def update(self, task: Task) -> None:
        """Close a task; only an open one (a concurrent second outcome conflicts)."""
        c = t.tasks.c
        closed = self.conn.execute(
            t.tasks.update().where(c.id == task.id, c.outcome.is_(None)).values(**_task_row(task))
        )
        if closed.rowcount != 1:
            raise conflicting_write()

    def in_region(self, prefix: str, open_only: bool, due_before: datetime | None, limit: int) -> list[Task]:
        c = t.tasks.c
        query = sa.select(t.tasks).where(c.region_code.startswith(prefix))
        if open_only:
            query = query.where(c.outcome.is_(None))
        if due_before is not None:
            query = query.where(c.due_at < due_before)
        rows = self.conn.execute(query.order_by(c.due_at, c.id).limit(limit))
        return [_task(r._mapping) for r in rows]

    def of_resident(self, resident_id: str) -> list[Task]:
        c = t.tasks.c
        rows = self.conn.execute(
            sa.select(t.tasks).where(c.resident_id == resident_id).order_by(c.due_at, c.id)
        )
        return [_task(r._mapping) for r in rows]


def _appeal(m: Any) -> Appeal:
    fields = {k: m[k] for k in Appeal.__dataclass_fields__}
    return Appeal(**{**fields, "state": AppealState(m["state"]), "retracted": tuple(m["retracted"])})


def _appeal_row(appeal: Appeal) -> dict[str, Any]:
    return {**vars(appeal), "state": appeal.state.value, "retracted": list(appeal.retracted)}


class SqlAppeals:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def add(self, appeal: Appeal) -> None:
        self.conn.execute(t.appeals.insert(), _appeal_row(appeal))

    def get(self, appeal_id: str) -> Appeal | None:
        row = self.conn.execute(sa.select(t.appeals).where(t.appeals.c.id == appeal_id)).first()
        return None if row is None else _appeal(row._mapping)

    def update(self, appeal: Appeal) -> None:
        """Decide an appeal; only an open one (a concurrent second decision conflicts)."""
        c = t.appeals.c
        decided = self.conn.execute(
            t.appeals.update()
            .where(c.id == appeal.id, c.state == AppealState.OPEN.value)
            .values(**_appeal_row(appeal))
        )
        if decided.rowcount != 1:
            raise conflicting_write()

    def of_resident(self, resident_id: str) -> list[Appeal]:
        c = t.appeals.c
        rows = self.conn.execute(
            sa.select(t.appeals).where(c.resident_id == resident_id).order_by(c.filed_at.desc(), c.id)
        )
        return [_appeal(r._mapping) for r in rows]

    def in_region(self, prefix: str, open_only: bool, limit: int) -> list[Appeal]:
        c = t.appeals.c
        query = sa.select(t.appeals).where(c.region_code.startswith(prefix))
        if open_only:
            query = query.where(c.state == AppealState.OPEN.value)
        return [_appeal(r._mapping) for r in self.conn.execute(query.order_by(c.due_at, c.id).limit(limit))]
