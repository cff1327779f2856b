"""signed data feeds: sources, batches, accepted records, quarantine

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 15:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    json = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
    op.create_table(
        "feed_sources",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("public_key", sa.String(64), nullable=False),
        sa.Column("region_code", sa.String(6), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_sources")),
        sa.UniqueConstraint("name", name=op.f("uq_feed_sources_name")),
    )
    op.create_table(
        "feed_batches",
        sa.Column("source_id", sa.String(36), nullable=False),
        sa.Column("batch_id", sa.String(64), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("report", json, nullable=False),
        sa.ForeignKeyConstraint(
            ["source_id"], ["feed_sources.id"], name=op.f("fk_feed_batches_source_id_feed_sources")
        ),
        sa.PrimaryKeyConstraint("source_id", "batch_id", name=op.f("pk_feed_batches")),
    )
    op.create_table(
        "feed_records",
        sa.Column("source_id", sa.String(36), nullable=False),
        sa.Column("record_id", sa.String(64), nullable=False),
        sa.Column("batch_id", sa.String(64), nullable=False),
        sa.Column("subject_id", sa.String(36), nullable=False),
        sa.Column("fact_id", sa.String(36), nullable=True),
        sa.PrimaryKeyConstraint("source_id", "record_id", name=op.f("pk_feed_records")),
    )
    op.create_table(
        "feed_quarantine",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("source_id", sa.String(36), nullable=False),
        sa.Column("batch_id", sa.String(64), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.String(64), nullable=True),
        sa.Column("reasons", json, nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_quarantine")),
    )
    op.create_index("ix_feed_quarantine_source_id", "feed_quarantine", ["source_id"])


def downgrade() -> None:
    op.drop_index("ix_feed_quarantine_source_id", table_name="feed_quarantine")
    op.drop_table("feed_quarantine")
    op.drop_table("feed_records")
    op.drop_table("feed_batches")
    op.drop_table("feed_sources")
