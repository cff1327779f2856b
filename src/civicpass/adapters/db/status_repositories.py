"""SQL repositories of the status engine: facts, rule sets, statuses with history, events, risk areas."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from civicpass.adapters.db import pg_hot
from civicpass.adapters.db import tables as t
from civicpass.adapters.db.mark_filters import MarkFilters, bloom_of
from civicpass.domain.facts import Fact, FactKind, FactSource, FactState
from civicpass.domain.rulesets import RuleSetState, RuleSetVersion, parse_ruleset
from civicpass.services.ports import FeedFacts, RiskArea, StatusMark, StoredEvent, StoredStatus


class _Repo:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn


_FACT_COLUMNS = [t.facts.c[name] for name in Fact.__dataclass_fields__]
"""The facts table's columns in the order of ``Fact``'s fields, so that a row makes a fact by position."""
_KINDS, _SOURCES = {k.value: k for k in FactKind}, {s.value: s for s in FactSource}
_STATES = {s.value: s for s in FactState}
FACTS_OF_SUBJECTS = (  # its text built once from the table's metadata; values are parameters
    f"SELECT {', '.join(pg_hot.selected(c) for c in _FACT_COLUMNS)} FROM facts"  # noqa: S608
    " WHERE subject_id = ANY({among}) AND state = 'active'"
)
"""Times come as ``timestamptz`` in UTC (``pg_hot.selected``): psycopg's C loader then makes them aware,
where attaching the zone in Python to each of a fact's four times cost a tenth of the status sweep."""


def _fact(row: Sequence[Any]) -> Fact:
    """A fact from a row of ``_FACT_COLUMNS``, by position (a recompute reads tens of thousands), its times
    aware."""
    (fact_id, subject_id, kind, data, source, authority, effective, expires, recorded, state) = row[:10]
    proposed_by, decided_by, decided_at, note = row[10:]
    return Fact(
        fact_id,
        subject_id,
        _KINDS[kind],
        data,
        _SOURCES[source],
        authority,
        effective,
        expires,
        recorded,
        _STATES[state],
        proposed_by,
        decided_by,
        decided_at,
        note,
    )


def _fact_row(fact: Fact) -> dict[str, Any]:
    # str() of a StrEnum member is its value, without the Python-level ``value`` property (a feed batch
    # builds a row per record)
    return {
        **vars(fact),
        "kind": str(fact.kind),
        "source": str(fact.source),
        "state": str(fact.state),
        "data": dict(fact.data),
    }


FEED_FACT_COLUMNS = (
    "id",
    "subject_id",
    "kind",
    "data",
    "source",
    "authority",
    "effective_at",
    "expires_at",
    "recorded_at",
    "state",
    "proposed_by",
    "decided_by",
    "decided_at",
    "note",
)


