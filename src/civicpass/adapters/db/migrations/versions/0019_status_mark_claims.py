"""status marks claimed by one sweep at a time

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 22:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every server worker runs the sweep: each took the same oldest marks and re-evaluated the same
    # residents. A sweep now claims a mark until a time; another worker takes the next one.
    op.add_column("status_marks", sa.Column("claimed_until", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("status_marks") as batch:
        batch.drop_column("claimed_until")
