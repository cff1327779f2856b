"""Database failures become 503 ``database_unavailable``, not 500, also on PostgreSQL's plain-SQL path.

``adapters/db/pg_hot`` runs statements on the psycopg connection itself, past SQLAlchemy's exception
wrapping; the unit of work translates psycopg's errors as it translates SQLAlchemy's, and a connection
that broke is thrown away rather than returned to the pool.
"""

from __future__ import annotations

import psycopg
import pytest

from civicpass.adapters.db import pg_hot
from civicpass.bootstrap import Container
from civicpass.domain.errors import Unavailable


def _fast_path(container: Container, *statements: str) -> None:
    """Run statements on the psycopg connection of a unit of work, as ``pg_hot`` does."""
    with container.deps.uow() as uow:
        pg: psycopg.Connection[object] | None = pg_hot.connection(uow.conn)  # type: ignore[attr-defined]
        if pg is None:
            pytest.skip("the plain-SQL path is PostgreSQL's; SQLite's errors come through SQLAlchemy")
        for statement in statements:
            pg.execute(statement)  # type: ignore[arg-type]


def test_a_cancelled_statement_on_the_fast_path_is_a_503_to_retry(container: Container) -> None:
    with pytest.raises(Unavailable) as raised:
        _fast_path(container, "SET LOCAL statement_timeout = '10ms'", "SELECT pg_sleep(1)")
    assert raised.value.reason == "database_unavailable"
    assert raised.value.extra["retry_after"] == 2
    with container.deps.uow() as uow:  # the next unit of work is fine
        assert uow.sessions.holders(["x" * 64]) == {}


def test_a_connection_lost_on_the_fast_path_is_a_503_and_the_connection_is_not_reused(
    container: Container,
) -> None:
    with pytest.raises(Unavailable) as raised:
        _fast_path(container, "SELECT pg_terminate_backend(pg_backend_pid())")
    assert raised.value.reason == "database_unavailable"
    for _ in range(3):  # whatever connection the pool hands out next works
        with container.deps.uow() as uow:
            assert uow.sessions.holders(["x" * 64]) == {}
