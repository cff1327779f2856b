"""Venue and vehicle registry and the venue codes they display (场所码 / 乘车登记码).

Venue operators register and manage their own venues and vehicles; administrators any in their
jurisdiction. A venue shows a rotating signed code (a new one every window, default 5 minutes) or, without
a screen, a printed static code that is graded weaker. ``VenueCodes`` opens scanned codes, remembering
each code it has opened: a busy venue's code is scanned by thousands of residents within its window.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

from civicpass.domain.codes import Rejection
from civicpass.domain.errors import FieldError, InvalidInput, Message, NotFound, PermissionDenied
from civicpass.domain.policy import Action, StaffActor, Target, authorize
from civicpass.domain.regions import check_region_code, prefix_of
from civicpass.domain.staff import Role
from civicpass.domain.venues import STATIC_CODE_LIFETIME, Venue, VenueCodeClaims, VenueKind, window_start
from civicpass.services.context import Deps
from civicpass.services.ports import UnitOfWork
from civicpass.services.trust import keys_trust_list


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


def venue_of(deps: Deps, actor: StaffActor, venue_id: str) -> Venue:
    """A venue its operator (or an administrator of its jurisdiction) manages."""
    with deps.uow() as uow:
        return _managed_venue(uow, actor, venue_id)


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


class VenueCodes:
    """Opens scanned venue codes, remembering the answer for each code while the keys stay the same.

    Opening a code (Base45, zlib, COSE signature check) costs far more than the rest of a check-in, and
    one code is scanned by everyone at the venue in its window; the answer depends only on the code and
    on the keystore, so it is remembered per keystore generation (a rotation or revocation forgets it).
    """

    def __init__(self, deps: Deps, size: int = 8192) -> None:
        self.deps = deps
        self.size = size
        self._generation = -1
        self._opened: OrderedDict[str, VenueCodeClaims | Rejection] = OrderedDict()
        self._lock = threading.Lock()  # the group commit's threads share one memory

    def refresh(self) -> None:
        """Forget every answer if the keys changed since (once per batch: a look at the keystore's file)."""
        generation = self.deps.keystore.generation
        with self._lock:
            if generation != self._generation:
                self._opened.clear()
                self._generation = generation

    def open(self, token: str) -> VenueCodeClaims | Rejection:
        """The code's claims or why it is refused, as of the keys at the last ``refresh``."""
        with self._lock:
            generation = self._generation
            found = self._opened.get(token)
            if found is not None:
                self._opened.move_to_end(token)
                return found
        found = self.deps.codec.open_venue(token, keys_trust_list(self.deps))
        with self._lock:
            if self._generation != generation:  # the keys changed meanwhile: do not remember it
                return found
            self._opened[token] = found
            if len(self._opened) > self.size:
                self._opened.popitem(last=False)
        return found
