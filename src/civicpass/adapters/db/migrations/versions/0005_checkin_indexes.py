"""check-in indexes for the hot path: a time index instead of (resident, time)

(resident_id, at) was redundant with the unique key (resident_id, client_id, at), which serves every
look-up by resident, and it made the planner probe it for retries instead of the exact key; its inserts
land at random places. An index on ``at`` alone takes appends at its right edge, serves the range queries
of purges, exports and counts, and is SQLite's day index (PostgreSQL also prunes by partition).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 14:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("checkins", schema=None) as batch_op:
        batch_op.drop_index("ix_checkins_resident_at")
        batch_op.create_index("ix_checkins_at", ["at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("checkins", schema=None) as batch_op:
        batch_op.drop_index("ix_checkins_at")
        batch_op.create_index("ix_checkins_resident_at", ["resident_id", "at"], unique=False)
