"""Fakes for every port: in-memory repositories, a unit of work over them, a settable clock.

They implement the same protocols as the real adapters, so service tests run without a database.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import itertools
import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from zoneinfo import ZoneInfo

from civicpass.adapters.codes import CoseCodeCodec
from civicpass.adapters.crypto.keystore import FileKeyStore
from civicpass.adapters.crypto.signing import Ed25519Signer, Ed25519Verifier
from civicpass.adapters.messaging import MemoryMessenger
from civicpass.domain import merkle
from civicpass.domain import tracing as tr
from civicpass.domain.access import AccessRecord
from civicpass.domain.appeals import Appeal, AppealState
from civicpass.domain.canonical import canonical_json
from civicpass.domain.cases import Case, CaseState
from civicpass.domain.checkins import CheckIn, CodeKey, Method, PriorUse
from civicpass.domain.declarations import Declaration
from civicpass.domain.facts import Fact, FactState
from civicpass.domain.feeds import FeedSource, Rejected
from civicpass.domain.forms import FormVersion
from civicpass.domain.identity import Document, DocumentType
from civicpass.domain.phone import PhoneChallenge
from civicpass.domain.proposals import TracingProposal
from civicpass.domain.regions import Region
from civicpass.domain.residents import Guardianship, PersonalData, Resident, ResidentKind
from civicpass.domain.rulesets import RuleSetState, RuleSetVersion
from civicpass.domain.sessions import Session, SubjectKind
from civicpass.domain.staff import StaffMember
from civicpass.domain.tasks import Task
from civicpass.domain.venues import Venue
from civicpass.services.context import Deps, IssuerInfo, Limits
from civicpass.services.ports import (
    FeedFacts,
    LogHead,
    LogLeaf,
    NewLeaf,
    RiskArea,
    SessionHolder,
    StatusMark,
    StoredBatch,
    StoredEvent,
    StoredResponse,
    StoredStatus,
    WitnessedLog,
)


def make_resident(
    resident_id: str,
    *,
    phone: str | None = None,
    kind: ResidentKind = ResidentKind.SELF,
    name: str = "张小三",
    document: Document | None = None,
) -> Resident:
    """A resident of Tianhe (440106) for service tests; a passport derived from the id unless given."""
    return Resident(
        resident_id,
        "pseudonym-" + resident_id,
        kind,
        PersonalData(name, document or Document(DocumentType.PASSPORT, "E" + resident_id), phone, None),
        None,
        "440106",
        True,
        datetime(2022, 1, 1, tzinfo=UTC),
    )


class MemoryKeyStore(FileKeyStore):
    """The file keystore's logic (sealing, rotation, revocation) with the file kept in memory."""

    def __init__(self) -> None:
        super().__init__(Path("/nonexistent/keystore.json"), b"\x06" * 32)

    def _load(self) -> list[dict[str, Any]]:
        return self._entries

    def _save(self, entries: list[dict[str, Any]]) -> None:
        self._entries, self._generation = entries, self._generation + 1


class FakeClock:
    def __init__(self, start: datetime = datetime(2022, 5, 3, 8, 0, tzinfo=UTC)) -> None:
        self.current = start

    def now(self) -> datetime:
        return self.current

    def advance(self, **kwargs: float) -> None:
        self.current += timedelta(**kwargs)


class CountingRandom:
    """Deterministic ids and tokens; one-time codes come from a queue so tests know them."""

    def __init__(self) -> None:
        self._n = itertools.count(1)

    def new_id(self) -> str:
        return f"00000000-0000-4000-8000-{next(self._n):012d}"

    def ordered_ids(self, count: int) -> list[str]:
        return [self.new_id() for _ in range(count)]  # ascending: the counter's 12 digits

    def token(self) -> str:
        return f"token-{next(self._n)}"

    def digits(self, count: int) -> str:
        return str(next(self._n) * 7919 % 10**count).zfill(count)

    def nonce(self) -> bytes:
        return next(self._n).to_bytes(16, "big")


class PlainDigest:
    def blind_index(self, material: str) -> str:
        return hmac.new(b"test-index", material.encode(), hashlib.sha256).hexdigest()

    def secret_digest(self, secret: str) -> str:
        return hmac.new(b"test-secret", secret.encode(), hashlib.sha256).hexdigest()


class PlainPasswords:
    """Not a real hash: fast, and still never stores the password itself."""

    def hash(self, password: str) -> str:
        return "sha256$" + hashlib.sha256(password.encode()).hexdigest()

    def verify(self, password_hash: str, password: str) -> bool:
        return hmac.compare_digest(password_hash, self.hash(password))


