"""transparency log: tiles (levels 0-3 of each complete group of 16 leaves in one row), for proofs

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 23:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

# Each tile from the stored subtrees: tile of (level, idx) is idx >> (4 - level); its 30 hashes in the
# order level 0 left to right, then levels 1, 2, 3; only tiles whose 30 subtrees are all stored.
POSTGRES_BACKFILL = sa.text(
    "INSERT INTO log_tiles (idx, hashes)"
    " SELECT idx >> (4 - level), string_agg(hash, ''::bytea ORDER BY level, idx) FROM log_nodes"
    " WHERE level < 4 GROUP BY idx >> (4 - level) HAVING count(*) = 30"
)


def upgrade() -> None:
    op.create_table(
        "log_tiles",
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hashes", sa.LargeBinary(960), nullable=False),
        sa.PrimaryKeyConstraint("idx", name=op.f("pk_log_tiles")),
    )
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        bind.execute(POSTGRES_BACKFILL)
        return
    tiles: dict[int, list[tuple[int, int, bytes]]] = {}
    rows = bind.execute(sa.text("SELECT level, idx, hash FROM log_nodes WHERE level < 4"))
    for level, idx, digest in rows:
        tiles.setdefault(idx >> (4 - level), []).append((level, idx, bytes(digest)))
    complete = [
        {"idx": tile, "hashes": b"".join(h for _, _, h in sorted(nodes))}
        for tile, nodes in tiles.items()
        if len(nodes) == 30
    ]
    if complete:
        table = sa.table("log_tiles", sa.column("idx", sa.BigInteger), sa.column("hashes", sa.LargeBinary))
        bind.execute(table.insert(), complete)


def downgrade() -> None:
    op.drop_table("log_tiles")
