"""Messages to residents through the messaging port: to the resident's phone, or to their guardians'.

Called after the commit that decided what the message says (a status change, a follow-up task, an appeal
decision), so nobody is told about something that was rolled back.
"""

from __future__ import annotations

from collections.abc import Sequence

from civicpass.services.context import Deps
from civicpass.services.ports import UnitOfWork

PREFIX = "【civicpass】"


def phones_for(uow: UnitOfWork, subject_id: str) -> list[str]:
    resident = uow.residents.get(subject_id)
    if resident is None:
        return []
    if resident.pii.phone:
        return [resident.pii.phone]
    guardians = (uow.residents.get(g.guardian_id) for g in uow.guardianships.guardians_of(subject_id))
    return [g.pii.phone for g in guardians if g is not None and g.pii.phone]


def tell(deps: Deps, messages: Sequence[tuple[str, str, str]]) -> None:
    """(resident id, Chinese text, English text) each: one text message with both languages."""
    if not messages:
        return
    with deps.uow() as uow:
        for subject_id, zh, en in messages:
            for phone in phones_for(uow, subject_id):
                deps.messenger.send_text(phone, f"{PREFIX}{zh} {en}")
