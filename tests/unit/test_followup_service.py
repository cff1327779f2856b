"""Follow-up tasks and appeals (services/tasks.py, services/appeals.py) over fakes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest

from civicpass.adapters.files import bundled_ruleset
from civicpass.adapters.messaging import MemoryMessenger
from civicpass.domain.appeals import AppealState
from civicpass.domain.checkins import CheckIn, Evidence, Method
from civicpass.domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from civicpass.domain.facts import FactKind, FactState
from civicpass.domain.features import iso
from civicpass.domain.policy import ResidentActor, StaffActor
from civicpass.domain.residents import Guardianship, ResidentKind
from civicpass.domain.staff import Role
from civicpass.domain.tasks import TaskKind, TaskOutcome
from civicpass.domain.venues import Venue, VenueKind
from civicpass.services import appeals, facts, rulesets, tasks, tracing
from civicpass.services import status as status_service
from civicpass.services.context import Deps
from civicpass.services.facts import NewFact
from tests.fakes import FakeClock, FakeStore, fake_deps, make_resident

CDC_A = StaffActor("cdc-a", Role.CDC, "440100")
CDC_B = StaffActor("cdc-b", Role.CDC, "440100")
CDC_C = StaffActor("cdc-c", Role.CDC, "440106")
LAB = StaffActor("lab-1", Role.LAB, "440100")
WORKER = StaffActor("cw-1", Role.COMMUNITY_WORKER, "440106")
WORKER_ELSEWHERE = StaffActor("cw-2", Role.COMMUNITY_WORKER, "440103")
INDEX, CLOSE, COMPANION, CHILD = "r-index", "r-close", "r-comp", "r-child"
PHONES = {CLOSE: "+8613800000001", COMPANION: "+8613800000002"}
MIN = timedelta(minutes=1)


@dataclass
class World:
    deps: Deps
    store: FakeStore
    clock: FakeClock
    messenger: MemoryMessenger

    def color(self, resident: str) -> str:
        return self.store.statuses[resident].color


@pytest.fixture
def world() -> World:
    deps, store, messenger, clock = fake_deps()
    rulesets.install_bundled(deps, bundled_ruleset())
    for resident in (INDEX, CLOSE, COMPANION):
        store.residents[resident] = make_resident(resident, phone=PHONES.get(resident))
    store.residents[CHILD] = make_resident(CHILD, kind=ResidentKind.DEPENDENT)
    store.guardianships[(CLOSE, CHILD)] = Guardianship(CLOSE, CHILD, "parent", clock.now())
    store.venues.append(Venue("cafe", "cafe", VenueKind.RESTAURANT, "440106", clock.now()))
    noon = clock.now() - timedelta(hours=20)
    for n, (resident, at) in enumerate(
        ((INDEX, noon), (CLOSE, noon + 10 * MIN), (COMPANION, noon + 80 * MIN))
    ):
        store.checkins.append(
            CheckIn(f"c{n}", f"k{n}", resident, "cafe", at, at, Method.ROTATING_CODE, Evidence.MEDIUM, ())
        )
    status_service.recompute(deps, list(store.residents))
    return World(deps, store, clock, messenger)


def _traced(w: World) -> None:
    """A positive result, a case, tracing by CDC A, approval by CDC B."""
    data = {"test": "pcr", "result": "positive", "sampled_at": iso(w.clock.now() - timedelta(hours=3))}
    facts.approve(w.deps, CDC_A, facts.record(w.deps, LAB, NewFact(INDEX, "test_result", data)).id)
    (case,) = w.store.cases.values()
    proposal = tracing.run(w.deps, CDC_A, case.id)
    tracing.approve(w.deps, CDC_B, proposal.id, None)


def test_approved_contacts_get_follow_up_tasks_for_their_community_and_are_told(world: World) -> None:
    _traced(world)
    planned = sorted(
        (t.resident_id, t.kind.value, t.due_at - world.clock.now()) for t in world.store.tasks.values()
    )
    day = timedelta(days=1)
    assert planned == [
        (CLOSE, "quarantine_check", day),
        (CLOSE, "test_due", day),
        (CLOSE, "test_due", 3 * day),
        (COMPANION, "test_due", day),
    ]
    assert "Follow-up: a community worker will check on you; a test is due" in world.messenger.last_to(
        PHONES[CLOSE]
    )
    mine = tasks.listing(world.deps, WORKER, overdue=False, limit=100)
    assert len(mine) == 4
    assert tasks.listing(world.deps, WORKER_ELSEWHERE, overdue=False, limit=100) == []
    assert tasks.listing(world.deps, WORKER, overdue=True, limit=100) == []
    world.clock.advance(days=2)
    overdue = tasks.listing(world.deps, WORKER, overdue=True, limit=100)
    assert len(overdue) == 3  # all but the day-3 test
    done = tasks.record_outcome(world.deps, WORKER, overdue[0].id, TaskOutcome.COMPLETED, "at home, well")
    assert (done.outcome, done.closed_by) == (TaskOutcome.COMPLETED, WORKER.id)
    assert len(tasks.listing(world.deps, WORKER, overdue=True, limit=100)) == 2
    with pytest.raises(Conflict):
        tasks.record_outcome(world.deps, WORKER, done.id, TaskOutcome.CANCELLED, "")
    with pytest.raises(PermissionDenied):
        tasks.record_outcome(world.deps, WORKER_ELSEWHERE, overdue[1].id, TaskOutcome.COMPLETED, "")
    with pytest.raises(PermissionDenied):
        tasks.listing(world.deps, LAB, overdue=False, limit=10)


def test_a_community_worker_creates_a_task_in_their_jurisdiction_only(world: World) -> None:
    due = world.clock.now() + timedelta(hours=6)
    task = tasks.create(
        world.deps, WORKER, COMPANION, TaskKind.QUARANTINE_CHECK, due, "neighbour reported fever"
    )
    assert task.region_code == "440106"
    assert "a community worker will check on you" in world.messenger.last_to(PHONES[COMPANION])
    with pytest.raises(PermissionDenied):
        tasks.create(world.deps, WORKER_ELSEWHERE, COMPANION, TaskKind.TEST_DUE, due, "not mine")
    with pytest.raises(NotFound):
        tasks.create(world.deps, WORKER, "nobody", TaskKind.TEST_DUE, due, "who?")


def test_an_upheld_appeal_retracts_the_fact_by_someone_who_did_not_author_it(world: World) -> None:
    _traced(world)
    assert world.color(CLOSE) == "red"
    (contact_fact,) = [f for f in world.store.facts.values() if f.kind is FactKind.CLOSE_CONTACT]
    resident = ResidentActor(CLOSE, frozenset({CHILD}))
    appeal = appeals.file(world.deps, resident, CLOSE, contact_fact.id, "I was at work, not at that cafe")
    assert appeal.due_at == world.clock.now() + timedelta(hours=72)
    with pytest.raises(Conflict):
        appeals.file(world.deps, resident, CLOSE, contact_fact.id, "again, the same")
    for author in (CDC_A, CDC_B):  # proposed the contact / approved it
        with pytest.raises(PermissionDenied) as own:
            appeals.decide(world.deps, author, appeal.id, True, "looked again")
        assert own.value.reason == "own_fact"
    with pytest.raises(PermissionDenied):
        appeals.decide(world.deps, WORKER, appeal.id, True, "not a cdc member")
    decided = appeals.decide(world.deps, CDC_C, appeal.id, True, "the scan was another phone's (forwarded)")
    assert (decided.state, decided.retracted) == (AppealState.UPHELD, (contact_fact.id,))
    assert world.store.facts[contact_fact.id].state is FactState.RETRACTED
    assert world.color(CLOSE) == "green"
    told = world.messenger.last_to(PHONES[CLOSE])
    assert "Your appeal was upheld: the scan was another phone's (forwarded)" in told
    assert appeals.of_resident(world.deps, resident, CLOSE)[0].decision == decided.decision
    with pytest.raises(Conflict):
        appeals.decide(world.deps, CDC_C, appeal.id, False, "changed my mind")


def test_status_appeals_name_the_facts_to_retract_or_are_dismissed_with_a_reason(world: World) -> None:
    _traced(world)
    guardian = ResidentActor(CLOSE, frozenset({CHILD}))
    for_child = appeals.file(world.deps, guardian, CHILD, None, "my child's code")
    assert for_child.resident_id == CHILD
    with pytest.raises(PermissionDenied):
        appeals.file(world.deps, ResidentActor(COMPANION), CHILD, None, "not my child")
    appeal = appeals.file(world.deps, ResidentActor(COMPANION), COMPANION, None, "my code is wrong")
    with pytest.raises(InvalidInput):
        appeals.decide(world.deps, CDC_C, appeal.id, True, "uphold without naming")
    dismissed = appeals.decide(world.deps, CDC_C, appeal.id, False, "you were there for ten minutes")
    assert dismissed.state is AppealState.DISMISSED
    assert world.color(COMPANION) == "yellow"
    assert "Your appeal was dismissed: you were there for ten minutes" in world.messenger.last_to(
        PHONES[COMPANION]
    )
    world.clock.advance(hours=73)
    assert [a.id for a in appeals.listing(world.deps, CDC_C, overdue=True, limit=10)] == [for_child.id]
    with pytest.raises(NotFound):
        appeals.file(world.deps, guardian, CLOSE, "no-such-fact", "what fact?")


def test_no_author_of_a_fact_behind_a_status_decides_an_appeal_against_that_status(world: World) -> None:
    _traced(world)
    appeal = appeals.file(
        world.deps, ResidentActor(CLOSE, frozenset({CHILD})), CLOSE, None, "my status is wrong"
    )
    for author in (CDC_A, CDC_B):  # proposed / approved the close-contact fact that makes CLOSE red
        with pytest.raises(PermissionDenied) as own:
            appeals.decide(world.deps, author, appeal.id, False, "nothing to change")
        assert own.value.reason == "own_fact"
    assert (
        appeals.decide(world.deps, CDC_C, appeal.id, False, "the contact was real").state
        is AppealState.DISMISSED
    )
