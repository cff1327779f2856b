"""Venue registry, rotating venue codes and check-ins with graded evidence (场所码 / 乘车登记码).

A check-in is acknowledged only after its transaction committed; a retried request with the same client id
returns the stored check-in instead of a second one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from civicpass.domain.checkins import (
    CheckIn,
    Direction,
    Evidence,
    GradingPolicy,
    Location,
    Method,
    Scan,
    grade_scan,
)
from civicpass.domain.codes import Rejection
from civicpass.domain.errors import Conflict, FieldError, InvalidInput, Message, NotFound, PermissionDenied
from civicpass.domain.policy import Action, ResidentActor, StaffActor, Target, authorize
from civicpass.domain.regions import check_region_code, prefix_of
from civicpass.domain.staff import Role
from civicpass.domain.venues import STATIC_CODE_LIFETIME, Venue, VenueCodeClaims, VenueKind, window_start
from civicpass.services.context import Deps
from civicpass.services.ports import UnitOfWork
from civicpass.services.trust import own_trust_list

ACCEPTED_PAST = timedelta(hours=24)
"""A phone that was offline may send a scan up to a day late; older scans are refused."""


def _policy(deps: Deps) -> GradingPolicy:
    return GradingPolicy(window=timedelta(seconds=deps.limits.venue_code_window_seconds))


# -- registry ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewVenue:
    name: str
    kind: str
    region_code: str
    lat: float | None = None
    lon: float | None = None


def register_venue(deps: Deps, actor: StaffActor, new: NewVenue) -> Venue:
    """A venue operator registers a venue or vehicle of their own; an administrator any in their jurisdiction."""
    check_region_code(new.region_code)
    try:
        kind = VenueKind(new.kind)
    except ValueError:
        raise InvalidInput(
            "venue_kind_unknown",
            Message(f"unknown venue kind {new.kind!r}", "未知的场所类型"),
            errors=[FieldError(("kind",), "venue_kind_unknown", ", ".join(k.value for k in VenueKind))],
        ) from None
    name = " ".join(new.name.split())
    if not 1 <= len(name) <= 200:
        raise InvalidInput(
            "venue_name_invalid", Message("a venue name has 1 to 200 characters", "场所名称应为1至200个字符")
        )
    authorize(actor, Action.VENUE_MANAGE, Target(region=new.region_code)).enforce()
    venue = Venue(
        id=deps.random.new_id(),
        name=name,
        kind=kind,
        region_code=new.region_code,
        created_at=deps.clock.now(),
        lat=new.lat,
        lon=new.lon,
        operator_id=actor.id if actor.role is Role.VENUE_OPERATOR else None,
    )
    with deps.uow() as uow:
        uow.venues.add(venue)
        uow.events.add(
            "venue:registry:registered",
            {"venue": venue.id, "kind": kind.value, "by": actor.id},
            venue.created_at,
        )
        uow.commit()
    return venue


def _managed_venue(uow: UnitOfWork, actor: StaffActor, venue_id: str) -> Venue:
    venue = uow.venues.get(venue_id)
    if venue is None:
        raise NotFound("venue_not_found", Message("no such venue", "场所不存在"))
    authorize(actor, Action.VENUE_MANAGE, Target(region=venue.region_code)).enforce()
    if actor.role is Role.VENUE_OPERATOR and venue.operator_id != actor.id:
        raise PermissionDenied(
            "not_venue_operator",
            Message("you do not operate this venue", "您不是该场所的运营方"),
            extra={"reasons": ["not_venue_operator"]},
        )
    return venue


def venues_of(deps: Deps, actor: StaffActor) -> list[Venue]:
    authorize(actor, Action.VENUE_MANAGE, Target(region=actor.jurisdiction)).enforce()
    with deps.uow() as uow:
        if actor.role is Role.VENUE_OPERATOR:
            return uow.venues.of_operator(actor.id)
        return uow.venues.in_region(prefix_of(actor.jurisdiction), 200, 0)


@dataclass(frozen=True)
class VenueCode:
    token: str
    claims: VenueCodeClaims


def venue_code(deps: Deps, actor: StaffActor, venue_id: str, *, static: bool = False) -> VenueCode:
    """The venue's current rotating code (or its printable static code, which is graded weaker)."""
    now = deps.clock.now()
    with deps.uow() as uow:
        venue = _managed_venue(uow, actor, venue_id)
    window = timedelta(seconds=deps.limits.venue_code_window_seconds)
    start = now.replace(microsecond=0) if static else window_start(now, window)
    end = start + (STATIC_CODE_LIFETIME if static else window)
    claims = VenueCodeClaims(deps.issuer.id, venue.id, start, end, deps.random.nonce(), static)
    return VenueCode(deps.codec.issue_venue(claims, deps.keystore.active(now)), claims)


def hourly_counts(
    deps: Deps, actor: StaffActor, venue_id: str, hours: int
) -> list[tuple[datetime, int | None]]:
    """Check-ins per hour at the operator's own venue; counts below the minimum are suppressed (None)."""
    now = deps.clock.now()
    with deps.uow() as uow:
        venue = _managed_venue(uow, actor, venue_id)
        counts = uow.checkins.hourly_counts(venue.id, now - timedelta(hours=hours), now)
    floor = deps.limits.min_count_shown
    return [(hour.astimezone(deps.zone), n if n >= floor else None) for hour, n in counts]


