"""active residents' ids covered by their document's blind index

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 00:30:00
"""

from __future__ import annotations

from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A feed batch looks up the holders of its 50,000 documents; with the ids in the index, the look-up
    # reads the index alone instead of scanning every resident (PostgreSQL only: SQLite keeps the unique
    # index). Built concurrently: enrolment goes on meanwhile.
    if op.get_bind().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            op.execute(
                "CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_residents_active_doc_index"
                " ON residents (doc_index) INCLUDE (id) WHERE active"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            op.execute("DROP INDEX CONCURRENTLY IF EXISTS ix_residents_active_doc_index")