class SqlFacts(_Repo):
    def add(self, fact: Fact) -> None:
        self.conn.execute(t.facts.insert(), _fact_row(fact))

    def add_feed(self, facts: FeedFacts) -> None:
        """A feed batch's facts, in their order (``FeedFacts.number``): COPY in binary on PostgreSQL (a
        fact's fields made column by column and joined by Arrow, ``pg_hot.binary_rows``), one executemany
        elsewhere."""
        if len(facts.ids) != len(facts) or len(facts.order) != len(facts):
            raise ValueError("feed facts are stored once numbered (FeedFacts.number)")
        if not facts.ids:
            return
        if pg := pg_hot.connection(self.conn):
            head = pg_hot.binary_text(FactSource.FEED) + pg_hot.binary_text(facts.authority)
            head += pg_hot.binary_timestamp(facts.at)
            tail = (
                pg_hot.binary_timestamp(facts.at)
                + pg_hot.binary_text(FactState.ACTIVE)
                + pg_hot.BINARY_NULL * 3
            )
            fields = [
                pg_hot.binary_count(len(FEED_FACT_COLUMNS)),
                pg_hot.binary_texts(facts.ids),
                pg_hot.binary_texts(facts.subjects),
                pg_hot.binary_coded(facts.kinds, pg_hot.binary_text),
                pg_hot.binary_texts(facts.data),  # json: its text as it is
                # the fields between a fact's data and its note: the same for all of one expiry
                pg_hot.binary_coded(facts.expires, lambda e: head + pg_hot.binary_timestamp(e) + tail),
                pg_hot.binary_texts(facts.notes),
            ]
            pg_hot.copy_binary(pg, "facts", FEED_FACT_COLUMNS, pg_hot.binary_rows(fields, facts.order))
            return
        self.conn.execute(t.facts.insert(), [_fact_row(facts.fact(n)) for n in facts.order])

    def get(self, fact_id: str) -> Fact | None:
        row = self.conn.execute(sa.select(*_FACT_COLUMNS).where(t.facts.c.id == fact_id)).first()
        return None if row is None else _fact(row)

    def update(self, fact: Fact) -> None:
        self.conn.execute(t.facts.update().where(t.facts.c.id == fact.id).values(**_fact_row(fact)))

    def for_subjects(self, subject_ids: Sequence[str]) -> dict[str, list[Fact]]:
        found: dict[str, list[Fact]] = {s: [] for s in subject_ids}
        if not subject_ids:
            return found
        if pg := pg_hot.connection(self.conn):
            # a re-evaluation's facts (five or so a resident, a batch of 1,000 at a time) made straight
            # from psycopg's rows: through Core's row processing they cost 50 µs each
            among, values = t.any_text(subject_ids)
            for row in pg.execute(FACTS_OF_SUBJECTS.format(among=among), (values,)).fetchall():
                found[row[1]].append(_fact(row))
            return found
        f = t.facts.c
        rows = self.conn.execute(
            sa.select(*_FACT_COLUMNS).where(
                t.among(self.conn, f.subject_id, subject_ids), f.state == FactState.ACTIVE.value
            )
        )
        for row in rows:
            found[row.subject_id].append(_fact(row))
        return found

    def proposed(self, region_prefix: str, limit: int) -> list[Fact]:
        f, r = t.facts.c, t.residents.c
        query = (
            sa.select(*_FACT_COLUMNS)
            .join(t.residents, r.id == f.subject_id)
            .where(f.state == FactState.PROPOSED.value, r.region_code.startswith(region_prefix))
            .order_by(f.recorded_at, f.id)
            .limit(limit)
        )
        return [_fact(row) for row in self.conn.execute(query)]


def _ruleset(row: sa.Row[Any]) -> RuleSetVersion:
    m = row._mapping
    return RuleSetVersion(
        version=m["version"],
        state=RuleSetState(m["state"]),
        ruleset=parse_ruleset(m["document"]),
        proposed_by=m["proposed_by"],
        proposed_at=m["proposed_at"],
        approved_by=m["approved_by"],
        approved_at=m["approved_at"],
        signature=m["signature"],
    )


class SqlRuleSets(_Repo):
    def _row(self, r: RuleSetVersion) -> dict[str, Any]:
        return {
            "version": r.version,
            "state": r.state.value,
            "document": dict(r.ruleset.document),
            "proposed_by": r.proposed_by,
            "proposed_at": r.proposed_at,
            "approved_by": r.approved_by,
            "approved_at": r.approved_at,
            "signature": r.signature,
        }

    def add(self, ruleset: RuleSetVersion) -> None:
        self.conn.execute(t.rule_sets.insert(), self._row(ruleset))

    def get(self, version: int) -> RuleSetVersion | None:
        row = self.conn.execute(sa.select(t.rule_sets).where(t.rule_sets.c.version == version)).first()
        return None if row is None else _ruleset(row)

    def active(self) -> RuleSetVersion | None:
        row = self.conn.execute(
            sa.select(t.rule_sets).where(t.rule_sets.c.state == RuleSetState.ACTIVE.value)
        ).first()
        return None if row is None else _ruleset(row)

    def active_colors(self) -> list[str]:
        """The active rule set's colors, read without compiling its rules (for every code verification)."""
        query = sa.select(t.rule_sets.c.document).where(t.rule_sets.c.state == RuleSetState.ACTIVE.value)
        document = self.conn.execute(query).scalar()
        return [str(c) for c in (document or {}).get("colors", [])]

    def latest_version(self) -> int:
        return int(
            self.conn.execute(sa.select(sa.func.coalesce(sa.func.max(t.rule_sets.c.version), 0))).scalar_one()
        )

    def update(self, ruleset: RuleSetVersion) -> None:
        values = self._row(ruleset)
        self.conn.execute(
            t.rule_sets.update().where(t.rule_sets.c.version == ruleset.version).values(**values)
        )

    def all(self) -> list[RuleSetVersion]:
        return [
            _ruleset(row) for row in self.conn.execute(sa.select(t.rule_sets).order_by(t.rule_sets.c.version))
        ]


