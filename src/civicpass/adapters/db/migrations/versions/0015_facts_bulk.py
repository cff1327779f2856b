"""facts written in bulk: no foreign key to residents, proposed facts indexed apart

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 18:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

PROPOSED = sa.text("state = 'proposed'")


def upgrade() -> None:
    # PostgreSQL checks a foreign key with a query per inserted row: 4.5 of a feed fact's 10.5 µs of COPY
    # (docs/performance.md). Every writer of facts has just read the resident (docs/decisions.md).
    with op.batch_alter_table("facts") as batch:
        batch.drop_constraint("fk_facts_subject_id_residents", type_="foreignkey")
    # Only proposed facts are listed by (state, time): index those, not every active one a feed brings.
    op.drop_index("ix_facts_state_recorded", table_name="facts")
    op.create_index(
        "ix_facts_proposed_recorded",
        "facts",
        ["recorded_at", "id"],
        unique=False,
        postgresql_where=PROPOSED,
        sqlite_where=PROPOSED,
    )


def downgrade() -> None:
    op.drop_index("ix_facts_proposed_recorded", table_name="facts")
    op.create_index("ix_facts_state_recorded", "facts", ["state", "recorded_at"], unique=False)
    with op.batch_alter_table("facts") as batch:
        batch.create_foreign_key("fk_facts_subject_id_residents", "residents", ["subject_id"], ["id"])
