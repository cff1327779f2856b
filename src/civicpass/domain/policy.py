"""The one authorisation policy: every decision goes through ``authorize`` and comes back with reasons.

Policies are data: ``PERMISSIONS`` says which roles may take each action. An action that is not in the
table, an actor without a role for it, or a target outside the actor's jurisdiction means **deny**.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from civicpass.domain.errors import Message, PermissionDenied
from civicpass.domain.regions import contains
from civicpass.domain.staff import Role


class Action(StrEnum):
    RESIDENT_APP = "resident:app"
    STAFF_CONSOLE = "staff:console"
    RESIDENT_PII_READ = "resident:pii:read"
    RESIDENT_LIST = "resident:list"
    FORM_PUBLISH = "form:publish"
    STAFF_CREATE = "staff:create"
    ACCESS_LOG_READ = "access_log:read"
    FACT_RECORD = "fact:record"
    FACT_APPROVE = "fact:approve"
    RULESET_PROPOSE = "ruleset:propose"
    RULESET_APPROVE = "ruleset:approve"
    RISK_AREA_DECLARE = "risk_area:declare"
    CODE_VERIFY = "code:verify_online"
    VENUE_MANAGE = "venue:manage"
    DECLARE_FOR = "declaration:submit_for"
    DEPENDENT_MANAGE = "dependent:manage"
    CASE_MANAGE = "case:manage"
    TRACING_RUN = "tracing:run"
    TRACING_APPROVE = "tracing:approve"
    FEED_MANAGE = "feed:manage"
    TASK_WORK = "task:work"
    APPEAL_FILE = "appeal:file"
    APPEAL_DECIDE = "appeal:decide"


PERMISSIONS: dict[Action, frozenset[Role]] = {
    Action.RESIDENT_PII_READ: frozenset({Role.CDC, Role.COMMUNITY_WORKER}),
    Action.RESIDENT_LIST: frozenset({Role.CDC, Role.COMMUNITY_WORKER}),
    Action.FORM_PUBLISH: frozenset({Role.ADMIN, Role.CDC}),
    Action.STAFF_CREATE: frozenset({Role.ADMIN}),
    Action.ACCESS_LOG_READ: frozenset({Role.AUDITOR}),
    Action.FACT_RECORD: frozenset({Role.CDC, Role.COMMUNITY_WORKER, Role.LAB}),
    Action.FACT_APPROVE: frozenset({Role.CDC}),
    Action.RULESET_PROPOSE: frozenset({Role.CDC}),
    Action.RULESET_APPROVE: frozenset({Role.CDC}),
    Action.RISK_AREA_DECLARE: frozenset({Role.CDC}),
    Action.CODE_VERIFY: frozenset({Role.CHECKPOINT_OPERATOR, Role.CDC, Role.COMMUNITY_WORKER}),
    Action.VENUE_MANAGE: frozenset({Role.VENUE_OPERATOR, Role.ADMIN}),
    Action.CASE_MANAGE: frozenset({Role.CDC}),
    Action.TRACING_RUN: frozenset({Role.CDC}),
    Action.TRACING_APPROVE: frozenset({Role.CDC}),
    Action.FEED_MANAGE: frozenset({Role.ADMIN}),
    Action.TASK_WORK: frozenset({Role.COMMUNITY_WORKER, Role.CDC}),
    Action.APPEAL_DECIDE: frozenset({Role.CDC}),
}
"""Staff actions and the roles allowed to take them. Resident actions are decided by guardianship."""

FACT_KINDS: dict[Role, frozenset[str]] = {
    Role.LAB: frozenset({"test_result", "vaccination"}),
    Role.COMMUNITY_WORKER: frozenset({"test_result", "isolation_order", "risk_area_arrival"}),
    Role.CDC: frozenset(
        {
            "test_result",
            "vaccination",
            "case",
            "close_contact",
            "secondary_contact",
            "spatiotemporal_companion",
            "isolation_order",
            "risk_area_arrival",
            "peer_status",
        }
    ),
}
"""Which kinds of fact each role may record (``FACT_RECORD`` with ``Target.fact_kind``)."""


@dataclass(frozen=True)
class StaffActor:
    id: str
    role: Role
    jurisdiction: str


@dataclass(frozen=True)
class ResidentActor:
    id: str
    dependents: frozenset[str] = frozenset()


Actor = StaffActor | ResidentActor


@dataclass(frozen=True)
class Target:
    """What an action is about: a region (for jurisdiction), a resident (for guardianship), or nothing."""

    region: str | None = None
    resident_id: str | None = None
    fact_kind: str | None = None


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reasons: tuple[str, ...] = field(default_factory=tuple)

    def enforce(self) -> None:
        if not self.allowed:
            raise PermissionDenied(
                "permission_denied",
                Message(
                    "you may not do this: " + ", ".join(self.reasons),
                    "无权执行此操作：" + "，".join(self.reasons),
                ),
                extra={"reasons": list(self.reasons)},
            )


def authorize(actor: Actor | None, action: Action, target: Target = Target()) -> Decision:
    """Decide whether ``actor`` may take ``action`` on ``target``; deny unless a rule allows it.

    ``RESIDENT_APP`` and ``STAFF_CONSOLE`` gate whole route families by the kind of actor; the other
    actions are decided by role and jurisdiction (staff) or by guardianship (residents).
    """
    if actor is None:
        return Decision(False, ("not_authenticated",))
    if isinstance(actor, ResidentActor):
        return _authorize_resident(actor, action, target)
    return _authorize_staff(actor, action, target)


def _authorize_resident(actor: ResidentActor, action: Action, target: Target) -> Decision:
    if action is Action.RESIDENT_APP:
        return Decision(True, ("resident",))
    if action is Action.STAFF_CONSOLE:
        return Decision(False, ("staff_only",))
    if action not in (Action.DECLARE_FOR, Action.DEPENDENT_MANAGE, Action.APPEAL_FILE):
        return Decision(False, ("residents_may_not",))
    if target.resident_id is None:
        return Decision(False, ("target_missing",))
    if target.resident_id == actor.id and action in (Action.DECLARE_FOR, Action.APPEAL_FILE):
        return Decision(True, ("self",))
    if target.resident_id in actor.dependents:
        return Decision(True, ("guardian",))
    return Decision(False, ("not_guardian",))


def _authorize_staff(actor: StaffActor, action: Action, target: Target) -> Decision:
    if action is Action.STAFF_CONSOLE:
        return Decision(True, ("staff",))
    if action is Action.RESIDENT_APP:
        return Decision(False, ("residents_only",))
    roles = PERMISSIONS.get(action)
    if not roles:
        return Decision(False, ("no_rule_for_action",))
    if actor.role not in roles:
        return Decision(False, ("role_not_permitted",))
    if target.region is not None and not contains(actor.jurisdiction, target.region):
        return Decision(False, ("outside_jurisdiction",))
    if action is Action.FACT_RECORD and target.fact_kind not in FACT_KINDS.get(actor.role, frozenset()):
        return Decision(False, ("fact_kind_not_permitted",))
    return Decision(True, ("role_permitted", "inside_jurisdiction") if target.region else ("role_permitted",))
