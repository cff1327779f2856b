"""The transparency log on both databases: events become leaves in order, residents by pseudonym; roots,
inclusion and consistency proofs from the stored subtree hashes verify with the RFC 9162 verifier;
concurrent publishers never race for a leaf index."""

from __future__ import annotations

import base64
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from civicpass.adapters.db import log_reader, log_repositories
from civicpass.adapters.db import tables as log_tables
from civicpass.adapters.db.migrate import upgrade
from civicpass.bootstrap import Container
from civicpass.domain import merkle
from civicpass.services import transparency as tl
from tests.fakes import make_resident


def _events(container: Container, count: int, start: int = 0) -> list[str]:
    """``count`` events about residents (each added as a resident first)."""
    ids = []
    with container.deps.uow() as uow:
        for n in range(start, start + count):
            resident = replace(make_resident(f"00000000-0000-4000-8000-{n:012d}"), pseudonym=f"p{n:04d}")
            uow.residents.add(resident)
            uow.events.add(
                "fact:resident:recorded",
                {"subject": resident.id, "kind": "test_result", "n": n},
                datetime(2022, 5, 3, 8, tzinfo=UTC),
            )
            ids.append(resident.id)
        uow.commit()
    return ids


def _b(text: str) -> bytes:
    return base64.b64decode(text)


def test_events_become_leaves_with_pseudonyms_and_every_proof_verifies(
    client: TestClient, container: Container
) -> None:
    deps = container.deps
    tl.publish(deps)  # what migrating wrote (the bundled rule set's installation)
    base = tl.head(deps).size
    residents = _events(container, 37)
    assert tl.publish(deps) == 37
    assert tl.publish(deps) == 0  # nothing new: nothing appended
    size = base + 37
    head = client.get("/v1/log").json()
    assert head["size"] == size
    leaves = client.get("/v1/log/leaves", params={"start": 0, "end": size}).json()
    assert [leaf["data"]["data"]["n"] for leaf in leaves[base:]] == list(range(37))
    hashes = [_b(leaf["leaf_hash"]) for leaf in leaves]
    assert all(
        merkle.leaf_hash(leaf["canonical"].encode()) == h for leaf, h in zip(leaves, hashes, strict=True)
    )
    assert _b(head["root"]) == merkle.root(hashes)
    text = json.dumps(leaves)
    assert not any(r in text for r in residents)  # no database id of a resident in any leaf
    assert leaves[base]["data"]["data"]["subject"] == {"pseudonym": "p0000"}
    for index in (0, 1, 17, size - 1):
        for tree in sorted({index + 1, max(index + 1, 20), size}):
            proof = client.get("/v1/log/proofs/inclusion", params={"index": index, "size": tree}).json()
            merkle.verify_inclusion(
                index, tree, hashes[index], [_b(p) for p in proof["proof"]], _b(proof["root"])
            )
            assert _b(proof["root"]) == merkle.root(hashes[:tree])

    _events(container, 30, start=100)
    assert tl.publish(deps, limit=11) == 11  # in pages
    assert tl.publish(deps) == 19
    final = size + 30
    for size1 in (1, 5, size - 1, size, final - 3):
        answer = client.get("/v1/log/proofs/consistency", params={"size1": size1}).json()
        assert answer["size2"] == final
        proof = [_b(p) for p in answer["proof"]]
        merkle.verify_consistency(size1, final, proof, _b(answer["root1"]), _b(answer["root2"]))
        if size1 <= size:
            assert _b(answer["root1"]) == merkle.root(hashes[:size1])
    for params in ({"index": final}, {"index": 0, "size": final + 1}, {"index": -1}):
        assert client.get("/v1/log/proofs/inclusion", params=params).status_code == 422
    too_far = client.get("/v1/log/proofs/consistency", params={"size1": final + 1})
    assert too_far.json()["reason"] == "log_range_invalid"