@dataclass
class FakeStore:
    """The committed state; a unit of work works on a copy and swaps it in on commit."""

    residents: dict[str, Resident] = field(default_factory=dict)
    guardianships: dict[tuple[str, str], Guardianship] = field(default_factory=dict)
    challenges: dict[str, PhoneChallenge] = field(default_factory=dict)
    sessions: dict[str, Session] = field(default_factory=dict)
    staff: dict[str, StaffMember] = field(default_factory=dict)
    forms: dict[tuple[str, int], FormVersion] = field(default_factory=dict)
    declarations: dict[str, Declaration] = field(default_factory=dict)
    access_log: list[AccessRecord] = field(default_factory=list)
    idempotency: dict[tuple[str, str], StoredResponse] = field(default_factory=dict)
    regions: dict[str, Region] = field(default_factory=dict)
    venues: list[Venue] = field(default_factory=list)
    meta: dict[str, str] = field(default_factory=dict)
    facts: dict[str, Fact] = field(default_factory=dict)
    rulesets: dict[int, RuleSetVersion] = field(default_factory=dict)
    statuses: dict[str, StoredStatus] = field(default_factory=dict)
    status_history: list[StoredStatus] = field(default_factory=list)
    status_marks: list[StatusMark] = field(default_factory=list)
    mark_claims: dict[int, datetime] = field(default_factory=dict)
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    event_times: list[datetime] = field(default_factory=list)
    log_leaves: list[LogLeaf] = field(default_factory=list)
    log_last_event: int = 0
    log_checkpoints: dict[int, str] = field(default_factory=dict)
    log_cosignatures: dict[tuple[int, str], str] = field(default_factory=dict)
    witnessed: dict[str, WitnessedLog] = field(default_factory=dict)
    risk_areas: list[RiskArea] = field(default_factory=list)
    checkins: list[CheckIn] = field(default_factory=list)
    cases: dict[str, Case] = field(default_factory=dict)
    proposals: dict[str, TracingProposal] = field(default_factory=dict)
    feed_sources: dict[str, FeedSource] = field(default_factory=dict)
    feed_batches: dict[tuple[str, str], StoredBatch] = field(default_factory=dict)
    feed_records: dict[tuple[str, str], str] = field(default_factory=dict)  # (source, record): batch
    feed_quarantine: list[tuple[str, str, Rejected]] = field(default_factory=list)
    tasks: dict[str, Task] = field(default_factory=dict)
    appeals: dict[str, Appeal] = field(default_factory=dict)


class _Residents:
    def __init__(self, s: FakeStore) -> None:
        self.s = s

    def add(self, resident: Resident) -> None:
        self.s.residents[resident.id] = resident

    def add_many(self, residents: Sequence[Resident]) -> None:
        for r in residents:
            self.add(r)

    def get(self, resident_id: str) -> Resident | None:
        return self.s.residents.get(resident_id)

    def by_document(self, document: Document) -> Resident | None:
        return next(
            (r for r in self.s.residents.values() if document.number and r.pii.document == document), None
        )

    def by_phone(self, phone: str) -> Resident | None:
        return next((r for r in self.s.residents.values() if r.pii.phone == phone), None)

    def pseudonyms(self, resident_ids: Collection[str]) -> dict[str, str]:
        return {r: self.s.residents[r].pseudonym for r in resident_ids if r in self.s.residents}

    def ids_of_materials(self, materials: Sequence[str]) -> list[str | None]:
        held = {
            r.pii.document.index_material: r.id
            for r in self.s.residents.values()
            if r.active and r.pii.document.number
        }
        return [held.get(m) for m in materials]

    def by_code_subject(self, code_subject: str) -> Resident | None:
        return next((r for r in self.s.residents.values() if r.code_subject == code_subject), None)

    def set_code_subject(self, resident_id: str, code_subject: str) -> None:
        self.s.residents[resident_id] = replace(self.s.residents[resident_id], code_subject=code_subject)

    def set_active(self, resident_id: str, active: bool) -> None:
        self.s.residents[resident_id] = replace(self.s.residents[resident_id], active=active)

    def in_region(self, prefix: str, limit: int, offset: int) -> list[Resident]:
        found = [r for r in self.s.residents.values() if r.region_code.startswith(prefix) and r.active]
        return found[offset : offset + limit]

    def count(self) -> int:
        return len(self.s.residents)

    def ids_after(self, after: str, limit: int) -> list[str]:
        return sorted(i for i in self.s.residents if i > after)[:limit]


class _Guardianships:
    def __init__(self, s: FakeStore) -> None:
        self.s = s

    def add(self, link: Guardianship) -> None:
        self.s.guardianships[(link.guardian_id, link.dependent_id)] = link

    def add_many(self, links: Sequence[Guardianship]) -> None:
        for link in links:
            self.add(link)

    def remove(self, guardian_id: str, dependent_id: str) -> bool:
        return self.s.guardianships.pop((guardian_id, dependent_id), None) is not None

    def guardians_of(self, dependent_id: str) -> list[Guardianship]:
        return [g for g in self.s.guardianships.values() if g.dependent_id == dependent_id]

    def dependents_of(self, guardian_id: str) -> list[Guardianship]:
        return [g for g in self.s.guardianships.values() if g.guardian_id == guardian_id]


