"""statuses without a foreign key to residents

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 21:55:00
"""

from __future__ import annotations

from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A bulk feed batch marks 50,000 statuses due in one UPDATE; PostgreSQL's foreign key trigger fetched
    # each row's old version again to see that its key had not changed: about 1 µs a status of the
    # marking's 5-6 (docs/performance.md). Every writer of a status has just evaluated the resident it
    # writes about, and residents are never deleted (docs/decisions.md).
    with op.batch_alter_table("statuses") as batch:
        batch.drop_constraint("fk_statuses_subject_id_residents", type_="foreignkey")


def downgrade() -> None:
    with op.batch_alter_table("statuses") as batch:
        batch.create_foreign_key("fk_statuses_subject_id_residents", "residents", ["subject_id"], ["id"])
