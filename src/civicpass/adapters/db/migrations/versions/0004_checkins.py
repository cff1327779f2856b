"""check-ins and venue registry

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 01:59:08.331198
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "checkins",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("resident_id", sa.String(length=36), nullable=False),
        sa.Column("venue_id", sa.String(length=36), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.Column("evidence", sa.String(length=8), nullable=False),
        sa.Column("flags", sa.String(length=120), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("window_start", sa.DateTime(), nullable=True),
        sa.Column("direction", sa.String(length=8), nullable=True),
        sa.Column("recorded_by", sa.String(length=36), nullable=True),
        sa.PrimaryKeyConstraint("id", "at", name=op.f("pk_checkins")),
        sa.UniqueConstraint("resident_id", "client_id", "at", name="uq_checkins_resident_client_at"),
        postgresql_partition_by="RANGE (at)",
    )
    with op.batch_alter_table("checkins", schema=None) as batch_op:
        batch_op.create_index("ix_checkins_resident_at", ["resident_id", "at"], unique=False)
        batch_op.create_index("ix_checkins_venue_at", ["venue_id", "at"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        # Daily partitions are created ahead by the partition manager; the default partition is the
        # safety net that keeps an acknowledged write from failing for want of one.
        op.execute("CREATE TABLE checkins_default PARTITION OF checkins DEFAULT")

    with op.batch_alter_table("venues", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lat", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("lon", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("operator_id", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.create_index(batch_op.f("ix_venues_operator_id"), ["operator_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("venues", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_venues_operator_id"))
        batch_op.drop_column("active")
        batch_op.drop_column("operator_id")
        batch_op.drop_column("lon")
        batch_op.drop_column("lat")

    with op.batch_alter_table("checkins", schema=None) as batch_op:
        batch_op.drop_index("ix_checkins_venue_at")
        batch_op.drop_index("ix_checkins_resident_at")

    op.drop_table("checkins")
