"""facts' data as json, not jsonb, on PostgreSQL

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 19:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A fact's data is written once (a feed batch's tens of thousands by COPY) and read whole, as its text:
    # no statement looks inside it. jsonb parsed each into its binary form on the way in and printed it
    # back on the way out; json checks the text and keeps it (docs/decisions.md).
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE facts ALTER COLUMN data TYPE json USING data::json")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE facts ALTER COLUMN data TYPE jsonb USING data::jsonb")