def test_proofs_follow_the_head_when_it_moves_between_reads(container: Container) -> None:
    """The reader names the subtrees a proof wants for the size it saw last and reads them with the head;
    after an append the first proofs find a bigger tree and read what it needs besides."""
    deps = container.deps
    _events(container, 40)
    tl.publish(deps)
    before = tl.head(deps)
    assert tl.inclusion(deps, before.size - 1).size == before.size  # the reader has seen this size
    _events(container, 25, start=200)
    assert tl.publish(deps) == 25
    after = tl.head(deps)
    hashes = [leaf.leaf_hash for leaf in tl.leaves(deps, 0, after.size)]
    assert merkle.root(hashes) == after.root
    for index in (after.size - 1, before.size, before.size - 1, 3, 0):
        proof = tl.inclusion(deps, index)
        assert (proof.size, proof.root, proof.leaf_hash) == (after.size, after.root, hashes[index])
        merkle.verify_inclusion(index, after.size, hashes[index], proof.proof, proof.root)
        if index < before.size:  # a proof in the older tree, asked for by size, still verifies
            older = tl.inclusion(deps, index, before.size)
            assert older.root == before.root == merkle.root(hashes[: before.size])
            merkle.verify_inclusion(index, before.size, hashes[index], older.proof, older.root)


def _subtree(hashes: list[bytes], level: int, index: int) -> bytes:
    return merkle.root(hashes[index << level : (index + 1) << level])


def _tiles(container: Container) -> dict[int, bytes]:
    with container.engine.connect() as conn:
        return {int(i): bytes(h) for i, h in conn.execute(sa.text("SELECT idx, hashes FROM log_tiles"))}


def test_every_complete_tile_holds_its_16_leaves_and_the_3_levels_above_them(container: Container) -> None:
    """Appends of every size, tiles finished across appends or within one: each complete group of 16
    leaves has its tile (16 leaf hashes, then 8, 4 and 2 subtree hashes), the unfinished one has none."""
    deps = container.deps
    tl.publish(deps)  # what migrating wrote
    _events(container, 150 + (7 - tl.head(deps).size - 150) % 16)  # to a size of 16 n + 7
    for limit in (1, 7, 16, 5, 33, 2, 100):
        tl.publish(deps, limit=limit)
    size = tl.head(deps).size
    hashes = [leaf.leaf_hash for leaf in tl.leaves(deps, 0, size)]
    tiles = _tiles(container)

    assert size % 16 == 7  # an unfinished tile
    assert sorted(tiles) == list(range(size // 16))
    for tile, packed in tiles.items():
        expected = [_subtree(hashes, level, i) for level, i in log_repositories.tile_nodes(tile)]
        assert packed == b"".join(expected), tile
    assert log_repositories.tile_nodes(1)[:2] + log_repositories.tile_nodes(1)[-2:] == [
        (0, 16),
        (0, 17),
        (3, 2),
        (3, 3),
    ]


def test_migration_0013_builds_the_tiles_of_a_log_written_before_it(empty_database: sa.Engine) -> None:
    engine = empty_database
    upgrade(engine, "0012")
    hashes = [merkle.leaf_hash(b"leaf %d" % n) for n in range(37)]
    nodes = [
        {"level": level, "idx": i, "hash": _subtree(hashes, level, i)}
        for level in range(6)
        for i in range(37 >> level)
    ]
    with engine.begin() as conn:
        conn.execute(sa.insert(log_tables.log_nodes), nodes)

    upgrade(engine, "head")

    with engine.connect() as conn:
        tiles = {int(i): bytes(h) for i, h in conn.execute(sa.text("SELECT idx, hashes FROM log_tiles"))}
    assert sorted(tiles) == [0, 1]  # leaves 32-36 make no complete tile
    for tile, packed in tiles.items():
        expected = [_subtree(hashes, level, i) for level, i in log_repositories.tile_nodes(tile)]
        assert packed == b"".join(expected), tile


@pytest.mark.postgres
def test_proofs_are_built_from_the_leafs_tile_and_without_it_from_the_subtrees(container: Container) -> None:
    """On PostgreSQL a proof's four lowest hashes come from its leaf's tile: a tile given another tile's
    hashes gives proofs that fail; a missing tile (a log whose tiles were never built) is read from the
    subtrees instead. Leaves of the unfinished tile, and proofs at older sizes, verify as before."""
    if container.engine.dialect.name != "postgresql":
        pytest.skip("the proof reader reads tiles on PostgreSQL only")
    deps = container.deps
    tl.publish(deps)  # what migrating wrote
    _events(container, 70 + (5 - tl.head(deps).size - 70) % 16, start=4000)  # to a size of 16 n + 5
    tl.publish(deps, limit=33)
    older = tl.head(deps)
    tl.publish(deps)
    size = tl.head(deps).size
    assert size % 16 == 5  # leaves of an unfinished tile too
    hashes = [leaf.leaf_hash for leaf in tl.leaves(deps, 0, size)]
    tl.prepare_proofs(deps)

    def verifies(index: int, at: int | None = None) -> bool:
        proof = tl.inclusion(deps, index, at)
        try:
            merkle.verify_inclusion(index, proof.size, hashes[index], proof.proof, proof.root)
        except merkle.ProofError:
            return False
        return proof.root == merkle.root(hashes[: proof.size])

    assert all(verifies(i) for i in range(size))
    assert all(verifies(i, older.size) for i in range(older.size))
    with container.engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE log_tiles SET hashes = (SELECT hashes FROM log_tiles WHERE idx = 0) WHERE idx = 1"
            )
        )
        conn.execute(sa.text("DELETE FROM log_tiles WHERE idx = 2"))
    assert [verifies(i) for i in range(16, 32)] == [False] * 16  # read from the edited tile
    assert all(verifies(i) for i in (*range(16), *range(32, size)))  # tile 2's from its subtrees


