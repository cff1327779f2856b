"""codes: code subject per resident

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 01:48:54.667482
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("residents", sa.Column("code_subject", sa.String(length=64), nullable=True))
    op.create_index("ix_residents_code_subject", "residents", ["code_subject"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_residents_code_subject", table_name="residents")
    with op.batch_alter_table("residents") as batch_op:
        batch_op.drop_column("code_subject")
