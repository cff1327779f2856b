"""Recording reads of personal data: the access log row and the event the transparency log publishes.

Both are written in the caller's transaction (no record, no data). The event names the reader, the
resident (the log shows their pseudonym), the action, the fields and the coded purpose; the free-text
reason stays in the access log, where only the resident and auditors read it.
"""

from __future__ import annotations

from civicpass.domain.access import AccessRecord
from civicpass.services.context import Deps
from civicpass.services.ports import UnitOfWork

PII_READ = "pii:resident:read"


def record(uow: UnitOfWork, deps: Deps, access: AccessRecord) -> None:
    uow.access_log.add(access)
    uow.events.add(
        PII_READ,
        {
            "by": access.staff_id,
            "subject": access.resident_id,
            "action": access.action,
            "purpose": access.purpose.code.value,
            "fields": list(access.fields),
        },
        access.at,
    )