def _status_row(row: sa.Row[Any]) -> StoredStatus:
    """A current status or a history version (which has no review time) from Core."""
    m = row._mapping
    evaluated = m["evaluated_at"]
    return _status(
        m["subject_id"],
        m["version"],
        m["color"],
        m["reasons"],
        m["ruleset_version"],
        evaluated,
        m.get("review_at") or evaluated,
        m["inputs_digest"],
    )


def _status(
    subject_id: str,
    version: int,
    color: str,
    reasons: list[dict[str, Any]],
    ruleset_version: int,
    evaluated: datetime,
    review: datetime,
    inputs_digest: str,
) -> StoredStatus:
    """The columns of ``statuses``, in their order, as a status."""
    return StoredStatus(
        subject_id, version, color, list(reasons), ruleset_version, evaluated, review, inputs_digest
    )


_HISTORY = frozenset(c.name for c in t.status_history.columns)


def _history_row(status: StoredStatus) -> dict[str, Any]:
    return {k: v for k, v in vars(status).items() if k in _HISTORY}


_STATUS_NAMES = [c.name for c in t.statuses.columns]
_STATUS_TYPES = {"version": "int4", "reasons": "jsonb", "ruleset_version": "int4"}
_STATUS_TYPES |= {c.name: "timestamptz" for c in t.statuses.columns if isinstance(c.type, t.UTCDateTime)}
UPSERT_STATUSES = (  # its text built once from the table's metadata; values are parameters
    f"INSERT INTO statuses ({', '.join(_STATUS_NAMES)})"  # noqa: S608
    # times go as they are (aware, dumped by psycopg in C) and are stored as naive UTC by the database
    + f" SELECT {', '.join(pg_hot.selected(c) for c in t.statuses.columns)} FROM unnest("  # noqa: S608
    + ", ".join(f"%b::{_STATUS_TYPES.get(name, 'text')}[]" for name in _STATUS_NAMES)
    + f") AS given({', '.join(_STATUS_NAMES)}) ON CONFLICT (subject_id) DO UPDATE SET "
    + ", ".join(f"{name} = excluded.{name}" for name in _STATUS_NAMES if name != "subject_id")
)


STATUSES_OF_SUBJECTS = (  # its text built once from the table's metadata; values are parameters
    f"SELECT {', '.join(pg_hot.selected(c) for c in t.statuses.columns)} FROM statuses"  # noqa: S608
    " WHERE subject_id = ANY({among})"
)
STATUS_AND_MARKS = (  # one status and the tokens of the marks awaiting the sweep, in one statement
    f"SELECT {', '.join(pg_hot.selected(c) for c in t.statuses.columns)},"  # noqa: S608
    " ARRAY(SELECT token FROM status_marks) FROM statuses WHERE subject_id = %s"
)
MARK_FILTERS = "SELECT token, bloom FROM status_marks WHERE token = ANY(%s)"


_STATUS_CONVERT: dict[str, Callable[[Any], Any]] = {"reasons": json.dumps}


def _status_values(status: StoredStatus) -> dict[str, Any]:
    """A status's columns (whether a mark names it is not one of them)."""
    return {name: getattr(status, name) for name in _STATUS_NAMES}


