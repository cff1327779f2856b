"""Follow-up tasks (随访任务) for community workers, in the style of SORMAS: quarantine checks and tests due
for the people of their jurisdiction, each closed with an outcome; open tasks past their due time are
overdue."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from civicpass.domain.errors import Conflict, Message


class TaskKind(StrEnum):
    QUARANTINE_CHECK = "quarantine_check"  # visit or call: is the person at home, well?
    TEST_DUE = "test_due"  # a test is due (sampling at home or sent to a site)
    CASE_FOLLOW_UP = "case_follow_up"  # a case at home: symptoms, needs


class TaskOutcome(StrEnum):
    """SORMAS's task statuses besides pending: done, not executable, removed, or nothing to do."""

    COMPLETED = "completed"
    LOST_TO_FOLLOW_UP = "lost_to_follow_up"
    CANCELLED = "cancelled"
    NO_FOLLOW_UP_NEEDED = "no_follow_up_needed"


@dataclass(frozen=True)
class Task:
    id: str
    resident_id: str
    region_code: str  # the resident's: whose community workers do it
    kind: TaskKind
    due_at: datetime
    created_at: datetime
    created_by: str
    reason: str  # what it follows from: "close_contact fact F of case C", ...
    outcome: TaskOutcome | None = None
    note: str = ""
    closed_by: str | None = None
    closed_at: datetime | None = None

    @property
    def open(self) -> bool:
        return self.outcome is None

    def overdue(self, now: datetime) -> bool:
        return self.open and self.due_at < now


def close(task: Task, outcome: TaskOutcome, by: str, now: datetime, note: str) -> Task:
    if not task.open:
        raise Conflict("task_closed", Message("this task is already closed", "该任务已关闭"))
    return replace(task, outcome=outcome, closed_by=by, closed_at=now, note=note)
