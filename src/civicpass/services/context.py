"""What every use case gets besides its unit of work: the non-database ports and the limits in force."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import tzinfo

from civicpass.domain.notes import VerifierKey
from civicpass.domain.tracing import TracingPolicy
from civicpass.services.ports import (
    Clock,
    CodeCodec,
    FeedParser,
    KeyedDigest,
    KeyStore,
    LogReader,
    Messenger,
    NoteKeys,
    PasswordHasher,
    Randomness,
    SignatureVerifier,
    Signer,
    TracingEngine,
    UnitOfWorkFactory,
)


@dataclass(frozen=True)
class Limits:
    otp_ttl_seconds: int = 300
    otp_max_attempts: int = 5
    otp_max_per_hour: int = 5
    verification_ttl_seconds: int = 900
    resident_session_seconds: int = 30 * 24 * 3600
    staff_session_seconds: int = 12 * 3600
    recompute_batch: int = 1000
    code_ttl_seconds: int = 120
    offline_code_days: int = 3
    code_skew_seconds: int = 30
    trust_list_hours: int = 24
    venue_code_window_seconds: int = 300
    checkin_retention_days: int = 21
    min_count_shown: int = 5
    declared_fact_days: int = 14
    contact_fact_days: int = 21
    appeal_sla_hours: int = 72
    feed_sync_residents: int = 1000
    alarm_facts_per_hour: int = 50
    retention_days: tuple[tuple[str, int], ...] = (
        ("access_log", 365),
        ("declarations", 30),
        ("expired_facts", 90),
        ("feed_quarantine", 30),
        ("idempotency", 2),
        ("phone_challenges", 1),
        ("sessions", 7),
    )
    alarm_reads_per_hour: int = 30
    case_list_limit: int = 500


@dataclass(frozen=True)
class IssuerInfo:
    """Who this instance is when it issues codes: the ``iss`` claim and its trust-list entry."""

    id: str
    names: Mapping[str, str]
    region: str


@dataclass(frozen=True)
class Deps:
    uow: UnitOfWorkFactory
    clock: Clock
    random: Randomness
    digest: KeyedDigest
    passwords: PasswordHasher
    messenger: Messenger
    limits: Limits
    signer: Signer
    zone: tzinfo
    """The region's time zone: times are stored in UTC and shown (and counted in days) in this zone."""
    keystore: KeyStore
    codec: CodeCodec
    issuer: IssuerInfo
    tracing: TracingPolicy = TracingPolicy()  # noqa: RUF009 - frozen, so one shared default is safe
    analytics: TracingEngine | None = None  # DuckDB over the Parquet exports, for large tracing jobs
    signatures: SignatureVerifier | None = None  # data-source systems' signatures (feeds)
    notes: NoteKeys | None = None  # this instance's checkpoint and cosignature keys
    log_witnesses: tuple[VerifierKey, ...] = ()  # whose cosignatures this log accepts and serves
    log_reader: LogReader | None = None  # proofs without a transaction (else through a unit of work)
    feed_parser: FeedParser | None = None  # a faster equal of ``domain.feeds.parse_batch`` (that, if None)
