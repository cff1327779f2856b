"""Residents, their dependents and guardians.

A resident either enrols themself (with a verified phone) or is a **dependent** enrolled by a guardian
(children, elders without a phone or document). A dependent has one or two guardians.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from civicpass.domain.errors import Conflict, FieldError, InvalidInput, Message
from civicpass.domain.identity import Document, DocumentType

MAX_GUARDIANS = 2
MAX_DEPENDENTS = 10


class ResidentKind(StrEnum):
    SELF = "self"
    DEPENDENT = "dependent"


@dataclass(frozen=True)
class PersonalData:
    """The PII of a resident, held only in memory; at rest every field is encrypted."""

    name: str
    document: Document
    phone: str | None
    address: str | None


@dataclass(frozen=True)
class Resident:
    id: str
    pseudonym: str
    kind: ResidentKind
    pii: PersonalData
    birth_date: date | None
    region_code: str
    active: bool
    created_at: datetime
    code_subject: str | None = None
    """The ``sub`` of this resident's codes: random, rotatable, unrelated to every other identifier."""


@dataclass(frozen=True)
class Guardianship:
    guardian_id: str
    dependent_id: str
    relation: str
    created_at: datetime


class Relation(StrEnum):
    PARENT = "parent"
    CHILD = "child"
    SPOUSE = "spouse"
    GRANDPARENT = "grandparent"
    GRANDCHILD = "grandchild"
    CARER = "carer"
    OTHER = "other"


def check_name(name: str) -> str:
    text = " ".join(name.split())
    if not 1 <= len(text) <= 64:
        raise InvalidInput(
            "name_invalid",
            Message("a name has 1 to 64 characters", "姓名应为1至64个字符"),
            errors=[FieldError(("name",), "name_invalid", "1 to 64 characters")],
        )
    return text


def check_self_enrolment(document: Document) -> None:
    if document.type is DocumentType.NONE:
        raise InvalidInput(
            "document_required",
            Message("only a dependent may be enrolled without a document", "仅被代管人员可无证件登记"),
            errors=[FieldError(("document", "type"), "document_required", "self-enrolment needs a document")],
        )


def check_can_add_guardian(existing_guardians: int) -> None:
    if existing_guardians >= MAX_GUARDIANS:
        raise Conflict(
            "too_many_guardians",
            Message(
                f"a dependent has at most {MAX_GUARDIANS} guardians",
                f"每位被代管人员最多{MAX_GUARDIANS}位监护人",
            ),
        )


def check_can_add_dependent(existing_dependents: int) -> None:
    if existing_dependents >= MAX_DEPENDENTS:
        raise Conflict(
            "too_many_dependents",
            Message(
                f"a guardian manages at most {MAX_DEPENDENTS} dependents", f"每人最多代管{MAX_DEPENDENTS}人"
            ),
        )
