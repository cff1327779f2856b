"""Access-log records: every staff read of a resident's personal data, with its stated purpose.

A later component appends these to the transparency log; here they are written in the same transaction
as the read, so a read that cannot be logged does not happen.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from civicpass.domain.errors import FieldError, InvalidInput, Message


class Purpose(StrEnum):
    FOLLOW_UP = "follow_up"
    QUARANTINE_CHECK = "quarantine_check"
    CONTACT_TRACING = "contact_tracing"
    ASSISTANCE = "assistance"
    CORRECTION = "correction"
    CODE_VERIFICATION = "code_verification"
    OTHER = "other"


MIN_PURPOSE_TEXT = 4


@dataclass(frozen=True)
class StatedPurpose:
    code: Purpose
    text: str


@dataclass(frozen=True)
class AccessRecord:
    id: str
    at: datetime
    staff_id: str
    resident_id: str
    resident_region: str
    action: str
    purpose: StatedPurpose
    fields: tuple[str, ...]


def check_purpose(code: str, text: str) -> StatedPurpose:
    """A read of personal data needs a coded purpose and a sentence saying why."""
    try:
        purpose = Purpose(code)
    except ValueError:
        raise InvalidInput(
            "purpose_unknown",
            Message(f"unknown purpose {code!r}", "未知的查询目的"),
            errors=[FieldError(("purpose", "code"), "purpose_unknown", ", ".join(p.value for p in Purpose))],
        ) from None
    stated = " ".join(text.split())
    if len(stated) < MIN_PURPOSE_TEXT:
        raise InvalidInput(
            "purpose_required",
            Message("state why you need this person's data", "请说明查询此人信息的原因"),
            errors=[
                FieldError(("purpose", "text"), "purpose_required", f"at least {MIN_PURPOSE_TEXT} characters")
            ],
        )
    return StatedPurpose(purpose, stated)
