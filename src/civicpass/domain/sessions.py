"""Bearer sessions for residents and staff. Only a digest of the token is ever stored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class SubjectKind(StrEnum):
    RESIDENT = "resident"
    STAFF = "staff"


@dataclass(frozen=True)
class Session:
    token_digest: str
    kind: SubjectKind
    subject_id: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None

    def is_live(self, now: datetime) -> bool:
        return self.revoked_at is None and now < self.expires_at
