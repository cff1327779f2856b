"""status marks' subject lists stored uncompressed

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 21:20:00
"""

from __future__ import annotations

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A bulk batch's mark names its 50,000 residents (1.9 MB of ids). PostgreSQL's default TOAST storage
    # tried pglz on it and gave up (random ids do not compress), 37 of the 49 ms of its insert.
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE status_marks ALTER COLUMN subjects SET STORAGE EXTERNAL")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE status_marks ALTER COLUMN subjects SET STORAGE EXTENDED")
