"""Follow-up tasks for community workers (``domain.tasks``): planned when contacts are approved, listed for
a jurisdiction (overdue first), closed with an outcome. The resident is told what to expect."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from civicpass.domain.errors import Message, NotFound
from civicpass.domain.facts import Fact, FactKind
from civicpass.domain.policy import Action, StaffActor, Target, authorize
from civicpass.domain.regions import prefix_of
from civicpass.domain.tasks import Task, TaskKind, TaskOutcome, close
from civicpass.services.context import Deps
from civicpass.services.notices import tell
from civicpass.services.ports import UnitOfWork

DAY = timedelta(days=1)
_PLAN: dict[FactKind, tuple[tuple[TaskKind, timedelta], ...]] = {
    FactKind.CLOSE_CONTACT: (
        (TaskKind.QUARANTINE_CHECK, DAY),
        (TaskKind.TEST_DUE, DAY),
        (TaskKind.TEST_DUE, 3 * DAY),
    ),
    FactKind.SECONDARY_CONTACT: ((TaskKind.QUARANTINE_CHECK, DAY), (TaskKind.TEST_DUE, DAY)),
    FactKind.SPATIOTEMPORAL_COMPANION: ((TaskKind.TEST_DUE, DAY),),
}
"""What an approved contact fact asks of the community: a check within a day, tests on day 1 (and 3)."""

_ZH = {
    TaskKind.QUARANTINE_CHECK: "社区工作人员将联系您了解居家情况",
    TaskKind.TEST_DUE: "请按时进行核酸检测",
    TaskKind.CASE_FOLLOW_UP: "社区工作人员将随访",
}
_EN = {
    TaskKind.QUARANTINE_CHECK: "a community worker will check on you",
    TaskKind.TEST_DUE: "a test is due",
    TaskKind.CASE_FOLLOW_UP: "a community worker will follow up",
}


def plan(uow: UnitOfWork, deps: Deps, facts: Sequence[Fact], by: str) -> list[Task]:
    """The tasks that newly approved contact facts need, added to the unit of work."""
    now = deps.clock.now()
    tasks = []
    for fact in facts:
        resident = uow.residents.get(fact.subject_id)
        if resident is None:
            continue
        for kind, after in _PLAN.get(fact.kind, ()):
            tasks.append(
                Task(
                    deps.random.new_id(),
                    resident.id,
                    resident.region_code,
                    kind,
                    now + after,
                    now,
                    by,
                    f"{fact.kind.value} fact {fact.id}"
                    + (f" of case {fact.data['case_id']}" if "case_id" in fact.data else ""),
                )
            )
    uow.tasks.add_many(tasks)
    return tasks


def announce(deps: Deps, tasks: Sequence[Task]) -> None:
    """Tell each resident once what follow-up to expect (after the commit)."""
    by_resident: dict[str, list[Task]] = {}
    for task in tasks:
        by_resident.setdefault(task.resident_id, []).append(task)
    messages = []
    for resident_id, theirs in by_resident.items():
        first = min(theirs, key=lambda t: t.due_at)
        when = first.due_at.astimezone(deps.zone).strftime("%Y-%m-%d %H:%M")
        kinds = sorted({t.kind for t in theirs})
        messages.append(
            (
                resident_id,
                "；".join(_ZH[k] for k in kinds) + f"（{when}前）。",
                "Follow-up: " + "; ".join(_EN[k] for k in kinds) + f" (by {when}).",
            )
        )
    tell(deps, messages)


def create(
    deps: Deps, actor: StaffActor, resident_id: str, kind: TaskKind, due_at: datetime, reason: str
) -> Task:
    with deps.uow() as uow:
        resident = uow.residents.get(resident_id)
        if resident is None or not resident.active:
            raise NotFound("resident_not_found", Message("no such resident", "居民不存在"))
        authorize(actor, Action.TASK_WORK, Target(region=resident.region_code)).enforce()
        task = Task(
            deps.random.new_id(),
            resident.id,
            resident.region_code,
            kind,
            due_at,
            deps.clock.now(),
            actor.id,
            reason,
        )
        uow.tasks.add_many([task])
        uow.events.add(
            "task:resident:created",
            {"task": task.id, "subject": resident.id, "kind": kind.value, "by": actor.id},
            task.created_at,
        )
        uow.commit()
    announce(deps, [task])
    return task


def listing(deps: Deps, actor: StaffActor, overdue: bool, limit: int) -> list[Task]:
    """Open tasks of the actor's jurisdiction by due time (only those past due with ``overdue``)."""
    authorize(actor, Action.TASK_WORK, Target(region=actor.jurisdiction)).enforce()
    now = deps.clock.now()
    with deps.uow() as uow:
        return uow.tasks.in_region(
            prefix_of(actor.jurisdiction), True, now if overdue else None, min(limit, 500)
        )


def record_outcome(deps: Deps, actor: StaffActor, task_id: str, outcome: TaskOutcome, note: str) -> Task:
    now = deps.clock.now()
    with deps.uow() as uow:
        task = uow.tasks.get(task_id)
        if task is None:
            raise NotFound("task_not_found", Message("no such task", "任务不存在"))
        authorize(actor, Action.TASK_WORK, Target(region=task.region_code)).enforce()
        closed = close(task, outcome, actor.id, now, note)
        uow.tasks.update(closed)
        uow.events.add(
            "task:resident:closed",
            {"task": task.id, "subject": task.resident_id, "outcome": outcome.value, "by": actor.id},
            now,
        )
        uow.commit()
    return closed
