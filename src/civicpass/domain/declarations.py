"""Declarations (申报): a resident's answers to one version of one form, possibly submitted by proxy."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Declaration:
    id: str
    subject_id: str
    form_key: str
    form_version: int
    answers: Mapping[str, Any]
    submitted_at: datetime
    submitted_by: str

    @property
    def by_proxy(self) -> bool:
        """True when a guardian declared for a dependent."""
        return self.submitted_by != self.subject_id
