"""Engines for SQLite and PostgreSQL, configured for safe concurrent use.

SQLite runs in WAL mode with a busy timeout and takes the write lock at ``BEGIN IMMEDIATE`` (as datasette
does), so two writers queue instead of failing with "database is locked" halfway through a transaction.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine


def normalize_url(url: str) -> str:
    """Use the psycopg 3 driver for plain ``postgresql://`` URLs."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(
    url: str,
    *,
    pool_size: int = 10,
    schema: str | None = None,
    pre_ping: bool = True,
    autocommit: bool = False,
    generic_plans: bool = False,
) -> Engine:
    """An engine for ``url``. On PostgreSQL: ``autocommit``, every statement on its own, nothing to reset
    when a connection goes back to the pool; ``generic_plans``, prepared statements are planned once, not
    again for each execution's parameters (the log reader's lookups by primary key, whose re-planning cost
    PostgreSQL more than running them)."""
    url = normalize_url(url)
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    # times in UTC and ISO whatever the server's defaults: a ``timestamptz`` read is then loaded with the
    # UTC zone (``pg_hot.selected``; psycopg reads it in the ISO style only)
    options = ["-c TimeZone=UTC", "-c DateStyle=ISO"]
    if schema:
        options.append(f"-c search_path={schema}")
    if generic_plans:
        options.append("-c plan_cache_mode=force_generic_plan")
    connect_args: dict[str, Any] = {"options": _options(url, options)}
    each_statement: dict[str, Any] = (
        {"isolation_level": "AUTOCOMMIT", "pool_reset_on_return": None} if autocommit else {}
    )
    return sa.create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=pre_ping,
        connect_args=connect_args,
        **each_statement,
    )


def _options(url: str, ours: list[str]) -> str:
    """The sessions' options: those ``PGOPTIONS`` and the URL's ``options`` give, which an ``options``
    connection argument would otherwise replace, then ours (given last, they win over the same setting)."""
    in_url = sa.engine.make_url(url).query.get("options", ())  # a tuple when the URL repeats it
    given = [os.environ.get("PGOPTIONS", ""), *([in_url] if isinstance(in_url, str) else in_url)]
    return " ".join([*(g for g in given if g.strip()), *ours])


def _sqlite_engine(url: str) -> Engine:
    database = sa.engine.make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let SQLAlchemy's "begin" event issue BEGIN itself
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
