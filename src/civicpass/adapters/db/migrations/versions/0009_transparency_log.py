"""transparency log: leaves, complete-subtree hashes, state

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 16:10:00
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "log_leaves",
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("idx", name=op.f("pk_log_leaves")),
        sa.UniqueConstraint("event_id", name=op.f("uq_log_leaves_event_id")),
    )
    op.create_table(
        "log_nodes",
        sa.Column("level", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
        sa.PrimaryKeyConstraint("level", "idx", name=op.f("pk_log_nodes")),
    )
    op.create_table(
        "log_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("root", sa.LargeBinary(32), nullable=False),
        sa.Column("last_event_id", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_log_state")),
    )
    # The head row exists from the start, so appenders always have a row to lock (an empty tree's root
    # is SHA-256 of nothing, RFC 9162 2.1.1).
    empty = bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    state = sa.table(
        "log_state",
        sa.column("id", sa.Integer()),
        sa.column("size", sa.BigInteger()),
        sa.column("root", sa.LargeBinary()),
        sa.column("last_event_id", sa.BigInteger()),
        sa.column("updated_at", sa.DateTime()),
    )
    op.bulk_insert(
        state, [{"id": 1, "size": 0, "root": empty, "last_event_id": 0, "updated_at": datetime(2020, 1, 1)}]
    )


def downgrade() -> None:
    op.drop_table("log_state")
    op.drop_table("log_nodes")
    op.drop_table("log_leaves")
