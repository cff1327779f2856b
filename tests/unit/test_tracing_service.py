"""Cases and tracing with dual control (services/cases.py, services/tracing.py) over fakes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest

from civicpass.adapters.files import bundled_ruleset
from civicpass.domain.cases import CaseState
from civicpass.domain.checkins import CheckIn, Evidence, Flag, Method
from civicpass.domain.errors import Conflict, InvalidInput, PermissionDenied
from civicpass.domain.facts import FactKind, FactState
from civicpass.domain.features import iso
from civicpass.domain.policy import StaffActor
from civicpass.domain.proposals import Decision, ProposalState
from civicpass.domain.staff import Role
from civicpass.domain.tracing import ContactGrade
from civicpass.domain.venues import Venue, VenueKind
from civicpass.services import cases, facts, rulesets, tracing
from civicpass.services import status as status_service
from civicpass.services.context import Deps
from civicpass.services.facts import NewFact
from tests.fakes import FakeClock, FakeStore, fake_deps, make_resident

CDC_A = StaffActor("cdc-a", Role.CDC, "440100")
CDC_B = StaffActor("cdc-b", Role.CDC, "440100")
CDC_SHENZHEN = StaffActor("cdc-sz", Role.CDC, "440300")
LAB = StaffActor("lab-1", Role.LAB, "440100")
WORKER = StaffActor("cw-1", Role.COMMUNITY_WORKER, "440106")
INDEX, CLOSE, COMPANION, FORWARDED, FAR, SECOND = "r-index", "r-close", "r-comp", "r-fwd", "r-far", "r-2nd"
MIN = timedelta(minutes=1)


@dataclass
class World:
    deps: Deps
    store: FakeStore
    clock: FakeClock

    def color(self, resident: str) -> str:
        return self.store.statuses[resident].color

    def scan(
        self, n: int, resident: str, venue: str, at: datetime, evidence: Evidence = Evidence.MEDIUM
    ) -> None:
        method, flags = (
            (Method.ROTATING_CODE, ())
            if evidence is not Evidence.WEAK
            else (Method.ROTATING_CODE, (Flag.FORWARDED,))
        )
        self.store.checkins.append(
            CheckIn(f"c{n}", f"client-{n}", resident, venue, at, at, method, evidence, flags)
        )

    def positive_case(self) -> str:
        """The lab's positive result, approved by the CDC: a suspected case is open."""
        sampled = self.clock.now() - timedelta(hours=4)
        data = {"test": "pcr", "result": "positive", "sampled_at": iso(sampled)}
        proposed = facts.record(self.deps, LAB, NewFact(INDEX, "test_result", data))
        facts.approve(self.deps, CDC_A, proposed.id)
        (case,) = self.store.cases.values()
        return case.id


@pytest.fixture
def world() -> World:
    deps, store, _, clock = fake_deps()
    rulesets.install_bundled(deps, bundled_ruleset())
    for resident in (INDEX, CLOSE, COMPANION, FORWARDED, FAR, SECOND):
        store.residents[resident] = make_resident(resident)
    for venue in ("cafe", "shop"):
        store.venues.append(Venue(venue, venue, VenueKind.RESTAURANT, "440106", clock.now()))
    w = World(deps, store, clock)
    noon = clock.now() - timedelta(hours=20)  # yesterday, inside the infectious window
    w.scan(1, INDEX, "cafe", noon)
    w.scan(2, CLOSE, "cafe", noon + 10 * MIN)  # 60 minutes together: close contact
    w.scan(3, COMPANION, "cafe", noon + 80 * MIN)  # 10 minutes in the buffer: companion
    w.scan(4, FORWARDED, "cafe", noon + 5 * MIN, Evidence.WEAK)  # a forwarded code: weak only
    w.scan(5, FAR, "shop", noon)  # elsewhere
    w.scan(6, CLOSE, "shop", noon + 3 * 60 * MIN)  # the close contact, later, with SECOND
    w.scan(7, SECOND, "shop", noon + 3 * 60 * MIN + 5 * MIN)
    status_service.recompute(deps, list(store.residents))
    return w


