"""The one typed settings object. Every setting is declared here once, with its default and help.

Settings come from ``CIVICPASS_*`` environment variables. The entry point (CLI or ASGI factory) builds
them and passes them down; nothing reads the environment anywhere else.
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDERS = ("changeme", "change-me", "placeholder", "secret", "example", "password")
MIN_DISTINCT_BYTES = 16


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CIVICPASS_", extra="ignore")

    environment: Literal["development", "production"] = Field(
        "development", description="production refuses generated or placeholder secrets"
    )
    database_url: str = Field(
        "sqlite:///var/civicpass.db", description="SQLAlchemy URL: sqlite:///PATH or postgresql://..."
    )
    database_schema: str | None = Field(
        None, description="PostgreSQL schema (search_path) to use, if not public"
    )
    data_dir: Path = Field(Path("var"), description="where development secrets and exports are kept")
    host: str = Field("127.0.0.1", description="address `civicpass serve` listens on")
    port: int = Field(8000, description="port `civicpass serve` listens on")
    workers: int = Field(1, description="uvicorn worker processes for `civicpass serve`")
    access_log: bool = Field(
        True,
        description="log every request (uvicorn's access log); at a peak it costs several per cent of a worker's"
        " CPU, so large deployments log requests at their load balancer and turn this off",
    )

    pii_keys: SecretStr | None = Field(
        None,
        description="PII encryption keyring 'kid:base64key,kid2:base64key' (32-byte keys); the first encrypts new data",
    )
    blind_index_key: SecretStr | None = Field(
        None, description="base64 32-byte HMAC key for blind indexes and digests"
    )
    keystore_key: SecretStr | None = Field(
        None, description="base64 32-byte key sealing the code-signing keys in the file keystore"
    )
    keystore_path: Path | None = Field(
        None, description="the code-signing keystore file (default: DATA_DIR/keys/codes.json)"
    )
    issuer_id: str = Field(
        "CN-DEMO-CIVICPASS", description="the iss of this instance's codes and its trust-list entry"
    )
    issuer_name_zh: str = Field("civicpass演示城市", description="issuer name shown to verifiers (zh-CN)")
    issuer_name_en: str = Field("civicpass demo city", description="issuer name shown to verifiers (en)")
    issuer_region: str = Field("440100", description="GB/T 2260 code of the issuing region")
    code_ttl_seconds: int = Field(120, description="lifetime of a dynamic code; apps refresh before it ends")
    offline_code_days: int = Field(3, ge=1, le=7, description="default lifetime of a printed offline code")
    code_skew_seconds: int = Field(30, description="clock skew a verifier tolerates")
    trust_list_hours: int = Field(24, description="how long a published trust list is valid")
    venue_code_window_seconds: int = Field(300, description="how long a rotating venue code is valid")
    checkin_retention_days: int = Field(21, description="days check-ins are kept before they are purged")
    retention_declarations_days: int = Field(30, ge=1, description="days declarations are kept")
    retention_access_log_days: int = Field(
        365, ge=30, description="days the record of reads of personal data is kept"
    )
    retention_feed_quarantine_days: int = Field(30, ge=1, description="days rejected feed records are kept")
    retention_expired_facts_days: int = Field(90, ge=1, description="days a fact is kept after it expired")
    tracing_dwell_minutes: int = Field(60, ge=1, description="how long a venue check-in counts as presence")
    tracing_ride_minutes: int = Field(
        60, ge=1, description="how long a vehicle boarding counts as presence when no alighting is recorded"
    )
    tracing_buffer_minutes: int = Field(
        30, ge=0, description="how far an index person's presence is widened on each side when tracing"
    )
    tracing_close_minutes: int = Field(
        15, ge=1, description="overlap (strong or medium evidence) that makes a close contact"
    )
    infectious_days_before: int = Field(
        2, ge=0, description="days before symptom onset (or sampling) a case's infectious window starts"
    )
    contact_fact_days: int = Field(21, ge=1, description="how long a close-contact or companion fact holds")
    appeal_sla_hours: int = Field(
        72, ge=1, description="the deadline for deciding an appeal, from its filing"
    )
    alarm_facts_per_hour: int = Field(
        50,
        ge=1,
        description="residents one staff member may record facts about by hand in an hour before an alarm",
    )
    alarm_reads_per_hour: int = Field(
        30, ge=1, description="residents whose data one staff member may look up in an hour before an alarm"
    )
    feed_sync_residents: int = Field(
        1000,
        ge=0,
        description="a feed batch touching at most this many residents re-evaluates them at once; a larger one"
        " marks them due for the status sweep",
    )
    signing_key: SecretStr | None = Field(
        None, description="base64 32-byte Ed25519 seed: the instance's signing key"
    )

    log_origin: str = Field(
        "civicpass.local/log",
        min_length=1,
        max_length=200,
        description="the transparency log's origin line and note key name",
    )
    witness_name: str = Field(
        "civicpass.local/witness",
        min_length=1,
        max_length=200,
        description="this instance's name when it witnesses other logs",
    )
    log_witnesses: str = Field(
        "",
        description="verifier keys (<name>+<id>+<key>, comma-separated) of the witnesses whose cosignatures this log serves",
    )
    alarm_interval_seconds: int = Field(
        60,
        ge=0,
        description="how often the server checks for misuse alarms (0: never; `civicpass audit alarms`)",
    )
    witness_peers: str = Field(
        "",
        description="logs this instance witnesses on a schedule: <url>|<verifier key>, comma-separated",
    )
    witness_interval_seconds: int = Field(
        60, ge=0, description="how often the server witnesses the logs in witness_peers (0: never)"
    )
    log_interval_seconds: int = Field(
        5, ge=0, description="how often the server appends new events to the transparency log (0: never)"
    )
    sweep_interval_seconds: int = Field(
        60,
        description="how often the server re-evaluates statuses due for review (0: never; use `civicpass status sweep`)",
    )
    checkin_batch_max: int = Field(
        500, ge=1, description="most check-ins one group commit stores in one transaction (per worker)"
    )
    checkin_committers: int = Field(
        1,
        ge=1,
        description="group commits of check-ins in flight at once per worker; more than one makes smaller"
        " batches, which cost more CPU per check-in (docs/performance.md)",
    )
    checkin_queue_limit: int = Field(
        2000,
        ge=1,
        description="check-ins waiting for a commit beyond which a worker sheds new ones with 503 + Retry-After",
    )
    checkin_maintenance_interval_seconds: int = Field(
        3600,
        description="how often the server makes check-in partitions ahead and purges expired ones (0: never)",
    )
    timezone: str = Field(
        "Asia/Shanghai", description="IANA time zone of the region: days and shown times use it"
    )
    max_body_bytes: int = Field(64 * 1024, description="largest request body accepted (413 above it)")
    feed_max_bytes: int = Field(
        64 * 1024 * 1024, ge=1024, description="largest signed feed batch accepted (413 above it)"
    )
    otp_ttl_seconds: int = Field(300, description="lifetime of a phone one-time code")
    otp_max_attempts: int = Field(5, description="wrong codes allowed per challenge")
    otp_max_per_hour: int = Field(5, description="codes sent to one phone per hour")
    resident_session_days: int = Field(30, description="lifetime of a resident's sign-in")
    staff_session_hours: int = Field(12, description="lifetime of a staff sign-in")
    cookie_secure: bool = Field(
        True, description="mark the staff session cookie Secure (browsers allow it on localhost)"
    )

    demo_residents: int = Field(10_000, description="residents `civicpass seed-demo` creates")
    password_time_cost: int = Field(3, description="Argon2id time cost for staff passwords")
    password_memory_cost: int = Field(65536, description="Argon2id memory cost (KiB) for staff passwords")

    @model_validator(mode="after")
    def _production_needs_real_secrets(self) -> Settings:
        if self.environment != "production":
            return self
        for name in ("pii_keys", "blind_index_key", "signing_key", "keystore_key"):
            value: SecretStr | None = getattr(self, name)
            if value is None:
                raise ValueError(f"CIVICPASS_{name.upper()} must be set in production")
            if not _is_real_key(value.get_secret_value(), keyring=name == "pii_keys"):
                raise ValueError(
                    f"CIVICPASS_{name.upper()} looks like a placeholder or is not a base64 32-byte random key; "
                    "generate one with: python -c 'import os,base64;print(base64.b64encode(os.urandom(32)).decode())'"
                )
        return self


def _is_real_key(text: str, *, keyring: bool) -> bool:
    """True for base64 of 32 random-looking bytes (for a keyring: each ``kid:base64`` item).

    Placeholder words are recognised by what they decode to, not by searching the base64 text, where
    random keys contain words like "dev" by chance.
    """
    items = [item.partition(":")[2] if keyring else item for item in text.split(",")] if text else [""]
    for item in items:
        try:
            key = base64.b64decode(item.strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        # 32 random bytes have about 30 distinct values; typed text (even base64-encoded) has far fewer.
        if (
            len(key) != 32
            or len(set(key)) < MIN_DISTINCT_BYTES
            or any(p.encode() in key.lower() for p in PLACEHOLDERS)
        ):
            return False
    return True
