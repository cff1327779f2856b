"""status marks carry a filter of their residents; statuses lose their mark counter

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-08 00:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

_MARKS = sa.table("status_marks", sa.column("id", sa.Integer), sa.column("subjects", sa.Text))


def upgrade() -> None:
    # A bulk feed batch counted the marks of its 50,000 statuses up in place: a scan of every status and
    # 5-7.5 µs of PostgreSQL a record, the largest share of a test result's import. Its mark row now carries
    # a Bloom filter of its residents, which a status read consults (docs/decisions.md). A mark made before
    # has no filter (NULL): it may name anyone until the sweep drops it.
    postgres = op.get_bind().dialect.name == "postgresql"
    with op.batch_alter_table("status_marks") as batch:
        batch.add_column(sa.Column("token", sa.String(32)))
        batch.add_column(sa.Column("bloom", sa.LargeBinary))
    random_token = "md5(random()::text || id::text)" if postgres else "lower(hex(randomblob(16)))"
    op.execute(f"UPDATE status_marks SET token = {random_token}")  # noqa: S608  # no input in it
    with op.batch_alter_table("status_marks") as batch:
        batch.alter_column("token", existing_type=sa.String(32), nullable=False)
    if postgres:  # random bits do not compress (as the subjects, migration 0018)
        op.execute("ALTER TABLE status_marks ALTER COLUMN bloom SET STORAGE EXTERNAL")
    with op.batch_alter_table("statuses") as batch:
        batch.drop_column("due_marks")


def downgrade() -> None:
    with op.batch_alter_table("statuses") as batch:
        batch.add_column(sa.Column("due_marks", sa.Integer, nullable=False, server_default="0"))
    # the residents of the marks still awaiting the sweep read as due again by their counter
    statuses = sa.table("statuses", sa.column("subject_id", sa.String), sa.column("due_marks", sa.Integer))
    bind = op.get_bind()
    for (subjects,) in bind.execute(sa.select(_MARKS.c.subjects).order_by(_MARKS.c.id)):
        ids = subjects.split("\n")
        for start in range(0, len(ids), 5000):
            bind.execute(
                statuses.update()
                .where(statuses.c.subject_id.in_(ids[start : start + 5000]))
                .values(due_marks=statuses.c.due_marks + 1)
            )
    with op.batch_alter_table("status_marks") as batch:
        batch.drop_column("bloom")
        batch.drop_column("token")
