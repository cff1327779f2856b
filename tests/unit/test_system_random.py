"""``adapters.system.SystemRandom``'s ids: UUIDs of version 4 drawn in stocks, never twice, not even
across threads or a fork; and the ordered ids of a batch, UUIDs of version 7."""

from __future__ import annotations

import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise

import pytest

from civicpass.adapters.system import IDS_PER_READ, ORDERED_IDS_MAX, SystemRandom, ordered_ids, random_ids


def test_ids_are_version_4_uuids_in_their_canonical_text() -> None:
    for text in random_ids(IDS_PER_READ):
        parsed = uuid.UUID(text)
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
        assert str(parsed) == text  # lower-case hex, dashes where uuid puts them


def test_ids_do_not_repeat_over_many_stocks_and_threads() -> None:
    source = SystemRandom()

    def draw(_: int) -> list[str]:
        return [source.new_id() for _ in range(3 * IDS_PER_READ + 7)]

    with ThreadPoolExecutor(4) as pool:
        drawn = [text for ids in pool.map(draw, range(8)) for text in ids]
    assert len(drawn) == len(set(drawn)) == 8 * (3 * IDS_PER_READ + 7)


def test_a_forked_child_never_draws_from_its_parents_stock() -> None:
    source = SystemRandom()
    source.new_id()  # the parent's stock is filled
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next ids, to the parent
        os.close(read)
        os.write(write, "\n".join(source.new_id() for _ in range(5)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        childs = set(pipe.read().split("\n"))
    os.waitpid(pid, 0)
    parents = {source.new_id() for _ in range(IDS_PER_READ)}  # the rest of the stock and more
    assert len(childs) == 5
    assert not childs & parents


def test_ordered_ids_are_version_7_uuids_ascending_and_time_first() -> None:
    unix_ms = 1_781_000_000_123
    ids = ordered_ids(5000, unix_ms)
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids) == 5000
    for text in ids:
        parsed = uuid.UUID(text)
        assert parsed.version == 7
        assert parsed.variant == uuid.RFC_4122
        assert str(parsed) == text
        assert parsed.int >> 80 == unix_ms  # RFC 9562 5.7: the first 48 bits are the Unix time in ms
    later = ordered_ids(10, unix_ms + 1)
    assert min(later) > max(ids)
    assert ordered_ids(0, unix_ms) == []


def test_ordered_ids_draw_fresh_randomness_each_call() -> None:
    first, second = ordered_ids(3, 0), ordered_ids(3, 0)
    assert not set(first) & set(second)
    # the counter steps are random: consecutive ids do not differ by a constant
    steps = {uuid.UUID(b).int - uuid.UUID(a).int for a, b in [*pairwise(first), *pairwise(second)]}
    assert len(steps) > 1


def test_ordered_ids_refuse_more_than_their_counter_holds() -> None:
    with pytest.raises(ValueError, match="ordered ids at a time"):
        ordered_ids(ORDERED_IDS_MAX + 1, 0)
    with pytest.raises(ValueError, match="ordered ids at a time"):
        ordered_ids(-1, 0)
