"""Staff record facts (never colors); facts that could raise a color wait for a second person."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, status

from civicpass.services import facts, risk_areas
from civicpass.services.ports import RiskArea
from civicpass.web.deps import CurrentStaff, ServiceDeps
from civicpass.web.schemas import FactIn, RejectIn, RiskAreaIn, fact_view

router = APIRouter(prefix="/v1", tags=["facts"])


@router.post("/staff/facts", status_code=status.HTTP_201_CREATED)
def record_fact(body: FactIn, actor: CurrentStaff, deps: ServiceDeps) -> dict[str, Any]:
    """Record a fact about a resident. ``state`` says whether it is active or awaits approval."""
    new = facts.NewFact(body.subject_id, body.kind, body.data, body.effective_at, body.expires_at, body.note)
    return fact_view(facts.record(deps, actor, new))


@router.get("/staff/facts/proposals")
def proposals(
    actor: CurrentStaff, deps: ServiceDeps, limit: int = Query(100, ge=1, le=500)
) -> list[dict[str, Any]]:
    """Proposed facts in your jurisdiction, waiting for a second person."""
    return [fact_view(f) for f in facts.proposals(deps, actor, limit)]


@router.post("/staff/facts/{fact_id}/approve")
def approve_fact(fact_id: str, actor: CurrentStaff, deps: ServiceDeps) -> dict[str, Any]:
    """Approve someone else's proposal; the resident's status is re-evaluated at once."""
    return fact_view(facts.approve(deps, actor, fact_id))


@router.post("/staff/facts/{fact_id}/reject")
def reject_fact(fact_id: str, body: RejectIn, actor: CurrentStaff, deps: ServiceDeps) -> dict[str, Any]:
    return fact_view(facts.reject(deps, actor, fact_id, body.note))


@router.post("/staff/risk-areas", status_code=status.HTTP_201_CREATED)
def declare_risk_area(body: RiskAreaIn, actor: CurrentStaff, deps: ServiceDeps) -> dict[str, Any]:
    """Declare a high- or medium-risk area for a period; trip declarations are checked against it."""
    area = risk_areas.declare(deps, actor, body.region_code, body.level, body.valid_from, body.valid_to)
    return _area_view(area)


@router.get("/risk-areas")
def risk_areas_in_effect(deps: ServiceDeps) -> list[dict[str, Any]]:
    """The risk areas in effect now (public)."""
    return [_area_view(a) for a in risk_areas.in_effect(deps)]


def _area_view(area: RiskArea) -> dict[str, Any]:
    return {
        "id": area.id,
        "region_code": area.region_code,
        "level": area.level,
        "valid_from": area.valid_from.isoformat(),
        "valid_to": area.valid_to.isoformat() if area.valid_to else None,
    }
