"""Follow-up tasks for community workers, and appeals: residents file them, the CDC decides."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, status
from pydantic import Field

from civicpass.domain.appeals import Appeal
from civicpass.domain.tasks import Task, TaskKind, TaskOutcome
from civicpass.services import appeals, tasks
from civicpass.web.deps import CurrentResident, CurrentStaff, ServiceDeps
from civicpass.web.schemas import Instant, Strict

router = APIRouter(prefix="/v1", tags=["follow-up"])


class TaskIn(Strict):
    resident_id: str = Field(max_length=36)
    kind: TaskKind
    due_at: Instant
    reason: str = Field(min_length=4, max_length=500)


class OutcomeIn(Strict):
    outcome: TaskOutcome
    note: str = Field("", max_length=500)


class AppealIn(Strict):
    subject_id: str | None = Field(None, max_length=36, description="a dependent's id; yourself if omitted")
    fact_id: str | None = Field(None, max_length=36, description="the fact contested; the status if omitted")
    reason: str = Field(min_length=4, max_length=2000)


class DecisionIn(Strict):
    upheld: bool
    reason: str = Field(min_length=4, max_length=2000, description="shown to the resident")
    retract: list[str] = Field(
        [], max_length=50, description="for a status appeal upheld: the facts to retract"
    )


def _time(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def task_view(task: Task) -> dict[str, Any]:
    return {
        "id": task.id,
        "resident_id": task.resident_id,
        "region_code": task.region_code,
        "kind": task.kind.value,
        "due_at": task.due_at.isoformat(),
        "reason": task.reason,
        "outcome": task.outcome.value if task.outcome else None,
        "note": task.note,
        "closed_by": task.closed_by,
        "closed_at": _time(task.closed_at),
    }


def appeal_view(appeal: Appeal) -> dict[str, Any]:
    return {
        "id": appeal.id,
        "subject_id": appeal.resident_id,
        "fact_id": appeal.fact_id,
        "reason": appeal.reason,
        "filed_at": appeal.filed_at.isoformat(),
        "due_at": appeal.due_at.isoformat(),
        "state": appeal.state.value,
        "decided_at": _time(appeal.decided_at),
        "decision": appeal.decision,
        "retracted": list(appeal.retracted),
    }


@router.get("/staff/tasks")
def list_tasks(
    actor: CurrentStaff, deps: ServiceDeps, overdue: bool = False, limit: int = Query(100, ge=1, le=500)
) -> list[dict[str, Any]]:
    """Open follow-up tasks of your jurisdiction, by due time (``overdue=true``: only those past due)."""
    return [task_view(t) for t in tasks.listing(deps, actor, overdue, limit)]


@router.post("/staff/tasks", status_code=status.HTTP_201_CREATED)
def create_task(body: TaskIn, actor: CurrentStaff, deps: ServiceDeps) -> dict[str, Any]:
    return task_view(tasks.create(deps, actor, body.resident_id, body.kind, body.due_at, body.reason))


@router.post("/staff/tasks/{task_id}/outcome")
def task_outcome(task_id: str, body: OutcomeIn, actor: CurrentStaff, deps: ServiceDeps) -> dict[str, Any]:
    """Close a task: completed, lost to follow-up, cancelled or no follow-up needed."""
    return task_view(tasks.record_outcome(deps, actor, task_id, body.outcome, body.note))


@router.post("/me/appeals", status_code=status.HTTP_201_CREATED)
def file_appeal(body: AppealIn, actor: CurrentResident, deps: ServiceDeps) -> dict[str, Any]:
    """Contest your status (or a dependent's) or one fact behind it; decided within the deadline."""
    return appeal_view(appeals.file(deps, actor, body.subject_id or actor.id, body.fact_id, body.reason))


@router.get("/me/appeals")
def my_appeals(
    actor: CurrentResident, deps: ServiceDeps, subject_id: str | None = Query(None, max_length=36)
) -> list[dict[str, Any]]:
    """Your appeals (or a dependent's) with their decisions and reasons, newest first."""
    return [appeal_view(a) for a in appeals.of_resident(deps, actor, subject_id or actor.id)]


@router.get("/staff/appeals")
def list_appeals(
    actor: CurrentStaff, deps: ServiceDeps, overdue: bool = False, limit: int = Query(100, ge=1, le=500)
) -> list[dict[str, Any]]:
    """Open appeals of your jurisdiction, nearest deadline first (``overdue=true``: past the deadline)."""
    return [appeal_view(a) for a in appeals.listing(deps, actor, overdue, limit)]


@router.post("/staff/appeals/{appeal_id}/decision")
def decide_appeal(appeal_id: str, body: DecisionIn, actor: CurrentStaff, deps: ServiceDeps) -> dict[str, Any]:
    """Uphold (the contested facts are retracted, the status recomputed) or dismiss, with a reason."""
    return appeal_view(appeals.decide(deps, actor, appeal_id, body.upheld, body.reason, body.retract))
