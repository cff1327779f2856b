"""Run the Alembic migrations programmatically (the CLI, ``make run`` and the tests all use this)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from civicpass.adapters.db import tables as t

MIGRATIONS = Path(__file__).parent / "migrations"


PARTITION = re.compile(r"^checkins_(p\d{8}|default)$")


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Leave out of comparisons the daily check-in partitions (managed at run time, not by migrations) and
    declared objects made on some databases only (``ddl_if``) where the database has none, and indexes on
    expressions (``tables.EXPRESSION_INDEXES``), which Alembic cannot compare."""
    if type_ == "table" and reflected and name is not None and PARTITION.match(name):
        return False
    if type_ == "index" and name in t.EXPRESSION_INDEXES:
        return False
    return not (not reflected and compare_to is None and getattr(obj, "_ddl_if", None) is not None)


def alembic_config(engine: sa.Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: sa.Engine, revision: str = "head") -> None:
    command.upgrade(alembic_config(engine), revision)


def is_current(engine: sa.Engine) -> bool:
    """True when the database is at the newest migration (used by the readiness check)."""
    heads = set(ScriptDirectory.from_config(alembic_config(engine)).get_heads())
    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads()) == heads
