"""A resident's status with its explanation (GB/T 38963: health information query)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request

from civicpass.services import status
from civicpass.web.deps import CurrentResident, ServiceDeps
from civicpass.web.problems import language
from civicpass.web.schemas import status_view

router = APIRouter(prefix="/v1/me", tags=["status"])


@router.get("/status")
def my_status(request: Request, actor: CurrentResident, deps: ServiceDeps) -> dict[str, Any]:
    """Your color, every reason for it and what would release it, in zh-CN and en."""
    return status_view(status.current(deps, actor, actor.id), deps.zone, language(request))


@router.get("/dependents/{dependent_id}/status")
def dependent_status(
    dependent_id: str, request: Request, actor: CurrentResident, deps: ServiceDeps
) -> dict[str, Any]:
    """A dependent's color, declared by proxy."""
    return {
        **status_view(status.current(deps, actor, dependent_id), deps.zone, language(request)),
        "by_proxy": True,
    }


@router.get("/status/history")
def my_status_history(
    request: Request,
    actor: CurrentResident,
    deps: ServiceDeps,
    subject_id: str | None = Query(None, max_length=36),
    limit: int = Query(50, ge=1, le=200),
) -> list[dict[str, Any]]:
    """Every version of your status (or a dependent's), newest first."""
    lang = language(request)
    return [
        status_view(s, deps.zone, lang) for s in status.history(deps, actor, subject_id or actor.id, limit)
    ]
