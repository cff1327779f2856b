"""The system clock and the operating system's randomness."""

from __future__ import annotations

import os
import secrets
import threading
from datetime import UTC, datetime

IDS_PER_READ = 256  # ids drawn from one read of the operating system's randomness
_forks = [0]  # bumped in a forked child: stocks of ids drawn before the fork are never used there
os.register_at_fork(after_in_child=lambda: _forks.__setitem__(0, _forks[0] + 1))


def random_ids(count: int) -> list[str]:
    """``count`` random (version 4) UUIDs as text, as ``str(uuid.uuid4())`` makes them (16 bytes of
    ``os.urandom`` each, the version and variant bits set), from one read of the OS's randomness."""
    raw = bytearray(os.urandom(16 * count))
    raw[6::16] = bytes(b & 0x0F | 0x40 for b in raw[6::16])  # version 4
    raw[8::16] = bytes(b & 0x3F | 0x80 for b in raw[8::16])  # the RFC 9562 variant
    text = raw.hex()
    return [
        f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
        for h in (text[k : k + 32] for k in range(0, len(text), 32))
    ]


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class SystemRandom:
    def __init__(self) -> None:
        self._stock = threading.local()

    def new_id(self) -> str:
        """A random UUID (version 4) as text. Drawn ``IDS_PER_READ`` at a time: one system call instead of
        one per id (a feed batch draws an id per record, the check-in group commit one per scan). Each
        thread has its own stock, and a forked child throws away what it inherited."""
        stock = self._stock
        if getattr(stock, "fork", None) != _forks[0] or not stock.ids:
            stock.ids, stock.fork = random_ids(IDS_PER_READ), _forks[0]
        ids: list[str] = stock.ids
        return ids.pop()

    def new_ids(self, count: int) -> list[str]:
        return random_ids(count)

    def token(self) -> str:
        return secrets.token_urlsafe(32)

    def nonce(self) -> bytes:
        return secrets.token_bytes(16)

    def digits(self, count: int) -> str:
        return "".join(secrets.choice("0123456789") for _ in range(count))
