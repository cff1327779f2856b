"""``risk_areas.AreaIndex``: a stay's risk level from areas read once, as each stay's own look-up found it
(generated areas and stays, their edges included); a feed batch's arrivals the same."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from civicpass.domain import feeds as fd
from civicpass.domain.regions import contains
from civicpass.services import feeds
from civicpass.services.ports import RiskArea
from civicpass.services.risk_areas import AreaIndex, arrival_expires, risk_level
from tests.fakes import fake_deps

T0 = datetime(2022, 5, 1, tzinfo=UTC)
CODES = ["420000", "420100", "420106", "420107", "440000", "440106", "110105", "4201", "020106", "42010x"]
hours = st.integers(0, 12).map(lambda h: T0 + timedelta(hours=h))


@st.composite
def areas(draw: st.DrawFn) -> RiskArea:
    start = draw(hours)
    end = draw(st.none() | hours.filter(lambda t: t > start))
    level = draw(st.sampled_from(["high", "medium"]))
    return RiskArea("a", draw(st.sampled_from(CODES)), level, start, end, None, T0)


def _defined(declared: list[RiskArea], region: str, start: datetime, end: datetime) -> str | None:
    """The level as a stay's own look-up found it: the areas the repository finds overlapping the stay
    (``overlapping``), of those the ones declared before its end whose region contains the stay's."""
    overlapping = [a for a in declared if a.valid_from <= end and (a.valid_to is None or a.valid_to > start)]
    levels = {a.level for a in overlapping if a.valid_from < end and contains(a.region_code, region)}
    return "high" if "high" in levels else "medium" if levels else None


@settings(max_examples=500, deadline=None)
@given(
    declared=st.lists(areas(), max_size=6),
    stays=st.lists(st.tuples(st.sampled_from(CODES), hours, st.integers(0, 5)), min_size=1, max_size=8),
)
def test_a_stays_level_from_the_index_is_the_level_the_areas_define(
    declared: list[RiskArea], stays: list[tuple[str, datetime, int]]
) -> None:
    index = AreaIndex(declared)
    for region, start, length in stays:
        end = start + timedelta(hours=length)
        assert index.level(region, start, end) == _defined(declared, region, start, end)


def test_edges_of_a_period_and_of_a_region() -> None:
    area = RiskArea("a", "420100", "medium", T0, T0 + timedelta(hours=2), None, T0)
    index = AreaIndex([area, RiskArea("b", "420106", "high", T0, None, None, T0)])
    hour = timedelta(hours=1)
    assert index.level("420107", T0 - hour, T0) is None  # ends as the area starts
    assert index.level("420107", T0 + 2 * hour, T0 + 3 * hour) is None  # starts as it ends
    assert index.level("420107", T0 + hour, T0 + hour) == "medium"  # a moment inside it
    assert index.level("420106", T0 - hour, T0 + hour) == "high"  # the higher of two
    assert index.level("420200", T0, T0 + hour) is None  # another city of the province
    assert index.level("42010", T0, T0 + hour) is None  # no region code


_ZONES = [UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5, minutes=-30))]
minutes = st.integers(-120, 13 * 60).map(lambda m: T0 + timedelta(minutes=m))


@settings(max_examples=300, deadline=None)
@given(
    declared=st.lists(areas(), max_size=6),
    stays=st.lists(
        st.tuples(st.sampled_from(CODES), minutes, st.integers(0, 600), st.sampled_from(_ZONES)),
        min_size=1,
        max_size=8,
    ),
)
def test_a_batchs_arrivals_are_each_stays_own(
    declared: list[RiskArea], stays: list[tuple[str, datetime, int, timezone]]
) -> None:
    """``services.feeds._arrivals`` (one read of the areas for the batch's period, the starts and ends as
    the parsers give them) gives each stay the arrival its own look-up gives (``risk_level``, a read per stay)."""
    deps, store, _, clock = fake_deps()
    store.risk_areas.extend(declared)
    records = [
        {
            "region": region,
            "from": start.astimezone(zone).isoformat(),
            "to": (start + timedelta(minutes=length)).astimezone(zone).isoformat(),
        }
        for region, start, length, zone in stays
    ]
    now = clock.now()
    with deps.uow() as uow:
        starts, ends = ([fd.epoch_micros(r[f]) for r in records] for f in ("from", "to"))
        found = feeds._arrivals(uow, records, starts, ends, now)
        own = []
        for record in records:
            start, end = feeds._time(record["from"]), feeds._time(record["to"])
            level = risk_level(uow, record["region"], start, end)
            data = {"region": record["region"], "level": level, "arrived_at": end.isoformat()}
            own.append(None if level is None else (json.dumps(data), arrival_expires(end, now)))
    assert found == own
