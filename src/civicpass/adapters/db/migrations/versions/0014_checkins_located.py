"""check-ins with a location found by (venue, time): a partial index for forwarding checks

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 23:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

LOCATED = sa.text("lat IS NOT NULL")


def upgrade() -> None:
    # On PostgreSQL an index on the partitioned table is made on every day partition, and on those to come.
    # It blocks writes to check-ins while it is built: on a deployment already holding weeks of scans, make
    # the same index on each partition with CREATE INDEX CONCURRENTLY first; this then attaches those.
    op.create_index(
        "ix_checkins_venue_at_located",
        "checkins",
        ["venue_id", "at"],
        unique=False,
        postgresql_where=LOCATED,
        sqlite_where=LOCATED,
    )


def downgrade() -> None:
    op.drop_index("ix_checkins_venue_at_located", table_name="checkins")
