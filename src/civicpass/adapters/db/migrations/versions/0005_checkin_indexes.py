"""check-in keys and indexes for the hot path

Every index is one more b-tree each check-in writes; this keeps the ones something reads. Gone: the
primary key (id, time), on a random id nothing looks up, and (resident, time), which the unique key
(resident, client id, time) makes redundant (and which led the planner away from the exact key for
retries). Added on SQLite only: (time), its day index; PostgreSQL prunes by its day partitions. Bulk
import went from about 80,000 to about 140,000 rows/s on the benchmark machine (docs/performance.md).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 14:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # Dropping indexes is quick; on a partitioned table it takes each partition's lock only briefly.
        op.execute("DROP INDEX IF EXISTS ix_checkins_resident_at")
        op.execute("ALTER TABLE checkins DROP CONSTRAINT IF EXISTS pk_checkins")
        return
    with op.batch_alter_table("checkins", schema=None, recreate="always") as batch_op:
        batch_op.drop_index("ix_checkins_resident_at")
        batch_op.drop_constraint("pk_checkins", type_="primary")
        batch_op.create_index("ix_checkins_at", ["at"], unique=False)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE checkins ADD CONSTRAINT pk_checkins PRIMARY KEY (id, at)")
        op.execute("CREATE INDEX ix_checkins_resident_at ON checkins (resident_id, at)")
        return
    with op.batch_alter_table("checkins", schema=None, recreate="always") as batch_op:
        batch_op.drop_index("ix_checkins_at")
        batch_op.create_primary_key("pk_checkins", ["id", "at"])
        batch_op.create_index("ix_checkins_resident_at", ["resident_id", "at"], unique=False)
