"""Reading the transparency log for proofs, the hot read path: no transaction, one prepared statement.

A proof needs the head (size) and a few dozen stored subtree hashes. Both are safe to read outside a
transaction: a subtree hash never changes once written, and the head moves only forward, written in the
same transaction as the subtrees it covers. So the reader uses an autocommit connection (no BEGIN and
ROLLBACK round trips) and, on PostgreSQL, one prepared statement joining the wanted (level, index) pairs;
hashes of subtrees of 256 leaves or more, shared by many proofs, are also kept in memory.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from civicpass.adapters.db import pg_hot
from civicpass.adapters.db.log_repositories import SqlLog
from civicpass.adapters.db.uow import TRANSLATED, translate
from civicpass.domain import merkle
from civicpass.services.ports import LogHead

NODES = (
    "SELECT n.level, n.idx, n.hash FROM unnest(%b::smallint[], %b::bigint[]) AS k(level, idx)"
    " JOIN log_nodes n ON n.level = k.level AND n.idx = k.idx"
)
CACHED_LEVEL = 8
WARM_SPAN = 14  # levels below the top loaded at once: 2**14 subtrees at the lowest (~5 MB)
WARM = "SELECT level, idx, hash FROM log_nodes WHERE level >= %b"


HEAD = "SELECT size, root, last_event_id FROM log_state WHERE id = 1"


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
        wanted = set(coords)
        if self.pg is not None and wanted:
            self.reader.warm(self.pg, max(level for level, _ in wanted))
        found = self.reader.cached(wanted)
        missing = sorted(wanted - found.keys())
        if missing:
            if self.pg is not None:
                rows: Any = self.pg.execute(
                    NODES, ([lv for lv, _ in missing], [i for _, i in missing]), prepare=True
                )
                fetched = {(int(r[0]), int(r[1])): bytes(r[2]) for r in rows}
            else:
                fetched = SqlLog(self.conn).nodes(missing)
            found.update(fetched)
            self.reader.remember(fetched)
        return found


class SqlLogReader:
    def __init__(self, engine: sa.Engine, cache_size: int = 200_000, *, owns_engine: bool = False) -> None:
        self.engine = engine
        self.owns_engine = owns_engine
        self._warmed = -1
        self.cache_size = cache_size
        self._cache: OrderedDict[merkle.Node, bytes] = OrderedDict()
        self._lock = threading.Lock()

    @contextmanager
    def snapshot(self) -> Iterator[_View]:
        """A view on one autocommit connection. The reader's pool does not ping before each checkout
        (that is a round trip per proof): a connection found broken is dropped and the call is a 503."""
        try:
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
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
