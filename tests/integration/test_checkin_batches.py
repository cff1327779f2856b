"""The batch reads and writes of the check-in group commit, on SQLite (SQLAlchemy Core) and PostgreSQL
(plain SQL in ``pg_hot``): both must answer exactly as the fakes in ``tests/fakes.py`` do (one exception is noted where it is).

Times are taken a little before now, so on PostgreSQL the rows land in today's partition or the default.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa

from civicpass.adapters.db import pg_hot
from civicpass.bootstrap import Container
from civicpass.domain.checkins import (
    CheckIn,
    CodeKey,
    Direction,
    Evidence,
    Flag,
    Location,
    Method,
    PriorUse,
)
from civicpass.domain.residents import Guardianship
from civicpass.domain.sessions import Session, SubjectKind
from civicpass.domain.staff import Role, StaffMember
from civicpass.domain.venues import Venue, VenueKind
from civicpass.services.ports import SessionHolder
from tests.fakes import make_resident

BEIJING = timezone(timedelta(hours=8))
VENUE_A = "00000000-0000-4000-7000-00000000000a"
VENUE_B = "00000000-0000-4000-7000-00000000000b"
VENUE_C = "00000000-0000-4000-7000-00000000000c"
ALICE = "00000000-0000-4000-8000-00000000000a"
BOB = "00000000-0000-4000-8000-00000000000b"
CAROL = "00000000-0000-4000-8000-00000000000c"
OFFICER = "00000000-0000-4000-6000-000000000001"
HERE = Location(23.125, 113.3125)
FAR = Location(31.25, 121.5)


def _base() -> datetime:
    """A minute boundary half an hour ago: recent enough for any partition, with room either side."""
    return (datetime.now(UTC) - timedelta(minutes=30)).replace(second=0, microsecond=0)


def _id(n: int) -> str:
    return f"00000000-0000-4000-9000-{n:012d}"


def _checkin(
    n: int,
    resident_id: str,
    at: datetime,
    *,
    venue_id: str = VENUE_A,
    method: Method = Method.ROTATING_CODE,
    window_start: datetime | None = None,
    location: Location | None = None,
    client_id: str | None = None,
) -> CheckIn:
    return CheckIn(
        id=_id(n),
        client_id=client_id or f"client-{n}",
        resident_id=resident_id,
        venue_id=venue_id,
        at=at,
        recorded_at=at + timedelta(seconds=1),
        method=method,
        evidence=Evidence.WEAK if method is Method.STATIC_CODE else Evidence.MEDIUM,
        flags=(Flag.STATIC_CODE,) if method is Method.STATIC_CODE else (),
        location=location,
        window_start=window_start,
    )


def _add_new(container: Container, checkins: Sequence[CheckIn]) -> set[str]:
    with container.deps.uow() as uow:
        inserted = uow.checkins.add_new(checkins)
        uow.commit()
    return inserted


def _stored(container: Container, resident_id: str, start: datetime, end: datetime) -> list[CheckIn]:
    with container.deps.uow() as uow:
        return uow.checkins.of_resident(resident_id, start, end)


def _ids(checkins: Iterable[CheckIn]) -> set[str]:
    return {c.id for c in checkins}


def _is_utc(moment: datetime | None) -> bool:
    return moment is not None and moment.tzinfo is not None and moment.utcoffset() == timedelta(0)


# -- add_new ------------------------------------------------------------------------------------------


def test_add_new_inserts_every_new_scan_of_a_batch_in_one_call_and_returns_exactly_their_ids(
    container: Container,
) -> None:
    base = _base()
    batch = [_checkin(n, (ALICE, BOB)[n % 2], base + timedelta(seconds=n)) for n in range(1, 7)]

    inserted = _add_new(container, batch)

    assert inserted == _ids(batch)
    span = (base, base + timedelta(minutes=1))
    assert _stored(container, ALICE, *span) == [c for c in batch if c.resident_id == ALICE]
    assert _stored(container, BOB, *span) == [c for c in batch if c.resident_id == BOB]


def test_add_new_skips_scans_whose_resident_client_id_and_time_are_stored_whatever_their_new_id(
    container: Container,
) -> None:
    base = _base()
    first = [_checkin(n, ALICE, base + timedelta(seconds=n)) for n in range(1, 4)]
    _add_new(container, first)
    retried = [_checkin(n + 100, c.resident_id, c.at, client_id=c.client_id) for n, c in enumerate(first)]

    assert _add_new(container, retried) == set()

    fresh = [_checkin(200, ALICE, base + timedelta(seconds=10)), _checkin(201, BOB, base)]
    assert _add_new(container, [retried[0], fresh[0], retried[2], fresh[1]]) == _ids(fresh)
    span = (base, base + timedelta(minutes=1))
    assert _stored(container, ALICE, *span) == [*first, fresh[0]]
    assert _stored(container, BOB, *span) == [fresh[1]]


def test_add_new_treats_the_same_client_id_at_another_time_or_by_another_resident_as_new(
    container: Container,
) -> None:
    base = _base()
    stored = _checkin(1, ALICE, base, client_id="shared")
    _add_new(container, [stored])
    later = _checkin(2, ALICE, base + timedelta(microseconds=1), client_id="shared")
    other = _checkin(3, BOB, base, client_id="shared")

    assert _add_new(container, [later, other]) == {later.id, other.id}


def test_add_new_stores_a_scan_given_twice_in_one_batch_once_under_its_first_id(
    container: Container,
) -> None:
    # The unique key decides, so the second copy is skipped; the fake (which checks only rows stored
    # before the call) would return both ids, but the service never passes it a batch with twins.
    base = _base()
    scan = _checkin(1, ALICE, base, client_id="twice")
    twin = _checkin(2, ALICE, base, client_id="twice")

    assert _add_new(container, [scan, twin]) == {scan.id}
    assert _stored(container, ALICE, base, base) == [scan]


def test_check_ins_stored_by_add_new_read_back_equal_with_every_field_and_utc_times(
    container: Container,
) -> None:
    base = _base()
    window = base - timedelta(minutes=5)
    rotating = CheckIn(
        id=_id(1),
        client_id="phone-1",
        resident_id=ALICE,
        venue_id=VENUE_A,
        at=base + timedelta(seconds=1, microseconds=123456),
        recorded_at=base + timedelta(seconds=2, microseconds=654321),
        method=Method.ROTATING_CODE,
        evidence=Evidence.WEAK,
        flags=(Flag.STALE_CODE, Flag.FAR_FROM_VENUE, Flag.FORWARDED),
        location=HERE,
        window_start=window,
        direction=Direction.BOARD,
    )
    checkpoint = CheckIn(
        id=_id(2),
        client_id="desk-7",
        resident_id=ALICE,
        venue_id=VENUE_B,
        # Given in Beijing time: stored and read back as the same instant in UTC.
        at=(base + timedelta(seconds=3)).astimezone(BEIJING),
        recorded_at=(base + timedelta(seconds=3)).astimezone(BEIJING),
        method=Method.CHECKPOINT_SCAN,
        evidence=Evidence.STRONG,
        flags=(),
        direction=Direction.ALIGHT,
        recorded_by=OFFICER,
    )
    static = _checkin(3, ALICE, base + timedelta(seconds=4), method=Method.STATIC_CODE)

    assert _add_new(container, [rotating, checkpoint, static]) == {_id(1), _id(2), _id(3)}

    read = _stored(container, ALICE, base, base + timedelta(minutes=1))
    assert read == [rotating, checkpoint, static]
    assert (read[0].location, read[2].location) == (HERE, None)
    assert (read[0].window_start, read[1].window_start) == (window, None)
    assert (read[1].direction, read[1].recorded_by, read[2].direction) == (Direction.ALIGHT, OFFICER, None)
    assert read[0].flags == (Flag.STALE_CODE, Flag.FAR_FROM_VENUE, Flag.FORWARDED)
    times = [t for c in read for t in (c.at, c.recorded_at, c.window_start) if t is not None]
    assert all(_is_utc(t) for t in times), times


def test_add_new_stores_a_batch_whose_optional_columns_are_all_empty(container: Container) -> None:
    """Every optional column null in every row (no location, window, direction or recorder)."""
    base = _base()
    batch = [_checkin(n, ALICE, base + timedelta(seconds=n), method=Method.STATIC_CODE) for n in (1, 2)]

    assert _add_new(container, batch) == _ids(batch)
    assert _stored(container, ALICE, base, base + timedelta(minutes=1)) == batch


# -- find_many ----------------------------------------------------------------------------------------


def test_find_many_returns_only_the_resident_and_client_id_pairs_asked_for(container: Container) -> None:
    base = _base()
    alice_1 = _checkin(1, ALICE, base, client_id="c-1")
    alice_2 = _checkin(2, ALICE, base + timedelta(seconds=1), client_id="c-2")
    bob_2 = _checkin(3, BOB, base + timedelta(seconds=2), client_id="c-2")
    bob_3 = _checkin(4, BOB, base + timedelta(seconds=3), client_id="c-3")
    _add_new(container, [alice_1, alice_2, bob_2, bob_3])

    with container.deps.uow() as uow:
        # Alice asked with Bob's client id c-3 and Bob with Alice's c-1: neither pair exists.
        found = uow.checkins.find_many(
            {(ALICE, "c-1"), (ALICE, "c-3"), (BOB, "c-1"), (BOB, "c-2"), (CAROL, "c-2")},
            base - timedelta(minutes=1),
            base + timedelta(minutes=1),
        )

    assert found == {(ALICE, "c-1"): alice_1, (BOB, "c-2"): bob_2}


def test_find_many_returns_only_check_ins_made_between_start_and_end_inclusive(
    container: Container,
) -> None:
    base = _base()
    start, end = base, base + timedelta(minutes=2)
    before = _checkin(1, ALICE, start - timedelta(microseconds=1), client_id="before")
    at_start = _checkin(2, ALICE, start, client_id="at-start")
    at_end = _checkin(3, ALICE, end, client_id="at-end")
    after = _checkin(4, ALICE, end + timedelta(microseconds=1), client_id="after")
    _add_new(container, [before, at_start, at_end, after])
    keys = {(ALICE, c.client_id) for c in (before, at_start, at_end, after)}

    with container.deps.uow() as uow:
        found = uow.checkins.find_many(keys, start, end)
        # The same range given in Beijing time selects the same rows.
        found_in_beijing = uow.checkins.find_many(keys, start.astimezone(BEIJING), end.astimezone(BEIJING))

    assert found == found_in_beijing == {(ALICE, "at-start"): at_start, (ALICE, "at-end"): at_end}


# -- prior_uses ---------------------------------------------------------------------------------------


def _sorted(found: Mapping[CodeKey, Sequence[PriorUse]]) -> dict[CodeKey, list[PriorUse]]:
    """Uses in a fixed order (neither database promises one)."""
    return {key: sorted(uses, key=lambda u: (u.at, u.resident_id)) for key, uses in found.items()}


def _prior_uses(
    container: Container,
    codes: Iterable[CodeKey],
    start: datetime,
    end: datetime,
    residents: Iterable[str],
    located: Iterable[CodeKey] = (),
) -> dict[CodeKey, list[PriorUse]]:
    with container.deps.uow() as uow:
        found = uow.checkins.prior_uses(set(codes), start, end, set(residents), set(located))
    return _sorted(found)


def test_prior_uses_returns_the_residents_own_uses_of_the_codes_asked_for_with_or_without_a_location(
    container: Container,
) -> None:
    base = _base()
    window, other_window = base, base + timedelta(minutes=5)
    code = CodeKey(VENUE_A, window)
    _add_new(
        container,
        [
            _checkin(1, ALICE, base + timedelta(seconds=10), window_start=window, location=HERE),
            _checkin(2, ALICE, base + timedelta(seconds=20), window_start=window),
            _checkin(3, BOB, base + timedelta(seconds=30), window_start=window, location=FAR),
            # Alice's uses of codes not asked for: another window, another venue's same window.
            _checkin(4, ALICE, base + timedelta(seconds=40), window_start=other_window, location=HERE),
            _checkin(5, ALICE, base + timedelta(seconds=50), venue_id=VENUE_B, window_start=window),
        ],
    )

    found = _prior_uses(container, [code], base, base + timedelta(minutes=10), [ALICE, CAROL])

    assert found == {
        code: [
            PriorUse(ALICE, base + timedelta(seconds=10), HERE),
            PriorUse(ALICE, base + timedelta(seconds=20), None),
        ]
    }


def _rows_read(plan: dict[str, Any]) -> int:
    """Rows a plan's scans produced or threw away by their filters, over the whole tree."""
    own = (
        plan.get("Actual Rows", 0) + plan.get("Rows Removed by Filter", 0)
        if "Scan" in plan["Node Type"]
        else 0
    )
    return own + sum(_rows_read(child) for child in plan.get("Plans", []))


