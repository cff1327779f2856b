"""Privacy operations: retention per data class with scheduled, logged purges; a resident's export of
everything held about them; and the end-of-epidemic shutdown.

Retention (days, each a setting ``CIVICPASS_RETENTION_<CLASS>_DAYS``; check-ins have their own, 21): what
a purge removes is counted in an event (``retention:<class>:purged``), so the log shows each purge.
The shutdown keeps aggregate statistics only (counts below ``min_count_shown`` suppressed), deletes every
row of personal data, destroys the PII keys where this instance holds them, and ends with a signed
deletion record in the transparency log, which itself holds no personal data and still verifies.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from datetime import timedelta
from typing import Any

from civicpass.domain.errors import Message, NotFound
from civicpass.domain.policy import Action, ResidentActor, Target, authorize
from civicpass.services import transparency
from civicpass.services.context import Deps


def retention_days(deps: Deps) -> dict[str, int]:
    return dict(deps.limits.retention_days)


def purge(deps: Deps) -> dict[str, int]:
    """Delete what is past retention in every data class; one logged event per class; rows per class."""
    now = deps.clock.now()
    done = {}
    with deps.uow() as uow:
        for data_class, days in sorted(retention_days(deps).items()):
            cutoff = now - timedelta(days=days)
            rows = uow.privacy.delete_before(data_class, cutoff)
            done[data_class] = rows
            uow.events.add(
                f"retention:{data_class}:purged", {"before": cutoff.isoformat(), "rows": rows}, now
            )
        uow.commit()
    return done


def _suppress(rows: list[dict[str, Any]], minimum: int) -> list[dict[str, Any]]:
    return [{**r, "count": r["count"] if r["count"] >= minimum else f"<{minimum}"} for r in rows]


def statistics(deps: Deps) -> dict[str, Any]:
    """Aggregates fit to keep and publish: small counts suppressed."""
    with deps.uow() as uow:
        counts = uow.privacy.counts()
    minimum = deps.limits.min_count_shown
    return {
        **{k: _suppress(v, minimum) for k, v in counts.items() if isinstance(v, list)},
        "residents": counts["residents"],
        "at": deps.clock.now().isoformat(),
    }


def export_me(deps: Deps, actor: ResidentActor, subject_id: str) -> dict[str, Any]:
    """Everything held about the resident (or a dependent), as JSON: the right to one's own data."""
    authorize(actor, Action.DECLARE_FOR, Target(resident_id=subject_id)).enforce()
    with deps.uow() as uow:
        resident = uow.residents.get(subject_id)
        if resident is None:
            raise NotFound("resident_not_found", Message("no such resident", "居民不存在"))
        now = deps.clock.now()
        status = uow.statuses.get(subject_id)
        exported: dict[str, Any] = _jsonable(
            {
                "exported_at": now,
                "resident": resident,
                "guardians": uow.guardianships.guardians_of(subject_id),
                "dependents": uow.guardianships.dependents_of(subject_id),
                "declarations": uow.declarations.for_subject(subject_id, 10_000),
                "facts": uow.facts.for_subjects([subject_id])[subject_id],
                "status": status,
                "status_versions": uow.statuses.history(subject_id, 10_000),
                "checkins": uow.checkins.of_resident(subject_id, now - timedelta(days=366), now),
                "cases": uow.cases.of_resident(subject_id),
                "appeals": uow.appeals.of_resident(subject_id),
                "tasks": uow.tasks.of_resident(subject_id),
                "access_log": uow.access_log.list(subject_id, "", 10_000),
            }
        )
        return exported


def _jsonable(value: Any) -> Any:
    if hasattr(value, "__dataclass_fields__"):
        return _jsonable(asdict(value))
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "value") and not isinstance(value, int | float | str | bool):
        return value.value
    if isinstance(value, bytes):
        return value.hex()
    return value


def shutdown(deps: Deps, keys_destroyed: bool, removed: dict[str, int] | None = None) -> dict[str, Any]:
    """End of the epidemic: statistics kept, personal data deleted, a signed deletion record logged."""
    stats = statistics(deps)
    digest = hashlib.sha256(json.dumps(stats, sort_keys=True).encode()).hexdigest()
    transparency.publish(deps)  # everything before the shutdown is in the log first
    with deps.uow() as uow:
        deleted = {**uow.privacy.destroy_personal_data(), **(removed or {})}
        uow.events.add(
            "privacy:instance:shutdown",
            {"statistics_sha256": digest, "deleted": deleted, "pii_keys_destroyed": keys_destroyed},
            deps.clock.now(),
        )
        uow.commit()
    transparency.publish(deps)  # the deletion record, in a signed checkpoint
    return {"statistics": stats, "statistics_sha256": digest, "deleted": deleted}
