"""The exposure query, one SQL text for PostgreSQL, SQLite and DuckDB (``domain.tracing`` is its reference).

The index people's presences come in as a small table (``tc_presences``: computed in Python from their own
check-ins, cut to their infectious windows, each with the check-in times ``lo``..``hi`` that can overlap
it). The query finds the check-ins at those venues in those times, turns them into presences (a vehicle
boarding ends at the same person's next check-in there if it is an alighting within ``max_ride``), and
returns each overlap with a buffered index presence. Only the epoch-seconds expression and the parameter
markers differ between the three engines; times are compared as stored (index-friendly, partition-pruned).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from civicpass.domain.checkins import Direction, Evidence
from civicpass.domain.tracing import Exposure, IndexPresence, TracingPolicy, Visit, weaker

PRESENCE_COLUMNS = (
    "index_key",
    "resident_id",
    "venue_id",
    "checkin_id",
    "vehicle",
    "s",
    "e",
    "evidence",
    "lo",
    "hi",
)
EXPOSURE_COLUMNS = (
    "index_key",
    "contact_id",
    "venue_id",
    "index_checkin_id",
    "contact_checkin_id",
    "start_s",
    "end_s",
    "vehicle",
    "index_evidence",
    "contact_evidence",
)
VISIT_COLUMNS = ("id", "resident_id", "venue_id", "at", "evidence", "direction")

AT = '"at"'  # quoted: AT is a keyword in DuckDB (AT TIME ZONE)
EPOCH: dict[str, Callable[[str], str]] = {
    "postgresql": lambda column: f"CAST(floor(extract(epoch FROM {column})) AS BIGINT)",
    "sqlite": lambda column: f"CAST(strftime('%s', {column}) AS INTEGER)",
    "duckdb": lambda column: f"CAST(floor(epoch({column})) AS BIGINT)",
}
"""Whole epoch seconds of a UTC time column, truncated as ``domain.tracing.epoch`` truncates."""


def exposure_query(
    dialect: str,
    policy: TracingPolicy,
    lo: str,
    hi: str,
    presences: str = "tc_presences",
    checkins: str = "checkins",
) -> str:
    """The exposure query; ``lo`` and ``hi`` are the parameter markers of the overall time bounds."""
    epoch = EPOCH[dialect]
    s = policy.seconds()  # whole numbers from a typed policy: written into the text, not parameters
    return f"""
WITH cand AS (
  SELECT DISTINCT c.id, c.resident_id, c.venue_id, c."at", c.evidence, c.direction, p.vehicle
  FROM {presences} p JOIN {checkins} c
    ON c.venue_id = p.venue_id AND c."at" >= p.lo AND c."at" <= p.hi
  WHERE c."at" >= {lo} AND c."at" <= {hi}
),
seq AS (
  SELECT id, resident_id, venue_id, {epoch(AT)} AS s, evidence, direction, vehicle,
    LEAD(direction) OVER w AS next_direction, LEAD({epoch(AT)}) OVER w AS next_s
  FROM cand
  WINDOW w AS (PARTITION BY resident_id, venue_id ORDER BY "at", id)
),
q AS (
  SELECT id, resident_id, venue_id, evidence, s,
    CASE WHEN vehicle = 0 THEN s + {s["dwell"]}
         WHEN next_direction = 'alight' AND next_s - s <= {s["max_ride"]} THEN next_s
         ELSE s + {s["ride"]} END AS e
  FROM seq
  WHERE direction IS NULL OR direction <> 'alight'
)
SELECT p.index_key, q.resident_id AS contact_id, p.venue_id, p.checkin_id AS index_checkin_id,
  q.id AS contact_checkin_id,
  CASE WHEN q.s > p.s - {s["buffer"]} THEN q.s ELSE p.s - {s["buffer"]} END AS start_s,
  CASE WHEN q.e < p.e + {s["buffer"]} THEN q.e ELSE p.e + {s["buffer"]} END AS end_s,
  p.vehicle, p.evidence AS index_evidence, q.evidence AS contact_evidence
FROM {presences} p JOIN q
  ON q.venue_id = p.venue_id AND q.s < p.e + {s["buffer"]} AND q.e > p.s - {s["buffer"]}
WHERE q.resident_id <> p.resident_id
"""


def presence_rows(index: Sequence[IndexPresence], policy: TracingPolicy) -> list[dict[str, Any]]:
    """The ``tc_presences`` rows (``lo``/``hi`` aware UTC datetimes)."""
    rows = []
    for ip in index:
        p = ip.presence
        lo, hi = ip.bounds(policy)
        rows.append(
            {
                "index_key": ip.index_key,
                "resident_id": p.resident_id,
                "venue_id": p.venue_id,
                "checkin_id": p.checkin_id,
                "vehicle": int(p.vehicle),
                "s": p.start,
                "e": p.end,
                "evidence": p.evidence.value,
                "lo": lo,
                "hi": hi,
            }
        )
    return rows


def overall_bounds(rows: Sequence[Mapping[str, Any]]) -> tuple[datetime, datetime]:
    return min(r["lo"] for r in rows), max(r["hi"] for r in rows)


def exposure_of(row: Sequence[Any]) -> Exposure:
    index_key, contact, venue, index_checkin, contact_checkin, start, end, vehicle, ev1, ev2 = row
    return Exposure(
        index_key,
        contact,
        venue,
        index_checkin,
        contact_checkin,
        int(start),
        int(end),
        bool(vehicle),
        weaker(Evidence(ev1), Evidence(ev2)),
    )


def visit_of(row: Sequence[Any]) -> Visit:
    id_, resident, venue, at, evidence, direction = row
    return Visit(id_, resident, venue, at, Evidence(evidence), Direction(direction) if direction else None)
