"""Status use cases: re-evaluate residents under the active rule set, store versions, notify changes.

This module is the only writer of statuses, and the color it writes always comes from
``domain.status.evaluate``; no route or command can set a color (a test walks them all to check).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from civicpass.domain.errors import Conflict, Message, NotFound
from civicpass.domain.policy import Action, ResidentActor, Target, authorize
from civicpass.domain.rulesets import RuleSetVersion
from civicpass.domain.status import evaluate
from civicpass.services.context import Deps
from civicpass.services.notices import tell
from civicpass.services.ports import StoredStatus, UnitOfWork

STATUS_CHANGED = "status:resident:changed"


@dataclass(frozen=True)
class StatusChange:
    subject_id: str
    previous: str | None
    current: StoredStatus
    default_color: str

    @property
    def color_moved(self) -> bool:
        """The color differs from before (a first evaluation counts as moving from the default color)."""
        return (self.previous or self.default_color) != self.current.color


def active_ruleset(uow: UnitOfWork) -> RuleSetVersion:
    active = uow.rulesets.active()
    if active is None:
        raise Conflict("no_active_ruleset", Message("no rule set is active yet", "尚无生效的赋码规则集"))
    return active


def recompute_in(uow: UnitOfWork, deps: Deps, subject_ids: Sequence[str]) -> list[StatusChange]:
    """Re-evaluate ``subject_ids`` inside the caller's transaction; return the statuses that changed.

    A new status version is written only when the color or the reasons changed; each change is an event
    (``status:resident:changed``) in the same transaction, for the transparency log to consume. With no
    active rule set nothing is evaluated: activating the first one re-evaluates everyone.
    """
    ruleset = uow.rulesets.active()  # loading a rule set compiles its rules: once per batch
    if ruleset is None:
        return []
    subject_ids = list(dict.fromkeys(subject_ids))  # each once: a status is saved once per statement
    stored = uow.statuses.get_many(subject_ids)
    facts = uow.facts.for_subjects(subject_ids)
    now = deps.clock.now()
    rules = ruleset.ruleset.in_effect(now)
    changes = []
    saved: list[tuple[StoredStatus, bool]] = []
    events: list[tuple[str, dict[str, Any], datetime]] = []
    for subject_id in subject_ids:
        result = evaluate(facts[subject_id], ruleset.ruleset, now, deps.zone, rules)
        old = stored.get(subject_id)
        changed = old is None or not result.same_outcome(old.color, old.reasons)
        status = StoredStatus(
            subject_id=subject_id,
            version=(old.version if old else 0) + (1 if changed else 0),
            color=result.color,
            reasons=[r.as_dict() for r in result.reasons],
            ruleset_version=ruleset.version,
            evaluated_at=now,
            review_at=result.review_at,
            inputs_digest=result.inputs_digest,
        )
        saved.append((status, changed))
        if changed:
            events.append(
                (
                    STATUS_CHANGED,
                    {
                        "subject": subject_id,
                        "version": status.version,
                        "color": status.color,
                        "previous": old.color if old else None,
                        "rules": [r.rule_id for r in result.reasons],
                        "ruleset_version": ruleset.version,
                        "inputs_digest": result.inputs_digest,
                    },
                    now,
                )
            )
            changes.append(
                StatusChange(subject_id, old.color if old else None, status, ruleset.ruleset.default_color)
            )
    uow.statuses.save_many(saved)  # a few statements for the whole batch, not a few per resident
    uow.events.add_many(events)
    return changes


def notify(deps: Deps, changes: Sequence[StatusChange]) -> None:
    """Tell residents (or their guardians) that their color changed. Called after the commit."""
    messages = []
    for change in changes:
        if not change.color_moved:
            continue
        color = change.current.color
        reason = change.current.reasons[0]["text"] if change.current.reasons else None
        messages.append(
            (
                change.subject_id,
                f"健康码已变为{_ZH.get(color, color)}。" + (reason["zh-CN"] if reason else ""),
                f"Your code is now {color}." + (f" {reason['en']}" if reason else ""),
            )
        )
    tell(deps, messages)


_ZH = {"green": "绿码", "yellow": "黄码", "red": "红码"}


def recompute(deps: Deps, subject_ids: Sequence[str]) -> list[StatusChange]:
    with deps.uow() as uow:
        changes = recompute_in(uow, deps, subject_ids)
        uow.commit()
    notify(deps, changes)
    return changes


def recompute_everyone(deps: Deps, progress: Callable[[int, int], None] | None = None) -> int:
    """Re-evaluate every active resident in batches of ``limits.recompute_batch``; returns how many."""
    with deps.uow() as uow:
        total = uow.residents.count()
    done = 0
    after = ""
    while True:
        with deps.uow() as uow:
            batch = uow.residents.ids_after(after, deps.limits.recompute_batch)
            if not batch:
                break
            changes = recompute_in(uow, deps, batch)
            uow.commit()
        notify(deps, changes)
        done += len(batch)
        after = batch[-1]
        if progress is not None:
            progress(done, total)
    return done


MARKS_PER_SWEEP = 8
MARK_CLAIM = timedelta(minutes=10)
"""How long a sweep holds a mark it took (a batch of 50,000 residents takes it 10-17 s at the 3,000-5,000
re-evaluations/s measured end to end): if its worker stops meanwhile, another sweep takes the mark once
the claim has run out."""


def sweep(deps: Deps, limit: int = 10_000) -> int:
    """Re-evaluate the statuses due: first those of the residents bulk feed batches named (oldest batch
    first, each batch whole, so ``limit`` can be passed by one batch's size), then those whose review time
    has come (windows passing, facts expiring); how many were re-evaluated.

    A batch's residents are re-evaluated after the batch committed, each one that has a status, whether
    a read has re-evaluated it since or not (a status evaluated while the batch was being imported may not
    have seen its fact); only then is its mark dropped, and their statuses no longer read as marked (due).
    Each worker's sweep claims the marks it takes (``MARK_CLAIM``) and holds the due statuses it
    re-evaluates until it has saved them, so several workers re-evaluate different residents at once."""
    reviewed = 0
    for _ in range(MARKS_PER_SWEEP):
        if reviewed >= limit:
            break
        with deps.uow() as uow:  # each worker's sweep takes a mark of its own
            now = deps.clock.now()
            mark = uow.statuses.claim_mark(now, now + MARK_CLAIM)
            uow.commit()
        if mark is None:
            break
        with deps.uow() as uow:
            present = uow.statuses.with_status(mark.subject_ids)
        for start in range(0, len(present), deps.limits.recompute_batch):
            recompute(deps, present[start : start + deps.limits.recompute_batch])
        with deps.uow() as uow:
            uow.statuses.drop_mark(mark.id)
            uow.commit()
        reviewed += len(present)
    while reviewed < limit:  # each batch re-evaluated in the transaction that holds it
        with deps.uow() as uow:
            due = uow.statuses.claim_due(deps.clock.now(), min(limit - reviewed, deps.limits.recompute_batch))
            changes = recompute_in(uow, deps, due)
            uow.commit()
        notify(deps, changes)
        reviewed += len(due)
        if len(due) < deps.limits.recompute_batch:
            break
    return reviewed


def current(deps: Deps, actor: ResidentActor, subject_id: str) -> StoredStatus:
    """A resident's (or dependent's) own status, re-evaluated first if it is due for review or missing."""
    authorize(actor, Action.DECLARE_FOR, Target(resident_id=subject_id)).enforce()
    return fresh(deps, subject_id)


def fresh(deps: Deps, resident_id: str) -> StoredStatus:
    """The current status, re-evaluated first if due; callers have checked the permission to see it."""
    with deps.uow() as uow:
        stored = uow.statuses.get(resident_id)
        if stored is not None and not stored.marked and stored.review_at > deps.clock.now():
            return stored
        if uow.residents.get(resident_id) is None:
            raise NotFound("resident_not_found", Message("no such resident", "居民不存在"))
    recompute(deps, [resident_id])
    with deps.uow() as uow:
        refreshed = uow.statuses.get(resident_id)
    if refreshed is None:
        raise Conflict("no_active_ruleset", Message("no rule set is active yet", "尚无生效的赋码规则集"))
    return refreshed


def history(deps: Deps, actor: ResidentActor, subject_id: str, limit: int = 50) -> list[StoredStatus]:
    authorize(actor, Action.DECLARE_FOR, Target(resident_id=subject_id)).enforce()
    with deps.uow() as uow:
        return uow.statuses.history(subject_id, limit)