@pytest.mark.postgres
def test_a_batchs_own_prior_uses_are_read_by_resident_not_through_busy_venues(container: Container) -> None:
    """At a metro station at 8 a.m. a code window has thousands of scans: the group commit must read the
    batch's residents' own scans only (a handful), never every scan at the batch's venues. PostgreSQL did
    the latter when the statement also named the venues and the statistics, taken while the day's partition
    was young, made the venue index look cheaper (this scenario read 8,842 rows for two)."""
    if container.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's plan")
    base = _base()
    busy = [f"00000000-0000-4000-7000-{v:012d}" for v in range(100, 130)]

    def crowd(numbers: range) -> list[CheckIn]:
        return [
            _checkin(n, _id(n), base + timedelta(milliseconds=n), venue_id=busy[n % 30], window_start=base)
            for n in numbers
        ]

    _add_new(
        container,
        [*crowd(range(2000, 2100)), _checkin(1, ALICE, base + timedelta(seconds=2), window_start=base)],
    )
    with container.engine.connect() as conn:
        conn.execute(sa.text("ANALYZE checkins"))  # statistics of the young partition
    _add_new(container, crowd(range(3000, 8000)))
    batch = [ALICE, *(_id(n) for n in range(9000, 9031))]  # 32 residents, Alice the only one with a scan
    window = (base, base + timedelta(minutes=10))
    with container.engine.connect() as conn:
        pg = pg_hot.connection(conn)
        assert pg is not None
        ((plan,),) = pg.execute(
            "EXPLAIN (ANALYZE, FORMAT JSON) " + pg_hot.RESIDENTS_USES, (batch, *map(pg_hot.naive_utc, window))
        ).fetchall()

    assert _rows_read(plan[0]["Plan"]) <= 5
    assert _prior_uses(
        container, [CodeKey(VENUE_A, base), *(CodeKey(v, base) for v in busy)], *window, batch
    ) == {CodeKey(VENUE_A, base): [PriorUse(ALICE, base + timedelta(seconds=2), None)]}


