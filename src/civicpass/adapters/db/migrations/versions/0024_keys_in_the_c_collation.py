"""ids, blind indexes and record ids in the C collation on PostgreSQL

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07 22:20:00
"""

from __future__ import annotations

from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

KEYS: dict[str, list[tuple[str, int]]] = {
    "access_log": [("id", 36), ("staff_id", 36), ("resident_id", 36)],
    "appeals": [("id", 36), ("resident_id", 36), ("filed_by", 36), ("fact_id", 36), ("decided_by", 36)],
    "cases": [("id", 36), ("resident_id", 36), ("source_fact_id", 36)],
    "checkins": [("id", 36), ("resident_id", 36), ("venue_id", 36), ("recorded_by", 36)],
    "declarations": [("id", 36), ("subject_id", 36), ("submitted_by", 36)],
    "facts": [("id", 36), ("subject_id", 36), ("proposed_by", 36), ("decided_by", 36)],
    "feed_batches": [("source_id", 36)],
    "feed_quarantine": [("source_id", 36)],
    "feed_records": [("source_id", 36), ("record_id", 64)],
    "feed_sources": [("id", 36)],
    "form_versions": [("published_by", 36)],
    "guardianships": [("guardian_id", 36), ("dependent_id", 36)],
    "phone_challenges": [("id", 36)],
    "residents": [("id", 36), ("doc_index", 64)],
    "risk_areas": [("id", 36), ("declared_by", 36)],
    "rule_sets": [("proposed_by", 36), ("approved_by", 36)],
    "sessions": [("subject_id", 36)],
    "staff": [("id", 36)],
    "status_history": [("subject_id", 36)],
    "statuses": [("subject_id", 36)],
    "tasks": [("id", 36), ("resident_id", 36), ("closed_by", 36)],
    "tracing_contacts": [("proposal_id", 36), ("resident_id", 36), ("fact_id", 36)],
    "tracing_proposals": [
        ("id", 36),
        ("case_id", 36),
        ("requested_by", 36),
        ("parent_id", 36),
        ("decided_by", 36),
    ],
    "venues": [("id", 36), ("operator_id", 36)],
}
"""Every column of ``tables.ID`` and ``tables.KEY`` (``tables._key``) as this revision found them."""


def _collate(collation: str) -> None:
    # PostgreSQL only: SQLite compares text as bytes already. A table's columns in one statement, so that
    # its indexes are rebuilt once; a partitioned table's partitions follow their parent.
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, columns in KEYS.items():
        changes = ", ".join(
            f'ALTER COLUMN {column} TYPE varchar({length}) COLLATE "{collation}"'
            for column, length in columns
        )
        op.execute(f"ALTER TABLE {table} {changes}")


def upgrade() -> None:
    # Keys compared byte for byte in their B-trees (memcmp) instead of through the database's locale
    # (strcoll and a tie-break under C.UTF-8): docs/decisions.md, docs/performance.md.
    _collate("C")


def downgrade() -> None:
    _collate("default")
