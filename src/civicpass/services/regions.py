"""Administrative divisions: loading a GB/T 2260 list and browsing it."""

from __future__ import annotations

from collections.abc import Iterable

from civicpass.domain.errors import Message, NotFound
from civicpass.domain.regions import Region
from civicpass.services.context import Deps


def load_regions(deps: Deps, regions: Iterable[Region]) -> int:
    """Insert or update divisions; loading the same list twice changes nothing. Returns rows written."""
    with deps.uow() as uow:
        count = uow.regions.upsert_many(regions)
        uow.commit()
    return count


def get_region(deps: Deps, code: str) -> tuple[Region, list[Region]]:
    with deps.uow() as uow:
        region = uow.regions.get(code)
        if region is None:
            raise NotFound("region_not_found", Message(f"no region {code}", f"行政区划 {code} 不存在"))
        return region, uow.regions.children(code)


def top_level(deps: Deps) -> list[Region]:
    with deps.uow() as uow:
        return uow.regions.children(None)
