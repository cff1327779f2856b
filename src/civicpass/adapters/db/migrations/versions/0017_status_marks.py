"""statuses marked due in place, a queue of marks for the sweep

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 20:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Marking a status due changed ``review_at``, which is indexed: a new row version and two index entries
    # per status (9-13 µs on PostgreSQL). A counter no index covers, on pages with room, is updated in place.
    op.add_column("statuses", sa.Column("due_marks", sa.Integer(), nullable=False, server_default="0"))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE statuses SET (fillfactor = 70)")  # pages rewritten from now on keep room
    op.create_table(
        "status_marks",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("marked_at", sa.DateTime(), nullable=False),
        sa.Column("subjects", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_marks")),
    )


def downgrade() -> None:
    # Without the marks a marked status would read as not due: the sweep must have taken them first
    # (migrations never write statuses themselves: tests/integration/test_no_manual_override.py).
    pending = op.get_bind().execute(sa.text("SELECT count(*) FROM status_marks")).scalar_one()
    if pending:
        raise RuntimeError(f"{pending} status marks are pending: run `civicpass status sweep` first")
    op.drop_table("status_marks")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE statuses RESET (fillfactor)")
    with op.batch_alter_table("statuses") as batch:
        batch.drop_column("due_marks")
