"""Retention purges by data class, the resident's own export, and the end-of-epidemic shutdown's deletes."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from civicpass.adapters.db import tables as t
from civicpass.adapters.db.status_repositories import SqlStatuses

_TABLES = t.metadata.tables
RETAINED: Mapping[str, tuple[sa.Table, str]] = {
    "declarations": (_TABLES["declarations"], "submitted_at"),
    "phone_challenges": (_TABLES["phone_challenges"], "created_at"),
    "sessions": (_TABLES["sessions"], "expires_at"),
    "feed_quarantine": (_TABLES["feed_quarantine"], "received_at"),
    "access_log": (_TABLES["access_log"], "at"),
    "idempotency": (_TABLES["idempotency_keys"], "created_at"),
    "expired_facts": (_TABLES["facts"], "expires_at"),
}
"""Each data class with a retention period: its table and the time its age counts from."""

PERSONAL = (
    "tracing_contacts",
    "tracing_proposals",
    "appeals",
    "tasks",
    "feed_records",
    "feed_quarantine",
    "checkins",
    "declarations",
    "facts",
    "cases",
    "access_log",
    "idempotency_keys",
    "sessions",
    "phone_challenges",
    "guardianships",
    "residents",
)
"""Tables holding personal data, in an order foreign keys allow deleting them (statuses, which refer to
residents, are deleted first by their own repository: only it touches them). The event outbox's payloads
name residents by id; they are emptied (everything in them is in the log already, by pseudonym) and the
rows kept, so event ids keep counting up from where the log stopped."""


class SqlPrivacy:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def delete_before(self, data_class: str, cutoff: datetime) -> int:
        table, column = RETAINED[data_class]
        return int(self.conn.execute(table.delete().where(table.c[column] < cutoff)).rowcount or 0)

    def counts(self) -> dict[str, Any]:
        """Aggregate statistics worth keeping after the personal data is gone (no one identifiable)."""
        c, k = t.checkins.c, t.cases.c
        by_city: dict[tuple[str, str], int] = {}
        for color, region, n in SqlStatuses(self.conn).colors_by_region():  # districts to cities (GB/T 2260)
            by_city[(color, region[:4])] = by_city.get((color, region[:4]), 0) + int(n)
        day = sa.func.date(c.at)
        checkins = self.conn.execute(sa.select(day, sa.func.count()).group_by(day).order_by(day))
        cases = self.conn.execute(sa.select(k.state, sa.func.count()).group_by(k.state))
        return {
            "statuses_by_color_and_city": [
                {"color": color, "city": city, "count": n} for (color, city), n in sorted(by_city.items())
            ],
            "checkins_by_day": [{"day": str(d), "count": n} for d, n in checkins],
            "cases_by_state": [{"state": state, "count": n} for state, n in cases],
            "residents": int(
                self.conn.execute(sa.select(sa.func.count()).select_from(t.residents)).scalar_one()
            ),
        }

    def destroy_personal_data(self) -> dict[str, int]:
        """Delete every row of every table with personal data; the rows deleted per table."""
        deleted = {"status": SqlStatuses(self.conn).destroy_all()}
        for name in PERSONAL:
            table = t.metadata.tables[name]
            deleted[name] = int(self.conn.execute(table.delete()).rowcount or 0)
        deleted["event_payloads"] = int(self.conn.execute(t.events.update().values(payload={})).rowcount or 0)
        return deleted