class _Challenges:
    def __init__(self, s: FakeStore) -> None:
        self.s = s

    def add(self, challenge: PhoneChallenge) -> None:
        self.s.challenges[challenge.id] = challenge

    def get(self, challenge_id: str) -> PhoneChallenge | None:
        return self.s.challenges.get(challenge_id)

    def by_ticket(self, ticket_digest: str) -> PhoneChallenge | None:
        return next((c for c in self.s.challenges.values() if c.ticket_digest == ticket_digest), None)

    def update(self, challenge: PhoneChallenge) -> None:
        self.s.challenges[challenge.id] = challenge

    def count_since(self, phone: str, since: datetime) -> int:
        return sum(1 for c in self.s.challenges.values() if c.phone == phone and c.created_at >= since)


class _Sessions:
    def __init__(self, s: FakeStore) -> None:
        self.s = s

    def add(self, session: Session) -> None:
        self.s.sessions[session.token_digest] = session

    def holders(self, token_digests: Collection[str]) -> dict[str, SessionHolder]:
        found = {}
        for digest in token_digests:
            if (session := self.s.sessions.get(digest)) is None:
                continue
            if session.kind is SubjectKind.STAFF:
                member = self.s.staff.get(session.subject_id)
                found[digest] = SessionHolder(session, member is not None and member.active, staff=member)
                continue
            resident = self.s.residents.get(session.subject_id)
            dependents = frozenset(d for g, d in self.s.guardianships if g == session.subject_id)
            found[digest] = SessionHolder(session, resident is not None and resident.active, dependents)
        return found

    def revoke(self, token_digest: str, at: datetime) -> None:
        if token_digest in self.s.sessions:
            self.s.sessions[token_digest] = replace(self.s.sessions[token_digest], revoked_at=at)


class _Staff:
    def __init__(self, s: FakeStore) -> None:
        self.s = s

    def add(self, member: StaffMember) -> None:
        self.s.staff[member.id] = member

    def get(self, staff_id: str) -> StaffMember | None:
        return self.s.staff.get(staff_id)

    def by_username(self, username: str) -> StaffMember | None:
        return next((m for m in self.s.staff.values() if m.username == username), None)


class _Forms:
    def __init__(self, s: FakeStore) -> None:
        self.s = s

    def add(self, form: FormVersion) -> None:
        self.s.forms[(form.key, form.version)] = form

    def get(self, key: str, version: int) -> FormVersion | None:
        return self.s.forms.get((key, version))

    def latest(self, key: str) -> FormVersion | None:
        versions = [f for (k, _), f in self.s.forms.items() if k == key]
        return max(versions, key=lambda f: f.version, default=None)

    def all_latest(self) -> list[FormVersion]:
        keys = sorted({k for k, _ in self.s.forms})
        return [f for k in keys if (f := self.latest(k)) is not None]


class _Declarations:
    def __init__(self, s: FakeStore) -> None:
        self.s = s

    def add(self, declaration: Declaration) -> None:
        self.s.declarations[declaration.id] = declaration

    def get(self, declaration_id: str) -> Declaration | None:
        return self.s.declarations.get(declaration_id)

    def for_subject(self, subject_id: str, limit: int) -> list[Declaration]:
        found = [d for d in self.s.declarations.values() if d.subject_id == subject_id]
        return sorted(found, key=lambda d: d.submitted_at, reverse=True)[:limit]


class _AccessLog:
    def __init__(self, s: FakeStore) -> None:
        self.s = s

    def add(self, record: AccessRecord) -> None:
        self.s.access_log.append(record)

    def list(self, resident_id: str | None, region_prefix: str, limit: int) -> list[AccessRecord]:
        found = [
            a
            for a in reversed(self.s.access_log)
            if (resident_id is None or a.resident_id == resident_id)
            and a.resident_region.startswith(region_prefix)
        ]
        return found[:limit]


class _Idempotency:
    def __init__(self, s: FakeStore) -> None:
        self.s = s

    def get(self, scope: str, key: str) -> StoredResponse | None:
        return self.s.idempotency.get((scope, key))

    def add(self, scope: str, key: str, response: StoredResponse, at: datetime) -> None:
        self.s.idempotency[(scope, key)] = response


class _Regions:
    def __init__(self, s: FakeStore) -> None:
        self.s = s

    def upsert_many(self, regions: Iterable[Region]) -> int:
        changed = 0
        for r in regions:
            if self.s.regions.get(r.code) != r:
                self.s.regions[r.code] = r
                changed += 1
        return changed

    def get(self, code: str) -> Region | None:
        return self.s.regions.get(code)

    def children(self, code: str | None) -> list[Region]:
        return sorted((r for r in self.s.regions.values() if r.parent == code), key=lambda r: r.code)


