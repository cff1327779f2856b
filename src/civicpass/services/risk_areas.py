"""Risk areas, and the facts civicpass derives from what residents declare.

A health declaration or daily check-in becomes a fact the rules read (fever, symptoms, normal days).
A trip declaration becomes a risk-area arrival for each visited place that lay in a declared high- or
medium-risk area while the resident was there. Derived facts name their source and authority.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from civicpass.domain.declarations import Declaration
from civicpass.domain.errors import FieldError, InvalidInput, Message
from civicpass.domain.facts import Fact, FactKind, FactSource, FactState
from civicpass.domain.features import iso
from civicpass.domain.policy import Action, StaffActor, Target, authorize
from civicpass.domain.regions import check_region_code, is_region_code, prefix_of
from civicpass.services.context import Deps
from civicpass.services.ports import RiskArea, UnitOfWork

RISK_LEVELS = ("high", "medium")
ARRIVAL_FACT_DAYS = 21
ARRIVAL = timedelta(days=ARRIVAL_FACT_DAYS)
RISK_AREA_AUTHORITY = "system:risk-area-list"


def declare(
    deps: Deps,
    actor: StaffActor,
    region_code: str,
    level: str,
    valid_from: datetime,
    valid_to: datetime | None,
) -> RiskArea:
    """The CDC declares a high- or medium-risk area for a period (its jurisdiction only)."""
    check_region_code(region_code)
    if level not in RISK_LEVELS:
        raise InvalidInput(
            "risk_level_unknown",
            Message("a risk area is high or medium", "风险等级应为高或中"),
            errors=[FieldError(("level",), "risk_level_unknown", "high or medium")],
        )
    if valid_to is not None and valid_to <= valid_from:
        raise InvalidInput(
            "period_invalid",
            Message("the period must end after it starts", "结束时间应晚于开始时间"),
            errors=[FieldError(("valid_to",), "period_invalid", "after valid_from")],
        )
    authorize(actor, Action.RISK_AREA_DECLARE, Target(region=region_code)).enforce()
    area = RiskArea(
        deps.random.new_id(), region_code, level, valid_from, valid_to, actor.id, deps.clock.now()
    )
    with deps.uow() as uow:
        uow.risk_areas.add(area)
        uow.events.add(
            "risk_area:region:declared",
            {"region": region_code, "level": level, "by": actor.id},
            area.declared_at,
        )
        uow.commit()
    return area


def in_effect(deps: Deps) -> list[RiskArea]:
    now = deps.clock.now()
    with deps.uow() as uow:
        return uow.risk_areas.overlapping(now, now)


def risk_level(uow: UnitOfWork, region: str, start: datetime, end: datetime) -> str | None:
    """The highest risk level declared for ``region`` at any time of a stay [start, end), if any."""
    return AreaIndex(uow.risk_areas.overlapping(start, end)).level(region, start, end)


class AreaIndex:
    """Risk areas by the code prefix of their region, so that the level of many stays (a travel feed's
    batch) is found from one read of the areas of their whole period, without a query each."""

    def __init__(self, areas: Iterable[RiskArea]) -> None:
        self._by_prefix: dict[str, list[RiskArea]] = {}
        for area in areas:
            if is_region_code(area.region_code):  # ``contains`` holds for no other
                self._by_prefix.setdefault(prefix_of(area.region_code), []).append(area)

    def containing(self, region: str) -> list[RiskArea]:
        """The areas that contain ``region``, at any time (``regions.contains``: the area's code prefix
        starts the region's code)."""
        found = self._by_prefix.get(region[:2], []) + self._by_prefix.get(region[:4], [])
        found += self._by_prefix.get(region, [])
        return found if found and is_region_code(region) else []

    def level(self, region: str, start: datetime, end: datetime) -> str | None:
        """The highest level of the areas that contain ``region`` and were declared at any time of the
        stay [start, end), if any."""
        return highest_level(self.containing(region), start, end)


def highest_level(areas: Iterable[RiskArea], start: datetime, end: datetime) -> str | None:
    """The highest level of these areas declared at any time of [start, end), if any."""
    levels = {a.level for a in areas if a.valid_from < end and (a.valid_to is None or a.valid_to > start)}
    return "high" if "high" in levels else "medium" if levels else None


def arrival_expires(arrived: datetime, learned: datetime) -> datetime:
    """When an arrival fact stops holding: ``ARRIVAL`` from the arrival, however late it was learned of;
    from when it was learned if the arrival is still to come (a planned one: a year typed wrong must not
    hold a code for years)."""
    return min(arrived, learned).astimezone(UTC) + ARRIVAL


def _local_midnight(day: str, deps: Deps) -> datetime:
    return datetime.combine(date.fromisoformat(day), time(0), tzinfo=deps.zone)


def facts_from_declaration(uow: UnitOfWork, deps: Deps, declaration: Declaration) -> list[Fact]:
    """The facts a declaration gives the rules (none for forms the rules do not read)."""
    now = declaration.submitted_at
    answers: dict[str, Any] = dict(declaration.answers)

    def fact(kind: FactKind, data: dict[str, Any], expires: datetime, source: FactSource, by: str) -> Fact:
        """A fact the declaration gives, in effect from its submission."""
        return Fact(
            id=deps.random.new_id(),
            subject_id=declaration.subject_id,
            kind=kind,
            data=data,
            source=source,
            authority=by,
            effective_at=now,
            expires_at=expires,
            recorded_at=now,
            state=FactState.ACTIVE,
            note=f"declaration {declaration.id}",
        )

    declared, by = now + timedelta(days=deps.limits.declared_fact_days), declaration.submitted_by
    if declaration.form_key == "health":
        data = {"temperature_c": answers["temperature_c"], "symptoms": list(answers.get("symptoms", []))}
        return [fact(FactKind.HEALTH_DECLARATION, data, declared, FactSource.RESIDENT, by)]
    if declaration.form_key == "daily_checkin":
        data = {
            "temperature_c": answers["temperature_c"],
            "feels_well": answers["feels_well"],
            "symptoms": list(answers.get("symptoms", [])),
        }
        return [fact(FactKind.DAILY_CHECKIN, data, declared, FactSource.RESIDENT, by)]
    if declaration.form_key != "trip":
        return []
    arrival_day = (answers.get("planned_arrival") or {}).get("date")
    found = []
    for place in answers.get("places", []):
        if not is_region_code(place["place"]):
            continue
        start, end = (
            _local_midnight(place["from"], deps),
            _local_midnight(place["to"], deps) + timedelta(days=1),
        )
        level = risk_level(uow, place["place"], start, end)
        if level is None:
            continue
        arrived = _local_midnight(arrival_day or place["to"], deps)
        data = {
            "region": place["place"],
            "level": level,
            "arrived_at": iso(arrived),
        }
        found.append(
            fact(
                FactKind.RISK_AREA_ARRIVAL,
                data,
                arrival_expires(arrived, now),
                FactSource.SYSTEM,
                RISK_AREA_AUTHORITY,
            )
        )
    return found
