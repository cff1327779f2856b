"""Ports: what the services need from the outside world. Every port has a real adapter and a fake."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from types import TracebackType
from typing import Any, Protocol, Self

from civicpass.domain.access import AccessRecord
from civicpass.domain.appeals import Appeal
from civicpass.domain.cases import Case, CaseState
from civicpass.domain.checkins import CheckIn, CodeKey, PriorUse
from civicpass.domain.codes import CodeClaims, Rejection, Verification
from civicpass.domain.declarations import Declaration
from civicpass.domain.facts import Fact, FactKind, FactSource, FactState
from civicpass.domain.feeds import FeedSource, Parsed, Rejected
from civicpass.domain.forms import FormVersion
from civicpass.domain.identity import Document
from civicpass.domain.notes import SignatureLine, VerifierKey
from civicpass.domain.phone import PhoneChallenge
from civicpass.domain.proposals import TracingProposal
from civicpass.domain.regions import Region
from civicpass.domain.residents import Guardianship, Resident
from civicpass.domain.rulesets import RuleSetVersion
from civicpass.domain.sessions import Session
from civicpass.domain.staff import StaffMember
from civicpass.domain.tasks import Task
from civicpass.domain.tracing import Exposure, IndexPresence, TracingPolicy, Visit
from civicpass.domain.trustlist import IssuerKey, TrustList
from civicpass.domain.venues import Venue, VenueCodeClaims


class Clock(Protocol):
    def now(self) -> datetime: ...


class Randomness(Protocol):
    def new_id(self) -> str: ...
    def ordered_ids(self, count: int) -> list[str]:
        """``count`` new ids at once, in ascending order and starting with the time (a feed batch's facts:
        the table's primary key grows at its right edge)."""
        ...

    def token(self) -> str: ...
    def digits(self, count: int) -> str: ...
    def nonce(self) -> bytes: ...


class KeyedDigest(Protocol):
    """Keyed one-way digests (HMAC-SHA256): blind indexes for look-ups, digests of codes and tokens."""

    def blind_index(self, material: str) -> str: ...
    def secret_digest(self, secret: str) -> str: ...


class PasswordHasher(Protocol):
    def hash(self, password: str) -> str: ...
    def verify(self, password_hash: str, password: str) -> bool: ...


class Messenger(Protocol):
    def send_text(self, phone: str, text: str) -> None: ...


class ResidentRepository(Protocol):
    def add(self, resident: Resident) -> None: ...
    def add_many(self, residents: Sequence[Resident]) -> None: ...
    def get(self, resident_id: str) -> Resident | None: ...
    def by_document(self, document: Document) -> Resident | None: ...
    def by_phone(self, phone: str) -> Resident | None: ...
    def pseudonyms(self, resident_ids: Collection[str]) -> dict[str, str]: ...
    def ids_of_materials(self, materials: Sequence[str]) -> list[str | None]:
        """The id of the active resident whose document has each ``Document.index_material``, in order;
        None where none has."""
        ...

    def set_active(self, resident_id: str, active: bool) -> None: ...
    def by_code_subject(self, code_subject: str) -> Resident | None: ...
    def set_code_subject(self, resident_id: str, code_subject: str) -> None: ...
    def in_region(self, prefix: str, limit: int, offset: int) -> list[Resident]: ...
    def count(self) -> int: ...
    def ids_after(self, after: str, limit: int) -> list[str]: ...


class GuardianshipRepository(Protocol):
    def add(self, link: Guardianship) -> None: ...
    def add_many(self, links: Sequence[Guardianship]) -> None: ...
    def remove(self, guardian_id: str, dependent_id: str) -> bool: ...
    def guardians_of(self, dependent_id: str) -> list[Guardianship]: ...
    def dependents_of(self, guardian_id: str) -> list[Guardianship]: ...


class ChallengeRepository(Protocol):
    def add(self, challenge: PhoneChallenge) -> None: ...
    def get(self, challenge_id: str) -> PhoneChallenge | None: ...
    def by_ticket(self, ticket_digest: str) -> PhoneChallenge | None: ...
    def update(self, challenge: PhoneChallenge) -> None: ...
    def count_since(self, phone: str, since: datetime) -> int: ...


@dataclass(frozen=True)
class SessionHolder:
    """A session and what authenticating it needs to know of whoever holds it."""

    session: Session
    active: bool  # the holder's account (resident or staff) exists and is active
    dependents: frozenset[str] = frozenset()  # a resident holder's dependents
    staff: StaffMember | None = None  # a staff holder


class SessionRepository(Protocol):
    def add(self, session: Session) -> None: ...
    def holders(self, token_digests: Collection[str]) -> dict[str, SessionHolder]:
        """The sessions of these token digests with what authenticating them needs, in one look-up."""
        ...

    def revoke(self, token_digest: str, at: datetime) -> None: ...


class StaffRepository(Protocol):
    def add(self, member: StaffMember) -> None: ...
    def get(self, staff_id: str) -> StaffMember | None: ...
    def by_username(self, username: str) -> StaffMember | None: ...


class FormRepository(Protocol):
    def add(self, form: FormVersion) -> None: ...
    def get(self, key: str, version: int) -> FormVersion | None: ...
    def latest(self, key: str) -> FormVersion | None: ...
    def all_latest(self) -> list[FormVersion]: ...


class DeclarationRepository(Protocol):
    def add(self, declaration: Declaration) -> None: ...
    def get(self, declaration_id: str) -> Declaration | None: ...
    def for_subject(self, subject_id: str, limit: int) -> list[Declaration]: ...


class AccessLogRepository(Protocol):
    def add(self, record: AccessRecord) -> None: ...
    def list(self, resident_id: str | None, region_prefix: str, limit: int) -> list[AccessRecord]: ...


@dataclass(frozen=True)
class StoredResponse:
    fingerprint: str
    result_id: str


class IdempotencyRepository(Protocol):
    def get(self, scope: str, key: str) -> StoredResponse | None: ...
    def add(self, scope: str, key: str, response: StoredResponse, at: datetime) -> None: ...


class RegionRepository(Protocol):
    def upsert_many(self, regions: Iterable[Region]) -> int: ...
    def get(self, code: str) -> Region | None: ...
    def children(self, code: str | None) -> list[Region]: ...


class VenueRepository(Protocol):
    def add(self, venue: Venue) -> None: ...
    def add_many(self, venues: Sequence[Venue]) -> None: ...
    def get(self, venue_id: str) -> Venue | None: ...
    def get_many(self, venue_ids: Collection[str]) -> dict[str, Venue]: ...
    def update(self, venue: Venue) -> None: ...
    def of_operator(self, operator_id: str) -> list[Venue]: ...
    def in_region(self, prefix: str, limit: int, offset: int) -> list[Venue]: ...
    def count(self) -> int: ...


class CheckinRepository(Protocol):
    def add_many(self, checkins: Sequence[CheckIn]) -> None: ...
    def add_new(self, checkins: Sequence[CheckIn]) -> set[str]:
        """Insert, skipping rows whose (resident, client id, time) is stored; the ids inserted."""
        ...

    def find_many(
        self, keys: Collection[tuple[str, str]], start: datetime, end: datetime
    ) -> dict[tuple[str, str], CheckIn]: ...
    def prior_uses(
        self,
        codes: Collection[CodeKey],
        start: datetime,
        end: datetime,
        residents: Collection[str],
        located: Collection[CodeKey],
    ) -> dict[CodeKey, list[PriorUse]]: ...
    def of_resident(self, resident_id: str, start: datetime, end: datetime) -> list[CheckIn]: ...
    def hourly_counts(self, venue_id: str, start: datetime, end: datetime) -> list[tuple[datetime, int]]: ...
    def count_between(self, start: datetime, end: datetime) -> int: ...
    def delete_before(self, cutoff: datetime) -> int: ...


class MetaRepository(Protocol):
    def get(self, key: str) -> str | None: ...
    def put(self, key: str, value: str) -> None: ...


class FactRepository(Protocol):
    def add(self, fact: Fact) -> None: ...
    def add_feed(self, facts: FeedFacts) -> None:
        """A feed batch's facts at once (COPY on PostgreSQL)."""
        ...

    def get(self, fact_id: str) -> Fact | None: ...
    def update(self, fact: Fact) -> None: ...
    def for_subjects(self, subject_ids: Sequence[str]) -> dict[str, list[Fact]]: ...
    def proposed(self, region_prefix: str, limit: int) -> list[Fact]: ...


class RuleSetRepository(Protocol):
    def add(self, ruleset: RuleSetVersion) -> None: ...
    def get(self, version: int) -> RuleSetVersion | None: ...
    def active(self) -> RuleSetVersion | None: ...
    def active_colors(self) -> list[str]: ...
    def latest_version(self) -> int: ...
    def update(self, ruleset: RuleSetVersion) -> None: ...
    def all(self) -> list[RuleSetVersion]: ...


@dataclass(frozen=True)
class StoredStatus:
    subject_id: str
    version: int
    color: str
    reasons: list[dict[str, Any]]
    ruleset_version: int
    evaluated_at: datetime
    review_at: datetime
    inputs_digest: str
    marked: bool = False
    """Whether a bulk batch's mark that may name the resident awaits the sweep (``StatusRepository.get``):
    the status is then due, whatever its review time. Not stored: the mark is, until the sweep has
    re-evaluated its residents and dropped it."""


@dataclass(frozen=True)
class StatusMark:
    """A bulk batch's mark: the residents it named, whose statuses the sweep re-evaluates."""

    id: int
    subject_ids: list[str]


class StatusRepository(Protocol):
    def get(self, subject_id: str) -> StoredStatus | None:
        """The status, ``marked`` if a mark awaiting the sweep may name its resident."""
        ...

    def get_many(self, subject_ids: Sequence[str]) -> dict[str, StoredStatus]:
        """The statuses, without their marks (never ``marked``): a re-evaluation's read, which evaluates
        them anyway."""
        ...

    def with_status(self, subject_ids: Sequence[str]) -> list[str]:
        """Those of these residents that have a status (their ids only), in no particular order."""
        ...

    def save(self, status: StoredStatus, *, changed: bool) -> None: ...
    def save_many(self, items: Sequence[tuple[StoredStatus, bool]]) -> None:
        """(status, changed) pairs: ``save`` for each, in a few statements."""
        ...

    def mark_due(self, subject_ids: Sequence[str], at: datetime) -> None:
        """One mark naming them, for the sweep: until it drops the mark, their statuses read as due
        (``get``)."""
        ...

    def marks(self, limit: int) -> list[StatusMark]:
        """The oldest marks, at most ``limit``."""
        ...

    def claim_mark(self, now: datetime, until: datetime) -> StatusMark | None:
        """The oldest mark that no one has claimed, or whose claim ran out by ``now``, claimed until
        ``until``; a mark another transaction is claiming is passed over, not waited for."""
        ...

    def drop_mark(self, mark_id: int) -> None: ...
    def history(self, subject_id: str, limit: int) -> list[StoredStatus]: ...
    def claim_due(self, now: datetime, limit: int) -> list[str]:
        """Residents whose review time has come (marks aside), the earliest first, their statuses locked
        until the transaction ends; statuses another transaction holds are passed over, not waited for."""
        ...


@dataclass(frozen=True)
class StoredEvent:
    id: int
    name: str
    payload: Mapping[str, Any]
    at: datetime


class EventRepository(Protocol):
    def add(self, name: str, payload: dict[str, Any], at: datetime) -> None: ...
    def after(self, event_id: int, limit: int, up_to: int | None = None) -> list[StoredEvent]: ...
    def committed_bound(self) -> int | None:
        """Every event up to this id is committed (None: every visible one; -1: none can be told now)."""
        ...

    def since(self, names: Sequence[str], start: datetime) -> list[StoredEvent]: ...
    def subjects_by(
        self, names: Sequence[str], start: datetime, by: str, where: Mapping[str, str] | None = None
    ) -> dict[str, int]:
        """Per value of payload key ``by``: how many distinct payload ``subject``s the events of these names
        from ``start`` on name, among those whose payload has every key-value pair of ``where`` (counted
        by the database: a busy hour's events are not loaded)."""
        ...

    def of_subject(self, name: str, subject_id: str, limit: int) -> list[StoredEvent]: ...
    def add_many(self, events: Sequence[tuple[str, dict[str, Any], datetime]]) -> None: ...


@dataclass(frozen=True)
class RiskArea:
    id: str
    region_code: str
    level: str
    valid_from: datetime
    valid_to: datetime | None
    declared_by: str | None
    declared_at: datetime


class RiskAreaRepository(Protocol):
    def add(self, area: RiskArea) -> None: ...
    def overlapping(self, start: datetime, end: datetime) -> list[RiskArea]: ...


class Signer(Protocol):
    """Signs documents with the instance's key: canonical JSON (RFC 8785), Ed25519."""

    key_id: str

    def sign_document(self, document: Mapping[str, Any]) -> str: ...
    def public_key(self) -> str: ...


class SigningKeyHandle(Protocol):
    @property
    def kid(self) -> str: ...
    @property
    def alg(self) -> str: ...
    @property
    def cose_alg(self) -> int: ...
    @property
    def sign(self) -> Callable[[bytes], bytes]:
        """Signs the COSE ToBeSigned bytes."""
        ...


class KeyStore(Protocol):
    """Code-signing keys (file keystore by default; a KMS or HSM adapter implements the same)."""

    @property
    def generation(self) -> int: ...
    def issuer_keys(self) -> list[IssuerKey]: ...
    def active(self, now: datetime) -> SigningKeyHandle: ...
    def rotate(self, now: datetime, longest_code: timedelta, alg: str = "EdDSA") -> IssuerKey: ...
    def revoke(self, kid: str, now: datetime) -> IssuerKey: ...


class CodeCodec(Protocol):
    """The code byte format: CWT claims in COSE_Sign1, zlib, Base45, a prefix (docs/formats/code.md)."""

    def issue(self, claims: CodeClaims, key: SigningKeyHandle) -> str: ...
    def verify(self, token: str, trust_list: TrustList, now: datetime, skew: timedelta) -> Verification: ...
    def issue_venue(self, claims: VenueCodeClaims, key: SigningKeyHandle) -> str: ...
    def open_venue(self, token: str, trust_list: TrustList) -> VenueCodeClaims | Rejection: ...


FeedParser = Callable[[bytes, str, frozenset[str], datetime], Parsed]
"""(body, media type, record kinds the source may send, the latest time a record may carry) -> the batch's
records, exactly as ``domain.feeds.parse_batch`` parses them (which raises for a body that is not UTF-8 or
a bad CSV header)."""


@dataclass(frozen=True)
class StoredBatch:
    sha256: str
    report: Mapping[str, Any]


@dataclass
class FeedFacts:
    """The active facts one feed batch brings, column by column (``FactRepository.add_feed``): one
    ``authority`` (the source), one moment ``at`` (effective and recorded), ``data`` as JSON text. Their
    ids come last (``number``), with the order they are stored in."""

    authority: str
    at: datetime
    subjects: list[str] = field(default_factory=list)
    kinds: list[FactKind] = field(default_factory=list)
    data: list[str] = field(default_factory=list)
    expires: list[datetime] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    order: list[int] = field(default_factory=list)
    """The facts' positions in the order they are stored in: their holders' (``number``)."""

    def __len__(self) -> int:
        return len(self.subjects)

    def add(self, subject: str, kind: FactKind, data: str, expires: datetime, note: str) -> None:
        self.subjects.append(subject)
        self.kinds.append(kind)
        self.data.append(data)
        self.expires.append(expires)
        self.notes.append(note)

    def number(self, ids: Sequence[str]) -> None:
        """Give the facts ``ids``, which ascend (``Randomness.ordered_ids``), in the order of their holders,
        and store them in it (``order``): each then adds to the primary key at its right edge, and to the
        index of a holder's facts in key order, not at a random leaf (docs/decisions.md)."""
        if len(ids) != len(self):
            raise ValueError(f"{len(self)} facts, {len(ids)} ids")
        self.order = sorted(range(len(self)), key=self.subjects.__getitem__)
        numbered = [""] * len(ids)
        for rank, i in enumerate(self.order):
            numbered[i] = ids[rank]
        self.ids = numbered

    def fact(self, i: int) -> Fact:
        return Fact(
            id=self.ids[i],
            subject_id=self.subjects[i],
            kind=self.kinds[i],
            data=json.loads(self.data[i]),
            source=FactSource.FEED,
            authority=self.authority,
            effective_at=self.at,
            expires_at=self.expires[i],
            recorded_at=self.at,
            state=FactState.ACTIVE,
            note=self.notes[i],
        )


class FeedRepository(Protocol):
    def add_source(self, source: FeedSource) -> None: ...
    def source(self, source_id: str) -> FeedSource | None: ...
    def sources(self) -> list[FeedSource]: ...
    def batch(self, source_id: str, batch_id: str) -> StoredBatch | None: ...
    def add_batch(
        self, source_id: str, batch_id: str, sha256: str, at: datetime, report: dict[str, Any]
    ) -> None: ...
    def known(self, source_id: str, record_ids: Collection[str]) -> set[str]: ...
    def add_records(self, source_id: str, batch_id: str, record_ids: Sequence[str]) -> None:
        """The ids of a batch's accepted records (``known`` from now on)."""
        ...

    def quarantine(
        self, source_id: str, batch_id: str, rejected: Sequence[Rejected], at: datetime
    ) -> None: ...
    def quarantined(self, source_id: str, limit: int) -> list[dict[str, Any]]: ...


class TaskRepository(Protocol):
    def add_many(self, tasks: Sequence[Task]) -> None: ...
    def get(self, task_id: str) -> Task | None: ...
    def update(self, task: Task) -> None: ...
    def in_region(
        self, prefix: str, open_only: bool, due_before: datetime | None, limit: int
    ) -> list[Task]: ...
    def of_resident(self, resident_id: str) -> list[Task]: ...


class AppealRepository(Protocol):
    def add(self, appeal: Appeal) -> None: ...
    def get(self, appeal_id: str) -> Appeal | None: ...
    def update(self, appeal: Appeal) -> None: ...
    def of_resident(self, resident_id: str) -> list[Appeal]: ...
    def in_region(self, prefix: str, open_only: bool, limit: int) -> list[Appeal]: ...


@dataclass(frozen=True)
class LogHead:
    size: int
    root: bytes
    last_event_id: int  # the last event published as a leaf


@dataclass(frozen=True)
class NewLeaf:
    name: str  # the event's source:subject:action
    document: Mapping[str, Any]  # stored as RFC 8785 canonical JSON
    at: datetime
    event_id: int | None


@dataclass(frozen=True)
class LogLeaf:
    index: int
    name: str
    data: str  # the canonical JSON the leaf hash covers
    leaf_hash: bytes
    at: datetime


class LogRepository(Protocol):
    def head(self) -> LogHead: ...
    def lock_head(self) -> LogHead: ...
    def nodes(self, coords: Collection[tuple[int, int]]) -> dict[tuple[int, int], bytes]: ...
    def append(self, entries: Sequence[NewLeaf], last_event_id: int, at: datetime) -> LogHead:
        """Leaves at the end, one writer at a time (the head is locked until the transaction ends)."""
        ...

    def leaves(self, start: int, end: int) -> list[LogLeaf]: ...
    def leaves_of_events(self, event_ids: Collection[int]) -> dict[int, LogLeaf]: ...
    def add_checkpoint(self, size: int, note: str, at: datetime) -> None: ...
    def checkpoint(self, size: int | None = None) -> tuple[int, str] | None: ...
    def checkpoints(self, after: int, limit: int) -> list[tuple[int, str]]: ...
    def add_cosignature(self, size: int, witness: str, line: str, at: datetime) -> None: ...
    def cosignatures(self, size: int) -> list[str]: ...


class LogView(Protocol):
    def head(self) -> LogHead: ...
    def nodes(self, coords: Collection[tuple[int, int]]) -> dict[tuple[int, int], bytes]: ...
    def head_and_nodes(
        self, wanted: Callable[[int], Collection[tuple[int, int]]]
    ) -> tuple[LogHead, dict[tuple[int, int], bytes]]:
        """The head and the stored subtrees ``wanted(head.size)`` names, read as of that head."""
        ...


class LogReader(Protocol):
    """The log's head and stored subtree hashes, read outside any transaction (for proofs)."""

    def snapshot(self) -> AbstractContextManager[LogView]: ...
    def prepare(self) -> int:
        """Bring what the reader holds in memory up to the current head, so that proofs need not; the
        tree size it now holds (0 if it holds nothing)."""
        ...


@dataclass(frozen=True)
class WitnessedLog:
    origin: str
    size: int
    root: bytes
    note: str


class WitnessedRepository(Protocol):
    def get(self, origin: str) -> WitnessedLog | None: ...
    def put(self, seen: WitnessedLog, at: datetime) -> None: ...


class NoteKeys(Protocol):
    """This instance's note (checkpoint) key and witness (cosignature) key."""

    note_key: VerifierKey
    witness_key: VerifierKey

    def sign(self, text: str) -> SignatureLine: ...
    def cosign(self, checkpoint_text: str, timestamp: int) -> SignatureLine: ...
    def verify(self, key: VerifierKey, text: str, line: SignatureLine) -> bool: ...


class LogClient(Protocol):
    """Another instance's log, as its witness reads it (HTTP)."""

    def checkpoint(self) -> str: ...
    def consistency(self, size1: int, size2: int) -> list[bytes]: ...
    def submit_cosignature(self, size: int, line: str) -> None: ...


class PrivacyRepository(Protocol):
    def delete_before(self, data_class: str, cutoff: datetime) -> int: ...
    def counts(self) -> dict[str, Any]: ...
    def destroy_personal_data(self) -> dict[str, int]: ...


class SignatureVerifier(Protocol):
    def verify(self, public_key: str, message: bytes, signature: str) -> bool:
        """Ed25519 (RFC 8032): keys and signatures unpadded base64url."""
        ...


class CaseRepository(Protocol):
    def add(self, case: Case) -> None: ...
    def get(self, case_id: str) -> Case | None: ...
    def update(self, case: Case) -> None: ...
    def of_resident(self, resident_id: str) -> list[Case]: ...
    def in_region(self, prefix: str, states: Collection[CaseState], limit: int) -> list[Case]: ...


class ProposalRepository(Protocol):
    def add(self, proposal: TracingProposal) -> None: ...
    def get(self, proposal_id: str) -> TracingProposal | None: ...
    def update(self, proposal: TracingProposal) -> None: ...
    def of_case(self, case_id: str) -> list[str]: ...


class TracingEngine(Protocol):
    """Where tracing reads check-ins: the operational database (``uow.tracing``, SQL) for small jobs, the
    Parquet exports (DuckDB) for large ones. Both compute ``domain.tracing``'s exposures exactly."""

    name: str

    def visits_of(self, residents: Collection[str], start: datetime, end: datetime) -> list[Visit]: ...
    def exposures(self, index: Sequence[IndexPresence], policy: TracingPolicy) -> list[Exposure]: ...


class UnitOfWork(Protocol):
    """One transaction. ``with uow: ...; uow.commit()``; leaving the block without commit rolls back."""

    residents: ResidentRepository
    guardianships: GuardianshipRepository
    challenges: ChallengeRepository
    sessions: SessionRepository
    staff: StaffRepository
    forms: FormRepository
    declarations: DeclarationRepository
    access_log: AccessLogRepository
    idempotency: IdempotencyRepository
    regions: RegionRepository
    venues: VenueRepository
    meta: MetaRepository
    facts: FactRepository
    rulesets: RuleSetRepository
    statuses: StatusRepository
    events: EventRepository
    risk_areas: RiskAreaRepository
    checkins: CheckinRepository
    cases: CaseRepository
    proposals: ProposalRepository
    feeds: FeedRepository
    tasks: TaskRepository
    appeals: AppealRepository
    log: LogRepository
    witnessed: WitnessedRepository
    privacy: PrivacyRepository
    tracing: TracingEngine

    def __enter__(self) -> Self: ...
    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> UnitOfWork: ...


@dataclass(frozen=True)
class DroppedDays:
    partitions: tuple[str, ...]
    rows: int


class CheckinStorage(Protocol):
    """How check-ins are laid out by day: PostgreSQL makes daily partitions ahead and drops expired days
    whole; SQLite has none (the unit of work's ``checkins.delete_before`` does its whole purge)."""

    def ensure_days(self, first: date, last: date) -> list[str]: ...
    def drop_days_before(self, cutoff: datetime) -> DroppedDays: ...
    def partitions(self) -> list[str]: ...
