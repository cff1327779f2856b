"""What every use case gets besides its unit of work: the non-database ports and the limits in force."""

from __future__ import annotations

from dataclasses import dataclass

from civicpass.services.ports import (
    Clock,
    KeyedDigest,
    Messenger,
    PasswordHasher,
    Randomness,
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


@dataclass(frozen=True)
class Deps:
    uow: UnitOfWorkFactory
    clock: Clock
    random: Randomness
    digest: KeyedDigest
    passwords: PasswordHasher
    messenger: Messenger
    limits: Limits