def test_a_positive_result_opens_a_suspected_case_and_turns_the_resident_red(world: World) -> None:
    case_id = world.positive_case()
    case = world.store.cases[case_id]
    assert (case.state, case.origin.value, case.resident_id) == (
        CaseState.SUSPECTED,
        "positive_result",
        INDEX,
    )
    assert case.sampled_at == world.clock.now() - timedelta(hours=4)
    assert world.color(INDEX) == "red"
    # A second positive result does not open a second case.
    data = {"test": "antigen", "result": "positive", "sampled_at": iso(world.clock.now())}
    facts.approve(world.deps, CDC_B, facts.record(world.deps, LAB, NewFact(INDEX, "test_result", data)).id)
    assert len(world.store.cases) == 1


def test_tracing_proposes_contacts_and_changes_nothing_until_another_cdc_member_approves(
    world: World,
) -> None:
    case_id = world.positive_case()
    proposal = tracing.run(world.deps, CDC_A, case_id)
    grades = {c.resident_id: (c.grade, c.decision) for c in proposal.contacts}
    assert grades == {
        CLOSE: (ContactGrade.CLOSE, Decision.PENDING),
        COMPANION: (ContactGrade.COMPANION, Decision.PENDING),
        FORWARDED: (ContactGrade.WEAK_ONLY, Decision.NOT_PROPOSABLE),
    }
    assert {world.color(r) for r in (CLOSE, COMPANION, FORWARDED)} == {"green"}
    evidence = next(c for c in proposal.contacts if c.resident_id == CLOSE).evidence[0]
    assert (evidence["venue_id"], evidence["minutes"], evidence["evidence"]) == ("cafe", 60.0, "medium")

    with pytest.raises(PermissionDenied) as own:
        tracing.approve(world.deps, CDC_A, proposal.id, None)
    assert own.value.reason == "own_proposal"
    with pytest.raises(InvalidInput) as weak:
        tracing.approve(world.deps, CDC_B, proposal.id, [CLOSE, FORWARDED])
    assert weak.value.reason == "contact_not_proposable"
    assert world.store.proposals[proposal.id].state is ProposalState.PENDING

    decided = tracing.approve(world.deps, CDC_B, proposal.id, None)
    assert decided.state is ProposalState.DECIDED
    assert world.color(CLOSE) == "red"
    assert world.color(COMPANION) == "yellow"
    assert world.color(FORWARDED) == "green"  # weak evidence never raises a color
    close_fact = world.store.facts[next(c.fact_id for c in decided.contacts if c.resident_id == CLOSE)]
    assert (close_fact.kind, close_fact.proposed_by, close_fact.decided_by) == (
        FactKind.CLOSE_CONTACT,
        CDC_A.id,
        CDC_B.id,
    )
    assert close_fact.data["case_id"] == case_id
    with pytest.raises(Conflict):
        tracing.approve(world.deps, CDC_A, proposal.id, None)


def test_approving_part_of_a_proposal_rejects_the_rest(world: World) -> None:
    proposal = tracing.run(world.deps, CDC_A, world.positive_case())
    decided = tracing.approve(world.deps, CDC_B, proposal.id, [CLOSE], note="companion was behind glass")
    decisions = {c.resident_id: c.decision for c in decided.contacts}
    assert decisions[CLOSE] is Decision.APPROVED
    assert decisions[COMPANION] is Decision.REJECTED
    assert (world.color(CLOSE), world.color(COMPANION)) == ("red", "green")


def test_a_rejected_proposal_records_no_fact(world: World) -> None:
    proposal = tracing.run(world.deps, CDC_A, world.positive_case())
    before = len(world.store.facts)
    rejected = tracing.reject(world.deps, CDC_B, proposal.id, "check-ins were a test device")
    assert rejected.state is ProposalState.REJECTED
    assert len(world.store.facts) == before
    assert world.color(CLOSE) == "green"


def test_second_degree_tracing_proposes_the_close_contacts_of_approved_close_contacts(world: World) -> None:
    first = tracing.run(world.deps, CDC_A, world.positive_case())
    with pytest.raises(Conflict):
        tracing.run_second_degree(world.deps, CDC_A, first.id)  # not decided yet
    tracing.approve(world.deps, CDC_B, first.id, None)
    second = tracing.run_second_degree(world.deps, CDC_A, first.id)
    assert second.degree == 2
    assert second.parent_id == first.id
    assert {c.resident_id for c in second.proposable()} == {SECOND}
    # The forwarded code's user was at the cafe with the close contact too: listed, weak only.
    assert {c.resident_id: c.grade for c in second.contacts}[FORWARDED] is ContactGrade.WEAK_ONLY
    decided = tracing.approve(world.deps, CDC_B, second.id, None)
    fact = world.store.facts[next(c.fact_id for c in decided.contacts if c.resident_id == SECOND) or ""]
    assert fact.kind is FactKind.SECONDARY_CONTACT
    assert world.color(SECOND) == "yellow"


