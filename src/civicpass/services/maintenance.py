"""Check-in storage upkeep: daily partitions made ahead of need, and the retention purge.

Check-ins are kept ``limits.checkin_retention_days`` (21 by default) and then removed. The purge has one
path: whole expired days go first where the storage can drop them (PostgreSQL partitions), then the unit of
work deletes whatever older rows remain (the day straddling the cutoff; everything on SQLite) and records
``checkin:retention:purged`` in the same transaction as that delete. Two transactions on purpose: the
partition drop holds the table's exclusive lock, which stops every check-in, so it must not also wait for
a day's leftover rows to be deleted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from civicpass.services import privacy
from civicpass.services.context import Deps
from civicpass.services.ports import CheckinStorage

DAYS_BEHIND = 1
"""Yesterday's partition too: a phone that was offline may send a scan up to a day late."""
DAYS_AHEAD = 7


@dataclass(frozen=True)
class Purge:
    cutoff: datetime
    rows: int
    partitions_dropped: tuple[str, ...]


@dataclass(frozen=True)
class Maintenance:
    partitions_created: list[str]
    purge: Purge
    retention: dict[str, int]  # rows purged per other data class (services/privacy.py)


def retention_cutoff(deps: Deps) -> datetime:
    """Check-ins strictly before this instant are past retention."""
    return deps.clock.now() - timedelta(days=deps.limits.checkin_retention_days)


def purge_expired(deps: Deps, storage: CheckinStorage) -> Purge:
    """Remove every check-in older than the retention period; the purge itself is an event for the log."""
    cutoff = retention_cutoff(deps)
    dropped = storage.drop_days_before(cutoff)
    with deps.uow() as uow:
        rest = uow.checkins.delete_before(cutoff)
        purge = Purge(cutoff, dropped.rows + rest, dropped.partitions)
        uow.events.add(
            "checkin:retention:purged",
            {
                "before": cutoff.isoformat(),
                "rows": purge.rows,
                "partitions_dropped": len(purge.partitions_dropped),
            },
            deps.clock.now(),
        )
        uow.commit()
    return purge


def maintain(deps: Deps, storage: CheckinStorage) -> Maintenance:
    """Make the partitions of yesterday .. a week ahead (UTC days), purge expired check-ins, then every
    other data class past its retention."""
    today = deps.clock.now().astimezone(UTC).date()
    created = storage.ensure_days(today - timedelta(days=DAYS_BEHIND), today + timedelta(days=DAYS_AHEAD))
    return Maintenance(created, purge_expired(deps, storage), privacy.purge(deps))
