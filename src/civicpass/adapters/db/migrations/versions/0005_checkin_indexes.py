"""check-in indexes for the hot path: a time index instead of (resident, time)

(resident_id, at) was redundant with the unique key (resident_id, client_id, at), which serves every
look-up by resident, and it made the planner probe it for retries instead of the exact key; its inserts
land at random places. An index on ``at`` alone takes appends at its right edge, serves the range queries
of purges, exports and counts, and is SQLite's day index (PostgreSQL also prunes by partition).

On PostgreSQL the table is live and large: the new index is built partition by partition with
``CREATE INDEX CONCURRENTLY`` (check-ins go on being written meanwhile) and attached to an index made
``ON ONLY`` the parent, which becomes valid once every partition's is attached.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _partitions() -> list[str]:
    rows = op.get_bind().execute(
        sa.text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = to_regclass('checkins')"
        )
    )
    return [name for (name,) in rows]


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        with op.batch_alter_table("checkins", schema=None) as batch_op:
            batch_op.drop_index("ix_checkins_resident_at")
            batch_op.create_index("ix_checkins_at", ["at"], unique=False)
        return
    op.execute("DROP INDEX IF EXISTS ix_checkins_resident_at")
    op.execute("CREATE INDEX IF NOT EXISTS ix_checkins_at ON ONLY checkins (at)")
    partitions = _partitions()
    with op.get_context().autocommit_block():
        for name in partitions:
            op.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name}_at_idx ON {name} (at)")
    for name in partitions:
        op.execute(f"ALTER INDEX ix_checkins_at ATTACH PARTITION {name}_at_idx")


def downgrade() -> None:
    with op.batch_alter_table("checkins", schema=None) as batch_op:
        batch_op.drop_index("ix_checkins_at")
        batch_op.create_index("ix_checkins_resident_at", ["resident_id", "at"], unique=False)
