"""Rule sets: the active one is public and signed; new versions need a proposer and a different approver."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, status

from civicpass.services import rulesets
from civicpass.web.deps import CurrentStaff, ServiceDeps
from civicpass.web.schemas import RuleSetIn, ruleset_view

router = APIRouter(prefix="/v1/rule-sets", tags=["rule sets"])
Version = Path(ge=1, le=1_000_000)


@router.get("/active")
def active(deps: ServiceDeps) -> dict[str, Any]:
    """The rules in force: the signed document, the signature and the key to verify it (Ed25519 over RFC 8785)."""
    published = rulesets.published(deps)
    return {
        **ruleset_view(published.version),
        "signed": rulesets.signed_part(published.version),
        "signature": published.version.signature,
        "algorithm": "Ed25519 over RFC 8785 canonical JSON of 'signed'",
        "key_id": published.key_id,
        "public_key": published.public_key,
    }


@router.get("")
def listing(actor: CurrentStaff, deps: ServiceDeps) -> list[dict[str, Any]]:
    return [ruleset_view(v) for v in rulesets.listing(deps, actor)]


@router.post("", status_code=status.HTTP_201_CREATED)
def propose(body: RuleSetIn, actor: CurrentStaff, deps: ServiceDeps) -> dict[str, Any]:
    """Propose a new rule-set version (CDC); it takes effect only when another CDC member approves it."""
    return ruleset_view(rulesets.propose(deps, actor, body.document()))


@router.post("/{version}/approve")
def approve(actor: CurrentStaff, deps: ServiceDeps, version: int = Version) -> dict[str, Any]:
    """Approve and activate; every resident is re-evaluated under the new rules before this returns."""
    activated, evaluated = rulesets.approve(deps, actor, version)
    return {**ruleset_view(activated), "residents_evaluated": evaluated}


@router.post("/{version}/reject")
def reject(actor: CurrentStaff, deps: ServiceDeps, version: int = Version) -> dict[str, Any]:
    return ruleset_view(rulesets.reject(deps, actor, version))
