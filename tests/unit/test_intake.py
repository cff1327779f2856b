"""The group commit of check-ins (services/intake.py): concurrent scans share one transaction, each is
answered only after the commit that stored it, overload is shed at once, and one scan that breaks a batch
does not take the others down."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Self, TypeVar

import pytest

from civicpass.adapters.files import bundled_ruleset
from civicpass.domain.checkins import CheckIn
from civicpass.domain.errors import Unavailable
from civicpass.domain.policy import StaffActor
from civicpass.domain.sessions import Session, SubjectKind
from civicpass.domain.staff import Role
from civicpass.services import rulesets, venues
from civicpass.services.checkins import ScanIn, TokenScan
from civicpass.services.context import Deps
from civicpass.services.intake import CheckinIntake
from civicpass.services.venues import NewVenue
from tests.fakes import FakeStore, FakeUnitOfWork, fake_deps, make_resident

START = datetime(2022, 5, 3, 8, 0, tzinfo=UTC)
OPERATOR = StaffActor("s-operator", Role.VENUE_OPERATOR, "440100")
T = TypeVar("T")


class Counted(FakeUnitOfWork):
    """The fake unit of work, counting commits and refusing any batch that holds a poisoned scan."""

    total = 0

    def __enter__(self) -> Self:
        uow = super().__enter__()
        insert = uow.checkins.add_new

        def add_new(checkins: Any) -> set[str]:
            if any(c.client_id.startswith("poison") for c in checkins):
                raise RuntimeError("the disk caught fire")
            return insert(checkins)

        uow.checkins.add_new = add_new  # type: ignore[method-assign]
        return uow

    def commit(self) -> None:
        super().commit()
        Counted.total += 1


class City:
    def __init__(self, residents: int = 60) -> None:
        self.store = FakeStore()
        deps, _, _, self.clock = fake_deps(self.store)
        self.deps = Deps(**{**vars(deps), "uow": lambda: Counted(self.store)})
        rulesets.install_bundled(self.deps, bundled_ruleset())
        for n in range(residents):
            rid = f"r-{n}"
            self.store.residents[rid] = make_resident(rid, phone=f"+861380013{n:04d}")
            digest = self.deps.digest.secret_digest(f"token-{n}")
            self.store.sessions[digest] = Session(
                digest, SubjectKind.RESIDENT, rid, START, START + timedelta(days=1)
            )
        venue = venues.register_venue(self.deps, OPERATOR, NewVenue("Metro", "transit_station", "440106"))
        self.code = venues.venue_code(self.deps, OPERATOR, venue.id).token
        Counted.total = 0

    def scan(self, n: int, client_id: str | None = None) -> TokenScan:
        scan = ScanIn(self.code, client_id or f"client-{n:04d}", self.clock.now())
        return TokenScan(self.deps.digest.secret_digest(f"token-{n}"), scan)

    def stored(self) -> set[str]:
        return {c.client_id for c in self.store.checkins}


def run(body: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(body())


async def _settle(calls: list[Awaitable[Any]]) -> list[Any]:
    return list(await asyncio.gather(*calls, return_exceptions=True))


def submit_together(city: City, scans: list[TokenScan], **options: int) -> tuple[list[Any], CheckinIntake]:
    """Submit the scans at once to a started intake, then close it: each one's answer (or error), in order."""

    async def body() -> tuple[list[Any], CheckinIntake]:
        intake = CheckinIntake(city.deps, **options)
        intake.start()
        answers = await _settle([intake.submit(scan) for scan in scans])
        await intake.close()
        return answers, intake

    return run(body)


def test_concurrent_scans_are_stored_by_one_commit_and_each_is_answered_with_its_own_check_in() -> None:
    city = City()
    answers, intake = submit_together(city, [city.scan(n) for n in range(50)])
    assert (intake.batches, intake.committed) == (1, 50)
    assert [a[0].client_id for a in answers] == [f"client-{n:04d}" for n in range(50)]
    assert all(isinstance(a[0], CheckIn) and a[1] is True for a in answers)
    assert Counted.total == 1
    assert city.stored() == {f"client-{n:04d}" for n in range(50)}