@pytest.mark.parametrize("actor", [CDC_SHENZHEN, WORKER, LAB], ids=["other-city", "community", "lab"])
def test_tracing_is_for_the_cdc_of_the_cases_jurisdiction(world: World, actor: StaffActor) -> None:
    case_id = world.positive_case()
    with pytest.raises(PermissionDenied):
        tracing.run(world.deps, actor, case_id)
    proposal = tracing.run(world.deps, CDC_A, case_id)
    with pytest.raises(PermissionDenied):
        tracing.approve(world.deps, actor, proposal.id, None)
    with pytest.raises(PermissionDenied):
        cases.propose_transition(world.deps, actor, case_id, CaseState.CONFIRMED)


def test_case_transitions_are_facts_under_dual_control_and_closing_is_immediate(world: World) -> None:
    case_id = world.positive_case()
    confirm = cases.propose_transition(world.deps, CDC_A, case_id, CaseState.CONFIRMED)
    assert confirm.state is FactState.PROPOSED
    assert world.store.cases[case_id].state is CaseState.SUSPECTED
    facts.approve(world.deps, CDC_B, confirm.id)
    assert world.store.cases[case_id].state is CaseState.CONFIRMED
    with pytest.raises(Conflict) as invalid:
        cases.propose_transition(world.deps, CDC_A, case_id, CaseState.SUSPECTED)
    assert invalid.value.reason == "case_transition_invalid"
    recovered = cases.propose_transition(world.deps, CDC_A, case_id, CaseState.RECOVERED)
    assert recovered.state is FactState.ACTIVE
    assert world.store.cases[case_id].state is CaseState.RECOVERED
    with pytest.raises(Conflict):
        tracing.run(world.deps, CDC_A, case_id)  # a recovered case is not traced


def test_a_case_the_cdc_opens_waits_for_approval_and_a_rejected_opening_closes_it(world: World) -> None:
    onset = world.clock.now() - timedelta(days=1)
    case, fact = cases.open_case(world.deps, CDC_A, cases.NewCase(FAR, CaseState.CONFIRMED, onset_at=onset))
    assert case.state is CaseState.PROPOSED
    assert world.color(FAR) == "green"
    with pytest.raises(Conflict):
        tracing.run(world.deps, CDC_A, case.id)
    facts.reject(world.deps, CDC_B, fact.id, "wrong person")
    assert world.store.cases[case.id].state is CaseState.CLOSED
    other, fact = cases.open_case(world.deps, CDC_A, cases.NewCase(FAR, CaseState.CONFIRMED, onset_at=onset))
    facts.approve(world.deps, CDC_B, fact.id)
    assert world.store.cases[other.id].state is CaseState.CONFIRMED
    assert world.color(FAR) == "red"
    assert world.store.cases[other.id].infectious_window(timedelta(days=2)) == (
        onset - timedelta(days=2),
        other.opened_at,
    )


def test_a_case_cannot_open_in_a_closed_state_or_for_a_resident_elsewhere(world: World) -> None:
    with pytest.raises(InvalidInput):
        cases.open_case(world.deps, CDC_A, cases.NewCase(FAR, CaseState.RECOVERED))
    with pytest.raises(PermissionDenied):
        cases.open_case(world.deps, CDC_SHENZHEN, cases.NewCase(FAR, CaseState.CONFIRMED))


def test_a_case_fact_can_only_move_the_case_of_the_person_it_is_about(world: World) -> None:
    case_id = world.positive_case()
    with pytest.raises(InvalidInput) as refused:
        facts.record(
            world.deps, CDC_A, NewFact(FAR, "case", {"classification": "excluded", "case_id": case_id})
        )
    assert refused.value.reason == "case_not_of_subject"
    assert world.store.cases[case_id].state is CaseState.SUSPECTED