def _upsert_statuses(pg: psycopg.Connection[Any], rows: Sequence[dict[str, Any]]) -> None:
    """``SqlStatuses.save_many``'s upsert on PostgreSQL: one statement (an array per column, as
    ``pg_hot``'s statements send them; jsonb from its text) instead of one per status."""
    pg.execute(UPSERT_STATUSES, pg_hot.column_arrays(rows, _STATUS_NAMES, _STATUS_CONVERT))


class SqlStatuses(_Repo):
    def __init__(self, conn: sa.Connection, filters: MarkFilters | None = None) -> None:
        super().__init__(conn)
        self.filters = MarkFilters() if filters is None else filters

    def get(self, subject_id: str) -> StoredStatus | None:
        """The status, marked if a mark awaiting the sweep may name its resident (``mark_filters``)."""
        if pg := pg_hot.connection(self.conn):
            row = pg.execute(STATUS_AND_MARKS, (subject_id,)).fetchone()
            if row is None:
                return None
            *columns, tokens = row
            found = _status(*columns)
        else:
            if (status := self.get_many([subject_id]).get(subject_id)) is None:
                return None
            found, tokens = status, list(self.conn.execute(sa.select(t.status_marks.c.token)).scalars())
        return (
            replace(found, marked=True)
            if self.filters.names(subject_id, tokens, self._mark_filters)
            else found
        )

    def _mark_filters(self, tokens: list[str]) -> dict[str, bytes | None]:
        if pg := pg_hot.connection(self.conn):
            return dict(pg.execute(MARK_FILTERS, (tokens,)).fetchall())
        m = t.status_marks.c
        rows = self.conn.execute(sa.select(m.token, m.bloom).where(m.token.in_(tokens)))
        return {row.token: row.bloom for row in rows}

    def get_many(self, subject_ids: Sequence[str]) -> dict[str, StoredStatus]:
        if not subject_ids:
            return {}
        if pg := pg_hot.connection(self.conn):  # a re-evaluation reads 1,000 at a time: without Core's rows
            among, values = t.any_text(subject_ids)
            return {  # times read aware (``pg_hot.selected``)
                row[0]: _status(*row)
                for row in pg.execute(STATUSES_OF_SUBJECTS.format(among=among), (values,)).fetchall()
            }
        rows = self.conn.execute(
            sa.select(t.statuses).where(t.among(self.conn, t.statuses.c.subject_id, subject_ids))
        )
        return {row.subject_id: _status_row(row) for row in rows}

    def with_status(self, subject_ids: Sequence[str]) -> list[str]:
        if not subject_ids:
            return []
        s = t.statuses.c
        return list(
            self.conn.execute(
                sa.select(s.subject_id).where(t.among(self.conn, s.subject_id, subject_ids))
            ).scalars()
        )

    def save(self, status: StoredStatus, *, changed: bool) -> None:
        """Upsert the current status; a changed outcome also appends a history version."""
        s = t.statuses.c
        values = _status_values(status)
        updated = self.conn.execute(
            t.statuses.update().where(s.subject_id == status.subject_id).values(values)
        )
        if not updated.rowcount:
            self.conn.execute(t.statuses.insert(), values)
        if changed:
            self.conn.execute(t.status_history.insert(), _history_row(status))

    def save_many(self, items: Sequence[tuple[StoredStatus, bool]]) -> None:
        """``save`` for many statuses in a few statements: on PostgreSQL one upsert for the batch and the
        history by COPY, elsewhere an upsert per 1,000."""
        if not items:
            return
        rows = [_status_values(status) for status, _ in items]
        history = [_history_row(status) for status, changed in items if changed]
        if pg := pg_hot.connection(self.conn):
            _upsert_statuses(pg, rows)
            pg_hot.copy_rows(pg, t.status_history, history)
            return
        insert = (pg_insert if self.conn.dialect.name == "postgresql" else sqlite_insert)(t.statuses)
        replaced = {c.name: insert.excluded[c.name] for c in t.statuses.columns if c.name != "subject_id"}
        upsert = insert.on_conflict_do_update(index_elements=["subject_id"], set_=replaced)
        for start in range(0, len(rows), 1000):
            self.conn.execute(upsert, rows[start : start + 1000])
        if history:
            self.conn.execute(t.status_history.insert(), history)

    def colors_by_region(self) -> list[tuple[str, str, int]]:
        """(color, region code, how many residents) of every current status: the aggregates kept."""
        s, r = t.statuses.c, t.residents.c
        rows = self.conn.execute(
            sa.select(s.color, r.region_code, sa.func.count())
            .join(t.residents, r.id == s.subject_id)
            .group_by(s.color, r.region_code)
        )
        return [(color, region, int(n)) for color, region, n in rows]

    def destroy_all(self) -> int:
        """Delete every status, its history and the marks (the end-of-epidemic shutdown); the rows deleted."""
        self.conn.execute(t.status_marks.delete())
        history = self.conn.execute(t.status_history.delete()).rowcount or 0
        current = self.conn.execute(t.statuses.delete()).rowcount or 0
        return int(history) + int(current)

    def mark_due(self, subject_ids: Sequence[str], at: datetime) -> None:
        """One mark row naming the residents for the sweep, with their filter for status reads: no status
        is written (``mark_filters``)."""
        if not subject_ids:
            return
        self.conn.execute(
            t.status_marks.insert(),
            {
                "marked_at": at,
                "subjects": "\n".join(subject_ids),
                "token": os.urandom(16).hex(),  # names the filter in every process's cache
                "bloom": bloom_of(subject_ids),
            },
        )

    def marks(self, limit: int) -> list[StatusMark]:
        m = t.status_marks.c
        rows = self.conn.execute(sa.select(m.id, m.subjects).order_by(m.id).limit(limit))
        return [StatusMark(row.id, row.subjects.split("\n")) for row in rows]

    def claim_mark(self, now: datetime, until: datetime) -> StatusMark | None:
        m = t.status_marks.c
        free = (
            sa.select(m.id)
            .where(sa.or_(m.claimed_until.is_(None), m.claimed_until <= now))
            .order_by(m.id)
            .limit(1)
            .with_for_update(skip_locked=True)  # PostgreSQL; SQLite has one writer at a time
            .scalar_subquery()
        )
        claimed = self.conn.execute(
            t.status_marks.update()
            .where(m.id == free)
            .values(claimed_until=until)
            .returning(m.id, m.subjects)
        ).first()
        return None if claimed is None else StatusMark(claimed.id, claimed.subjects.split("\n"))

    def drop_mark(self, mark_id: int) -> None:
        self.conn.execute(t.status_marks.delete().where(t.status_marks.c.id == mark_id))

    def history(self, subject_id: str, limit: int) -> list[StoredStatus]:
        h = t.status_history.c
        query = (
            sa.select(t.status_history)
            .where(h.subject_id == subject_id)
            .order_by(h.version.desc())
            .limit(limit)
        )
        return [_status_row(row) for row in self.conn.execute(query)]

    def claim_due(self, now: datetime, limit: int) -> list[str]:
        s = t.statuses.c
        query = (
            sa.select(s.subject_id)
            .where(s.review_at <= now)
            .order_by(s.review_at)
            .limit(limit)
            .with_for_update(skip_locked=True)  # PostgreSQL; SQLite has one writer at a time
        )
        return [row.subject_id for row in self.conn.execute(query)]