class _Venues:
    def __init__(self, s: FakeStore) -> None:
        self.s = s

    def add(self, venue: Venue) -> None:
        self.s.venues.append(venue)

    def add_many(self, venues: Sequence[Venue]) -> None:
        self.s.venues.extend(venues)

    def get(self, venue_id: str) -> Venue | None:
        return next((v for v in self.s.venues if v.id == venue_id), None)

    def get_many(self, venue_ids: Collection[str]) -> dict[str, Venue]:
        return {v.id: v for v in self.s.venues if v.id in venue_ids}

    def update(self, venue: Venue) -> None:
        self.s.venues = [venue if v.id == venue.id else v for v in self.s.venues]

    def of_operator(self, operator_id: str) -> list[Venue]:
        return sorted((v for v in self.s.venues if v.operator_id == operator_id), key=lambda v: v.name)

    def in_region(self, prefix: str, limit: int, offset: int) -> list[Venue]:
        found = sorted(
            (v for v in self.s.venues if v.region_code.startswith(prefix)), key=lambda v: (v.name, v.id)
        )
        return found[offset : offset + limit]

    def count(self) -> int:
        return len(self.s.venues)


class _Checkins:
    def __init__(self, s: FakeStore) -> None:
        self.s = s

    def add_many(self, checkins: Sequence[CheckIn]) -> None:
        for c in checkins:
            if any(
                (o.resident_id, o.client_id, o.at) == (c.resident_id, c.client_id, c.at)
                for o in self.s.checkins
            ):
                raise ValueError("duplicate check-in (resident, client id, at)")
        self.s.checkins.extend(checkins)

    def add_new(self, checkins: Sequence[CheckIn]) -> set[str]:
        stored = {(o.resident_id, o.client_id, o.at) for o in self.s.checkins}
        new = []
        for c in checkins:  # like the unique key: the first of twins in one call is stored
            if (key := (c.resident_id, c.client_id, c.at)) not in stored:
                stored.add(key)
                new.append(c)
        self.s.checkins.extend(new)
        return {c.id for c in new}

    def find_many(
        self, keys: Collection[tuple[str, str]], start: datetime, end: datetime
    ) -> dict[tuple[str, str], CheckIn]:
        return {
            (c.resident_id, c.client_id): c
            for c in self.s.checkins
            if (c.resident_id, c.client_id) in keys and start <= c.at <= end
        }

    def prior_uses(
        self,
        codes: Collection[CodeKey],
        start: datetime,
        end: datetime,
        residents: Collection[str],
        located: Collection[CodeKey],
    ) -> dict[CodeKey, list[PriorUse]]:
        found: dict[CodeKey, list[PriorUse]] = {}
        for c in self.s.checkins:
            if c.method is Method.CHECKPOINT_SCAN or not start <= c.at <= end:
                continue
            key = CodeKey(c.venue_id, c.window_start)
            if key in codes and (c.resident_id in residents or (key in located and c.location is not None)):
                found.setdefault(key, []).append(PriorUse(c.resident_id, c.at, c.location))
        return found

    def of_resident(self, resident_id: str, start: datetime, end: datetime) -> list[CheckIn]:
        return sorted(
            (c for c in self.s.checkins if c.resident_id == resident_id and start <= c.at <= end),
            key=lambda c: c.at,
        )

    def hourly_counts(self, venue_id: str, start: datetime, end: datetime) -> list[tuple[datetime, int]]:
        counts: dict[datetime, int] = {}
        for c in self.s.checkins:
            if c.venue_id == venue_id and start <= c.at < end:
                hour = c.at.replace(minute=0, second=0, microsecond=0)
                counts[hour] = counts.get(hour, 0) + 1
        return sorted(counts.items())

    def count_between(self, start: datetime, end: datetime) -> int:
        return sum(1 for c in self.s.checkins if start <= c.at < end)

    def delete_before(self, cutoff: datetime) -> int:
        before = len(self.s.checkins)
        self.s.checkins = [c for c in self.s.checkins if c.at >= cutoff]
        return before - len(self.s.checkins)


class _Meta:
    def __init__(self, s: FakeStore) -> None:
        self.s = s

    def get(self, key: str) -> str | None:
        return self.s.meta.get(key)

    def put(self, key: str, value: str) -> None:
        self.s.meta[key] = value


