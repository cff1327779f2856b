"""A resident's own profile, their dependents and co-guardians."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from civicpass.domain.errors import Conflict, FieldError, InvalidInput, Message, NotFound
from civicpass.domain.identity import Document, DocumentType
from civicpass.domain.phone import normalize_phone
from civicpass.domain.policy import Action, ResidentActor, Target, authorize
from civicpass.domain.regions import check_region_code
from civicpass.domain.residents import (
    Guardianship,
    PersonalData,
    Relation,
    Resident,
    ResidentKind,
    check_can_add_dependent,
    check_can_add_guardian,
    check_name,
)
from civicpass.services.context import Deps
from civicpass.services.ports import UnitOfWork


@dataclass(frozen=True)
class Profile:
    resident: Resident
    dependents: list[tuple[Resident, Guardianship]]
    guardians: list[tuple[Resident, Guardianship]]


def _load(uow: UnitOfWork, resident_id: str) -> Resident:
    resident = uow.residents.get(resident_id)
    if resident is None:
        raise NotFound("resident_not_found", Message("no such resident", "居民不存在"))
    return resident


def profile(deps: Deps, actor: ResidentActor, resident_id: str | None = None) -> Profile:
    """The actor's own profile, or a dependent's when ``resident_id`` names one."""
    subject = resident_id or actor.id
    if subject != actor.id:
        authorize(actor, Action.DEPENDENT_MANAGE, Target(resident_id=subject)).enforce()
    with deps.uow() as uow:
        resident = _load(uow, subject)
        dependents = [(_load(uow, g.dependent_id), g) for g in uow.guardianships.dependents_of(subject)]
        guardians = [(_load(uow, g.guardian_id), g) for g in uow.guardianships.guardians_of(subject)]
    return Profile(resident, [d for d in dependents if d[0].active], guardians)


def _relation(relation: str) -> Relation:
    try:
        return Relation(relation)
    except ValueError:
        raise InvalidInput(
            "relation_unknown",
            Message(f"unknown relation {relation!r}", "未知的关系"),
            errors=[FieldError(("relation",), "relation_unknown", ", ".join(r.value for r in Relation))],
        ) from None


def add_dependent(
    deps: Deps,
    actor: ResidentActor,
    name: str,
    document: Document,
    birth_date: date | None,
    region_code: str | None,
    relation: str,
    address: str | None,
) -> Resident:
    """Enrol a dependent (no phone; possibly no document) managed by the actor."""
    clean_name = check_name(name)
    rel = _relation(relation)
    birth = document.birth_date() or birth_date
    if birth is None:
        raise InvalidInput(
            "birth_date_required",
            Message(
                "a dependent without a resident ID needs a birth date",
                "无居民身份证的被代管人员须填写出生日期",
            ),
            errors=[FieldError(("birth_date",), "birth_date_required", "required")],
        )
    now = deps.clock.now()
    with deps.uow() as uow:
        guardian = _load(uow, actor.id)
        region = check_region_code(region_code) if region_code else guardian.region_code
        check_can_add_dependent(len(uow.guardianships.dependents_of(actor.id)))
        if document.type is not DocumentType.NONE and uow.residents.by_document(document) is not None:
            raise Conflict(
                "document_already_enrolled",
                Message(
                    "this document is already enrolled; ask its guardian to add you as a co-guardian",
                    "该证件已登记，请其现有监护人将您添加为共同监护人",
                ),
            )
        dependent = Resident(
            id=deps.random.new_id(),
            pseudonym=deps.random.token(),
            kind=ResidentKind.DEPENDENT,
            pii=PersonalData(
                clean_name, document, None, address.strip() if address else guardian.pii.address
            ),
            birth_date=birth,
            region_code=region,
            active=True,
            created_at=now,
        )
        uow.residents.add(dependent)
        uow.guardianships.add(Guardianship(actor.id, dependent.id, rel.value, now))
        uow.commit()
    return dependent


def remove_dependent(deps: Deps, actor: ResidentActor, dependent_id: str) -> None:
    """Stop managing a dependent; a dependent left with no guardian is deactivated, not deleted."""
    authorize(actor, Action.DEPENDENT_MANAGE, Target(resident_id=dependent_id)).enforce()
    with deps.uow() as uow:
        uow.guardianships.remove(actor.id, dependent_id)
        if not uow.guardianships.guardians_of(dependent_id):
            uow.residents.set_active(dependent_id, False)
        uow.commit()


def add_guardian(
    deps: Deps, actor: ResidentActor, dependent_id: str, raw_phone: str, relation: str
) -> Resident:
    """A guardian adds a second guardian, an enrolled resident found by phone number."""
    authorize(actor, Action.DEPENDENT_MANAGE, Target(resident_id=dependent_id)).enforce()
    rel = _relation(relation)
    phone = normalize_phone(raw_phone)
    with deps.uow() as uow:
        other = uow.residents.by_phone(phone)
        if other is None or not other.active:
            raise NotFound(
                "resident_not_enrolled",
                Message("no resident is enrolled with this phone", "该手机号尚未登记"),
            )
        guardians = uow.guardianships.guardians_of(dependent_id)
        if any(g.guardian_id == other.id for g in guardians):
            raise Conflict("already_guardian", Message("this person is already a guardian", "此人已是监护人"))
        check_can_add_guardian(len(guardians))
        check_can_add_dependent(len(uow.guardianships.dependents_of(other.id)))
        uow.guardianships.add(Guardianship(other.id, dependent_id, rel.value, deps.clock.now()))
        uow.commit()
    return other
