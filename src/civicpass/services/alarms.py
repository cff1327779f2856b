"""Misuse alarms for auditors: bulk changes or reads of personal data that no epidemiological event explains.

Over the last hour, per staff member:

- facts recorded or proposed by hand about more than ``limits.alarm_facts_per_hour`` residents (contacts
  recorded by approving a tracing proposal are explained by the case they come from and do not count);
- personal data of more than ``limits.alarm_reads_per_hour`` residents read by look-up (scans at
  checkpoints are what checkpoint staff are for, and do not count).

An alarm is an event (``alarm:staff:bulk_facts`` or ``alarm:staff:bulk_reads``), so it is in the
transparency log too, and is raised once per staff member and hour.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from civicpass.domain.policy import Action, StaffActor, Target, authorize
from civicpass.services.access import PII_READ
from civicpass.services.context import Deps
from civicpass.services.ports import StoredEvent

WINDOW = timedelta(hours=1)
BY_HAND = ("fact:resident:recorded", "fact:resident:proposed")
BULK_FACTS, BULK_READS = "alarm:staff:bulk_facts", "alarm:staff:bulk_reads"


@dataclass(frozen=True)
class Alarm:
    kind: str
    staff_id: str
    residents: int
    threshold: int
    since: str


def scan(deps: Deps) -> list[Alarm]:
    """Raise the alarms the last hour calls for (each once); the new ones."""
    now = deps.clock.now()
    since = now - WINDOW
    limits = deps.limits
    with deps.uow() as uow:
        facts = uow.events.subjects_by(BY_HAND, since, "authority")
        reads = uow.events.subjects_by((PII_READ,), since, "by", {"action": Action.RESIDENT_PII_READ.value})
        raised = {(e.name, e.payload.get("staff")) for e in uow.events.since((BULK_FACTS, BULK_READS), since)}
        new = []
        for kind, counts, threshold in (
            (BULK_FACTS, facts, limits.alarm_facts_per_hour),
            (BULK_READS, reads, limits.alarm_reads_per_hour),
        ):
            for staff, residents in sorted(counts.items()):
                if residents > threshold and (kind, staff) not in raised:
                    alarm = Alarm(kind, staff, residents, threshold, since.isoformat())
                    uow.events.add(kind, _payload(alarm), now)
                    new.append(alarm)
        uow.commit()
    return new


def _payload(alarm: Alarm) -> dict[str, Any]:
    return {
        "staff": alarm.staff_id,
        "residents": alarm.residents,
        "threshold": alarm.threshold,
        "since": alarm.since,
    }


def recent(deps: Deps, actor: StaffActor, days: int = 7) -> list[StoredEvent]:
    """The alarms of the last ``days`` days, newest first (auditors)."""
    authorize(actor, Action.ACCESS_LOG_READ, Target(region=actor.jurisdiction)).enforce()
    with deps.uow() as uow:
        found = uow.events.since((BULK_FACTS, BULK_READS), deps.clock.now() - timedelta(days=days))
    return found[::-1]