@pytest.mark.postgres
def test_others_located_uses_are_read_from_the_located_scans_alone(container: Container) -> None:
    """A located scan is compared with the other residents' located uses of its code (forwarding). At a
    busy venue most scans have no location: the statement must read the located ones only (the partial
    index), not every scan of the venue in the window (5,004 rows for these three before the index)."""
    if container.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's plan")
    base = _base()
    crowd = [
        _checkin(n, _id(n), base + timedelta(milliseconds=n), window_start=base) for n in range(100, 5100)
    ]
    located = [
        _checkin(n, _id(n), base + timedelta(milliseconds=n), window_start=base, location=FAR)
        for n in range(6000, 6003)
    ]
    _add_new(container, [*crowd, *located])
    window = (base, base + timedelta(minutes=10))
    with container.engine.connect() as conn:
        conn.execute(sa.text("ANALYZE checkins"))
        pg = pg_hot.connection(conn)
        assert pg is not None
        arguments = ([VENUE_A], [pg_hot.naive_utc(base)], *map(pg_hot.naive_utc, window), [ALICE], 1000)
        ((plan,),) = pg.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + pg_hot.LOCATED_USES, arguments).fetchall()

    assert _rows_read(plan[0]["Plan"]) <= 1 + 2 * len(located)  # the code, and its located scans
    found = _prior_uses(container, [CodeKey(VENUE_A, base)], *window, [ALICE], [CodeKey(VENUE_A, base)])
    assert found == {CodeKey(VENUE_A, base): [PriorUse(c.resident_id, c.at, FAR) for c in located]}