class _Facts:
    def __init__(self, s: FakeStore) -> None:
        self.s = s

    def add(self, fact: Fact) -> None:
        self.s.facts[fact.id] = fact

    def add_feed(self, facts: FeedFacts) -> None:
        for n in range(len(facts)):
            self.add(facts.fact(n))

    def get(self, fact_id: str) -> Fact | None:
        return self.s.facts.get(fact_id)

    def update(self, fact: Fact) -> None:
        self.s.facts[fact.id] = fact

    def for_subjects(self, subject_ids: Sequence[str]) -> dict[str, list[Fact]]:
        found: dict[str, list[Fact]] = {sid: [] for sid in subject_ids}
        for fact in self.s.facts.values():
            if fact.subject_id in found and fact.state is FactState.ACTIVE:
                found[fact.subject_id].append(fact)
        return found

    def proposed(self, region_prefix: str, limit: int) -> list[Fact]:
        return [
            f
            for f in self.s.facts.values()
            if f.state is FactState.PROPOSED
            and self.s.residents[f.subject_id].region_code.startswith(region_prefix)
        ][:limit]


class _RuleSets:
    def __init__(self, s: FakeStore) -> None:
        self.s = s

    def add(self, ruleset: RuleSetVersion) -> None:
        self.s.rulesets[ruleset.version] = ruleset

    def get(self, version: int) -> RuleSetVersion | None:
        return self.s.rulesets.get(version)

    def active(self) -> RuleSetVersion | None:
        return next((r for r in self.s.rulesets.values() if r.state is RuleSetState.ACTIVE), None)

    def latest_version(self) -> int:
        return max(self.s.rulesets, default=0)

    def active_colors(self) -> list[str]:
        active = self.active()
        return list(active.ruleset.colors) if active else []

    def update(self, ruleset: RuleSetVersion) -> None:
        self.s.rulesets[ruleset.version] = ruleset

    def all(self) -> list[RuleSetVersion]:
        return [self.s.rulesets[v] for v in sorted(self.s.rulesets)]


class _Statuses:
    def __init__(self, s: FakeStore) -> None:
        self.s = s

    def get(self, subject_id: str) -> StoredStatus | None:
        status = self.s.statuses.get(subject_id)
        if status is None:
            return None
        # as the SQL repository reads it: marked while a mark that names it awaits the sweep (exactly here,
        # where SQL's filters may also name a few others)
        return replace(status, marked=any(subject_id in m.subject_ids for m in self.s.status_marks))

    def get_many(self, subject_ids: Sequence[str]) -> dict[str, StoredStatus]:
        return {sid: self.s.statuses[sid] for sid in subject_ids if sid in self.s.statuses}

    def with_status(self, subject_ids: Sequence[str]) -> list[str]:
        return [sid for sid in set(subject_ids) if sid in self.s.statuses]

    def save(self, status: StoredStatus, *, changed: bool) -> None:
        self.s.statuses[status.subject_id] = replace(status, marked=False)
        if changed:
            self.s.status_history.append(replace(status, marked=False))

    def save_many(self, items: Sequence[tuple[StoredStatus, bool]]) -> None:
        for status, changed in items:
            self.save(status, changed=changed)

    def mark_due(self, subject_ids: Sequence[str], at: datetime) -> None:
        if not subject_ids:
            return
        number = max((m.id for m in self.s.status_marks), default=0) + 1
        self.s.status_marks.append(StatusMark(number, list(subject_ids)))

    def marks(self, limit: int) -> list[StatusMark]:
        return self.s.status_marks[:limit]

    def claim_mark(self, now: datetime, until: datetime) -> StatusMark | None:
        for mark in self.s.status_marks:
            if self.s.mark_claims.get(mark.id, now) <= now:
                self.s.mark_claims[mark.id] = until
                return mark
        return None

    def drop_mark(self, mark_id: int) -> None:
        self.s.status_marks = [m for m in self.s.status_marks if m.id != mark_id]
        self.s.mark_claims.pop(mark_id, None)

    def history(self, subject_id: str, limit: int) -> list[StoredStatus]:
        found = [h for h in self.s.status_history if h.subject_id == subject_id]
        return sorted(found, key=lambda h: h.version, reverse=True)[:limit]

    def claim_due(self, now: datetime, limit: int) -> list[str]:
        return [s.subject_id for s in self.s.statuses.values() if s.review_at <= now][:limit]


