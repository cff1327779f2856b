"""Alembic environment; the engine comes from ``config.attributes`` (see ``..migrate``).

Each migration runs in its own transaction, so that one may step outside it where PostgreSQL requires
(``CREATE INDEX CONCURRENTLY`` on a live table) through ``op.get_context().autocommit_block()``.
"""

from __future__ import annotations

from alembic import context

from civicpass.adapters.db.tables import metadata

engine = context.config.attributes["engine"]
with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,
        compare_type=True,
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()