def test_prior_uses_key_rotating_codes_by_their_window_and_static_codes_by_the_venue_alone(
    container: Container,
) -> None:
    base = _base()
    first, second = base, base + timedelta(minutes=5)
    _add_new(
        container,
        [
            _checkin(1, ALICE, base + timedelta(seconds=1), window_start=first),
            _checkin(2, ALICE, base + timedelta(minutes=5, seconds=2), window_start=second),
            _checkin(3, ALICE, base + timedelta(seconds=3), method=Method.STATIC_CODE, location=HERE),
            _checkin(4, ALICE, base + timedelta(seconds=4), venue_id=VENUE_B, method=Method.STATIC_CODE),
        ],
    )
    codes = [
        CodeKey(VENUE_A, first),
        CodeKey(VENUE_A, second),
        CodeKey(VENUE_A, None),
        CodeKey(VENUE_B, None),
    ]

    found = _prior_uses(container, codes, base, base + timedelta(minutes=10), [ALICE])

    assert found == {
        CodeKey(VENUE_A, first): [PriorUse(ALICE, base + timedelta(seconds=1), None)],
        CodeKey(VENUE_A, second): [PriorUse(ALICE, base + timedelta(minutes=5, seconds=2), None)],
        CodeKey(VENUE_A, None): [PriorUse(ALICE, base + timedelta(seconds=3), HERE)],
        CodeKey(VENUE_B, None): [PriorUse(ALICE, base + timedelta(seconds=4), None)],
    }
    assert all(_is_utc(use.at) for uses in found.values() for use in uses)


