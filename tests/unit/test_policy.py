"""The one authorisation policy (domain/policy.py): every role x every action, jurisdiction, guardianship."""

from __future__ import annotations

import pytest

from civicpass.domain.errors import PermissionDenied
from civicpass.domain.policy import (
    PERMISSIONS,
    Action,
    Decision,
    ResidentActor,
    StaffActor,
    Target,
    authorize,
)
from civicpass.domain.staff import Role

# The specification, written out independently of PERMISSIONS so a change to the table shows up here.
ALLOWED: dict[Action, set[Role]] = {
    Action.RESIDENT_PII_READ: {Role.CDC, Role.COMMUNITY_WORKER},
    Action.RESIDENT_LIST: {Role.CDC, Role.COMMUNITY_WORKER},
    Action.FORM_PUBLISH: {Role.ADMIN, Role.CDC},
    Action.STAFF_CREATE: {Role.ADMIN},
    Action.ACCESS_LOG_READ: {Role.AUDITOR},
    Action.FACT_RECORD: {Role.CDC, Role.COMMUNITY_WORKER, Role.LAB},
    Action.FACT_APPROVE: {Role.CDC},
    Action.RULESET_PROPOSE: {Role.CDC},
    Action.RULESET_APPROVE: {Role.CDC},
    Action.RISK_AREA_DECLARE: {Role.CDC},
    Action.CODE_VERIFY: {Role.CHECKPOINT_OPERATOR, Role.CDC, Role.COMMUNITY_WORKER},
    Action.VENUE_MANAGE: {Role.VENUE_OPERATOR, Role.ADMIN},
    Action.CASE_MANAGE: {Role.CDC},
    Action.TRACING_RUN: {Role.CDC},
    Action.TRACING_APPROVE: {Role.CDC},
    Action.FEED_MANAGE: {Role.ADMIN},
    Action.TASK_WORK: {Role.COMMUNITY_WORKER, Role.CDC},
    Action.APPEAL_DECIDE: {Role.CDC},
}
# Fact kinds per role, again written out independently of FACT_KINDS.
RECORDABLE: dict[Role, set[str]] = {
    Role.LAB: {"test_result", "vaccination"},
    Role.COMMUNITY_WORKER: {"test_result", "isolation_order", "risk_area_arrival"},
    Role.CDC: {
        "test_result",
        "vaccination",
        "case",
        "close_contact",
        "secondary_contact",
        "spatiotemporal_companion",
        "isolation_order",
        "risk_area_arrival",
        "peer_status",
    },
}
STAFF_ACTIONS = list(ALLOWED)
RESIDENT_ACTIONS = [Action.DECLARE_FOR, Action.DEPENDENT_MANAGE, Action.APPEAL_FILE]
GATE_ACTIONS = [Action.RESIDENT_APP, Action.STAFF_CONSOLE]
MATRIX = [(role, action) for role in Role for action in STAFF_ACTIONS]
ALLOWED_PAIRS = [(role, action) for role, action in MATRIX if role in ALLOWED[action]]
DENIED_PAIRS = [(role, action) for role, action in MATRIX if role not in ALLOWED[action]]


def _staff(role: Role, jurisdiction: str = "440100") -> StaffActor:
    return StaffActor("staff-1", role, jurisdiction)


def _target(action: Action, region: str | None = None) -> Target:
    """A target every role listed for the action may act on (recording facts needs a kind)."""
    return Target(region=region, fact_kind="test_result" if action is Action.FACT_RECORD else None)


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("kind", sorted(set().union(*RECORDABLE.values())))
def test_each_role_records_only_its_kinds_of_fact(role: Role, kind: str) -> None:
    decision = authorize(_staff(role), Action.FACT_RECORD, Target(region="440106", fact_kind=kind))
    if kind in RECORDABLE.get(role, set()):
        assert decision.allowed
    elif role in ALLOWED[Action.FACT_RECORD]:
        assert decision == Decision(False, ("fact_kind_not_permitted",))
    else:
        assert decision == Decision(False, ("role_not_permitted",))


def test_the_permission_table_covers_exactly_the_staff_actions() -> None:
    assert {action: set(roles) for action, roles in PERMISSIONS.items()} == ALLOWED
    assert set(Action) == set(STAFF_ACTIONS) | set(RESIDENT_ACTIONS) | set(GATE_ACTIONS)


@pytest.mark.parametrize(("role", "action"), ALLOWED_PAIRS)
def test_a_role_listed_for_a_staff_action_is_allowed(role: Role, action: Action) -> None:
    assert authorize(_staff(role), action, _target(action)) == Decision(True, ("role_permitted",))


@pytest.mark.parametrize(("role", "action"), DENIED_PAIRS)
def test_a_role_not_listed_for_a_staff_action_is_denied_as_role_not_permitted(
    role: Role, action: Action
) -> None:
    assert authorize(_staff(role), action, _target(action)) == Decision(False, ("role_not_permitted",))


@pytest.mark.parametrize(("role", "action"), DENIED_PAIRS)
def test_a_role_not_listed_is_denied_even_inside_its_own_jurisdiction(role: Role, action: Action) -> None:
    decision = authorize(_staff(role), action, _target(action, "440106"))
    assert decision == Decision(False, ("role_not_permitted",))