@pytest.mark.postgres
def test_proofs_from_the_upper_levels_held_in_memory_verify_as_the_tree_grows(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL the reader keeps the levels from 4 up in memory, packed, within a bound (made small
    here, so the lowest level kept rises as the tree grows); every proof still verifies and every hash
    held is the stored one."""
    if container.engine.dialect.name != "postgresql":
        pytest.skip("the reader keeps levels in memory on PostgreSQL only")
    monkeypatch.setattr(log_reader, "MEMORY_HASHES", 20)
    deps = container.deps
    reader = deps.log_reader
    assert isinstance(reader, log_reader.SqlLogReader)
    floors = []
    for start, count in ((1000, 150), (2000, 200)):
        _events(container, count, start=start)
        tl.publish(deps)
        head = tl.head(deps)
        hashes = [leaf.leaf_hash for leaf in tl.leaves(deps, 0, head.size)]
        for index in [*range(0, head.size, 7), head.size - 1]:
            proof = tl.inclusion(deps, index)
            assert (proof.size, proof.root) == (head.size, head.root)
            merkle.verify_inclusion(index, head.size, hashes[index], proof.proof, proof.root)
        upper = reader.upper
        assert upper.covered == head.size
        assert upper.floor == log_reader.floor_for(head.size)
        held = {
            (level, i): packed[32 * i : 32 * i + 32]
            for level, packed in upper.levels.items()
            for i in range(len(packed) // 32)
        }
        assert {level for level, _ in held} == set(range(upper.floor, head.size.bit_length()))
        assert len(held) <= 20
        with deps.uow() as uow:
            assert uow.log.nodes(held) == held
        floors.append(upper.floor)
    assert floors[0] == 4 < floors[1]  # the bigger tree keeps fewer levels within the same bound


def test_the_proof_reader_is_prepared_ahead_of_proofs(container: Container) -> None:
    """The server's chore brings the reader's levels in memory up to the head after each publication, so
    a worker's first proofs do not wait for them (PostgreSQL; on SQLite nothing is held)."""
    deps = container.deps
    _events(container, 40, start=3000)
    tl.publish(deps)
    size = tl.head(deps).size
    held = tl.prepare_proofs(deps)
    if container.engine.dialect.name == "postgresql":
        assert isinstance(deps.log_reader, log_reader.SqlLogReader)
        assert held == deps.log_reader.upper.covered == size
        assert set(deps.log_reader.upper.levels) == set(range(4, size.bit_length()))
    else:
        assert held == 0
    proof = tl.inclusion(deps, size - 1)
    assert proof.size == size


@pytest.mark.postgres
def test_concurrent_publishers_never_append_an_event_twice_or_skip_an_index(container: Container) -> None:
    if container.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has a single writer; the race is PostgreSQL's")
    tl.publish(container.deps)
    base = tl.head(container.deps).size
    _events(container, 400)
    with ThreadPoolExecutor(4) as pool:
        appended = list(pool.map(lambda _: _publish_quietly(container), range(8)))
    assert sum(appended) == 400
    with container.deps.uow() as uow:
        leaves = uow.log.leaves(0, 1000)
        head = uow.log.head()
    assert [leaf.index for leaf in leaves] == list(range(base + 400))
    assert [json.loads(leaf.data)["event"] for leaf in leaves] == sorted(
        json.loads(leaf.data)["event"] for leaf in leaves
    )
    assert head.root == merkle.root([leaf.leaf_hash for leaf in leaves])


def _publish_quietly(container: Container) -> int:
    return tl.publish(container.deps, limit=50) + tl.publish(container.deps, limit=400)


@pytest.mark.postgres
def test_an_event_still_being_written_is_never_skipped(container: Container) -> None:
    """Ids are drawn at insert, not at commit: a later event can be visible before an earlier one."""
    if container.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has a single writer: no event is in flight while another commits")
    tl.publish(container.deps)
    slow = container.engine.connect()
    slow.execute(
        sa.text("INSERT INTO events (name, payload, created_at) VALUES ('test:slow:one', '{}', now())")
    )
    _events(container, 1, start=500)  # a later id, committed first
    assert tl.publish(container.deps) == 0  # waits briefly, then leaves both for the next round
    slow.commit()
    slow.close()
    assert tl.publish(container.deps) == 2
    with container.deps.uow() as uow:
        names = [leaf.name for leaf in uow.log.leaves(0, 10_000)][-2:]
    assert names == ["test:slow:one", "fact:resident:recorded"]


def test_subjects_by_counts_distinct_residents_per_staff_member_in_the_database(container: Container) -> None:
    """What the misuse alarms ask every minute, counted by SQL on both databases: distinct subjects per
    payload key, within the span, among the names asked, matching ``where``."""
    start = datetime(2022, 5, 3, 8, tzinfo=UTC)
    read = {"action": "resident_pii_read"}
    with container.deps.uow() as uow:
        rows = [
            ("pii:resident:read", {"by": "staff-a", "subject": "r1", **read}, start),
            (
                "pii:resident:read",
                {"by": "staff-a", "subject": "r1", **read},
                start,
            ),  # the same resident again
            ("pii:resident:read", {"by": "staff-a", "subject": "r2", **read}, start),
            ("pii:resident:read", {"by": "staff-b", "subject": "r1", **read}, start),
            ("pii:resident:read", {"by": "staff-b", "subject": "r3", "action": "code_verify"}, start),
            (
                "pii:resident:read",
                {"by": "staff-c", "subject": "r4", **read},
                datetime(2022, 5, 3, 7, tzinfo=UTC),
            ),
            ("pii:resident:read", {"subject": "r5", **read}, start),  # nobody named: not counted
            ("fact:resident:recorded", {"by": "staff-a", "subject": "r6", **read}, start),
        ]
        for name, payload, at in rows:
            uow.events.add(name, payload, at)
        uow.commit()
    with container.deps.uow() as uow:
        assert uow.events.subjects_by(("pii:resident:read",), start, "by", read) == {
            "staff-a": 2,
            "staff-b": 1,
        }
        assert uow.events.subjects_by(("pii:resident:read",), start, "by") == {"staff-a": 2, "staff-b": 2}
        both = uow.events.subjects_by(("pii:resident:read", "fact:resident:recorded"), start, "by", read)
        assert both == {"staff-a": 3, "staff-b": 1}
        assert uow.events.subjects_by(
            ("pii:resident:read",), datetime(2022, 5, 3, 6, tzinfo=UTC), "by", read
        ) == {
            "staff-a": 2,
            "staff-b": 1,
            "staff-c": 1,
        }