def test_prior_uses_never_return_checkpoint_scans(container: Container) -> None:
    base = _base()
    static, rotating = CodeKey(VENUE_A, None), CodeKey(VENUE_A, base)
    _add_new(
        container,
        [
            _checkin(1, ALICE, base + timedelta(seconds=1), method=Method.CHECKPOINT_SCAN, location=HERE),
            _checkin(2, BOB, base + timedelta(seconds=2), method=Method.CHECKPOINT_SCAN, location=FAR),
            _checkin(3, ALICE, base + timedelta(seconds=3), window_start=base),
        ],
    )

    found = _prior_uses(
        container, [static, rotating], base, base + timedelta(minutes=10), [ALICE], [static, rotating]
    )

    assert found == {rotating: [PriorUse(ALICE, base + timedelta(seconds=3), None)]}


def test_prior_uses_return_other_residents_uses_only_of_located_codes_and_only_with_a_location(
    container: Container,
) -> None:
    base = _base()
    # The code not located is at a venue of its own (the next test has one that shares a venue).
    located, unlocated = CodeKey(VENUE_A, base), CodeKey(VENUE_C, base)
    located_static = CodeKey(VENUE_B, None)
    _add_new(
        container,
        [
            _checkin(1, BOB, base + timedelta(seconds=1), window_start=base, location=FAR),
            _checkin(2, CAROL, base + timedelta(seconds=2), window_start=base),  # no location
            _checkin(3, BOB, base + timedelta(seconds=3), venue_id=VENUE_C, window_start=base, location=FAR),
            _checkin(4, CAROL, base + timedelta(seconds=4), venue_id=VENUE_B, method=Method.STATIC_CODE),
            _checkin(
                5,
                CAROL,
                base + timedelta(seconds=5),
                venue_id=VENUE_B,
                method=Method.STATIC_CODE,
                location=HERE,
            ),
            _checkin(6, ALICE, base + timedelta(seconds=6), window_start=base),
        ],
    )

    found = _prior_uses(
        container,
        [located, unlocated, located_static],
        base,
        base + timedelta(minutes=10),
        [ALICE],
        [located, located_static],
    )

    assert found == {
        located: [
            PriorUse(BOB, base + timedelta(seconds=1), FAR),
            PriorUse(ALICE, base + timedelta(seconds=6), None),
        ],
        located_static: [PriorUse(CAROL, base + timedelta(seconds=5), HERE)],
    }


