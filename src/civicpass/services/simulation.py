"""A synthetic city for tests, the demo and the benchmarks (``civicpass simulate``).

Residents live their days: some ride a bus to work (boarding and alighting recorded), check in at their
workplace, go out for lunch and to the market in the evening, each at their own few places, at times
spread around the rush hours. Most scans are fresh rotating codes (medium evidence); some are printed
static codes (weak), some are checkpoint scans at workplaces (strong). Each seeded outbreak is an index
resident with a positive test result (which opens a case) and a few people who checked in at one of the
index's venues with a forwarded code from far away (weak evidence, never proposed as contacts).

Everything is drawn from one seeded random generator, so a seed gives the same city (ids aside).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta

from civicpass.domain.checkins import CheckIn, Direction, Evidence, Flag, Method
from civicpass.domain.facts import Fact, FactKind, FactSource, FactState
from civicpass.domain.identity import Document, DocumentType
from civicpass.domain.residents import Resident
from civicpass.domain.venues import Venue, VenueKind, window_start
from civicpass.services import cases
from civicpass.services.context import Deps
from civicpass.services.demo import DEMO_DISTRICTS, make_people
from civicpass.services.status import recompute_in

FEED_AUTHORITY = "lab:simulation"
_PLACES = (VenueKind.RESTAURANT, VenueKind.MARKET, VenueKind.OFFICE, VenueKind.SCHOOL, VenueKind.HOSPITAL)
_WRITE_BATCH = 20_000
BASE_RATE = 1.5
_MINUTE = timedelta(minutes=1)
"""Check-ins per resident per day of the routine below (bus 0.5 x 0.4 x 2 + work 0.5 + lunch 0.3 +
market 0.3); a lower ``Plan.rate`` drops check-ins at random."""


@dataclass(frozen=True)
class Plan:
    residents: int
    venues: int
    days: int
    seed: int = 2022
    outbreaks: int = 3
    rate: float = BASE_RATE  # check-ins per resident per day, on average (at most BASE_RATE)


@dataclass
class Report:
    residents: int = 0
    venues: int = 0
    checkins: int = 0
    days: int = 0
    index_residents: list[str] = field(default_factory=list)
    cases: list[str] = field(default_factory=list)
    forwarded: list[str] = field(default_factory=list)  # residents who used a forwarded code


@dataclass(frozen=True)
class _Routine:
    resident: str
    work: Venue
    bus: Venue | None
    lunch: tuple[Venue, ...]
    market: tuple[Venue, ...]


def _venues(deps: Deps, rng: random.Random, count: int, now: datetime) -> list[Venue]:
    venues = []
    for i in range(count):
        kind = VenueKind.BUS if i % 10 == 0 else _PLACES[i % len(_PLACES)]
        lat, lon = 23.05 + rng.random() * 0.25, 113.2 + rng.random() * 0.3  # Guangzhou
        venues.append(
            Venue(
                deps.random.new_id(), f"模拟{kind.value}{i}", kind, rng.choice(DEMO_DISTRICTS), now, lat, lon
            )
        )
    return venues


def _at(day: datetime, clock: time, spread_minutes: int, rng: random.Random) -> datetime:
    base = day.replace(hour=clock.hour, minute=clock.minute)
    return base + timedelta(seconds=rng.randint(-spread_minutes * 60, spread_minutes * 60))


class _Writer:
    """Check-ins of one simulated day, made in one place so ids, windows and grades stay consistent."""

    def __init__(self, deps: Deps, rng: random.Random) -> None:
        self.deps, self.rng = deps, rng
        self.window = timedelta(seconds=deps.limits.venue_code_window_seconds)

    def scan(
        self,
        resident: str,
        venue: Venue,
        at: datetime,
        direction: Direction | None = None,
        forwarded: bool = False,
    ) -> CheckIn:
        roll = self.rng.random()
        flags: tuple[Flag, ...]
        if forwarded:
            method, evidence, flags = (
                Method.ROTATING_CODE,
                Evidence.WEAK,
                (Flag.FORWARDED, Flag.FAR_FROM_VENUE),
            )
        elif venue.kind is VenueKind.OFFICE and roll < 0.1:
            method, evidence, flags = Method.CHECKPOINT_SCAN, Evidence.STRONG, ()
        elif roll < 0.05:
            method, evidence, flags = Method.STATIC_CODE, Evidence.WEAK, (Flag.STATIC_CODE,)
        else:
            method, evidence, flags = Method.ROTATING_CODE, Evidence.MEDIUM, ()
        return CheckIn(
            id=self.deps.random.new_id(),
            client_id=f"sim-{self.rng.getrandbits(64):016x}",
            resident_id=resident,
            venue_id=venue.id,
            at=at,
            recorded_at=at,
            method=method,
            evidence=evidence,
            flags=flags,
            window_start=window_start(at, self.window) if method is Method.ROTATING_CODE else None,
            direction=direction,
        )

    def day(self, routine: _Routine, day: datetime) -> Iterator[CheckIn]:
        rng, r = self.rng, routine
        if r.bus is not None and rng.random() < 0.4:
            boarded = _at(day, time(7, 30), 30, rng)
            yield self.scan(r.resident, r.bus, boarded, Direction.BOARD)
            yield self.scan(
                r.resident, r.bus, boarded + timedelta(minutes=rng.randint(10, 45)), Direction.ALIGHT
            )
        if rng.random() < 0.5:
            yield self.scan(r.resident, r.work, _at(day, time(8, 30), 40, rng))
        if rng.random() < 0.3:
            yield self.scan(r.resident, rng.choice(r.lunch), _at(day, time(12, 0), 40, rng))
        if rng.random() < 0.3:
            yield self.scan(r.resident, rng.choice(r.market), _at(day, time(18, 30), 60, rng))


def _simulated(people: list[Resident], run: int) -> list[Resident]:
    """Passports of this run's own series and no phones: never collide with the demo city or other runs."""
    return [
        replace(
            p,
            pii=replace(
                p.pii,
                document=Document(DocumentType.PASSPORT, f"SIM{run:04d}{n:08d}", "CHN"),
                phone=None,
            ),
        )
        for n, p in enumerate(people)
    ]


