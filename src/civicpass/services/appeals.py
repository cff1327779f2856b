"""Appeals (``domain.appeals``): residents contest a status or a fact; a CDC member who did not author the
contested facts decides within the deadline; an upheld appeal retracts them and the status is recomputed;
the resident is told the decision and its reason."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from datetime import timedelta

from civicpass.domain import appeals as ap
from civicpass.domain.errors import Conflict, FieldError, InvalidInput, Message, NotFound
from civicpass.domain.facts import Fact, FactState
from civicpass.domain.policy import Action, ResidentActor, StaffActor, Target, authorize
from civicpass.domain.regions import prefix_of
from civicpass.services.context import Deps
from civicpass.services.facts import RAISING_KINDS
from civicpass.services.notices import tell
from civicpass.services.ports import UnitOfWork
from civicpass.services.status import StatusChange, notify, recompute_in


def file(deps: Deps, actor: ResidentActor, subject_id: str, fact_id: str | None, reason: str) -> ap.Appeal:
    """File an appeal for oneself or a dependent, against one active fact or the current status."""
    authorize(actor, Action.APPEAL_FILE, Target(resident_id=subject_id)).enforce()
    now = deps.clock.now()
    with deps.uow() as uow:
        resident = uow.residents.get(subject_id)
        if resident is None or not resident.active:
            raise NotFound("resident_not_found", Message("no such resident", "居民不存在"))
        if fact_id is not None:
            fact = uow.facts.get(fact_id)
            if fact is None or fact.subject_id != subject_id or fact.state is not FactState.ACTIVE:
                raise NotFound(
                    "fact_not_found", Message("no such fact in force about this person", "该人员无此有效事实")
                )
        if any(
            a.state is ap.AppealState.OPEN and a.fact_id == fact_id
            for a in uow.appeals.of_resident(subject_id)
        ):
            raise Conflict(
                "appeal_open", Message("an appeal against this is already open", "已有针对此项的申诉在处理中")
            )
        appeal = ap.Appeal(
            deps.random.new_id(),
            subject_id,
            resident.region_code,
            actor.id,
            now,
            now + timedelta(hours=deps.limits.appeal_sla_hours),
            reason.strip(),
            fact_id,
        )
        uow.appeals.add(appeal)
        uow.events.add(
            "appeal:resident:filed", {"appeal": appeal.id, "subject": subject_id, "fact": fact_id}, now
        )
        uow.commit()
    return appeal


def of_resident(deps: Deps, actor: ResidentActor, subject_id: str) -> list[ap.Appeal]:
    authorize(actor, Action.APPEAL_FILE, Target(resident_id=subject_id)).enforce()
    with deps.uow() as uow:
        return uow.appeals.of_resident(subject_id)


def listing(deps: Deps, actor: StaffActor, overdue: bool, limit: int) -> list[ap.Appeal]:
    """Open appeals of the actor's jurisdiction, nearest deadline first (only those past it with ``overdue``)."""
    authorize(actor, Action.APPEAL_DECIDE, Target(region=actor.jurisdiction)).enforce()
    now = deps.clock.now()
    with deps.uow() as uow:
        found = uow.appeals.in_region(prefix_of(actor.jurisdiction), True, min(limit, 500))
    return [a for a in found if a.overdue(now)] if overdue else found


def decide(
    deps: Deps,
    actor: StaffActor,
    appeal_id: str,
    upheld: bool,
    reason: str,
    retract: Collection[str] = (),
) -> ap.Appeal:
    """Uphold (retracting the contested fact, or for a status appeal the facts named in ``retract``) or
    dismiss; either way the resident is told the decision and its reason."""
    now = deps.clock.now()
    changes: list[StatusChange] = []
    with deps.uow() as uow:
        appeal = uow.appeals.get(appeal_id)
        if appeal is None:
            raise NotFound("appeal_not_found", Message("no such appeal", "申诉不存在"))
        authorize(actor, Action.APPEAL_DECIDE, Target(region=appeal.region_code)).enforce()
        live = {f.id: f for f in uow.facts.for_subjects([appeal.resident_id])[appeal.resident_id]}
        if appeal.fact_id is not None:
            wanted = [appeal.fact_id]
        elif upheld:
            wanted = list(retract)
            unknown = [i for i in wanted if i not in live]
            if not wanted or unknown:
                raise InvalidInput(
                    "retract_invalid",
                    Message("name the facts in force behind the status to retract", "请指明须撤销的有效事实"),
                    errors=[
                        FieldError(
                            ("retract",), "retract_invalid", "ids of facts in force about the resident"
                        )
                    ],
                )
        else:
            wanted = []
        contested: list[Fact] = [live[i] if i in live else _fact(uow, i) for i in wanted]
        # A status appeal contests every fact that can raise the color: none of their authors decides it.
        behind = [f for f in live.values() if f.kind in RAISING_KINDS] if appeal.fact_id is None else []
        ap.decide(appeal, actor.id, [*contested, *behind], upheld, reason.strip(), now)  # authorship check
        decided = ap.decide(appeal, actor.id, contested, upheld, reason.strip(), now)
        uow.appeals.update(decided)
        for fact in contested if upheld else []:
            if fact.state is FactState.ACTIVE:
                uow.facts.update(
                    replace(
                        fact,
                        state=FactState.RETRACTED,
                        decided_by=actor.id,
                        decided_at=now,
                        note=f"appeal {appeal.id} upheld",
                    )
                )
                uow.events.add(
                    "fact:resident:retracted",
                    {"fact": fact.id, "subject": fact.subject_id, "appeal": appeal.id, "by": actor.id},
                    now,
                )
        uow.events.add(
            "appeal:resident:decided",
            {
                "appeal": appeal.id,
                "subject": appeal.resident_id,
                "state": decided.state.value,
                "by": actor.id,
                "retracted": list(decided.retracted),
            },
            now,
        )
        changes = recompute_in(uow, deps, [appeal.resident_id])
        uow.commit()
    notify(deps, changes)
    verdict = ("申诉成立", "upheld") if upheld else ("申诉未获支持", "dismissed")
    tell(
        deps,
        [
            (
                appeal.resident_id,
                f"您的申诉{verdict[0]}：{decided.decision}",
                f"Your appeal was {verdict[1]}: {decided.decision}",
            )
        ],
    )
    return decided


def _fact(uow: UnitOfWork, fact_id: str) -> Fact:
    found = uow.facts.get(fact_id)
    if found is None:
        raise NotFound("fact_not_found", Message("no such fact", "事实记录不存在"))
    return found
