"""Bloom filters of the residents a bulk feed batch marked due (``status_marks.bloom``), and the cache of
them a process keeps, so that reading a status tells whether a mark that may name it awaits the sweep.

A bulk batch then writes one row for its 50,000 residents instead of updating each one's status in place
(docs/decisions.md). A filter (Bloom, "Space/time trade-offs in hash coding with allowable errors", CACM
13(7), 1970) has ``BITS_PER_NAME`` bits a resident, rounded up to a power of two ``m`` (``filter_bits``),
and each resident sets ``PROBES`` of them: the BLAKE2b-256 digest (RFC 7693) of the id's UTF-8 read as
eight little-endian 32-bit words, each word modulo ``m`` a bit's position, bit ``p`` being bit ``p % 8`` of
byte ``p // 8``. The same in every process and Python version, unlike ``hash``: stored by one process,
read by all (a contract, tests/unit/test_mark_filters.py). A resident named is always found; one not named
is found with a probability of 1e-4 or less, and is then re-evaluated for nothing.
"""

from __future__ import annotations

import hashlib
import struct
import threading
from collections.abc import Callable, Mapping, Sequence

import numpy as np

PROBES = 8
"""Bits set (and tested) for each resident: eight 32-bit words of a 32-byte digest."""
BITS_PER_NAME = 16
"""At least this many bits of filter a resident: at 16 to 32, one not named is found with a probability of
1e-4 to 1e-6 (``(1 - e^(-PROBES/bits))^PROBES``)."""
MIN_BITS = 1024
CACHED = 256
"""Filters a process keeps (each 128 KiB for a batch of 50,000 residents): more marks than this awaiting
the sweep are each fetched again by every read that needs them."""

_WORDS = struct.Struct(f"<{PROBES}I")


def _digest(subject_id: str) -> bytes:
    return hashlib.blake2b(subject_id.encode(), digest_size=4 * PROBES).digest()


def filter_bits(names: int) -> int:
    """The size in bits of the filter of ``names`` residents: a power of two, at least ``MIN_BITS``."""
    bits = MIN_BITS
    while bits < BITS_PER_NAME * names:
        bits *= 2
    return bits


def bloom_of(subject_ids: Sequence[str]) -> bytes:
    """The filter of these residents. Digests made one by one (about half a microsecond each), their bits
    set by NumPy."""
    bits = filter_bits(len(subject_ids))
    digests = b"".join([_digest(s) for s in subject_ids])
    positions = np.frombuffer(digests, "<u4") & np.uint32(bits - 1)
    flags = np.zeros(bits, np.bool_)
    flags[positions] = True
    return np.packbits(flags, bitorder="little").tobytes()


def may_name(bloom: bytes, subject_id: str) -> bool:
    """Whether the filter may hold ``subject_id``: True for every resident it was made of."""
    return _holds(bloom, _WORDS.unpack(_digest(subject_id)))


def _holds(bloom: bytes, words: tuple[int, ...]) -> bool:
    """Whether the filter has every bit of a digest's words set (``may_name``, the digest made once for
    all the marks a read tests)."""
    mask = len(bloom) * 8 - 1
    for word in words:
        position = word & mask
        if not bloom[position >> 3] >> (position & 7) & 1:
            return False
    return True


Fetch = Callable[[list[str]], Mapping[str, bytes | None]]
"""The filters of these marks' tokens that are still stored (None: a mark made before filters, which may
name anyone); a mark missing from the answer has been dropped since it was listed."""


class MarkFilters:
    """The filters of the marks awaiting the sweep, by their token, as this process fetched them (a mark's
    filter never changes): those of the marks a read lists, at most ``cached`` of them. Shared by the
    threads of a server worker, one per unit-of-work factory.

    Each mark's filter is tested on its own (about a microsecond each): merged into one they would hold
    all their residents in the bits sized for one batch, and find most residents in them."""

    def __init__(self, cached: int = CACHED) -> None:
        self.cached = cached
        self._filters: dict[str, bytes | None] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """How many filters are kept."""
        return len(self._filters)

    def names(self, subject_id: str, tokens: Sequence[str], fetch: Fetch) -> bool:
        """Whether one of these marks (those a status read listed) may name ``subject_id``. A mark dropped
        between the listing and the fetch answers yes: the status read may predate the sweep's
        re-evaluation, and reading it as due costs one re-evaluation."""
        if not tokens:
            return False
        with self._lock:
            known = {token: self._filters[token] for token in tokens if token in self._filters}
            if len(known) < len(self._filters):  # a mark no longer listed has been dropped for good
                self._filters = dict(known)
        if len(known) < len(tokens):
            missing = [token for token in tokens if token not in known]
            fetched = fetch(missing)
            if len(fetched) < len(missing):
                return True
            known.update(fetched)
            with self._lock:
                room = max(0, self.cached - len(self._filters))
                self._filters.update(list(fetched.items())[:room])
        words = _WORDS.unpack(_digest(subject_id))  # once for all the marks
        first = words[0]
        for bloom in known.values():
            if bloom is None:
                return True
            # the first bit tested here: a mark that does not name the resident mostly fails on it
            position = first & (len(bloom) * 8 - 1)
            if bloom[position >> 3] >> (position & 7) & 1 and _holds(bloom, words):
                return True
        return False