def simulate(deps: Deps, plan: Plan) -> Report:
    """Generate the city into the database: residents, venues, ``days`` days of check-ins, outbreaks."""
    rng = random.Random(plan.seed)  # noqa: S311 - synthetic data, not security
    now = deps.clock.now()
    report = Report(days=plan.days)
    people, links = make_people(deps, rng, plan.residents, now)
    people = _simulated(people, rng.randrange(10_000))
    venues = _venues(deps, rng, max(plan.venues, 2), now)
    buses = [v for v in venues if v.kind is VenueKind.BUS]
    places = [v for v in venues if v.kind is not VenueKind.BUS] or venues
    keep = min(1.0, plan.rate / BASE_RATE)
    routines = [
        _Routine(
            p.id,
            rng.choice(places),
            rng.choice(buses) if buses and rng.random() < 0.5 else None,
            tuple(rng.sample(places, min(3, len(places)))),
            tuple(rng.sample(places, min(2, len(places)))),
        )
        for p in people
    ]
    with deps.uow() as uow:
        uow.residents.add_many(people)
        uow.guardianships.add_many(links)
        uow.venues.add_many(venues)
        uow.commit()
    report.residents, report.venues = len(people), len(venues)
    writer = _Writer(deps, rng)
    today = datetime.combine(now.astimezone(deps.zone).date(), time(), deps.zone)
    pending: list[CheckIn] = []
    for offset in range(plan.days, 0, -1):
        day = today - timedelta(days=offset - 1)
        for routine in routines:
            for checkin in writer.day(routine, day):
                if checkin.at < now and (keep == 1.0 or rng.random() < keep):
                    pending.append(checkin)
            if len(pending) >= _WRITE_BATCH:
                report.checkins += _write(deps, pending)
                pending = []
    report.checkins += _write(deps, pending)
    _outbreaks(deps, rng, plan, routines, writer, today, report)
    return report


def _write(deps: Deps, checkins: list[CheckIn]) -> int:
    if checkins:
        with deps.uow() as uow:
            uow.checkins.add_many(checkins)
            uow.commit()
    return len(checkins)


def _outbreaks(
    deps: Deps,
    rng: random.Random,
    plan: Plan,
    routines: list[_Routine],
    writer: _Writer,
    today: datetime,
    report: Report,
) -> None:
    """Index residents test positive today (a case opens); others used a forwarded code at their venue."""
    now = deps.clock.now()
    chosen = rng.sample(routines, min(plan.outbreaks, len(routines)))
    forwarded: list[CheckIn] = []
    for routine in chosen:
        yesterday = today - timedelta(days=1)
        at = _at(yesterday, time(12, 0), 20, rng)
        own = writer.scan(routine.resident, routine.lunch[0], at)
        forwarded.append(replace(own, evidence=Evidence.MEDIUM, method=Method.ROTATING_CODE, flags=()))
        late = rng.choice(routines)  # came as the index was leaving: a spatio-temporal companion
        if late.resident != routine.resident:
            forwarded.append(
                replace(
                    writer.scan(late.resident, routine.lunch[0], at + 80 * _MINUTE),
                    evidence=Evidence.MEDIUM,
                    method=Method.ROTATING_CODE,
                    flags=(),
                )
            )
        for other in rng.sample(routines, min(3, len(routines))):
            if other.resident != routine.resident:
                forwarded.append(
                    writer.scan(other.resident, routine.lunch[0], at + timedelta(minutes=5), forwarded=True)
                )
                report.forwarded.append(other.resident)
        report.index_residents.append(routine.resident)
    report.checkins += _write(deps, forwarded)
    with deps.uow() as uow:
        for resident in report.index_residents:
            fact = Fact(
                id=deps.random.new_id(),
                subject_id=resident,
                kind=FactKind.TEST_RESULT,
                data={
                    "test": "pcr",
                    "result": "positive",
                    "sampled_at": (now - timedelta(hours=6)).isoformat(),
                },
                source=FactSource.FEED,
                authority=FEED_AUTHORITY,
                effective_at=now,
                expires_at=now + timedelta(days=14),
                recorded_at=now,
                state=FactState.ACTIVE,
                note="simulated outbreak",
            )
            uow.facts.add(fact)
            cases.follow(uow, deps, fact)
        recompute_in(uow, deps, report.index_residents)
        uow.commit()
        report.cases = [k.id for r in report.index_residents for k in uow.cases.of_resident(r)]
