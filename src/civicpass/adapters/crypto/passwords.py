"""Staff password hashing with Argon2id (RFC 9106) through argon2-cffi."""

from __future__ import annotations

from dataclasses import dataclass, field

from argon2 import PasswordHasher as _Argon2
from argon2.exceptions import InvalidHashError, VerificationError


@dataclass
class Argon2Passwords:
    """Argon2id with argon2-cffi's defaults (RFC 9106 low-memory profile); tests may pass cheaper ones."""

    time_cost: int = 3
    memory_cost: int = 65536
    _hasher: _Argon2 = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._hasher = _Argon2(time_cost=self.time_cost, memory_cost=self.memory_cost)

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False
