"""Reading the transparency log for proofs, the hot read path: no transaction, one prepared statement.

A proof needs the head (size) and a few dozen stored subtree hashes. Both are safe to read outside a
transaction: a subtree hash never changes once written, and the head moves only forward, written in the
same transaction as the subtrees it covers. So the reader uses an autocommit connection (no BEGIN and
ROLLBACK round trips) and, on PostgreSQL, one prepared statement that reads the head and the wanted
(level, index) pairs together: which pairs a proof wants depends on the tree's size, so the reader names
them for the size it saw last and reads what a moved head needs besides in a second statement (the head
moves once per publishing interval, a few seconds, so nearly every proof is one round trip). Hashes of
subtrees of 256 leaves or more, shared by many proofs, are also kept in memory.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from civicpass.adapters.db import pg_hot
from civicpass.adapters.db.log_repositories import SqlLog
from civicpass.adapters.db.uow import TRANSLATED, translate
from civicpass.domain import merkle
from civicpass.services.ports import LogHead

# (level, index) pairs go as two array literals in text: psycopg's Python dumper of integer lists (it picks
# the narrowest type per element) costs more than the whole statement's work in PostgreSQL.
NODES = (
    "SELECT n.level, n.idx, n.hash FROM unnest(%s::smallint[], %s::bigint[]) AS k(level, idx)"
    " JOIN log_nodes n ON n.level = k.level AND n.idx = k.idx"
)
CACHED_LEVEL = 8
WARM_SPAN = 14  # levels below the top loaded at once: 2**14 subtrees at the lowest (~5 MB)
WARM = "SELECT level, idx, hash FROM log_nodes WHERE level >= %b"


HEAD = "SELECT size, root, last_event_id FROM log_state WHERE id = 1"
HEAD_AND_NODES = (  # the head as level -1: (-1, size, root, last event), then the subtrees
    "SELECT -1::smallint, size, root, last_event_id FROM log_state WHERE id = 1 UNION ALL"
    " SELECT n.level, n.idx, n.hash, NULL FROM unnest(%s::smallint[], %s::bigint[]) AS k(level, idx)"
    " JOIN log_nodes n ON n.level = k.level AND n.idx = k.idx"
)
Wanted = Callable[[int], Collection[merkle.Node]]


def _arrays(coords: Collection[merkle.Node]) -> tuple[str, str]:
    """The levels and the indexes of ``coords`` as PostgreSQL array literals."""
    levels = ",".join(str(level) for level, _ in coords)
    indexes = ",".join(str(index) for _, index in coords)
    return f"{{{levels}}}", f"{{{indexes}}}"


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
                rows: Any = self.pg.execute(NODES, _arrays(missing), prepare=True)
                fetched = {(int(r[0]), int(r[1])): bytes(r[2]) for r in rows}
            else:
                fetched = SqlLog(self.conn).nodes(missing)
            found.update(fetched)
            self.reader.remember(fetched)
        return found

    def head_and_nodes(self, wanted: Wanted) -> tuple[LogHead, dict[merkle.Node, bytes]]:
        if self.pg is None:
            head = self.head()
            return head, self.nodes(wanted(head.size))
        guess = self.reader.last_size
        found, missing = self._known(wanted(guess))
        rows: Any = self.pg.execute(HEAD_AND_NODES, _arrays(missing), prepare=True)
        head, fetched = LogHead(0, merkle.EMPTY_ROOT, 0), {}
        for r in rows:
            if r[0] < 0:
                head = LogHead(int(r[1]), bytes(r[2]), int(r[3]))
            else:
                fetched[(int(r[0]), int(r[1]))] = bytes(r[2])
        found.update(fetched)
        self.reader.remember(fetched)
        if head.size != guess:  # the head moved since the last read: what its size needs besides
            self.reader.last_size = head.size
            needed = set(wanted(head.size))
            if not needed <= found.keys():
                found.update(self.nodes(needed - found.keys()))
        return head, found

    def _known(self, coords: Collection[merkle.Node]) -> tuple[dict[merkle.Node, bytes], list[merkle.Node]]:
        """The wanted subtrees in memory, and the others (to read), after warming the upper levels."""
        wanted = set(coords)
        if self.pg is not None and wanted:
            self.reader.warm(self.pg, max(level for level, _ in wanted))
        found = self.reader.cached(wanted)
        return found, sorted(wanted - found.keys())


class SqlLogReader:
    def __init__(self, engine: sa.Engine, cache_size: int = 200_000, *, owns_engine: bool = False) -> None:
        """``owns_engine``: the reader's own engine, made with ``autocommit`` (``engine.make_engine``)."""
        self.engine = engine
        self.owns_engine = owns_engine
        self._warmed = -1
        self.last_size = 0  # the tree size the last read saw: the guess for the next
        self.cache_size = cache_size
        self._cache: OrderedDict[merkle.Node, bytes] = OrderedDict()
        self._lock = threading.Lock()

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

    def warm(self, pg: Any, top: int) -> None:
        """Once a tree has grown a level, load every stored subtree of its upper levels (from
        ``top - WARM_SPAN``: about 2 * 2**WARM_SPAN hashes whatever the size), which every proof shares."""
        if top <= self._warmed:
            return
        low = max(CACHED_LEVEL, top - WARM_SPAN)
        rows: Any = pg.execute(WARM, (low,), prepare=True)
        self.remember({(int(r[0]), int(r[1])): bytes(r[2]) for r in rows})
        self._warmed = top

    def dispose(self) -> None:
        if self.owns_engine:
            self.engine.dispose()

    def cached(self, wanted: set[merkle.Node]) -> dict[merkle.Node, bytes]:
        with self._lock:
            return {c: self._cache[c] for c in wanted if c in self._cache}  # not keys() & wanted: O(cache)

    def remember(self, fetched: dict[merkle.Node, bytes]) -> None:
        with self._lock:
            for c, h in fetched.items():
                if c[0] >= CACHED_LEVEL:  # shared by many proofs; never changes once written
                    self._cache[c] = h
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
