"""Tracing semantics (domain/tracing.py): presence spans, exposures with buffer, grading, weak evidence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from civicpass.domain.checkins import Direction, Evidence
from civicpass.domain.tracing import (
    ContactGrade,
    IndexPerson,
    TracingPolicy,
    Visit,
    epoch,
    exposures,
    grade,
    index_presences,
    presences,
)

T0 = datetime(2022, 5, 3, 12, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
POLICY = TracingPolicy()
VEHICLES = {"bus": True, "cafe": False, "shop": False}
CASE = IndexPerson("case-1", "index", T0 - timedelta(days=2), T0 + timedelta(hours=6))


def _visit(
    n: int,
    resident: str,
    venue: str,
    at: datetime,
    evidence: Evidence = Evidence.MEDIUM,
    direction: Direction | None = None,
) -> Visit:
    return Visit(f"c{n:03d}", resident, venue, at, evidence, direction)


def _trace(visits: list[Visit], index: IndexPerson = CASE) -> list:
    own = [v for v in visits if v.resident_id == index.resident_id]
    return grade(exposures(index_presences([index], own, VEHICLES, POLICY), visits, VEHICLES, POLICY), POLICY)


def test_a_venue_check_in_is_present_for_the_dwell_time_and_an_alighting_ends_a_ride() -> None:
    spans = presences(
        [
            _visit(1, "a", "cafe", T0),
            _visit(2, "a", "bus", T0 + 2 * 60 * MIN, direction=Direction.BOARD),
            _visit(3, "a", "bus", T0 + 2 * 60 * MIN + 25 * MIN, direction=Direction.ALIGHT),
            _visit(4, "a", "bus", T0 + 5 * 60 * MIN, direction=Direction.BOARD),  # never alighted
        ],
        VEHICLES,
        POLICY,
    )
    by_id = {p.checkin_id: (p.start, p.end) for p in spans}
    assert set(by_id) == {"c001", "c002", "c004"}  # an alighting is no presence of its own
    assert by_id["c001"] == (epoch(T0), epoch(T0 + 60 * MIN))
    assert by_id["c002"] == (epoch(T0 + 120 * MIN), epoch(T0 + 145 * MIN))
    assert by_id["c004"] == (epoch(T0 + 300 * MIN), epoch(T0 + 360 * MIN))  # the default ride


def test_twenty_minutes_together_at_a_venue_with_medium_evidence_is_a_close_contact() -> None:
    contacts = _trace([_visit(1, "index", "cafe", T0), _visit(2, "x", "cafe", T0 + 40 * MIN)])
    (contact,) = contacts
    assert (contact.resident_id, contact.grade) == ("x", ContactGrade.CLOSE)
    # x is present 12:40-13:40, the index 12:00-13:00 widened by 30 minutes to 13:30: 50 minutes.
    assert contact.longest_seconds == 50 * 60
    assert contact.last_exposure == T0 + 90 * MIN


def test_a_short_overlap_makes_a_spatiotemporal_companion() -> None:
    (contact,) = _trace([_visit(1, "index", "cafe", T0), _visit(2, "x", "cafe", T0 + 80 * MIN)])
    assert contact.grade is ContactGrade.COMPANION
    assert contact.longest_seconds == 10 * 60


def test_the_buffer_reaches_people_who_came_just_after_the_case_left() -> None:
    assert _trace([_visit(1, "index", "cafe", T0), _visit(2, "x", "cafe", T0 + 89 * MIN)])
    assert not _trace([_visit(1, "index", "cafe", T0), _visit(2, "x", "cafe", T0 + 91 * MIN)])
    assert not _trace([_visit(1, "index", "cafe", T0), _visit(2, "x", "shop", T0)])  # another place


def test_any_overlap_on_the_same_vehicle_trip_is_close_and_a_later_trip_is_not() -> None:
    visits = [
        _visit(1, "index", "bus", T0, direction=Direction.BOARD),
        _visit(2, "index", "bus", T0 + 10 * MIN, direction=Direction.ALIGHT),
        _visit(3, "x", "bus", T0 + 5 * MIN, direction=Direction.BOARD),
        _visit(4, "x", "bus", T0 + 8 * MIN, direction=Direction.ALIGHT),
        _visit(5, "y", "bus", T0 + 50 * MIN, direction=Direction.BOARD),
        _visit(6, "y", "bus", T0 + 60 * MIN, direction=Direction.ALIGHT),
    ]
    contacts = {c.resident_id: c for c in _trace(visits)}
    assert contacts["x"].grade is ContactGrade.CLOSE  # three minutes on the same trip
    assert "y" not in contacts  # boarded 40 minutes after the index alighted (buffer 30)


def test_weak_evidence_alone_is_listed_apart_and_never_proposable() -> None:
    visits = [
        _visit(1, "index", "cafe", T0),
        _visit(2, "forwarded", "cafe", T0 + 5 * MIN, Evidence.WEAK),
        _visit(3, "both", "cafe", T0 + 10 * MIN, Evidence.WEAK),
        _visit(4, "both", "cafe", T0 + 75 * MIN),  # a later, medium scan: 15 minutes with the buffer
    ]
    contacts = {c.resident_id: c for c in _trace(visits)}
    assert contacts["forwarded"].grade is ContactGrade.WEAK_ONLY
    assert not contacts["forwarded"].proposable
    # Weak exposures never raise the grade: the 50-minute weak overlap does not make "both" close.
    assert contacts["both"].grade is ContactGrade.CLOSE
    assert contacts["both"].longest_seconds == 15 * 60


def test_the_index_persons_weak_check_in_weakens_every_exposure_it_gives() -> None:
    contacts = _trace([_visit(1, "index", "cafe", T0, Evidence.WEAK), _visit(2, "x", "cafe", T0 + MIN)])
    assert [c.grade for c in contacts] == [ContactGrade.WEAK_ONLY]


def test_only_presences_inside_the_infectious_window_count() -> None:
    early = IndexPerson("case-1", "index", T0 + 3 * 60 * MIN, T0 + 6 * 60 * MIN)
    assert not _trace([_visit(1, "index", "cafe", T0), _visit(2, "x", "cafe", T0)], early)
    # A presence cut by the window's end: 12:00-12:20 only, plus the buffer.
    late = IndexPerson("case-1", "index", T0 - timedelta(days=1), T0 + 20 * MIN)
    (contact,) = _trace([_visit(1, "index", "cafe", T0), _visit(2, "x", "cafe", T0 + 45 * MIN)], late)
    assert contact.longest_seconds == 5 * 60
    assert contact.grade is ContactGrade.COMPANION


def test_the_index_person_is_never_their_own_contact() -> None:
    assert not _trace([_visit(1, "index", "cafe", T0), _visit(2, "index", "cafe", T0 + 5 * MIN)])


_times = st.integers(min_value=0, max_value=8 * 60).map(lambda m: T0 + m * MIN)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["index", "a", "b", "c"]),
            st.sampled_from(sorted(VEHICLES)),
            _times,
            st.sampled_from(list(Evidence)),
            st.sampled_from([None, Direction.BOARD, Direction.ALIGHT]),
        ),
        max_size=25,
    )
)
def test_grading_agrees_with_the_definitions_for_any_day(rows: list) -> None:
    visits = [_visit(n, *row) for n, row in enumerate(rows)]
    for contact in _trace(visits):
        usable = [e for e in contact.exposures if e.evidence is not Evidence.WEAK]
        assert contact.resident_id != "index"
        if contact.grade is ContactGrade.WEAK_ONLY:
            assert not usable
        elif contact.grade is ContactGrade.CLOSE:
            assert any(e.vehicle or e.seconds >= 15 * 60 for e in usable)
        else:
            assert usable
            assert not any(e.vehicle or e.seconds >= 15 * 60 for e in usable)
        assert all(e.start < e.end for e in contact.exposures)
