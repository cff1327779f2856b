"""Check-ins with graded evidence (场所码 / 乘车登记码): a resident's scan, or a checkpoint's scan.

Scans are recorded in batches: ``record_scans`` takes any number of scans inside one unit of work and
looks up what grading needs with one query per kind of look-up (stored retries, venues, earlier uses of
the same codes), so that a group commit (``services.intake``) stores a batch with a handful of statements
and one durable commit. A single scan (``check_in``) is a batch of one. Each scan gets its own outcome:
a bad scan never fails the others. A check-in is acknowledged only after its transaction committed; a
retried request with the same client id returns the stored check-in instead of a second one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from civicpass.domain.checkins import (
    CheckIn,
    CodeKey,
    Direction,
    Evidence,
    GradingPolicy,
    Location,
    Method,
    PriorUse,
    Scan,
    grade_scan,
)
from civicpass.domain.codes import Rejection
from civicpass.domain.errors import (
    CivicpassError,
    FieldError,
    InvalidInput,
    Message,
    NotFound,
    conflicting_write,
)
from civicpass.domain.policy import Action, ResidentActor, StaffActor, Target, authorize
from civicpass.domain.venues import Venue, VenueCodeClaims
from civicpass.services.auth import actors_of, resident_only, unauthenticated
from civicpass.services.context import Deps
from civicpass.services.ports import UnitOfWork
from civicpass.services.venues import VenueCodes

ACCEPTED_PAST = timedelta(hours=24)
"""A phone that was offline may send a scan up to a day late; older scans are refused."""

RETRY_SPAN = timedelta(hours=1)
"""A retry is recognised by its client id among the resident's check-ins this close to the scan time.

A retry normally repeats the request as it was, scan time included, however late it arrives; this span
also catches a client that stamps the time anew on a retry. An hour, not days: every day the span
reaches into is one more day partition probed for every scan of a batch."""


@dataclass(frozen=True)
class ScanIn:
    venue_code: str
    client_id: str
    scanned_at: datetime
    location: Location | None = None
    subject_id: str | None = None
    direction: Direction | None = None


Outcome = tuple[CheckIn, bool] | CivicpassError
"""What became of one scan: the check-in and whether this request stored it, or why it was refused."""


def _policy(deps: Deps) -> GradingPolicy:
    return GradingPolicy(window=timedelta(seconds=deps.limits.venue_code_window_seconds))


def _venue_gone() -> NotFound:
    return NotFound(
        "venue_not_found", Message("this venue is not registered or not active", "场所未登记或已停用")
    )


def _check_time(deps: Deps, scanned_at: datetime) -> None:
    now = deps.clock.now()
    skew = timedelta(seconds=deps.limits.code_skew_seconds)
    if not now - ACCEPTED_PAST <= scanned_at <= now + skew:
        raise InvalidInput(
            "scan_time_invalid",
            Message("the scan time must be within the last 24 hours", "扫码时间应在24小时之内"),
            errors=[FieldError(("scanned_at",), "scan_time_invalid", "within the last 24 hours")],
        )


def _code_refused(rejection: Rejection) -> InvalidInput:
    return InvalidInput(
        "venue_code_invalid",
        Message(f"this is not a valid venue code ({rejection.value})", f"无效的场所码（{rejection.value}）"),
        errors=[FieldError(("venue_code",), rejection.value, "a venue code signed by this instance")],
    )


def check_in(
    deps: Deps, actor: ResidentActor, scan: ScanIn, codes: VenueCodes | None = None
) -> tuple[CheckIn, bool]:
    """A resident (or guardian for a dependent) scanned a venue code. Returns (check-in, newly stored)."""
    with deps.uow() as uow:
        (outcome,) = record_scans(uow, deps, [(actor, scan)], codes or VenueCodes(deps))
        uow.commit()
    if isinstance(outcome, CivicpassError):
        raise outcome
    return outcome


@dataclass(frozen=True)
class TokenScan:
    """A scan as the HTTP intake received it: the bearer token's digest, not yet authenticated."""

    token_digest: str
    scan: ScanIn


