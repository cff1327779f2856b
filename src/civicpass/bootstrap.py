"""The composition root: the one place that turns ``Settings`` into wired adapters and services."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from civicpass.adapters.analytics import DuckDbTracing
from civicpass.adapters.codes import CoseCodeCodec
from civicpass.adapters.crypto.keystore import FileKeyStore
from civicpass.adapters.crypto.notes import Ed25519NoteKeys
from civicpass.adapters.crypto.passwords import Argon2Passwords
from civicpass.adapters.crypto.pii import HmacDigest, PiiCipher
from civicpass.adapters.crypto.signing import Ed25519Signer, Ed25519Verifier
from civicpass.adapters.db.engine import make_engine
from civicpass.adapters.db.log_reader import SqlLogReader
from civicpass.adapters.db.migrate import upgrade
from civicpass.adapters.db.uow import SqlUnitOfWorkFactory
from civicpass.adapters.feed_parser import ArrowFeedParser
from civicpass.adapters.files import bundled_forms, bundled_ruleset, read_regions
from civicpass.adapters.messaging import ConsoleMessenger
from civicpass.adapters.secrets import KeyMaterial, key_material
from civicpass.adapters.system import SystemClock, SystemRandom
from civicpass.domain.notes import VerifierKey
from civicpass.domain.tracing import TracingPolicy
from civicpass.services.context import Deps, IssuerInfo, Limits
from civicpass.services.declarations import sync_forms
from civicpass.services.ports import Clock, Messenger, Randomness
from civicpass.services.regions import load_regions
from civicpass.services.rulesets import install_bundled
from civicpass.settings import Settings


@dataclass(frozen=True)
class Container:
    settings: Settings
    engine: sa.Engine
    deps: Deps
    keys: KeyMaterial

    def dispose(self) -> None:
        if isinstance(self.deps.log_reader, SqlLogReader):
            self.deps.log_reader.dispose()
        self.engine.dispose()


def limits_from(settings: Settings) -> Limits:
    return Limits(
        otp_ttl_seconds=settings.otp_ttl_seconds,
        otp_max_attempts=settings.otp_max_attempts,
        otp_max_per_hour=settings.otp_max_per_hour,
        resident_session_seconds=settings.resident_session_days * 86400,
        staff_session_seconds=settings.staff_session_hours * 3600,
        code_ttl_seconds=settings.code_ttl_seconds,
        offline_code_days=settings.offline_code_days,
        code_skew_seconds=settings.code_skew_seconds,
        trust_list_hours=settings.trust_list_hours,
        venue_code_window_seconds=settings.venue_code_window_seconds,
        checkin_retention_days=settings.checkin_retention_days,
        contact_fact_days=settings.contact_fact_days,
        appeal_sla_hours=settings.appeal_sla_hours,
        feed_sync_residents=settings.feed_sync_residents,
        alarm_facts_per_hour=settings.alarm_facts_per_hour,
        retention_days=(
            ("access_log", settings.retention_access_log_days),
            ("declarations", settings.retention_declarations_days),
            ("expired_facts", settings.retention_expired_facts_days),
            ("feed_quarantine", settings.retention_feed_quarantine_days),
            ("idempotency", 2),
            ("phone_challenges", 1),
            ("sessions", 7),
        ),
        alarm_reads_per_hour=settings.alarm_reads_per_hour,
    )


def _log_reader(settings: Settings, engine: sa.Engine) -> SqlLogReader:
    """The log reader's own small pool on PostgreSQL, without a ping per checkout; SQLite shares one."""
    if engine.dialect.name != "postgresql":
        return SqlLogReader(engine)
    own = make_engine(
        settings.database_url,
        pool_size=4,
        schema=settings.database_schema,
        pre_ping=False,
        autocommit=True,
        generic_plans=True,
    )
    return SqlLogReader(own, owns_engine=True)


def tracing_policy(settings: Settings) -> TracingPolicy:
    return TracingPolicy(
        dwell=timedelta(minutes=settings.tracing_dwell_minutes),
        ride=timedelta(minutes=settings.tracing_ride_minutes),
        buffer=timedelta(minutes=settings.tracing_buffer_minutes),
        close_after=timedelta(minutes=settings.tracing_close_minutes),
        infectious_before=timedelta(days=settings.infectious_days_before),
    )


def build(
    settings: Settings,
    *,
    messenger: Messenger | None = None,
    clock: Clock | None = None,
    random: Randomness | None = None,
) -> Container:
    """Wire everything from settings; tests pass fakes for the messenger, clock and randomness."""
    keys = key_material(
        settings.pii_keys.get_secret_value() if settings.pii_keys else None,
        settings.blind_index_key.get_secret_value() if settings.blind_index_key else None,
        settings.signing_key.get_secret_value() if settings.signing_key else None,
        settings.keystore_key.get_secret_value() if settings.keystore_key else None,
        settings.data_dir,
        generate=settings.environment == "development",
    )
    engine = make_engine(settings.database_url, schema=settings.database_schema)
    digest = HmacDigest(keys.blind_index_key)
    reader = _log_reader(settings, engine)
    deps = Deps(
        uow=SqlUnitOfWorkFactory(engine, PiiCipher(keys.pii_keys, keys.pii_active), digest),
        clock=clock or SystemClock(),
        random=random or SystemRandom(),
        digest=digest,
        passwords=Argon2Passwords(settings.password_time_cost, settings.password_memory_cost),
        messenger=messenger or ConsoleMessenger(),
        limits=limits_from(settings),
        signer=Ed25519Signer(keys.signing_key),
        zone=ZoneInfo(settings.timezone),
        keystore=FileKeyStore(
            settings.keystore_path or settings.data_dir / "keys" / "codes.json", keys.keystore_key
        ),
        codec=CoseCodeCodec(),
        issuer=IssuerInfo(
            settings.issuer_id,
            {"zh-CN": settings.issuer_name_zh, "en": settings.issuer_name_en},
            settings.issuer_region,
        ),
        tracing=tracing_policy(settings),
        analytics=DuckDbTracing(settings.data_dir / "exports"),
        signatures=Ed25519Verifier(),
        notes=Ed25519NoteKeys(keys.signing_key, settings.log_origin, settings.witness_name),
        log_reader=reader,
        feed_parser=ArrowFeedParser(),
        log_witnesses=tuple(VerifierKey.parse(k) for k in settings.log_witnesses.split(",") if k.strip()),
    )
    return Container(settings, engine, deps, keys)


def migrate(container: Container) -> None:
    """Bring the schema to the newest migration and load the bundled regions and forms (idempotent)."""
    upgrade(container.engine)
    load_regions(container.deps, read_regions())
    sync_forms(container.deps, bundled_forms())
    install_bundled(container.deps, bundled_ruleset())
