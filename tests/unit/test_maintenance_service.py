"""The check-in maintenance service over fakes: which days it asks for, and the one purge path."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from civicpass.domain.checkins import CheckIn, Evidence, Method
from civicpass.services import maintenance
from civicpass.services.ports import CheckinStorage, DroppedDays
from tests.fakes import FakeStore, fake_deps


@dataclass
class FakeCheckinStorage:
    """Day storage that drops whole days of the fake store's check-ins, as PostgreSQL partitions would."""

    store: FakeStore
    days: set[date] = field(default_factory=set)

    def ensure_days(self, first: date, last: date) -> list[str]:
        wanted = {first + timedelta(days=n) for n in range((last - first).days + 1)}
        made, self.days = sorted(wanted - self.days), self.days | wanted
        return [f"checkins_p{d:%Y%m%d}" for d in made]

    def drop_days_before(self, cutoff: datetime) -> DroppedDays:
        expired = sorted(d for d in self.days if d + timedelta(days=1) <= cutoff.date())
        gone = [c for c in self.store.checkins if c.at.date() in expired]
        self.store.checkins = [c for c in self.store.checkins if c not in gone]
        self.days -= set(expired)
        return DroppedDays(tuple(f"checkins_p{d:%Y%m%d}" for d in expired), len(gone))

    def partitions(self) -> list[str]:
        return [f"checkins_p{d:%Y%m%d}" for d in sorted(self.days)]


def _checkin(n: int, at: datetime) -> CheckIn:
    return CheckIn(f"c{n}", f"client{n}", "r1", "v1", at, at, Method.ROTATING_CODE, Evidence.MEDIUM, ())


def test_maintain_makes_yesterday_to_a_week_ahead_and_purges_whole_days_then_the_rest() -> None:
    deps, store, _, clock = fake_deps(checkin_retention_days=10)  # now: 2022-05-03 08:00 UTC
    storage = FakeCheckinStorage(store, {date(2022, 4, 20)})
    cutoff = clock.now() - timedelta(days=10)
    store.checkins = [
        _checkin(1, datetime(2022, 4, 20, 12, tzinfo=UTC)),  # a whole expired day
        _checkin(2, cutoff - timedelta(seconds=1)),  # the straddling day: the unit of work's delete
        _checkin(3, cutoff),
    ]
    checker: CheckinStorage = storage

    done = maintenance.maintain(deps, checker)

    assert done.partitions_created == [f"checkins_p202205{d:02d}" for d in range(2, 11)]
    assert (done.purge.cutoff, done.purge.rows) == (cutoff, 2)
    assert done.purge.partitions_dropped == ("checkins_p20220420",)
    assert [c.id for c in store.checkins] == ["c3"]
    assert store.events[0] == (
        "checkin:retention:purged",
        {"before": "2022-04-23T08:00:00+00:00", "rows": 2, "partitions_dropped": 1},
    )
    # Then every other data class past its retention, each purge logged.
    assert {name for name, _ in store.events[1:]} == {
        f"retention:{data_class}:purged" for data_class, _ in deps.limits.retention_days
    }
    assert done.retention == dict.fromkeys(dict(deps.limits.retention_days), 0)