# -- check-ins --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScanIn:
    venue_code: str
    client_id: str
    scanned_at: datetime
    location: Location | None = None
    subject_id: str | None = None
    direction: Direction | None = None


def _check_time(deps: Deps, scanned_at: datetime) -> None:
    now = deps.clock.now()
    skew = timedelta(seconds=deps.limits.code_skew_seconds)
    if not now - ACCEPTED_PAST <= scanned_at <= now + skew:
        raise InvalidInput(
            "scan_time_invalid",
            Message("the scan time must be within the last 24 hours", "扫码时间应在24小时之内"),
            errors=[FieldError(("scanned_at",), "scan_time_invalid", "within the last 24 hours")],
        )


def check_in(deps: Deps, actor: ResidentActor, scan: ScanIn) -> tuple[CheckIn, bool]:
    """A resident (or guardian for a dependent) scanned a venue code. Returns (check-in, newly stored)."""
    subject = scan.subject_id or actor.id
    authorize(actor, Action.DECLARE_FOR, Target(resident_id=subject)).enforce()
    with deps.uow() as uow:  # a retry returns what was stored, however late it arrives
        existing = uow.checkins.find(subject, scan.client_id, scan.scanned_at)
    if existing is not None:
        return existing, False
    _check_time(deps, scan.scanned_at)
    opened = deps.codec.open_venue(scan.venue_code.strip(), own_trust_list(deps))
    if isinstance(opened, Rejection):
        raise InvalidInput(
            "venue_code_invalid",
            Message(f"this is not a valid venue code ({opened.value})", f"无效的场所码（{opened.value}）"),
            errors=[FieldError(("venue_code",), opened.value, "a venue code signed by this instance")],
        )
    try:
        return _store_scan(deps, subject, scan, opened)
    except Conflict:  # the same scan, retried concurrently, was stored first by the other request
        with deps.uow() as uow:
            stored = uow.checkins.find(subject, scan.client_id, scan.scanned_at)
        if stored is None:
            raise
        return stored, False


def _store_scan(deps: Deps, subject: str, scan: ScanIn, opened: VenueCodeClaims) -> tuple[CheckIn, bool]:
    policy = _policy(deps)
    with deps.uow() as uow:  # the caller looked for a retry; a racing twin is caught by the unique key
        venue = uow.venues.get(opened.venue_id)
        if venue is None or not venue.active:
            raise NotFound(
                "venue_not_found", Message("this venue is not registered or not active", "场所未登记或已停用")
            )
        method = Method.STATIC_CODE if opened.static else Method.ROTATING_CODE
        rotating_window = None if opened.static else opened.window_start
        around = policy.forwarding_within + policy.replay_after
        prior = uow.checkins.prior_uses(
            venue.id,
            rotating_window,
            scan.scanned_at - around,
            scan.scanned_at + around,
            subject,
            located=scan.location is not None,
        )
        venue_location = (
            Location(venue.lat, venue.lon) if venue.lat is not None and venue.lon is not None else None
        )
        graded = Scan(venue.id, method, scan.scanned_at, rotating_window, scan.location)
        evidence, flags = grade_scan(graded, subject, venue_location, prior, policy)
        checkin = CheckIn(
            id=deps.random.new_id(),
            client_id=scan.client_id,
            resident_id=subject,
            venue_id=venue.id,
            at=scan.scanned_at,
            recorded_at=deps.clock.now(),
            method=method,
            evidence=evidence,
            flags=flags,
            location=scan.location,
            window_start=rotating_window,
            direction=scan.direction,
        )
        uow.checkins.add_many([checkin])
        uow.commit()
    return checkin, True


def record_checkpoint_scan(
    uow: UnitOfWork,
    deps: Deps,
    actor: StaffActor,
    resident_id: str,
    venue_id: str,
    client_id: str,
    direction: Direction | None,
) -> CheckIn:
    """A checkpoint operator verified the resident's own code at a venue or vehicle: strong evidence."""
    venue = uow.venues.get(venue_id)
    if venue is None or not venue.active:
        raise NotFound(
            "venue_not_found", Message("this venue is not registered or not active", "场所未登记或已停用")
        )
    authorize(actor, Action.CODE_VERIFY, Target(region=venue.region_code)).enforce()
    now = deps.clock.now()
    existing = uow.checkins.find(resident_id, client_id, now)
    if existing is not None:
        return existing
    checkin = CheckIn(
        id=deps.random.new_id(),
        client_id=client_id,
        resident_id=resident_id,
        venue_id=venue.id,
        at=now,
        recorded_at=now,
        method=Method.CHECKPOINT_SCAN,
        evidence=Evidence.STRONG,
        flags=(),
        direction=direction,
        recorded_by=actor.id,
    )
    uow.checkins.add_many([checkin])
    return checkin


def my_checkins(deps: Deps, actor: ResidentActor, subject_id: str, days: int) -> list[CheckIn]:
    authorize(actor, Action.DECLARE_FOR, Target(resident_id=subject_id)).enforce()
    now = deps.clock.now()
    with deps.uow() as uow:
        return uow.checkins.of_resident(subject_id, now - timedelta(days=days), now + timedelta(minutes=5))