def test_a_check_in_is_answered_only_once_its_commit_has_happened() -> None:
    city = City()

    async def body() -> None:
        intake = CheckinIntake(city.deps)
        intake.start()
        for n in range(5):
            checkin, created = await intake.submit(city.scan(n))
            assert created
            assert checkin.client_id in city.stored()  # committed state, before the answer arrived
        await intake.close()

    run(body)
    assert Counted.total == 5


def test_batches_hold_at_most_max_batch_scans() -> None:
    city = City()
    _, intake = submit_together(city, [city.scan(n) for n in range(20)], max_batch=8)
    assert (intake.batches, intake.committed) == (3, 20)
    assert len(city.stored()) == 20


def test_beyond_the_queue_limit_scans_are_shed_at_once_with_a_retry_after_and_nothing_kept() -> None:
    city = City()
    answers, _ = submit_together(city, [city.scan(n) for n in range(5)], queue_limit=3)
    assert [type(a).__name__ for a in answers] == ["tuple", "tuple", "tuple", "Unavailable", "Unavailable"]
    shed = answers[3]
    assert isinstance(shed, Unavailable)
    assert (shed.reason, shed.extra["retry_after"]) == ("overloaded", 1)
    assert city.stored() == {"client-0000", "client-0001", "client-0002"}


def test_a_scan_that_breaks_its_batch_fails_alone_and_the_others_are_stored_in_halves() -> None:
    city = City()
    answers, _ = submit_together(city, [city.scan(n, "poison-1" if n == 2 else None) for n in range(5)])
    assert isinstance(answers[2], RuntimeError)
    assert [a[1] for i, a in enumerate(answers) if i != 2] == [True] * 4
    assert city.stored() == {"client-0000", "client-0001", "client-0003", "client-0004"}
    assert Counted.total == 2  # [0, 1] and [3, 4]; [2] failed alone


def test_one_poisonous_scan_in_a_large_batch_costs_a_few_commits_not_one_per_scan() -> None:
    city = City(residents=64)
    answers, _ = submit_together(city, [city.scan(n, "poison-x" if n == 41 else None) for n in range(64)])
    assert isinstance(answers[41], RuntimeError)
    assert len(city.stored()) == 63
    assert Counted.total <= 12  # halving: about two commits per level, six levels


def test_closing_commits_and_answers_every_waiting_scan_then_refuses_new_ones() -> None:
    city = City()

    async def body() -> tuple[list[Any], Any]:
        intake = CheckinIntake(city.deps)
        intake.start()
        waiting = [asyncio.create_task(intake.submit(city.scan(n))) for n in range(10)]
        await asyncio.sleep(0)  # they are queued, not yet committed
        closing = asyncio.create_task(intake.close())
        await asyncio.sleep(0)
        late = await _settle([intake.submit(city.scan(99))])
        await closing
        return await _settle(list(waiting)), late[0]

    answers, late = run(body)
    assert all(a[1] is True for a in answers)
    assert len(city.stored()) == 10
    assert isinstance(late, Unavailable)
    assert late.reason == "overloaded"


def test_an_intake_never_started_commits_each_scan_on_its_own() -> None:
    city = City()

    async def body() -> list[Any]:
        intake = CheckinIntake(city.deps)
        return [await intake.submit(city.scan(n)) for n in range(3)]

    answers = run(body)
    assert all(a[1] is True for a in answers)
    assert Counted.total == 3


@pytest.mark.parametrize("refusal", ["token-unknown", "bad-code"])
def test_a_refused_scan_in_a_batch_is_answered_with_its_own_error(refusal: str) -> None:
    city = City()
    bad = city.scan(1)
    if refusal == "token-unknown":
        bad = TokenScan("no-such-digest", bad.scan)
    else:
        bad = TokenScan(bad.token_digest, ScanIn("CP1:garbage", "client-bad", city.clock.now()))
    (good, refused, other), _ = submit_together(city, [city.scan(0), bad, city.scan(2)])
    assert good[1] is True
    assert other[1] is True
    assert refused.reason == ("token_invalid" if refusal == "token-unknown" else "venue_code_invalid")
    assert city.stored() == {"client-0000", "client-0002"}
