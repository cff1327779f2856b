"""Alembic environment; the engine comes from ``config.attributes`` (see ``..migrate``)."""

from __future__ import annotations

from alembic import context

from civicpass.adapters.db.tables import metadata

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(
        connection=connection, target_metadata=metadata, render_as_batch=True, compare_type=True
    )
    context.run_migrations()