def record_batch(deps: Deps, batch: Sequence[TokenScan], codes: VenueCodes) -> list[Outcome]:
    """Authenticate and record a batch of scans in one transaction (the group commit's unit)."""
    outcomes: list[Outcome | None] = [None] * len(batch)
    with deps.uow() as uow:
        actors = actors_of(uow, deps, {item.token_digest for item in batch})
        admitted: list[tuple[int, ResidentActor, ScanIn]] = []
        for i, item in enumerate(batch):
            actor = actors.get(item.token_digest)
            try:
                if actor is None:
                    raise unauthenticated()
                admitted.append((i, resident_only(actor), item.scan))
            except CivicpassError as refused:
                outcomes[i] = refused
        recorded = record_scans(uow, deps, [(a, s) for _, a, s in admitted], codes)
        uow.commit()
    for (i, _, _), outcome in zip(admitted, recorded, strict=True):
        outcomes[i] = outcome
    return [_settled(o) for o in outcomes]


@dataclass
class _Pending:
    subject: str
    scan: ScanIn
    opened: VenueCodeClaims | None = None
    outcome: Outcome | None = None


def record_scans(
    uow: UnitOfWork, deps: Deps, scans: Sequence[tuple[ResidentActor, ScanIn]], codes: VenueCodes
) -> list[Outcome]:
    """Record residents' scans inside ``uow`` (the caller commits): one outcome per scan, in order.

    In order: who may check in whom; stored retries (a retry returns what was stored, however late it
    arrives); the scan time; the venue code; the venue; then grading against earlier uses of the same
    code, including earlier scans of this batch; finally one insert for all new check-ins.
    """
    codes.refresh()
    items = [_Pending(scan.subject_id or actor.id, scan) for actor, scan in scans]
    for item, (actor, _) in zip(items, scans, strict=True):
        try:
            authorize(actor, Action.DECLARE_FOR, Target(resident_id=item.subject)).enforce()
        except CivicpassError as refused:
            item.outcome = refused
    _find_retries(uow, deps, [i for i in items if i.outcome is None])
    for item in items:
        if item.outcome is None:
            try:
                item.opened = _open(deps, codes, item.scan)
            except CivicpassError as refused:
                item.outcome = refused
    todo = [i for i in items if i.outcome is None]
    venues = uow.venues.get_many({i.opened.venue_id for i in todo if i.opened})
    for item in todo:
        venue = venues.get(item.opened.venue_id) if item.opened else None
        if venue is None or not venue.active:
            item.outcome = _venue_gone()
    ready = [(i, i.opened) for i in todo if i.outcome is None and i.opened is not None]
    _grade_and_store(uow, deps, ready, venues)
    return [_settled(i.outcome) for i in items]


def _settled(outcome: Outcome | None) -> Outcome:
    if outcome is None:  # every path above settles every scan
        raise RuntimeError("a scan was left without an outcome")
    return outcome


def _open(deps: Deps, codes: VenueCodes, scan: ScanIn) -> VenueCodeClaims:
    _check_time(deps, scan.scanned_at)
    opened = codes.open(scan.venue_code.strip())
    if isinstance(opened, Rejection):
        raise _code_refused(opened)
    return opened


def _find_retries(uow: UnitOfWork, deps: Deps, items: Sequence[_Pending]) -> None:
    # Only a scan time within reach of what is stored can be a retry (stored scans are at most a day old
    # when stored and kept for the retention period); the bounds also keep the arithmetic in range.
    now = deps.clock.now()
    earliest = now - timedelta(days=deps.limits.checkin_retention_days) - ACCEPTED_PAST - RETRY_SPAN
    latest = now + timedelta(seconds=deps.limits.code_skew_seconds) + RETRY_SPAN
    items = [i for i in items if earliest <= i.scan.scanned_at <= latest]
    if not items:
        return
    times = [i.scan.scanned_at for i in items]
    stored = uow.checkins.find_many(
        {(i.subject, i.scan.client_id) for i in items}, min(times) - RETRY_SPAN, max(times) + RETRY_SPAN
    )
    for item in items:
        found = stored.get((item.subject, item.scan.client_id))
        if found is not None and abs(found.at - item.scan.scanned_at) <= RETRY_SPAN:
            item.outcome = (found, False)


def _code_of(opened: VenueCodeClaims) -> CodeKey:
    return CodeKey(opened.venue_id, None if opened.static else opened.window_start)


