"""cases and tracing proposals

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 15:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

UTC_TIME = sa.DateTime()


def upgrade() -> None:
    json = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
    op.create_table(
        "cases",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("resident_id", sa.String(36), nullable=False),
        sa.Column("region_code", sa.String(6), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("origin", sa.String(20), nullable=False),
        sa.Column("opened_at", UTC_TIME, nullable=False),
        sa.Column("opened_by", sa.String(100), nullable=False),
        sa.Column("sampled_at", UTC_TIME),
        sa.Column("onset_at", UTC_TIME),
        sa.Column("isolated_at", UTC_TIME),
        sa.Column("source_fact_id", sa.String(36)),
        sa.Column("updated_at", UTC_TIME),
        sa.ForeignKeyConstraint(
            ["resident_id"], ["residents.id"], name=op.f("fk_cases_resident_id_residents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
        sa.UniqueConstraint("source_fact_id", name=op.f("uq_cases_source_fact_id")),
    )
    op.create_index("ix_cases_resident_id", "cases", ["resident_id"])
    op.create_index("ix_cases_region_code", "cases", ["region_code"])
    op.create_table(
        "tracing_proposals",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("region_code", sa.String(6), nullable=False),
        sa.Column("requested_by", sa.String(36), nullable=False),
        sa.Column("requested_at", UTC_TIME, nullable=False),
        sa.Column("engine", sa.String(16), nullable=False),
        sa.Column("policy", json, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("degree", sa.Integer, nullable=False),
        sa.Column("parent_id", sa.String(36)),
        sa.Column("decided_by", sa.String(36)),
        sa.Column("decided_at", UTC_TIME),
        sa.Column("note", sa.Text, nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_tracing_proposals_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tracing_proposals")),
    )
    op.create_index("ix_tracing_proposals_case_id", "tracing_proposals", ["case_id"])
    op.create_index("ix_tracing_proposals_state", "tracing_proposals", ["state"])
    op.create_table(
        "tracing_contacts",
        sa.Column("proposal_id", sa.String(36), nullable=False),
        sa.Column("resident_id", sa.String(36), nullable=False),
        sa.Column("grade", sa.String(32), nullable=False),
        sa.Column("last_exposure", UTC_TIME, nullable=False),
        sa.Column("longest_seconds", sa.Integer, nullable=False),
        sa.Column("evidence", json, nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("fact_id", sa.String(36)),
        sa.Column("note", sa.Text, nullable=False),
        sa.ForeignKeyConstraint(
            ["proposal_id"],
            ["tracing_proposals.id"],
            name=op.f("fk_tracing_contacts_proposal_id_tracing_proposals"),
        ),
        sa.PrimaryKeyConstraint("proposal_id", "resident_id", name=op.f("pk_tracing_contacts")),
    )


def downgrade() -> None:
    op.drop_table("tracing_contacts")
    op.drop_index("ix_tracing_proposals_state", table_name="tracing_proposals")
    op.drop_index("ix_tracing_proposals_case_id", table_name="tracing_proposals")
    op.drop_table("tracing_proposals")
    op.drop_index("ix_cases_region_code", table_name="cases")
    op.drop_index("ix_cases_resident_id", table_name="cases")
    op.drop_table("cases")
