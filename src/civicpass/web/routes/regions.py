"""GB/T 2260 administrative divisions, for pickers and jurisdictions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path

from civicpass.services import regions
from civicpass.web.deps import ServiceDeps
from civicpass.web.schemas import region_view

router = APIRouter(prefix="/v1/regions", tags=["regions"])


@router.get("")
def provinces(deps: ServiceDeps) -> list[dict[str, Any]]:
    """The province-level divisions."""
    return [region_view(r) for r in regions.top_level(deps)]


@router.get("/{code}")
def region(deps: ServiceDeps, code: str = Path(pattern=r"^\d{6}$")) -> dict[str, Any]:
    """One division and its direct children."""
    found, children = regions.get_region(deps, code)
    return {**region_view(found), "children": [region_view(c) for c in children]}