class _Events:
    def __init__(self, s: FakeStore) -> None:
        self.s = s

    def add(self, name: str, payload: dict[str, Any], at: datetime) -> None:
        self.s.events.append((name, payload))
        self.s.event_times.append(at)

    def since(self, names: Sequence[str], start: datetime) -> list[StoredEvent]:
        return [e for e in self.after(0, len(self.s.events)) if e.name in names and e.at >= start]

    def subjects_by(
        self, names: Sequence[str], start: datetime, by: str, where: Mapping[str, str] | None = None
    ) -> dict[str, int]:
        found: dict[str, set[str]] = {}
        for e in self.since(names, start):
            key, subject = e.payload.get(by), e.payload.get("subject")
            matches = all(e.payload.get(k) == v for k, v in (where or {}).items())
            if matches and isinstance(key, str) and isinstance(subject, str):
                found.setdefault(key, set()).add(subject)
        return {key: len(subjects) for key, subjects in found.items()}

    def of_subject(self, name: str, subject_id: str, limit: int) -> list[StoredEvent]:
        found = [
            e
            for e in self.after(0, len(self.s.events))
            if e.name == name and e.payload.get("subject") == subject_id
        ]
        return found[::-1][:limit]

    def committed_bound(self) -> int | None:
        return None

    def after(self, event_id: int, limit: int, up_to: int | None = None) -> list[StoredEvent]:
        if up_to is not None:
            return [e for e in self.after(event_id, limit) if e.id <= up_to]
        chosen = list(enumerate(zip(self.s.events, self.s.event_times, strict=True), start=1))[event_id:]
        return [StoredEvent(i, name, payload, at) for i, ((name, payload), at) in chosen[:limit]]

    def add_many(self, events: Sequence[tuple[str, dict[str, Any], datetime]]) -> None:
        for name, payload, at in events:
            self.add(name, payload, at)


class _RiskAreas:
    def __init__(self, s: FakeStore) -> None:
        self.s = s

    def add(self, area: RiskArea) -> None:
        self.s.risk_areas.append(area)

    def overlapping(self, start: datetime, end: datetime) -> list[RiskArea]:
        return [
            a for a in self.s.risk_areas if a.valid_from <= end and (a.valid_to is None or a.valid_to > start)
        ]


class _Cases:
    def __init__(self, s: FakeStore) -> None:
        self.s = s

    def add(self, case: Case) -> None:
        self.s.cases[case.id] = case

    def get(self, case_id: str) -> Case | None:
        return self.s.cases.get(case_id)

    def update(self, case: Case) -> None:
        self.s.cases[case.id] = case

    def of_resident(self, resident_id: str) -> list[Case]:
        return sorted(
            (c for c in self.s.cases.values() if c.resident_id == resident_id), key=lambda c: c.opened_at
        )

    def in_region(self, prefix: str, states: Collection[CaseState], limit: int) -> list[Case]:
        found = [
            c
            for c in self.s.cases.values()
            if c.region_code.startswith(prefix) and (not states or c.state in states)
        ]
        return sorted(found, key=lambda c: (-c.opened_at.timestamp(), c.id))[:limit]


class _Proposals:
    def __init__(self, s: FakeStore) -> None:
        self.s = s

    def add(self, proposal: TracingProposal) -> None:
        self.s.proposals[proposal.id] = proposal

    def get(self, proposal_id: str) -> TracingProposal | None:
        return self.s.proposals.get(proposal_id)

    def update(self, proposal: TracingProposal) -> None:
        self.s.proposals[proposal.id] = proposal

    def of_case(self, case_id: str) -> list[str]:
        found = [p for p in self.s.proposals.values() if p.case_id == case_id]
        return [p.id for p in sorted(found, key=lambda p: (p.requested_at, p.id))]


class _Feeds:
    def __init__(self, s: FakeStore) -> None:
        self.s = s

    def add_source(self, source: FeedSource) -> None:
        self.s.feed_sources[source.id] = source

    def source(self, source_id: str) -> FeedSource | None:
        return self.s.feed_sources.get(source_id)

    def sources(self) -> list[FeedSource]:
        return sorted(self.s.feed_sources.values(), key=lambda s: s.name)

    def batch(self, source_id: str, batch_id: str) -> StoredBatch | None:
        return self.s.feed_batches.get((source_id, batch_id))

    def add_batch(
        self, source_id: str, batch_id: str, sha256: str, at: datetime, report: dict[str, Any]
    ) -> None:
        self.s.feed_batches[(source_id, batch_id)] = StoredBatch(sha256, report)

    def known(self, source_id: str, record_ids: Collection[str]) -> set[str]:
        return {r for r in record_ids if (source_id, r) in self.s.feed_records}

    def add_records(self, source_id: str, batch_id: str, record_ids: Sequence[str]) -> None:
        self.s.feed_records.update(((source_id, r), batch_id) for r in record_ids)

    def quarantine(self, source_id: str, batch_id: str, rejected: Sequence[Rejected], at: datetime) -> None:
        self.s.feed_quarantine.extend((source_id, batch_id, r) for r in rejected)

    def quarantined(self, source_id: str, limit: int) -> list[dict[str, Any]]:
        return [
            {"batch_id": b, "line": r.line, "record_id": r.record_id}
            for s, b, r in reversed(self.s.feed_quarantine)
            if s == source_id
        ][:limit]


