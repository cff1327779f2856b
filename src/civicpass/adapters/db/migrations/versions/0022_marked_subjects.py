"""statuses marked due by rows of their own, not in place

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 17:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

_statuses = sa.table("statuses", sa.column("subject_id", sa.String(36)), sa.column("due_marks", sa.Integer()))
_marked = sa.table(
    "marked_subjects", sa.column("subject_id", sa.String(36)), sa.column("mark_id", sa.BigInteger())
)


def upgrade() -> None:
    # Counting a status's marks up in place cost PostgreSQL 3-14 µs a status (its pages are scattered over
    # a large table); a row per resident in a small table of its own is written by COPY. The statuses a
    # counter marked keep a mark: id 0, which names no batch, and which their next re-evaluation clears.
    op.create_table(
        "marked_subjects",
        sa.Column("subject_id", sa.String(36), nullable=False),
        sa.Column("mark_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.PrimaryKeyConstraint("subject_id", "mark_id", name=op.f("pk_marked_subjects")),
    )
    op.execute(
        sa.insert(_marked).from_select(
            ["subject_id", "mark_id"],
            sa.select(_statuses.c.subject_id, sa.literal(0)).where(_statuses.c.due_marks > 0),
        )
    )
    if op.get_bind().dialect.name == "postgresql":
        _statistics()
    with op.batch_alter_table("statuses") as batch:
        batch.drop_column("due_marks")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE statuses RESET (fillfactor)")  # its room was for the counter's updates


def downgrade() -> None:
    # Without these rows a marked status would read as not due: the sweep and re-evaluations must have
    # taken them first (migrations never write statuses themselves: tests/integration/test_no_manual_override.py).
    pending = op.get_bind().execute(sa.text("SELECT count(*) FROM marked_subjects")).scalar_one()
    if pending:
        raise RuntimeError(f"{pending} statuses are marked due: run `civicpass status sweep` first")
    op.add_column("statuses", sa.Column("due_marks", sa.Integer(), nullable=False, server_default="0"))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE statuses SET (fillfactor = 70)")
    op.drop_table("marked_subjects")


def _statistics() -> None:
    """Statistics that say a resident has about one row here, from the start. Without any, the planner took
    a status read's probe for 600 rows, costed the sweep's read of 1,000 statuses above ``jit_above_cost``
    and compiled it (57 ms of 68). ANALYZE stores nothing for an empty table, and keeps what it stored
    once when the table is empty again (as it is between batches): so one placeholder row is analyzed."""
    op.execute("ALTER TABLE marked_subjects ALTER COLUMN subject_id SET (n_distinct = -1)")
    op.execute("INSERT INTO marked_subjects (subject_id, mark_id) VALUES ('', -1)")
    op.execute("ANALYZE marked_subjects")
    op.execute("DELETE FROM marked_subjects WHERE mark_id = -1")
