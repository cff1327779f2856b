"""Appeals (申诉): a resident contests a status or a fact; someone who did not author the contested facts
decides within a deadline, and the decision with its reason is shown to the resident.

An upheld appeal retracts the contested fact (for a status appeal, the facts the decider names among those
behind the status), and the status is recomputed from what remains: nobody sets a color here either.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from civicpass.domain.errors import Conflict, Message, PermissionDenied
from civicpass.domain.facts import Fact


class AppealState(StrEnum):
    OPEN = "open"
    UPHELD = "upheld"
    DISMISSED = "dismissed"


@dataclass(frozen=True)
class Appeal:
    id: str
    resident_id: str
    region_code: str
    filed_by: str  # the resident, or a guardian for a dependent
    filed_at: datetime
    due_at: datetime  # the deadline (SLA)
    reason: str
    fact_id: str | None = None  # None: the appeal contests the current status as a whole
    state: AppealState = AppealState.OPEN
    decided_by: str | None = None
    decided_at: datetime | None = None
    decision: str = ""  # the decider's reason, shown to the resident
    retracted: tuple[str, ...] = ()

    def overdue(self, now: datetime) -> bool:
        return self.state is AppealState.OPEN and self.due_at < now


def authors(fact: Fact) -> set[str]:
    """Who stands behind a fact: whoever recorded, proposed or approved it."""
    return {a for a in (fact.authority, fact.proposed_by, fact.decided_by) if a}


def decide(
    appeal: Appeal,
    decider: str,
    contested: Collection[Fact],
    upheld: bool,
    reason: str,
    now: datetime,
) -> Appeal:
    """The decision: not by an author of a contested fact; an upheld appeal names what it retracts."""
    if appeal.state is not AppealState.OPEN:
        raise Conflict("appeal_decided", Message("this appeal was already decided", "该申诉已作出决定"))
    if any(decider in authors(f) for f in contested):
        raise PermissionDenied(
            "own_fact",
            Message(
                "an appeal must be decided by someone who did not record the contested fact",
                "申诉须由未参与记录被申诉事实的人员处理",
            ),
            extra={"reasons": ["own_fact"]},
        )
    return replace(
        appeal,
        state=AppealState.UPHELD if upheld else AppealState.DISMISSED,
        decided_by=decider,
        decided_at=now,
        decision=reason,
        retracted=tuple(sorted(f.id for f in contested)) if upheld else (),
    )