class _Tasks:
    def __init__(self, s: FakeStore) -> None:
        self.s = s

    def add_many(self, tasks: Sequence[Task]) -> None:
        for task in tasks:
            self.s.tasks[task.id] = task

    def get(self, task_id: str) -> Task | None:
        return self.s.tasks.get(task_id)

    def update(self, task: Task) -> None:
        self.s.tasks[task.id] = task

    def in_region(self, prefix: str, open_only: bool, due_before: datetime | None, limit: int) -> list[Task]:
        found = [
            t
            for t in self.s.tasks.values()
            if t.region_code.startswith(prefix)
            and (not open_only or t.open)
            and (due_before is None or t.due_at < due_before)
        ]
        return sorted(found, key=lambda t: (t.due_at, t.id))[:limit]

    def of_resident(self, resident_id: str) -> list[Task]:
        return sorted(
            (t for t in self.s.tasks.values() if t.resident_id == resident_id), key=lambda t: (t.due_at, t.id)
        )


class _Appeals:
    def __init__(self, s: FakeStore) -> None:
        self.s = s

    def add(self, appeal: Appeal) -> None:
        self.s.appeals[appeal.id] = appeal

    def get(self, appeal_id: str) -> Appeal | None:
        return self.s.appeals.get(appeal_id)

    def update(self, appeal: Appeal) -> None:
        self.s.appeals[appeal.id] = appeal

    def of_resident(self, resident_id: str) -> list[Appeal]:
        found = [a for a in self.s.appeals.values() if a.resident_id == resident_id]
        return sorted(found, key=lambda a: (-a.filed_at.timestamp(), a.id))

    def in_region(self, prefix: str, open_only: bool, limit: int) -> list[Appeal]:
        found = [
            a
            for a in self.s.appeals.values()
            if a.region_code.startswith(prefix) and (not open_only or a.state is AppealState.OPEN)
        ]
        return sorted(found, key=lambda a: (a.due_at, a.id))[:limit]


