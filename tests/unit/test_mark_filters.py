"""The Bloom filters of status marks (``adapters.db.mark_filters``): every resident named is found, few
others are, the bytes are the same in every process, and a process's cache answers as a fresh fetch."""

from __future__ import annotations

import hashlib
import random
import uuid

from hypothesis import given
from hypothesis import strategies as st

from civicpass.adapters.db.mark_filters import MIN_BITS, MarkFilters, bloom_of, filter_bits, may_name


@given(st.lists(st.text(min_size=1, max_size=40), min_size=1, max_size=300))
def test_every_resident_a_filter_was_made_of_is_found(ids: list[str]) -> None:
    bloom = bloom_of(ids)
    assert len(bloom) * 8 == filter_bits(len(ids))
    assert all(may_name(bloom, subject_id) for subject_id in ids)


def test_a_batchs_filter_finds_few_residents_it_does_not_name() -> None:
    rng = random.Random(25)
    named = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(50_000)]
    others = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(50_000)]
    bloom = bloom_of(named)
    assert len(bloom) == 128 * 1024  # 2**20 bits: 16 or more a resident
    false_positives = sum(may_name(bloom, subject_id) for subject_id in others)
    assert false_positives <= 10  # expected about 5 (1e-4 a resident at 21 bits and 8 probes)


def test_the_filter_bytes_are_a_contract() -> None:
    """Stored by one process and read by every other, across releases: the same ids make these bytes."""
    assert filter_bits(0) == filter_bits(64) == MIN_BITS
    assert filter_bits(65) == 2 * MIN_BITS
    ids = ["r-1", "r-2", "1b4e28ba-2fa1-41d2-883f-0016d3cca427"]
    bloom = bloom_of(ids)
    # as the module's docstring defines it: the BLAKE2b-256 digest of the id's UTF-8 as eight
    # little-endian 32-bit words, each word's low bits a bit's position, bit p in byte p // 8 at p % 8
    expected = bytearray(MIN_BITS // 8)
    for subject_id in ids:
        digest = hashlib.blake2b(subject_id.encode(), digest_size=32).digest()
        for k in range(8):
            position = int.from_bytes(digest[4 * k : 4 * k + 4], "little") % MIN_BITS
            expected[position // 8] |= 1 << position % 8
    assert bloom == bytes(expected)
    assert sum(bin(byte).count("1") for byte in bloom) == 24  # eight bits each, none shared
    assert hashlib.sha256(bloom).hexdigest() == GOLDEN


GOLDEN = "31ed2119b0d09433db7ad2f5f8b78b0a61d31118e22e6b4f28401f225f08615e"


def _fetcher(stored: dict[str, bytes | None], calls: list[list[str]]):  # type: ignore[no-untyped-def]
    def fetch(tokens: list[str]) -> dict[str, bytes | None]:
        calls.append(tokens)
        return {token: stored[token] for token in tokens if token in stored}

    return fetch


def test_a_process_fetches_each_filter_once_and_answers_as_a_fresh_fetch() -> None:
    stored: dict[str, bytes | None] = {"a": bloom_of(["r-1"]), "b": bloom_of(["r-2"]), "c": bloom_of(["r-3"])}
    calls: list[list[str]] = []
    filters = MarkFilters(cached=2)
    fetch = _fetcher(stored, calls)
    for subject_id in ("r-1", "r-2", "r-3", "r-4", "r-1"):
        fresh = MarkFilters(cached=0).names(subject_id, ["a", "b", "c"], _fetcher(stored, []))
        assert filters.names(subject_id, ["a", "b", "c"], fetch) == fresh == (subject_id != "r-4")
    assert len(filters) == 2  # two kept ...
    assert calls == [["a", "b", "c"]] + [["c"]] * 4  # ... the third fetched by each read that lists it
    assert filters.names("r-1", [], fetch) is False  # no mark awaits the sweep


def test_filters_of_every_size_are_tested() -> None:
    big = [f"r-{n}" for n in range(5, 1005)]
    stored: dict[str, bytes | None] = {"a": bloom_of(["r-1"]), "b": bloom_of(big), "c": bloom_of(["r-2"])}
    assert len({len(bloom or b"") for bloom in stored.values()}) == 2
    filters = MarkFilters()
    found = [filters.names(f"r-{n}", ["a", "b", "c"], _fetcher(stored, [])) for n in range(1, 1005)]
    assert all(found[:2])
    assert all(found[4:])
    assert not any(found[2:4])  # r-3 and r-4: in none (their bits, as it happens, not all set)


def test_a_mark_dropped_since_it_was_listed_or_made_before_filters_may_name_anyone() -> None:
    calls: list[list[str]] = []
    filters = MarkFilters()
    assert filters.names("r-1", ["gone"], _fetcher({}, calls)) is True
    assert filters.names("r-1", ["old"], _fetcher({"old": None}, calls)) is True
    assert filters.names("r-2", ["old"], _fetcher({}, calls)) is True  # kept: not fetched again
    assert calls == [["gone"], ["old"]]


def test_a_mark_no_longer_listed_is_forgotten() -> None:
    stored: dict[str, bytes | None] = {"a": bloom_of(["r-1"]), "b": bloom_of(["r-2"])}
    calls: list[list[str]] = []
    filters = MarkFilters()
    fetch = _fetcher(stored, calls)
    assert filters.names("r-1", ["a", "b"], fetch) is True
    assert filters.names("r-1", ["b"], fetch) is False  # the sweep dropped "a"
    assert filters.names("r-1", ["a", "b"], fetch) is True  # listed again (an older snapshot): fetched
    assert calls == [["a", "b"], ["a"]]
