"""The rule-set lifecycle (services/rulesets.py): propose, approve by a second CDC, sign, re-evaluate."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from civicpass.adapters.crypto.signing import verify_document
from civicpass.adapters.files import bundled_ruleset
from civicpass.domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from civicpass.domain.facts import Fact, FactKind, FactSource, FactState
from civicpass.domain.features import iso
from civicpass.domain.identity import Document, DocumentType
from civicpass.domain.policy import StaffActor
from civicpass.domain.residents import PersonalData, Resident, ResidentKind
from civicpass.domain.rulesets import RuleSetState
from civicpass.domain.staff import Role
from civicpass.services import rulesets
from civicpass.services import status as status_service
from civicpass.services.context import Deps
from tests.fakes import FakeClock, FakeStore, fake_deps

AUTHOR = StaffActor("cdc-1", Role.CDC, "440100")
APPROVER = StaffActor("cdc-2", Role.CDC, "440000")
RESIDENTS = ["r-1", "r-2", "r-3"]
DAY = timedelta(days=1)


def _resident(resident_id: str) -> Resident:
    return Resident(
        resident_id,
        "pseudonym-" + resident_id,
        ResidentKind.SELF,
        PersonalData(
            "张小三",
            Document(DocumentType.PASSPORT, "E" + resident_id),
            "+86138001380" + resident_id[-2:],
            None,
        ),
        None,
        "440106",
        True,
        datetime(2022, 1, 1, tzinfo=UTC),
    )


def _fact(subject: str, kind: FactKind, at: datetime, data: dict[str, Any]) -> Fact:
    return Fact(
        f"{subject}-{kind.value}-{at.isoformat()}",
        subject,
        kind,
        data,
        FactSource.SYSTEM,
        "test",
        at,
        at + 21 * DAY,
        at,
        FactState.ACTIVE,
    )


@pytest.fixture
def world() -> tuple[Deps, FakeStore, FakeClock]:
    deps, store, _, clock = fake_deps(recompute_batch=2)
    rulesets.install_bundled(deps, bundled_ruleset())
    for resident_id in RESIDENTS:
        store.residents[resident_id] = _resident(resident_id)
    return deps, store, clock


def _checkins_document() -> dict[str, Any]:
    document = copy.deepcopy(bundled_ruleset())
    document["parameters"]["yellow_release"] = "checkins"
    return document


# --- installing -----------------------------------------------------------------------------------


def test_installing_the_bundled_rule_set_makes_a_signed_active_version_1_once(
    world: tuple[Deps, FakeStore, FakeClock],
) -> None:
    deps, store, _ = world
    installed = store.rulesets[1]
    assert (installed.state, installed.proposed_by, installed.approved_by) == (
        RuleSetState.ACTIVE,
        None,
        None,
    )
    assert installed.signature is not None
    assert verify_document(deps.signer.public_key(), rulesets.signed_part(installed), installed.signature)
    assert rulesets.install_bundled(deps, bundled_ruleset()) is None
    assert list(store.rulesets) == [1]


def test_the_published_rule_set_carries_the_key_to_check_its_signature(
    world: tuple[Deps, FakeStore, FakeClock],
) -> None:
    deps, _, _ = world
    published = rulesets.published(deps)
    assert published.version.version == 1
    assert (published.key_id, published.public_key) == (deps.signer.key_id, deps.signer.public_key())
    assert published.version.signature is not None
    signed = rulesets.signed_part(published.version)
    assert signed == {"version": 1, "document": bundled_ruleset()}
    assert verify_document(published.public_key, signed, published.version.signature)


# --- proposing ------------------------------------------------------------------------------------


def test_a_cdc_proposal_is_stored_as_the_next_version_and_changes_nothing_yet(
    world: tuple[Deps, FakeStore, FakeClock],
) -> None:
    deps, store, clock = world
    proposal = rulesets.propose(deps, AUTHOR, _checkins_document())
    assert (proposal.version, proposal.state, proposal.proposed_by) == (2, RuleSetState.PROPOSED, "cdc-1")
    assert proposal.proposed_at == clock.now()
    assert proposal.signature is None
    assert store.rulesets[1].state is RuleSetState.ACTIVE
    assert rulesets.published(deps).version.version == 1
    assert ("ruleset:instance:proposed", {"version": 2, "by": "cdc-1"}) in store.events
    assert store.statuses == {}


@pytest.mark.parametrize("role", [r for r in Role if r is not Role.CDC])
def test_only_the_cdc_may_propose_or_approve_rule_sets(
    world: tuple[Deps, FakeStore, FakeClock], role: Role
) -> None:
    deps, store, _ = world
    actor = StaffActor("s-9", role, "440000")
    with pytest.raises(PermissionDenied) as proposing:
        rulesets.propose(deps, actor, _checkins_document())
    assert proposing.value.extra["reasons"] == ["role_not_permitted"]
    rulesets.propose(deps, AUTHOR, _checkins_document())
    with pytest.raises(PermissionDenied) as approving:
        rulesets.approve(deps, actor, 2)
    assert approving.value.extra["reasons"] == ["role_not_permitted"]
    assert store.rulesets[2].state is RuleSetState.PROPOSED


def test_an_invalid_proposal_is_refused_and_not_stored(world: tuple[Deps, FakeStore, FakeClock]) -> None:
    deps, store, _ = world
    document = _checkins_document()
    document["rules"][0]["color"] = "purple"
    with pytest.raises(InvalidInput):
        rulesets.propose(deps, AUTHOR, document)
    assert list(store.rulesets) == [1]


# --- approving ------------------------------------------------------------------------------------


def test_the_author_of_a_proposal_cannot_approve_it(world: tuple[Deps, FakeStore, FakeClock]) -> None:
    deps, store, _ = world
    rulesets.propose(deps, AUTHOR, _checkins_document())
    with pytest.raises(PermissionDenied) as raised:
        rulesets.approve(deps, AUTHOR, 2)
    assert raised.value.reason == "own_proposal"
    assert (store.rulesets[1].state, store.rulesets[2].state) == (RuleSetState.ACTIVE, RuleSetState.PROPOSED)


def test_approval_by_another_cdc_signs_activates_and_supersedes_the_previous_version(
    world: tuple[Deps, FakeStore, FakeClock],
) -> None:
    deps, store, clock = world
    rulesets.propose(deps, AUTHOR, _checkins_document())
    clock.advance(hours=3)
    activated, evaluated = rulesets.approve(deps, APPROVER, 2)
    assert activated.state is RuleSetState.ACTIVE
    assert (activated.approved_by, activated.approved_at) == ("cdc-2", clock.now())
    assert activated.signature is not None
    assert verify_document(deps.signer.public_key(), rulesets.signed_part(activated), activated.signature)
    tampered = {"version": 3, "document": _checkins_document()}
    assert not verify_document(deps.signer.public_key(), tampered, activated.signature)
    assert store.rulesets[1].state is RuleSetState.SUPERSEDED
    assert store.rulesets[2] == activated
    assert rulesets.published(deps).version.version == 2
    activation = next(p for e, p in store.events if e == "ruleset:instance:activated")
    assert activation == {
        "version": 2,
        "proposed_by": "cdc-1",
        "approved_by": "cdc-2",
        "signature": activated.signature,
    }
    assert evaluated == len(RESIDENTS)


def test_approval_re_evaluates_every_resident_in_batches_and_reports_progress(
    world: tuple[Deps, FakeStore, FakeClock],
) -> None:
    deps, store, _ = world
    rulesets.propose(deps, AUTHOR, _checkins_document())
    progress: list[tuple[int, int]] = []
    rulesets.approve(deps, APPROVER, 2, lambda done, total: progress.append((done, total)))
    assert progress == [(2, 3), (3, 3)]  # recompute_batch=2
    assert sorted(store.statuses) == RESIDENTS
    assert {s.ruleset_version for s in store.statuses.values()} == {2}


def test_a_decided_version_cannot_be_approved_again(world: tuple[Deps, FakeStore, FakeClock]) -> None:
    deps, _, _ = world
    rulesets.propose(deps, AUTHOR, _checkins_document())
    rulesets.approve(deps, APPROVER, 2)
    with pytest.raises(Conflict) as raised:
        rulesets.approve(deps, StaffActor("cdc-3", Role.CDC, "440100"), 2)
    assert raised.value.reason == "ruleset_not_proposed"
    with pytest.raises(Conflict):
        rulesets.approve(deps, APPROVER, 1)


def test_approving_an_unknown_version_is_not_found(world: tuple[Deps, FakeStore, FakeClock]) -> None:
    deps, _, _ = world
    with pytest.raises(NotFound) as raised:
        rulesets.approve(deps, APPROVER, 7)
    assert raised.value.reason == "ruleset_not_found"


def test_the_author_may_withdraw_a_proposal_and_the_active_version_stays(
    world: tuple[Deps, FakeStore, FakeClock],
) -> None:
    deps, store, _ = world
    rulesets.propose(deps, AUTHOR, _checkins_document())
    rejected = rulesets.reject(deps, AUTHOR, 2)
    assert rejected.state is RuleSetState.REJECTED
    assert store.rulesets[1].state is RuleSetState.ACTIVE
    with pytest.raises(Conflict):
        rulesets.approve(deps, APPROVER, 2)
    assert [v.version for v in rulesets.listing(deps, APPROVER)] == [1, 2]


def test_switching_yellow_release_to_checkins_changes_residents_reasons_after_approval(
    world: tuple[Deps, FakeStore, FakeClock],
) -> None:
    deps, store, clock = world
    arrived = clock.now() - 8 * DAY
    arrival = {"region": "420106", "level": "medium", "arrived_at": iso(arrived)}
    store.facts["a-1"] = _fact("r-1", FactKind.RISK_AREA_ARRIVAL, arrived, arrival)
    store.facts["a-2"] = _fact("r-2", FactKind.RISK_AREA_ARRIVAL, arrived, arrival)
    for day in range(1, 8):  # r-2 checked in normally on each of the 7 days after arriving
        at = arrived + day * DAY
        store.facts[f"c-{day}"] = _fact(
            "r-2", FactKind.DAILY_CHECKIN, at, {"temperature_c": 36.6, "feels_well": True, "symptoms": []}
        )
    status_service.recompute(deps, RESIDENTS)
    before = {rid: [r["rule_id"] for r in store.statuses[rid].reasons] for rid in RESIDENTS}
    assert before == {
        "r-1": ["YELLOW-RISK-AREA-ARRIVAL-TESTS"],
        "r-2": ["YELLOW-RISK-AREA-ARRIVAL-TESTS"],
        "r-3": [],
    }

    rulesets.propose(deps, AUTHOR, _checkins_document())
    assert store.statuses["r-1"].reasons[0]["rule_id"] == "YELLOW-RISK-AREA-ARRIVAL-TESTS"
    rulesets.approve(deps, APPROVER, 2)

    r1, r2, r3 = (store.statuses[rid] for rid in RESIDENTS)
    assert (r1.color, [r["rule_id"] for r in r1.reasons]) == ("yellow", ["YELLOW-RISK-AREA-ARRIVAL-CHECKINS"])
    assert "(0 so far)" in r1.reasons[0]["release"]["en"]
    assert (r1.version, r1.ruleset_version) == (2, 2)
    assert (r2.color, r2.reasons, r2.version) == ("green", [], 2)
    assert (r3.color, r3.version) == ("green", 1)
