"""The transparency log's storage: leaves, the hash of every complete subtree, and the head.

Appends are serialised by the head row (``log_state``): on PostgreSQL ``SELECT ... FOR UPDATE`` holds it
until the transaction ends, and SQLite has one writer anyway, so leaf indexes never race. An append reads
only the right edge of the tree (one stored hash per set bit of the size) and writes each new leaf and the
subtrees it completes, so a proof or a root later costs O(log n) reads (``domain.merkle.pieces``).

Tiles (``log_tiles``) hold the four lowest levels of each complete group of 16 leaves again, in one row:
its 16 leaf hashes, then the 8, 4 and 2 subtree hashes above them (30 x 32 bytes). The four lowest hashes
of a proof are all in its leaf's tile, so the proof reader makes one primary-key probe instead of four (the
levels above are held in memory, ``log_reader``). A tile is written by the append that completes it and
never changes; the subtree rows stay the store the rest reads, and ``audit verify`` checks tiles against
the leaves as it checks them.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from civicpass.adapters.db import pg_hot
from civicpass.adapters.db import tables as t
from civicpass.domain import merkle
from civicpass.domain.canonical import canonical_json
from civicpass.services.ports import LogHead, LogLeaf, NewLeaf, WitnessedLog

_HEAD = 1
TILE_LEVELS = 4  # levels 0-3 of 16 leaves
TILE_LEAVES = 1 << TILE_LEVELS


# Every complete tile from the stored subtrees, on PostgreSQL (a bulk-built log's tiles; migration 0013
# holds its own frozen copy): the tile of (level, idx) is idx >> (4 - level), its hashes in ``tile_nodes``
# order, and only tiles whose 30 subtrees are all stored.
TILES_FROM_NODES = (
    "INSERT INTO log_tiles (idx, hashes)"
    " SELECT idx >> (4 - level), string_agg(hash, ''::bytea ORDER BY level, idx) FROM log_nodes"
    " WHERE level < 4 GROUP BY idx >> (4 - level) HAVING count(*) = 30"
)


def tile_nodes(tile: int) -> list[merkle.Node]:
    """The 30 subtrees a tile holds, in its order: level 0 left to right, then levels 1, 2 and 3."""
    return [
        (level, i)
        for level in range(TILE_LEVELS)
        for i in range(tile << (TILE_LEVELS - level), (tile + 1) << (TILE_LEVELS - level))
    ]


def tile_hashes(tile: int, packed: bytes) -> dict[merkle.Node, bytes]:
    """A tile row's 30 hashes by the subtree each is (``tile_nodes``' order, 32 bytes apiece)."""
    return {node: packed[32 * k : 32 * k + 32] for k, node in enumerate(tile_nodes(tile))}


def _tile_started(size: int) -> list[merkle.Node]:
    """The complete subtrees, up to level 3, of the tile a tree of ``size`` leaves has begun and not
    finished (none if ``size`` is a multiple of 16)."""
    return [(level, i) for level, i in tile_nodes(size >> TILE_LEVELS) if (i + 1) << level <= size]


def _head(row: sa.Row[Any]) -> LogHead:
    return LogHead(int(row.size), bytes(row.root), int(row.last_event_id))


class SqlLog:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def _head_row(self, *, lock: bool) -> sa.Row[Any] | None:
        query = sa.select(t.log_state).where(t.log_state.c.id == _HEAD)
        if not (lock and self.conn.dialect.name == "postgresql"):
            return self.conn.execute(query).first()
        row = self.conn.execute(query.with_for_update()).first()
        if row is None:  # the migration makes the row; if it is gone, make it without racing another appender
            empty = {"id": _HEAD, "size": 0, "root": merkle.EMPTY_ROOT, "last_event_id": 0}
            self.conn.execute(
                pg_insert(t.log_state)
                .values(**empty, updated_at=datetime(2020, 1, 1, tzinfo=UTC))
                .on_conflict_do_nothing()
            )
            row = self.conn.execute(query.with_for_update()).first()
        return row

    def lock_head(self) -> LogHead:
        """The head, locked until the transaction ends (PostgreSQL; SQLite's writer holds the database)."""
        row = self._head_row(lock=True)
        return self.head() if row is None else _head(row)

    def head(self) -> LogHead:
        row = self._head_row(lock=False)
        if row is None:
            return LogHead(0, merkle.EMPTY_ROOT, 0)
        return _head(row)

    def nodes(self, coords: Collection[merkle.Node]) -> dict[merkle.Node, bytes]:
        """Stored subtree hashes by (level, index), in one statement; missing ones are absent."""
        wanted = sorted(set(coords))
        if not wanted:
            return {}
        n = t.log_nodes.c
        query = sa.select(n.level, n.idx, n.hash).where(sa.tuple_(n.level, n.idx).in_(wanted))
        return {(int(r.level), int(r.idx)): bytes(r.hash) for r in self.conn.execute(query)}

    def append(self, entries: Sequence[NewLeaf], last_event_id: int, at: datetime) -> LogHead:
        """Append leaves at the end (canonical JSON of each document) and move the head; one writer at a time."""
        row = self._head_row(lock=True)  # None only on SQLite without the migration's row (one writer)
        head = _head(row) if row else self.head()
        known = self.nodes({*merkle.pieces(0, head.size), *_tile_started(head.size)})
        leaves, nodes, tiles = [], [], []
        size = head.size
        for entry in entries:
            data = canonical_json(dict(entry.document))
            h = merkle.leaf_hash(data)
            leaves.append(
                {
                    "idx": size,
                    "name": entry.name,
                    "data": data.decode(),
                    "leaf_hash": h,
                    "created_at": entry.at,
                    "event_id": entry.event_id,
                }
            )
            level, i = 0, size
            known[(0, i)] = h
            nodes.append({"level": 0, "idx": i, "hash": h})
            while i % 2 == 1:  # this subtree completes its parent
                parent = merkle.node_hash(known[(level, i - 1)], known[(level, i)])
                level, i = level + 1, i // 2
                known[(level, i)] = parent
                nodes.append({"level": level, "idx": i, "hash": parent})
            size += 1
            if size % TILE_LEAVES == 0:
                tile = (size >> TILE_LEVELS) - 1
                tiles.append({"idx": tile, "hashes": b"".join(known[node] for node in tile_nodes(tile))})
        (root,) = merkle.range_hashes(known, [(0, size)])
        self._insert(t.log_leaves, leaves)
        self._insert(t.log_nodes, nodes)
        self._insert(t.log_tiles, tiles)
        state = {"size": size, "root": root, "last_event_id": last_event_id, "updated_at": at}
        if row is None:
            self.conn.execute(t.log_state.insert(), {"id": _HEAD, **state})
        else:
            self.conn.execute(t.log_state.update().where(t.log_state.c.id == _HEAD).values(**state))
        return LogHead(size, root, last_event_id)

    def _insert(self, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
        pg_hot.insert_rows(self.conn, table, rows)

    def leaves(self, start: int, end: int) -> list[LogLeaf]:
        c = t.log_leaves.c
        rows = self.conn.execute(
            sa.select(c.idx, c.name, c.data, c.leaf_hash, c.created_at)
            .where(c.idx >= start, c.idx < end)
            .order_by(c.idx)
        )
        return [LogLeaf(int(r.idx), r.name, r.data, bytes(r.leaf_hash), r.created_at) for r in rows]

    def leaves_of_events(self, event_ids: Collection[int]) -> dict[int, LogLeaf]:
        """The leaves that published these events, by event id (events not yet published are absent)."""
        if not event_ids:
            return {}
        c = t.log_leaves.c
        rows = self.conn.execute(
            sa.select(c.idx, c.name, c.data, c.leaf_hash, c.created_at, c.event_id).where(
                c.event_id.in_(list(event_ids))
            )
        )
        return {
            int(r.event_id): LogLeaf(int(r.idx), r.name, r.data, bytes(r.leaf_hash), r.created_at)
            for r in rows
        }

    def add_checkpoint(self, size: int, note: str, at: datetime) -> None:
        c = t.log_checkpoints.c
        if self.conn.execute(sa.select(c.size).where(c.size == size)).first() is None:
            self.conn.execute(t.log_checkpoints.insert(), {"size": size, "note": note, "created_at": at})

    def checkpoint(self, size: int | None = None) -> tuple[int, str] | None:
        """The checkpoint note of ``size`` (default: the latest)."""
        c = t.log_checkpoints.c
        query = sa.select(c.size, c.note)
        query = query.where(c.size == size) if size is not None else query.order_by(c.size.desc()).limit(1)
        row = self.conn.execute(query).first()
        return None if row is None else (int(row.size), row.note)

    def checkpoints(self, after: int, limit: int) -> list[tuple[int, str]]:
        c = t.log_checkpoints.c
        rows = self.conn.execute(
            sa.select(c.size, c.note).where(c.size > after).order_by(c.size).limit(limit)
        )
        return [(int(r.size), r.note) for r in rows]

    def add_cosignature(self, size: int, witness: str, line: str, at: datetime) -> None:
        c = t.log_cosignatures.c
        self.conn.execute(t.log_cosignatures.delete().where(c.size == size, c.witness == witness))
        self.conn.execute(
            t.log_cosignatures.insert(), {"size": size, "witness": witness, "line": line, "created_at": at}
        )

    def cosignatures(self, size: int) -> list[str]:
        c = t.log_cosignatures.c
        return list(self.conn.execute(sa.select(c.line).where(c.size == size).order_by(c.witness)).scalars())


class SqlWitnessed:
    """As a witness: the latest verified checkpoint of each log witnessed."""

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def get(self, origin: str) -> WitnessedLog | None:
        w = t.witnessed_logs.c
        row = self.conn.execute(sa.select(t.witnessed_logs).where(w.origin == origin)).first()
        return None if row is None else WitnessedLog(row.origin, int(row.size), bytes(row.root), row.note)

    def put(self, seen: WitnessedLog, at: datetime) -> None:
        w = t.witnessed_logs.c
        values = {"size": seen.size, "root": seen.root, "note": seen.note, "updated_at": at}
        if (
            self.conn.execute(
                t.witnessed_logs.update().where(w.origin == seen.origin).values(**values)
            ).rowcount
            == 0
        ):
            self.conn.execute(t.witnessed_logs.insert(), {"origin": seen.origin, **values})
