"""feed records without their resident and fact

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 05:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # An accepted record's id is kept so that the same record again changes nothing; which resident it
    # named was kept too, for no reader, with no retention and outside a resident's own export. The fact
    # a record made says which record it was (its note) and its source (its authority).
    with op.batch_alter_table("feed_records") as batch:
        batch.drop_column("fact_id")
        batch.drop_column("subject_id")


def downgrade() -> None:
    # the columns come back empty: what they held is gone
    with op.batch_alter_table("feed_records") as batch:
        batch.add_column(sa.Column("subject_id", sa.String(36)))
        batch.add_column(sa.Column("fact_id", sa.String(36)))
