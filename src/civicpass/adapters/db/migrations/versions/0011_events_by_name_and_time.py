"""events indexed by name and time (the misuse alarms' scan every minute)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 18:40:00
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_events_name_created_at", "events", ["name", "created_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_events_name_created_at", table_name="events")