class _Log:
    """The log over a list of leaves; subtree hashes computed from them (the SQL log stores them)."""

    def __init__(self, s: FakeStore) -> None:
        self.s = s

    def head(self) -> LogHead:
        hashes = [leaf.leaf_hash for leaf in self.s.log_leaves]
        return LogHead(len(hashes), merkle.root(hashes), self.s.log_last_event)

    def lock_head(self) -> LogHead:
        return self.head()

    def nodes(self, coords: Collection[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        hashes = [leaf.leaf_hash for leaf in self.s.log_leaves]
        return {
            (level, i): merkle.root(hashes[i << level : (i + 1) << level])
            for level, i in coords
            if (i + 1) << level <= len(hashes)
        }

    def append(self, entries: Sequence[NewLeaf], last_event_id: int, at: datetime) -> LogHead:
        for entry in entries:
            data = canonical_json(dict(entry.document))
            self.s.log_leaves.append(
                LogLeaf(len(self.s.log_leaves), entry.name, data.decode(), merkle.leaf_hash(data), entry.at)
            )
        self.s.log_last_event = last_event_id
        return self.head()

    def leaves(self, start: int, end: int) -> list[LogLeaf]:
        return self.s.log_leaves[start:end]

    def leaves_of_events(self, event_ids: Collection[int]) -> dict[int, LogLeaf]:
        found = {}
        for leaf in self.s.log_leaves:
            event = json.loads(leaf.data).get("event")
            if event in event_ids:
                found[event] = leaf
        return found

    def add_checkpoint(self, size: int, note: str, at: datetime) -> None:
        self.s.log_checkpoints.setdefault(size, note)

    def checkpoint(self, size: int | None = None) -> tuple[int, str] | None:
        if not self.s.log_checkpoints:
            return None
        chosen = max(self.s.log_checkpoints) if size is None else size
        note = self.s.log_checkpoints.get(chosen)
        return None if note is None else (chosen, note)

    def checkpoints(self, after: int, limit: int) -> list[tuple[int, str]]:
        return [(n, note) for n, note in sorted(self.s.log_checkpoints.items()) if n > after][:limit]

    def add_cosignature(self, size: int, witness: str, line: str, at: datetime) -> None:
        self.s.log_cosignatures[(size, witness)] = line

    def cosignatures(self, size: int) -> list[str]:
        return [line for (n, _), line in sorted(self.s.log_cosignatures.items()) if n == size]


class _Witnessed:
    def __init__(self, s: FakeStore) -> None:
        self.s = s

    def get(self, origin: str) -> WitnessedLog | None:
        return self.s.witnessed.get(origin)

    def put(self, seen: WitnessedLog, at: datetime) -> None:
        self.s.witnessed[seen.origin] = seen


class _Privacy:
    """Retention and shutdown over the in-memory store (the classes the fakes keep times for)."""

    def __init__(self, s: FakeStore) -> None:
        self.s = s

    def delete_before(self, data_class: str, cutoff: datetime) -> int:
        if data_class == "declarations":
            old = [k for k, d in self.s.declarations.items() if d.submitted_at < cutoff]
            for k in old:
                del self.s.declarations[k]
            return len(old)
        if data_class == "access_log":
            before = len(self.s.access_log)
            self.s.access_log = [a for a in self.s.access_log if a.at >= cutoff]
            return before - len(self.s.access_log)
        if data_class == "expired_facts":
            old = [k for k, f in self.s.facts.items() if f.expires_at is not None and f.expires_at < cutoff]
            for k in old:
                del self.s.facts[k]
            return len(old)
        return 0

    def counts(self) -> dict[str, Any]:
        colors: dict[tuple[str, str], int] = {}
        for sid, status in self.s.statuses.items():
            key = (status.color, self.s.residents[sid].region_code[:4])
            colors[key] = colors.get(key, 0) + 1
        return {
            "statuses_by_color_and_city": [
                {"color": c, "city": r, "count": n} for (c, r), n in sorted(colors.items())
            ],
            "checkins_by_day": [],
            "cases_by_state": [],
            "residents": len(self.s.residents),
        }

    def destroy_personal_data(self) -> dict[str, int]:
        deleted = {
            "residents": len(self.s.residents),
            "facts": len(self.s.facts),
            "checkins": len(self.s.checkins),
        }
        for name in (
            "residents",
            "facts",
            "statuses",
            "status_marks",
            "declarations",
            "cases",
            "proposals",
            "tasks",
            "appeals",
        ):
            getattr(self.s, name).clear()
        self.s.checkins.clear()
        self.s.access_log.clear()
        self.s.status_history.clear()
        self.s.guardianships.clear()
        return deleted


def _visit(c: CheckIn) -> tr.Visit:
    return tr.Visit(c.id, c.resident_id, c.venue_id, c.at, c.evidence, c.direction)


class _Tracing:
    """The reference semantics of ``domain.tracing`` over every stored check-in."""

    name = "sql"

    def __init__(self, s: FakeStore) -> None:
        self.s = s

    def visits_of(self, residents: Collection[str], start: datetime, end: datetime) -> list[tr.Visit]:
        return [_visit(c) for c in self.s.checkins if c.resident_id in residents and start <= c.at <= end]

    def exposures(self, index: Sequence[tr.IndexPresence], policy: tr.TracingPolicy) -> list[tr.Exposure]:
        vehicles = {v.id: v.is_vehicle for v in self.s.venues}
        return tr.exposures(index, [_visit(c) for c in self.s.checkins], vehicles, policy)


class FakeUnitOfWork:
    def __init__(self, store: FakeStore) -> None:
        self.store = store
        self.commits = 0

    def __enter__(self) -> Self:
        self.rollback()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.rollback()

    def commit(self) -> None:
        for name in vars(self.store):
            setattr(self.store, name, copy.deepcopy(getattr(self.work, name)))
        self.commits += 1

    def rollback(self) -> None:
        self.work = copy.deepcopy(self.store)
        self._rebind()

    def _rebind(self) -> None:
        s = self.work
        for name, cls in (
            ("residents", _Residents),
            ("guardianships", _Guardianships),
            ("challenges", _Challenges),
            ("sessions", _Sessions),
            ("staff", _Staff),
            ("forms", _Forms),
            ("declarations", _Declarations),
            ("access_log", _AccessLog),
            ("idempotency", _Idempotency),
            ("regions", _Regions),
            ("venues", _Venues),
            ("meta", _Meta),
            ("facts", _Facts),
            ("rulesets", _RuleSets),
            ("statuses", _Statuses),
            ("events", _Events),
            ("risk_areas", _RiskAreas),
            ("checkins", _Checkins),
            ("cases", _Cases),
            ("proposals", _Proposals),
            ("tracing", _Tracing),
            ("feeds", _Feeds),
            ("tasks", _Tasks),
            ("appeals", _Appeals),
            ("log", _Log),
            ("witnessed", _Witnessed),
            ("privacy", _Privacy),
        ):
            setattr(self, name, cls(s))


def fake_deps(
    store: FakeStore | None = None, **limits: Any
) -> tuple[Deps, FakeStore, MemoryMessenger, FakeClock]:
    """Service dependencies over an in-memory store; returns the store, messenger and clock to inspect."""
    the_store = store or FakeStore()
    messenger = MemoryMessenger()
    clock = FakeClock()
    deps = Deps(
        uow=lambda: FakeUnitOfWork(the_store),
        clock=clock,
        random=CountingRandom(),
        digest=PlainDigest(),
        passwords=PlainPasswords(),
        messenger=messenger,
        limits=Limits(**limits),
        signer=Ed25519Signer(b"\x05" * 32),
        zone=ZoneInfo("Asia/Shanghai"),
        keystore=MemoryKeyStore(),
        codec=CoseCodeCodec(),
        issuer=IssuerInfo("CN-TEST", {"zh-CN": "测试签发方", "en": "Test issuer"}, "440100"),
        signatures=Ed25519Verifier(),
    )
    return deps, the_store, messenger, clock