@pytest.mark.parametrize(("role", "action"), ALLOWED_PAIRS)
def test_an_allowed_role_is_allowed_on_a_target_inside_its_jurisdiction(role: Role, action: Action) -> None:
    decision = authorize(_staff(role), action, _target(action, "440106"))
    assert decision == Decision(True, ("role_permitted", "inside_jurisdiction"))


@pytest.mark.parametrize(("role", "action"), ALLOWED_PAIRS)
@pytest.mark.parametrize(
    ("jurisdiction", "region"),
    [
        ("440100", "110105"),  # another province
        ("440100", "440300"),  # a sibling city
        ("440100", "440000"),  # the province above the city
        ("440106", "440104"),  # a sibling district
        ("440106", "440100"),  # the city above the district
        ("440100", "not-a-code"),
        ("440100", ""),
    ],
)
def test_an_allowed_role_is_denied_on_a_target_outside_its_jurisdiction(
    role: Role, action: Action, jurisdiction: str, region: str
) -> None:
    decision = authorize(_staff(role, jurisdiction), action, _target(action, region))
    assert decision == Decision(False, ("outside_jurisdiction",))


@pytest.mark.parametrize("action", STAFF_ACTIONS)
def test_a_staff_member_with_a_malformed_jurisdiction_reaches_no_region(action: Action) -> None:
    role = next(iter(ALLOWED[action]))
    assert authorize(_staff(role, "44"), action, _target(action, "440106")).reasons == (
        "outside_jurisdiction",
    )


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("action", RESIDENT_ACTIONS)
def test_staff_have_no_rule_for_resident_actions(role: Role, action: Action) -> None:
    decision = authorize(_staff(role), action, Target(resident_id="r-1"))
    assert decision == Decision(False, ("no_rule_for_action",))


@pytest.mark.parametrize("role", list(Role))
def test_every_staff_role_may_open_the_staff_console_but_not_the_resident_app(role: Role) -> None:
    assert authorize(_staff(role), Action.STAFF_CONSOLE) == Decision(True, ("staff",))
    assert authorize(_staff(role), Action.RESIDENT_APP) == Decision(False, ("residents_only",))


def test_a_resident_may_open_the_resident_app_but_not_the_staff_console() -> None:
    resident = ResidentActor("r-1", frozenset({"d-1"}))
    assert authorize(resident, Action.RESIDENT_APP) == Decision(True, ("resident",))
    assert authorize(resident, Action.STAFF_CONSOLE) == Decision(False, ("staff_only",))


def test_a_resident_may_declare_for_themself() -> None:
    assert authorize(ResidentActor("r-1"), Action.DECLARE_FOR, Target(resident_id="r-1")) == Decision(
        True, ("self",)
    )


@pytest.mark.parametrize("action", RESIDENT_ACTIONS)
def test_a_guardian_may_declare_for_and_manage_their_dependents(action: Action) -> None:
    guardian = ResidentActor("r-1", frozenset({"d-1", "d-2"}))
    assert authorize(guardian, action, Target(resident_id="d-2")) == Decision(True, ("guardian",))


def test_a_resident_may_not_manage_themself_as_a_dependent() -> None:
    decision = authorize(ResidentActor("r-1"), Action.DEPENDENT_MANAGE, Target(resident_id="r-1"))
    assert decision == Decision(False, ("not_guardian",))


@pytest.mark.parametrize("action", RESIDENT_ACTIONS)
def test_a_resident_is_denied_for_someone_who_is_not_their_dependent(action: Action) -> None:
    guardian = ResidentActor("r-1", frozenset({"d-1"}))
    assert authorize(guardian, action, Target(resident_id="d-9")) == Decision(False, ("not_guardian",))


@pytest.mark.parametrize("action", RESIDENT_ACTIONS)
def test_a_resident_action_without_a_target_resident_is_denied(action: Action) -> None:
    assert authorize(ResidentActor("r-1"), action, Target(region="440106")) == Decision(
        False, ("target_missing",)
    )


@pytest.mark.parametrize("action", STAFF_ACTIONS)
def test_residents_may_not_take_staff_actions(action: Action) -> None:
    resident = ResidentActor("r-1", frozenset({"d-1"}))
    assert authorize(resident, action, Target(region="440106", resident_id="r-1")) == Decision(
        False, ("residents_may_not",)
    )


@pytest.mark.parametrize("action", list(Action))
def test_no_actor_is_denied_as_not_authenticated(action: Action) -> None:
    assert authorize(None, action, Target(region="440106", resident_id="r-1")) == Decision(
        False, ("not_authenticated",)
    )


def test_enforcing_an_allowed_decision_does_nothing() -> None:
    Decision(True, ("role_permitted",)).enforce()


def test_enforcing_a_denied_decision_raises_permission_denied_with_its_reasons() -> None:
    decision = authorize(_staff(Role.CDC, "440106"), Action.RESIDENT_PII_READ, Target(region="110105"))
    with pytest.raises(PermissionDenied) as caught:
        decision.enforce()
    assert caught.value.reason == "permission_denied"
    assert caught.value.extra == {"reasons": ["outside_jurisdiction"]}
    assert "outside_jurisdiction" in caught.value.message.en
    assert "outside_jurisdiction" in caught.value.message.zh