class SqlEvents(_Repo):
    def add(self, name: str, payload: dict[str, Any], at: datetime) -> None:
        self.conn.execute(t.events.insert(), {"name": name, "payload": payload, "created_at": at})

    def of_subject(self, name: str, subject_id: str, limit: int) -> list[StoredEvent]:
        """The latest events ``name`` about one resident (payload ``subject``), newest first."""
        e = t.events.c
        # Written as the index ix_events_status_subject is (the name inline, ->> with a literal key), so that
        # both databases use it for status changes whatever the plan.
        subject = e.payload.op("->>")(sa.literal_column("'subject'"))
        query = (
            sa.select(t.events)
            .where(e.name == sa.bindparam("name", name, literal_execute=True), subject == subject_id)
            .order_by(e.id.desc())
            .limit(limit)
        )
        return [StoredEvent(int(r.id), r.name, r.payload, r.created_at) for r in self.conn.execute(query)]

    def subjects_by(
        self, names: Sequence[str], start: datetime, by: str, where: Mapping[str, str] | None = None
    ) -> dict[str, int]:
        """Distinct payload subjects per payload ``by`` (one grouped count in the database)."""
        e = t.events.c
        key, subject = e.payload[by].as_string(), e.payload["subject"].as_string()
        conditions = [e.name.in_(list(names)), e.created_at >= start, key.is_not(None), subject.is_not(None)]
        conditions += [e.payload[k].as_string() == v for k, v in (where or {}).items()]
        query = sa.select(key, sa.func.count(sa.distinct(subject))).where(*conditions).group_by(key)
        return {str(row[0]): int(row[1]) for row in self.conn.execute(query)}

    def since(self, names: Sequence[str], start: datetime) -> list[StoredEvent]:
        """Events of these names from ``start`` on, oldest first."""
        e = t.events.c
        query = sa.select(t.events).where(e.name.in_(list(names)), e.created_at >= start).order_by(e.id)
        return [StoredEvent(int(r.id), r.name, r.payload, r.created_at) for r in self.conn.execute(query)]

    def after(self, event_id: int, limit: int, up_to: int | None = None) -> list[StoredEvent]:
        e = t.events.c
        query = sa.select(t.events).where(e.id > event_id)
        if up_to is not None:
            query = query.where(e.id <= up_to)
        rows = self.conn.execute(query.order_by(e.id).limit(limit))
        return [StoredEvent(int(r.id), r.name, r.payload, r.created_at) for r in rows]

    def committed_bound(self) -> int | None:
        """An event id at or below which every event is committed (None: no bound needed, or none now).

        On PostgreSQL ids are drawn when a row is inserted, not when its transaction commits, so a later
        id can be visible while an earlier one is still in flight; a reader that moved past the gap would
        never see that event. Taking the table's EXCLUSIVE lock, briefly, on another connection waits for
        every transaction that inserted events to end and keeps new ones from inserting meanwhile; the
        highest id then is a safe bound. It waits at most 200 ms (None: try again next time) so a long
        transaction never stalls everyone else's writes behind the lock.
        """
        if self.conn.dialect.name != "postgresql":
            return None
        with self.conn.engine.connect() as other:
            try:
                other.execute(sa.text("SET LOCAL lock_timeout = '200ms'"))
                other.execute(sa.text("LOCK TABLE events IN EXCLUSIVE MODE"))
                bound = other.execute(sa.select(sa.func.coalesce(sa.func.max(t.events.c.id), 0))).scalar_one()
                other.commit()
            except sa.exc.OperationalError:
                other.rollback()
                return -1
        return int(bound)

    def add_many(self, events: Sequence[tuple[str, dict[str, Any], datetime]]) -> None:
        """Events in their order (COPY on PostgreSQL keeps the order of the ids it draws)."""
        rows = [{"name": name, "payload": payload, "created_at": at} for name, payload, at in events]
        pg_hot.insert_rows(self.conn, t.events, rows)


class SqlRiskAreas(_Repo):
    def add(self, area: RiskArea) -> None:
        self.conn.execute(t.risk_areas.insert(), vars(area))

    def overlapping(self, start: datetime, end: datetime) -> list[RiskArea]:
        a = t.risk_areas.c
        query = sa.select(t.risk_areas).where(
            a.valid_from <= end, sa.or_(a.valid_to.is_(None), a.valid_to > start)
        )
        return [RiskArea(**row._mapping) for row in self.conn.execute(query)]
