"""Rule-set lifecycle: propose, approve by a second person, sign, activate, re-evaluate everyone."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from civicpass.domain.errors import Message, NotFound
from civicpass.domain.policy import Action, StaffActor, authorize
from civicpass.domain.rulesets import (
    RuleSetState,
    RuleSetVersion,
    approve_version,
    parse_ruleset,
    reject_version,
)
from civicpass.services.context import Deps
from civicpass.services.ports import UnitOfWork
from civicpass.services.status import active_ruleset, recompute_everyone


@dataclass(frozen=True)
class PublishedRuleSet:
    """The active rule set as downloaded: the document, its signature and the key to check it with."""

    version: RuleSetVersion
    key_id: str
    public_key: str


def install_bundled(deps: Deps, document: Mapping[str, Any]) -> RuleSetVersion | None:
    """At set-up, when no rule set exists at all, the shipped default becomes version 1 (signed)."""
    ruleset = parse_ruleset(document)
    with deps.uow() as uow:
        if uow.rulesets.latest_version() > 0:
            return None
        now = deps.clock.now()
        installed = RuleSetVersion(
            version=1,
            state=RuleSetState.ACTIVE,
            ruleset=ruleset,
            proposed_by=None,
            proposed_at=now,
            approved_by=None,
            approved_at=now,
            signature=deps.signer.sign_document(_signed_part(1, ruleset.document)),
        )
        uow.rulesets.add(installed)
        uow.events.add("ruleset:instance:installed", {"version": 1, "identifier": ruleset.identifier}, now)
        uow.commit()
    return installed


def _signed_part(version: int, document: Mapping[str, Any]) -> dict[str, Any]:
    """What the signature covers: the version number and the document exactly as stored."""
    return {"version": version, "document": dict(document)}


def propose(deps: Deps, actor: StaffActor, document: Mapping[str, Any]) -> RuleSetVersion:
    authorize(actor, Action.RULESET_PROPOSE).enforce()
    ruleset = parse_ruleset(document)
    now = deps.clock.now()
    with deps.uow() as uow:
        proposal = RuleSetVersion(
            uow.rulesets.latest_version() + 1, RuleSetState.PROPOSED, ruleset, actor.id, now
        )
        uow.rulesets.add(proposal)
        uow.events.add("ruleset:instance:proposed", {"version": proposal.version, "by": actor.id}, now)
        uow.commit()
    return proposal


def _get(uow: UnitOfWork, version: int) -> RuleSetVersion:
    found = uow.rulesets.get(version)
    if found is None:
        raise NotFound(
            "ruleset_not_found", Message(f"no rule set version {version}", f"规则集第{version}版不存在")
        )
    return found


def approve(
    deps: Deps, actor: StaffActor, version: int, progress: Callable[[int, int], None] | None = None
) -> tuple[RuleSetVersion, int]:
    """Activate a proposal approved by a second person, then re-evaluate every resident in batches."""
    authorize(actor, Action.RULESET_APPROVE).enforce()
    now = deps.clock.now()
    with deps.uow() as uow:
        proposal = _get(uow, version)
        signature = deps.signer.sign_document(_signed_part(version, proposal.ruleset.document))
        activated = approve_version(proposal, actor.id, now, signature)
        previous = uow.rulesets.active()
        if previous is not None:
            uow.rulesets.update(replace(previous, state=RuleSetState.SUPERSEDED))
        uow.rulesets.update(activated)
        uow.events.add(
            "ruleset:instance:activated",
            {
                "version": version,
                "proposed_by": proposal.proposed_by,
                "approved_by": actor.id,
                "signature": signature,
            },
            now,
        )
        uow.commit()
    return activated, recompute_everyone(deps, progress)


def reject(deps: Deps, actor: StaffActor, version: int) -> RuleSetVersion:
    authorize(actor, Action.RULESET_APPROVE).enforce()
    with deps.uow() as uow:
        rejected = reject_version(_get(uow, version), actor.id, deps.clock.now())
        uow.rulesets.update(rejected)
        uow.events.add("ruleset:instance:rejected", {"version": version, "by": actor.id}, deps.clock.now())
        uow.commit()
    return rejected


def published(deps: Deps) -> PublishedRuleSet:
    with deps.uow() as uow:
        active = active_ruleset(uow)
    return PublishedRuleSet(active, deps.signer.key_id, deps.signer.public_key())


def listing(deps: Deps, actor: StaffActor) -> list[RuleSetVersion]:
    authorize(actor, Action.RULESET_PROPOSE).enforce()
    with deps.uow() as uow:
        return uow.rulesets.all()


def signed_part(version: RuleSetVersion) -> dict[str, Any]:
    return _signed_part(version.version, version.ruleset.document)
