"""The one typed settings object. Every setting is declared here once, with its default and help.

Settings come from ``CIVICPASS_*`` environment variables. The entry point (CLI or ASGI factory) builds
them and passes them down; nothing reads the environment anywhere else.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDERS = ("changeme", "change-me", "placeholder", "secret", "example", "xxx", "todo", "password", "dev")


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

    pii_keys: SecretStr | None = Field(
        None,
        description="PII encryption keyring 'kid:base64key,kid2:base64key' (32-byte keys); the first encrypts new data",
    )
    blind_index_key: SecretStr | None = Field(
        None, description="base64 32-byte HMAC key for blind indexes and digests"
    )
    signing_key: SecretStr | None = Field(
        None, description="base64 32-byte Ed25519 seed: the instance's signing key"
    )

    max_body_bytes: int = Field(64 * 1024, description="largest request body accepted (413 above it)")
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
        for name in ("pii_keys", "blind_index_key", "signing_key"):
            value: SecretStr | None = getattr(self, name)
            if value is None:
                raise ValueError(f"CIVICPASS_{name.upper()} must be set in production")
            raw = value.get_secret_value().lower()
            if len(raw) < 32 or any(p in raw for p in PLACEHOLDERS):
                raise ValueError(f"CIVICPASS_{name.upper()} looks like a placeholder; generate a real key")
        return self