class _Uses:
    """Earlier uses of each code, indexed as grading asks for them: a resident's own (replays) and those
    with a location (forwarding), so a busy code's thousands of uses are not each compared with each scan."""

    def __init__(self, prior: dict[CodeKey, list[PriorUse]]) -> None:
        self.own: dict[tuple[CodeKey, str], list[PriorUse]] = {}
        self.placed: dict[CodeKey, list[PriorUse]] = {}
        for code, uses in prior.items():
            for use in uses:
                self.add(code, use)

    def add(self, code: CodeKey, use: PriorUse) -> None:
        self.own.setdefault((code, use.resident_id), []).append(use)
        if use.location is not None:
            self.placed.setdefault(code, []).append(use)

    def relevant(self, code: CodeKey, resident: str, scan: ScanIn, around: timedelta) -> list[PriorUse]:
        uses = list(self.own.get((code, resident), ()))
        if scan.location is not None:
            uses += [u for u in self.placed.get(code, ()) if u.resident_id != resident]
        return [u for u in uses if abs(u.at - scan.scanned_at) <= around]


def _grade_and_store(
    uow: UnitOfWork,
    deps: Deps,
    ready: Sequence[tuple[_Pending, VenueCodeClaims]],
    venues: dict[str, Venue],
) -> None:
    if not ready:
        return
    items = [item for item, _ in ready]
    policy = _policy(deps)
    around = policy.forwarding_within + policy.replay_after
    times = [i.scan.scanned_at for i in items]
    codes = {_code_of(opened) for _, opened in ready}
    prior = _Uses(
        uow.checkins.prior_uses(
            codes,
            min(times) - around,
            max(times) + around,
            {i.subject for i in items},
            {_code_of(opened) for item, opened in ready if item.scan.location is not None},
        )
    )
    recorded_at = deps.clock.now()
    fresh: dict[tuple[str, str], CheckIn] = {}
    for item, opened in ready:
        scan = item.scan
        twin = fresh.get((item.subject, scan.client_id))
        if twin is not None:  # the same scan twice in one batch: the first is stored
            item.outcome = (twin, False)
            continue
        venue, code = venues[opened.venue_id], _code_of(opened)
        where = Location(venue.lat, venue.lon) if venue.lat is not None and venue.lon is not None else None
        uses = prior.relevant(code, item.subject, scan, around)
        method = Method.STATIC_CODE if opened.static else Method.ROTATING_CODE
        graded = Scan(venue.id, method, scan.scanned_at, code.window_start, scan.location)
        evidence, flags = grade_scan(graded, item.subject, where, uses, policy)
        checkin = CheckIn(
            id=deps.random.new_id(),
            client_id=scan.client_id,
            resident_id=item.subject,
            venue_id=venue.id,
            at=scan.scanned_at,
            recorded_at=recorded_at,
            method=method,
            evidence=evidence,
            flags=flags,
            location=scan.location,
            window_start=code.window_start,
            direction=scan.direction,
        )
        prior.add(code, PriorUse(item.subject, scan.scanned_at, scan.location))
        fresh[(item.subject, scan.client_id)] = checkin
        item.outcome = (checkin, True)
    inserted = uow.checkins.add_new(list(fresh.values()))
    lost = [c for c in fresh.values() if c.id not in inserted]
    if lost:  # twins committed by another worker meanwhile: answer with what they stored
        stored = uow.checkins.find_many(
            {(c.resident_id, c.client_id) for c in lost}, min(c.at for c in lost), max(c.at for c in lost)
        )
        lost_ids = {c.id for c in lost}
        for item in items:
            if isinstance(item.outcome, tuple) and item.outcome[0].id in lost_ids:
                twin = stored.get((item.subject, item.scan.client_id))
                item.outcome = (twin, False) if twin is not None else conflicting_write()


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
        raise _venue_gone()
    authorize(actor, Action.CODE_VERIFY, Target(region=venue.region_code)).enforce()
    now = deps.clock.now()
    existing = uow.checkins.find_many({(resident_id, client_id)}, now - RETRY_SPAN, now + RETRY_SPAN)
    if existing:
        return next(iter(existing.values()))
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
