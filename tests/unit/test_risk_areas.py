"""``risk_areas.AreaIndex``: a stay's risk level from areas read once, as ``regions.contains`` and the
areas' periods define it (generated areas and stays, their edges included)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from civicpass.domain.regions import contains
from civicpass.services.ports import RiskArea
from civicpass.services.risk_areas import AreaIndex

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
    """The highest level of the areas containing ``region`` declared at any time of [start, end)."""
    levels = {
        a.level
        for a in declared
        if contains(a.region_code, region)
        and a.valid_from < end
        and (a.valid_to is None or a.valid_to > start)
    }
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
