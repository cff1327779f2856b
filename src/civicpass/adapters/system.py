"""The system clock and the operating system's randomness."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class SystemRandom:
    def new_id(self) -> str:
        return str(uuid.uuid4())

    def token(self) -> str:
        return secrets.token_urlsafe(32)

    def nonce(self) -> bytes:
        return secrets.token_bytes(16)

    def digits(self, count: int) -> str:
        return "".join(secrets.choice("0123456789") for _ in range(count))
