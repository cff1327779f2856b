"""a resident's status changes found by index (``/v1/me/status/changes``)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 19:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

STATUS_CHANGES = sa.text("name = 'status:resident:changed'")


def upgrade() -> None:
    op.create_index(
        "ix_events_status_subject",
        "events",
        [sa.text("(payload ->> 'subject')"), "id"],
        unique=False,
        postgresql_where=STATUS_CHANGES,
        sqlite_where=STATUS_CHANGES,
    )


def downgrade() -> None:
    op.drop_index("ix_events_status_subject", table_name="events")