def test_prior_uses_return_no_other_residents_uses_of_a_code_asked_for_but_not_located(
    container: Container,
) -> None:
    base = _base()
    first, second = base, base + timedelta(minutes=5)
    # Located: venue A's first window and venue B's second; asked for but not located: A's second, A's static.
    located = [CodeKey(VENUE_A, first), CodeKey(VENUE_B, second)]
    not_located = [CodeKey(VENUE_A, second), CodeKey(VENUE_A, None)]
    _add_new(
        container,
        [
            _checkin(1, BOB, base + timedelta(seconds=1), window_start=first, location=FAR),
            _checkin(2, BOB, base + timedelta(minutes=5, seconds=2), window_start=second, location=FAR),
            _checkin(3, CAROL, base + timedelta(seconds=3), method=Method.STATIC_CODE, location=FAR),
        ],
    )

    found = _prior_uses(
        container, [*located, *not_located], base, base + timedelta(minutes=10), [ALICE], located
    )

    assert found == {CodeKey(VENUE_A, first): [PriorUse(BOB, base + timedelta(seconds=1), FAR)]}


def test_a_busy_codes_uses_do_not_crowd_out_a_quiet_codes_in_prior_uses(container: Container) -> None:
    """At most 1,000 other residents' located uses per code, counted per code, not shared between codes."""
    base = _base()
    busy, quiet = CodeKey(VENUE_A, base), CodeKey(VENUE_B, base)
    crowd = [
        _checkin(
            n,
            f"00000000-0000-4000-8000-{n:012d}",
            base + timedelta(milliseconds=n),
            window_start=base,
            location=HERE,
        )
        for n in range(100, 1200)
    ]
    far = _checkin(1, BOB, base + timedelta(seconds=1), venue_id=VENUE_B, window_start=base, location=FAR)
    _add_new(container, [*crowd, far])

    found = _prior_uses(container, [busy, quiet], base, base + timedelta(minutes=10), [ALICE], [busy, quiet])

    assert found[quiet] == [PriorUse(BOB, base + timedelta(seconds=1), FAR)]
    assert len(found[busy]) == 1000


def test_prior_uses_exclude_uses_made_before_start_or_after_end(container: Container) -> None:
    base = _base()
    start, end = base + timedelta(minutes=1), base + timedelta(minutes=3)
    code = CodeKey(VENUE_A, base)
    times = [start - timedelta(microseconds=1), start, end, end + timedelta(microseconds=1)]
    _add_new(
        container,
        [_checkin(n, ALICE, at, window_start=base) for n, at in enumerate(times, 1)]
        + [_checkin(n + 10, BOB, at, window_start=base, location=FAR) for n, at in enumerate(times, 1)],
    )

    found = _prior_uses(container, [code], start, end, [ALICE], [code])

    assert found == {
        code: [
            PriorUse(ALICE, start, None),
            PriorUse(BOB, start, FAR),
            PriorUse(ALICE, end, None),
            PriorUse(BOB, end, FAR),
        ]
    }


def test_prior_uses_of_codes_nobody_used_are_absent(container: Container) -> None:
    base = _base()
    _add_new(container, [_checkin(1, ALICE, base, window_start=base, location=HERE)])
    unused = [CodeKey(VENUE_B, base), CodeKey(VENUE_B, None)]

    assert _prior_uses(container, unused, base, base + timedelta(minutes=1), [ALICE], unused) == {}
    assert _prior_uses(container, [], base, base + timedelta(minutes=1), [ALICE], []) == {}


# -- sessions, residents, guardianships, venues ---------------------------------------------------------


