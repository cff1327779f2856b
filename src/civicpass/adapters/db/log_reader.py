"""Reading the transparency log for proofs, the hot read path: no transaction, one prepared statement.

A proof needs the head (size) and a few dozen stored subtree hashes. Both are safe to read outside a
transaction: a subtree hash never changes once written, and the head moves only forward, written in the
same transaction as the subtrees it covers. So the reader uses an autocommit connection (no BEGIN and
ROLLBACK round trips) and, on PostgreSQL, one prepared statement that reads the head and the wanted
(level, index) pairs together: which pairs a proof wants depends on the tree's size, so the reader names
them for the size it saw last and reads what a moved head needs besides in a second statement (the head
moves once per publishing interval, a few seconds, so nearly every proof is one round trip).

The tree's upper levels are kept in memory (``UpperLevels``): every subtree hash from level ``FLOOR``
(subtrees of 16 leaves) up, packed 32 bytes apiece, at most ``MEMORY_HASHES`` of them (64 MiB); beyond
that the lowest levels kept rise with the tree; and the few subtrees below them on the tree's right edge
(the unfinished last tile's). So at up to 2**25 leaves a proof needs only its four lowest hashes from the
database, all in its leaf's tile (``log_repositories``): the common statement reads the head and that one
row by primary key. A proof whose lowest hashes are not in one complete tile (a leaf of the unfinished
tile, a proof at an older size, a tree beyond 2**25 leaves) reads its subtrees as before. The arrays grow
when a proof sees a bigger head (one statement reads the new subtrees of every level kept).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from civicpass.adapters.db import pg_hot
from civicpass.adapters.db.log_repositories import TILE_LEAVES, TILE_LEVELS, SqlLog
from civicpass.adapters.db.uow import TRANSLATED, translate
from civicpass.domain import merkle
from civicpass.services.ports import LogHead

# (level, index) pairs go as two array literals in text: psycopg's Python dumper of integer lists (it picks
# the narrowest type per element) costs more than the whole statement's work in PostgreSQL.
NODES = (
    "SELECT n.level, n.idx, n.hash FROM unnest(%s::smallint[], %s::bigint[]) AS k(level, idx)"
    " JOIN log_nodes n ON n.level = k.level AND n.idx = k.idx"
)
HEAD = "SELECT size, root, last_event_id FROM log_state WHERE id = 1"
HEAD_AND_NODES = (  # the head as level -1: (-1, size, root, last event), then the subtrees
    "SELECT -1::smallint, size, root, last_event_id FROM log_state WHERE id = 1 UNION ALL"
    " SELECT n.level, n.idx, n.hash, NULL FROM unnest(%s::smallint[], %s::bigint[]) AS k(level, idx)"
    " JOIN log_nodes n ON n.level = k.level AND n.idx = k.idx"
)
HEAD_AND_TILE = (  # the head and one tile (NULL if there is no such row)
    "SELECT size, root, last_event_id, (SELECT hashes FROM log_tiles WHERE idx = %s) FROM log_state WHERE id = 1"
)
SPANS = (  # every subtree of each level from one index (inclusive) to another (exclusive), in order
    "SELECT n.level, n.hash FROM unnest(%s::smallint[], %s::bigint[], %s::bigint[]) AS k(level, lo, hi)"
    " JOIN log_nodes n ON n.level = k.level AND n.idx >= k.lo AND n.idx < k.hi ORDER BY n.level, n.idx"
)
FLOOR = 4  # levels below are always read from the database: a proof's first four hashes
MEMORY_HASHES = 1 << 21  # at most this many upper-level hashes in memory per process (64 MiB)
Wanted = Callable[[int], Collection[merkle.Node]]


def _literal(numbers: Collection[int]) -> str:
    """Whole numbers as a PostgreSQL array literal."""
    return "{" + ",".join(map(str, numbers)) + "}"


def _arrays(coords: Collection[merkle.Node]) -> tuple[str, str]:
    """The levels and the indexes of ``coords`` as PostgreSQL array literals."""
    return _literal([level for level, _ in coords]), _literal([index for _, index in coords])


def _read_nodes(pg: Any, coords: Collection[merkle.Node]) -> dict[merkle.Node, bytes]:
    """Stored subtree hashes by (level, index), in one prepared statement; missing ones are absent."""
    rows = pg.execute(NODES, _arrays(coords), prepare=True)
    return {(int(r[0]), int(r[1])): bytes(r[2]) for r in rows}


def _tile_of(coords: Collection[merkle.Node], size: int) -> int | None:
    """The one complete tile of a tree of ``size`` leaves holding every subtree in ``coords``, if any."""
    tiles = {i >> (TILE_LEVELS - level) if level < TILE_LEVELS else -1 for level, i in coords}
    if len(tiles) != 1:
        return None
    (tile,) = tiles
    return tile if tile >= 0 and (tile + 1) * TILE_LEAVES <= size else None


_TILE_ROW = {level: sum(TILE_LEAVES >> k for k in range(level)) for level in range(TILE_LEVELS)}


def _unpack(tile: int, packed: bytes, nodes: Collection[merkle.Node]) -> dict[merkle.Node, bytes]:
    """These subtrees' hashes (all in ``tile``) from the tile's row (``log_repositories.tile_nodes``'s
    order: level by level, each left to right)."""
    found = {}
    for level, i in nodes:
        at = 32 * (_TILE_ROW[level] + i - (tile << (TILE_LEVELS - level)))
        found[(level, i)] = packed[at : at + 32]
    return found


def floor_for(size: int) -> int:
    """The lowest level kept in memory for a tree of ``size`` leaves: ``FLOOR``, or higher once the levels
    from it up would hold more than ``MEMORY_HASHES`` hashes (about ``2 * size >> level`` of them)."""
    level = FLOOR
    while sum(size >> k for k in range(level, size.bit_length())) > MEMORY_HASHES:
        level += 1
    return level


class UpperLevels:
    """Every complete subtree's hash from level ``floor`` up, for a tree of ``covered`` leaves: level l holds
    nodes 0 .. (covered >> l) - 1, packed 32 bytes apiece. Shared by a process's threads."""

    def __init__(self) -> None:
        self.covered = 0
        self.floor = FLOOR
        self.levels: dict[int, bytearray] = {}
        self.edge: dict[merkle.Node, bytes] = {}  # the right edge's subtrees below the floor, at ``covered``
        self._lock = threading.Lock()

    def get(self, wanted: Collection[merkle.Node]) -> dict[merkle.Node, bytes]:
        """The wanted subtrees held here (the others are absent)."""
        found = {}
        levels, edge = self.levels, self.edge
        for level, index in wanted:
            packed = levels.get(level)
            if packed is not None and 32 * index + 32 <= len(packed):
                found[(level, index)] = bytes(packed[32 * index : 32 * index + 32])
            elif (digest := edge.get((level, index))) is not None:
                found[(level, index)] = digest
        return found

    def grow(self, pg: Any, size: int) -> None:
        """Read the subtrees a tree of ``size`` leaves has beyond those held (one statement; none if held)."""
        if size <= self.covered:
            return
        with self._lock:
            if size <= self.covered:  # another thread grew them meanwhile
                return
            floor = floor_for(size)
            kept = {level: packed for level, packed in self.levels.items() if level >= floor}
            spans = [
                (level, len(kept.get(level, b"")) // 32, size >> level)
                for level in range(floor, size.bit_length())
            ]
            spans = [(level, lo, hi) for level, lo, hi in spans if lo < hi]
            rows: Any = pg.execute(
                SPANS, tuple(_literal([span[k] for span in spans]) for k in range(3)), prepare=True
            )
            more: dict[int, bytearray] = {level: bytearray() for level, _, _ in spans}
            for level, digest in rows:
                more[int(level)] += digest
            if any(len(more[level]) != 32 * (hi - lo) for level, lo, hi in spans):
                return  # a subtree the head covers is missing: the database answers for it, as before
            low = [(level, i) for level, i in merkle.pieces(0, size) if level < floor]
            edge = _read_nodes(pg, low) if low else {}
            # Extended in place, at the end only: what a reading thread finds there is always right.
            for level, added in more.items():
                kept.setdefault(level, bytearray()).extend(added)
            self.levels, self.floor, self.covered, self.edge = kept, floor, size, edge


class _View:
    """One autocommit connection's view: the head, then the subtrees a proof at that size needs."""

    def __init__(self, reader: SqlLogReader, conn: sa.Connection) -> None:
        self.reader, self.conn, self.pg = reader, conn, pg_hot.connection(conn)

    def head(self) -> LogHead:
        if self.pg is None:
            return SqlLog(self.conn).head()
        row: Any = self.pg.execute(HEAD, prepare=True).fetchone()
        return (
            LogHead(0, merkle.EMPTY_ROOT, 0)
            if row is None
            else LogHead(int(row[0]), bytes(row[1]), int(row[2]))
        )

    def nodes(self, coords: Collection[merkle.Node]) -> dict[merkle.Node, bytes]:
        found, missing = self._known(coords)
        if missing:
            if self.pg is not None:
                found.update(_read_nodes(self.pg, missing))
            else:
                found.update(SqlLog(self.conn).nodes(missing))
        return found

    def head_and_nodes(self, wanted: Wanted) -> tuple[LogHead, dict[merkle.Node, bytes]]:
        if self.pg is None:
            head = self.head()
            return head, self.nodes(wanted(head.size))
        guess = self.reader.last_size
        found, missing = self._known(wanted(guess))
        head = LogHead(0, merkle.EMPTY_ROOT, 0)
        tile = _tile_of(missing, guess)
        if tile is not None:  # the common case: the head and the leaf's tile, one row
            row: Any = self.pg.execute(HEAD_AND_TILE, (tile,), prepare=True).fetchone()
            if row is not None:
                head = LogHead(int(row[0]), bytes(row[1]), int(row[2]))
                if row[3] is not None:
                    found.update(_unpack(tile, row[3], missing))
        else:
            rows: Any = self.pg.execute(HEAD_AND_NODES, _arrays(missing), prepare=True)
            for r in rows:
                if r[0] < 0:
                    head = LogHead(int(r[1]), bytes(r[2]), int(r[3]))
                else:
                    found[(int(r[0]), int(r[1]))] = bytes(r[2])
        if head.size != guess:  # the head moved since the last read: what its size needs besides
            self.reader.last_size = head.size
            self.reader.upper.grow(self.pg, head.size)
            missing = list(wanted(head.size))
        if rest := [node for node in missing if node not in found]:  # also a tile not (yet) stored
            found.update(self.nodes(rest))
        return head, found

    def _known(self, coords: Collection[merkle.Node]) -> tuple[dict[merkle.Node, bytes], list[merkle.Node]]:
        """The wanted subtrees held in memory, and the others (to read)."""
        wanted = set(coords)
        found = self.reader.upper.get(wanted) if self.pg is not None else {}
        return found, sorted(wanted - found.keys())


class SqlLogReader:
    def __init__(self, engine: sa.Engine, *, owns_engine: bool = False) -> None:
        """``owns_engine``: the reader's own engine, made with ``autocommit`` (``engine.make_engine``)."""
        self.engine = engine
        self.owns_engine = owns_engine
        self.last_size = 0  # the tree size the last read saw: the guess for the next
        self.upper = UpperLevels()

    @contextmanager
    def snapshot(self) -> Iterator[_View]:
        """A view on one autocommit connection. The reader's pool does not ping before each checkout
        (that is a round trip per proof): a connection found broken is dropped and the call is a 503."""
        try:
            connection = self.engine.connect()
            if not self.owns_engine:  # a shared engine's connections begin transactions of their own
                connection = connection.execution_options(isolation_level="AUTOCOMMIT")
            with connection as conn:
                try:
                    yield _View(self, conn)
                except TRANSLATED as exc:
                    conn.invalidate()
                    raise translate(exc) from exc
        except TRANSLATED as exc:
            raise translate(exc) from exc

    def prepare(self) -> int:
        """Grow the levels held to the current head (the server's chore after each publication; on
        SQLite nothing is held)."""
        with self.snapshot() as view:
            if view.pg is not None:
                head = view.head()
                self.upper.grow(view.pg, head.size)
        return self.upper.covered

    def dispose(self) -> None:
        if self.owns_engine:
            self.engine.dispose()