def test_session_holders_carry_the_session_the_holders_state_and_a_residents_dependents(
    container: Container,
) -> None:
    base = _base()
    dave = "00000000-0000-4000-8000-00000000000d"
    created = datetime(2022, 5, 1, tzinfo=UTC)
    officer = StaffMember(
        OFFICER, "officer.li", "Li", Role.CHECKPOINT_OPERATOR, "440106", "hash", True, created
    )
    parent = Session("a" * 64, SubjectKind.RESIDENT, ALICE, base, base + timedelta(hours=12))
    carer = Session("b" * 64, SubjectKind.RESIDENT, dave, base, base + timedelta(hours=12))
    childless = Session("g" * 64, SubjectKind.RESIDENT, CAROL, base, base + timedelta(hours=12))
    gone = Session("c" * 64, SubjectKind.RESIDENT, BOB, base, base + timedelta(hours=12))
    revoked = Session(
        "d" * 64,
        SubjectKind.STAFF,
        OFFICER,
        base + timedelta(microseconds=250),
        (base + timedelta(hours=8)).astimezone(BEIJING),
        base + timedelta(minutes=3),
    )
    unasked = Session("e" * 64, SubjectKind.RESIDENT, ALICE, base, base + timedelta(hours=12))
    with container.deps.uow() as uow:
        for resident_id in (ALICE, BOB, CAROL, dave):
            uow.residents.add(make_resident(resident_id))
        uow.residents.set_active(BOB, False)
        uow.guardianships.add(Guardianship(ALICE, BOB, "parent", created))
        uow.guardianships.add(Guardianship(ALICE, CAROL, "parent", created))
        uow.guardianships.add(Guardianship(dave, CAROL, "carer", created))
        uow.staff.add(officer)
        for session in (parent, carer, childless, gone, revoked, unasked):
            uow.sessions.add(session)
        uow.commit()

    with container.deps.uow() as uow:
        asked = [s.token_digest for s in (parent, carer, childless, gone, revoked)] + ["f" * 64]
        found = uow.sessions.holders(asked)

    assert found == {
        parent.token_digest: SessionHolder(parent, True, frozenset({BOB, CAROL})),
        carer.token_digest: SessionHolder(carer, True, frozenset({CAROL})),
        childless.token_digest: SessionHolder(childless, True),
        gone.token_digest: SessionHolder(gone, False),
        revoked.token_digest: SessionHolder(revoked, True, staff=officer),
    }
    times = [
        t for h in found.values() for t in (h.session.created_at, h.session.expires_at, h.session.revoked_at)
    ]
    assert all(_is_utc(t) for t in times if t is not None), times
    assert found[revoked.token_digest].staff is not None
    assert _is_utc(found[revoked.token_digest].staff.created_at)  # type: ignore[union-attr]


def test_a_session_of_a_deactivated_staff_member_or_of_nobody_has_an_inactive_holder(
    container: Container,
) -> None:
    base = _base()
    created = datetime(2022, 5, 1, tzinfo=UTC)
    retired = StaffMember(OFFICER, "officer.wu", "Wu", Role.CDC, "440106", "hash", False, created)
    of_retired = Session("a" * 64, SubjectKind.STAFF, OFFICER, base, base + timedelta(hours=1))
    of_nobody = Session("b" * 64, SubjectKind.RESIDENT, ALICE, base, base + timedelta(hours=1))
    with container.deps.uow() as uow:
        uow.staff.add(retired)
        uow.sessions.add(of_retired)
        uow.sessions.add(of_nobody)
        uow.commit()

    with container.deps.uow() as uow:
        found = uow.sessions.holders([of_retired.token_digest, of_nobody.token_digest])

    assert found == {
        of_retired.token_digest: SessionHolder(of_retired, False, staff=retired),
        of_nobody.token_digest: SessionHolder(of_nobody, False),
    }


def test_venues_get_many_returns_the_stored_venues_asked_for_and_omits_unknown_ids(
    container: Container,
) -> None:
    base = _base()
    placed = Venue(VENUE_A, "天河城", VenueKind.MARKET, "440106", base, 23.1325, 113.3227, OFFICER, True)
    bus = Venue(VENUE_B, "B1 路", VenueKind.BUS, "440106", base + timedelta(microseconds=7), active=False)
    unasked = Venue(VENUE_C, "其他", VenueKind.OTHER, "440106", base)
    with container.deps.uow() as uow:
        for venue in (placed, bus, unasked):
            uow.venues.add(venue)
        uow.commit()

    with container.deps.uow() as uow:
        found = uow.venues.get_many([VENUE_A, VENUE_B, "00000000-0000-4000-7000-0000000000ff"])

    assert found == {VENUE_A: placed, VENUE_B: bus}
    assert (found[VENUE_B].lat, found[VENUE_B].lon, found[VENUE_B].active) == (None, None, False)
    assert all(_is_utc(v.created_at) for v in found.values())


def test_batch_reads_and_writes_of_nothing_return_nothing(container: Container) -> None:
    base = _base()
    with container.deps.uow() as uow:
        assert uow.checkins.add_new([]) == set()
        assert uow.checkins.find_many(set(), base, base) == {}
        assert uow.checkins.prior_uses(set(), base, base, set(), set()) == {}
        assert uow.sessions.holders([]) == {}
        assert uow.venues.get_many([]) == {}
