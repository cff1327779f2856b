"""The relational schema. Alembic migrations under ``migrations/`` must produce exactly this.

Personal data columns end in ``_ct`` and hold AES-GCM envelopes; ``_index`` columns hold keyed blind
indexes (HMAC-SHA256) for look-ups. No column holds a document number, name, phone or address in clear.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.engine import Dialect

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both databases (SQLite keeps no zone; we store UTC and restore it)."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


JSONType: Any = sa.JSON().with_variant(JSONB(), "postgresql")


def _key(length: int) -> Any:
    """Text compared only as it is, byte for byte: ids, blind indexes, a source's record ids. On
    PostgreSQL in the ``C`` collation, whatever the database's default: its B-trees then compare keys with
    ``memcmp``, where a locale such as ``C.UTF-8`` went through ``strcoll`` with a tie-break (a third of the
    time a feed batch's backend spent comparing keys; migration 0024), and they sort as Python sorts."""
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


ID = _key(36)
KEY = _key(64)

regions = sa.Table(
    "regions",
    metadata,
    sa.Column("code", sa.String(6), primary_key=True),
    sa.Column("parent", sa.String(6), index=True),
    sa.Column("level", sa.String(16), nullable=False),
    sa.Column("name_zh", sa.String(100), nullable=False),
    sa.Column("name_en", sa.String(200), nullable=False),
)

residents = sa.Table(
    "residents",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("pseudonym", sa.String(64), nullable=False, unique=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("name_ct", sa.Text, nullable=False),
    sa.Column("doc_type", sa.String(32), nullable=False),
    sa.Column("doc_number_ct", sa.Text),
    sa.Column("doc_index", KEY, unique=True),
    sa.Column("nationality", sa.String(3)),
    sa.Column("phone_ct", sa.Text),
    sa.Column("phone_index", sa.String(64), unique=True),
    sa.Column("address_ct", sa.Text),
    sa.Column("birth_date", sa.Date),
    sa.Column("region_code", sa.String(6), nullable=False, index=True),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("code_subject", sa.String(64)),
    sa.Index("ix_residents_code_subject", "code_subject", unique=True),
    sa.Index(
        "ix_residents_active_doc_index",
        "doc_index",
        postgresql_include=["id"],
        postgresql_where=sa.text("active"),
    ).ddl_if(dialect="postgresql"),
)
"""Residents. ``ix_residents_active_doc_index`` covers a feed batch's look-up of holders by document (the
active residents' ids by blind index) on PostgreSQL: read from the index alone, whatever the table's size
(migration 0020)."""

guardianships = sa.Table(
    "guardianships",
    metadata,
    sa.Column("guardian_id", ID, sa.ForeignKey("residents.id"), primary_key=True),
    sa.Column("dependent_id", ID, sa.ForeignKey("residents.id"), primary_key=True, index=True),
    sa.Column("relation", sa.String(16), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

phone_challenges = sa.Table(
    "phone_challenges",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("phone_ct", sa.Text, nullable=False),
    sa.Column("phone_index", sa.String(64), nullable=False),
    sa.Column("code_digest", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("confirmed_at", UTCDateTime),
    sa.Column("ticket_digest", sa.String(64), unique=True),
    sa.Column("ticket_expires_at", UTCDateTime),
    sa.Column("consumed_at", UTCDateTime),
    sa.Index("ix_phone_challenges_phone_created", "phone_index", "created_at"),
)

sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("token_digest", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("subject_id", ID, nullable=False, index=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Column("revoked_at", UTCDateTime),
)

staff = sa.Table(
    "staff",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("username", sa.String(64), nullable=False, unique=True),
    sa.Column("display_name", sa.String(100), nullable=False),
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("jurisdiction", sa.String(6), nullable=False),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

form_versions = sa.Table(
    "form_versions",
    metadata,
    sa.Column("key", sa.String(40), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("title", JSONType, nullable=False),
    sa.Column("json_schema", JSONType, nullable=False),
    sa.Column("ui", JSONType, nullable=False),
    sa.Column("labels", JSONType, nullable=False),
    sa.Column("published_at", UTCDateTime, nullable=False),
    sa.Column("published_by", ID),
)

declarations = sa.Table(
    "declarations",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("subject_id", ID, sa.ForeignKey("residents.id"), nullable=False),
    sa.Column("form_key", sa.String(40), nullable=False),
    sa.Column("form_version", sa.Integer, nullable=False),
    sa.Column("answers", JSONType, nullable=False),
    sa.Column("submitted_at", UTCDateTime, nullable=False),
    sa.Column("submitted_by", ID, sa.ForeignKey("residents.id"), nullable=False),
    sa.ForeignKeyConstraint(["form_key", "form_version"], ["form_versions.key", "form_versions.version"]),
    sa.Index("ix_declarations_subject_submitted", "subject_id", "submitted_at"),
)

access_log = sa.Table(
    "access_log",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("at", UTCDateTime, nullable=False, index=True),
    sa.Column("staff_id", ID, sa.ForeignKey("staff.id"), nullable=False),
    sa.Column("resident_id", ID, sa.ForeignKey("residents.id"), nullable=False, index=True),
    sa.Column("resident_region", sa.String(6), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("purpose_code", sa.String(32), nullable=False),
    sa.Column("purpose_text", sa.Text, nullable=False),
    sa.Column("fields", sa.String(200), nullable=False),
)

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("scope", sa.String(100), primary_key=True),
    sa.Column("key", sa.String(100), primary_key=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("result_id", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

venues = sa.Table(
    "venues",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("region_code", sa.String(6), nullable=False, index=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("lat", sa.Float),
    sa.Column("lon", sa.Float),
    sa.Column("operator_id", ID, index=True),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
)

app_meta = sa.Table(
    "app_meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

facts = sa.Table(
    "facts",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("subject_id", ID, nullable=False),  # no foreign key: see below
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("data", sa.JSON, nullable=False),  # json, not jsonb: see below
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("authority", sa.String(100), nullable=False),
    sa.Column("effective_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime),
    sa.Column("recorded_at", UTCDateTime, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("proposed_by", ID),
    sa.Column("decided_by", ID),
    sa.Column("decided_at", UTCDateTime),
    sa.Column("note", sa.Text, nullable=False),
    sa.Index("ix_facts_subject_state", "subject_id", "state"),
    sa.Index(
        "ix_facts_proposed_recorded",
        "recorded_at",
        "id",
        postgresql_where=sa.text("state = 'proposed'"),
        sqlite_where=sa.text("state = 'proposed'"),
    ),
)
"""Typed facts about residents. A feed batch writes tens of thousands at once, so the table carries what
its readers need and no more: the subject's facts (the status engine) and the proposed ones awaiting a
second person (listed oldest first); active facts are not indexed by time. No foreign key to residents:
PostgreSQL checks one with a query per inserted row, which was 40% of a feed fact's cost, and every writer
of facts has just read the resident it writes about in the same transaction (docs/decisions.md). Their
data is ``json`` on PostgreSQL, not ``jsonb``: no statement looks inside it, and ``json`` keeps the text as
written instead of parsing it into its binary form and printing it back (migration 0022)."""

rule_sets = sa.Table(
    "rule_sets",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("state", sa.String(16), nullable=False, index=True),
    sa.Column("document", JSONType, nullable=False),
    sa.Column("proposed_by", ID),
    sa.Column("proposed_at", UTCDateTime, nullable=False),
    sa.Column("approved_by", ID),
    sa.Column("approved_at", UTCDateTime),
    sa.Column("signature", sa.Text),
)

statuses = sa.Table(
    "statuses",
    metadata,
    sa.Column("subject_id", ID, primary_key=True),  # no foreign key: see below
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("color", sa.String(16), nullable=False),
    sa.Column("reasons", JSONType, nullable=False),
    sa.Column("ruleset_version", sa.Integer, nullable=False),
    sa.Column("evaluated_at", UTCDateTime, nullable=False),
    sa.Column("review_at", UTCDateTime, nullable=False, index=True),
    sa.Column("inputs_digest", sa.String(64), nullable=False),
    postgresql_with={"fillfactor": 70},
)
"""The current status of each resident. No foreign key to residents, as facts have none: PostgreSQL's
trigger fetched each updated row's old version again to see that its key had not changed (migration
0023). A bulk feed batch does not write here: its mark (``status_marks``) makes the statuses of the
residents it names read as due until the sweep has re-evaluated them (migration 0025). Its pages keep 30%
free from when batches counted their marks up in place (migration 0017)."""

status_marks = sa.Table(
    "status_marks",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("marked_at", UTCDateTime, nullable=False),
    sa.Column("subjects", sa.Text, nullable=False),
    sa.Column("claimed_until", UTCDateTime),
    sa.Column("token", sa.String(32), nullable=False),
    sa.Column("bloom", sa.LargeBinary),
)
"""One row per bulk batch that marked statuses due: the residents it named (ids, one per line), for the
sweep to re-evaluate those that have a status once the batch has committed; a sweep claims the row until
``claimed_until`` (so that the sweeps of several workers share the marks out) and deletes it when done.
Until then a status read finds in ``bloom`` whether the mark may name its resident (``mark_filters``; NULL
for a mark made before migration 0025: it may name anyone), fetched once per process by its random
``token``. Both stored uncompressed on PostgreSQL (migrations 0018, 0025): random ids and bits do not
compress, and trying cost more than the insert."""

status_history = sa.Table(
    "status_history",
    metadata,
    sa.Column("subject_id", ID, sa.ForeignKey("residents.id"), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("color", sa.String(16), nullable=False),
    sa.Column("reasons", JSONType, nullable=False),
    sa.Column("ruleset_version", sa.Integer, nullable=False),
    sa.Column("evaluated_at", UTCDateTime, nullable=False),
    sa.Column("inputs_digest", sa.String(64), nullable=False),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("payload", JSONType, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Index("ix_events_name_created_at", "name", "created_at"),
    sa.Index(
        "ix_events_status_subject",
        sa.text("(payload ->> 'subject')"),
        "id",
        postgresql_where=sa.text("name = 'status:resident:changed'"),
        sqlite_where=sa.text("name = 'status:resident:changed'"),
    ),
)
"""The outbox: every change as a named event (published to the transparency log). The indexes serve the
scans by name over a recent span (the misuse alarms, every minute) and a resident's status changes, newest
first (``/v1/me/status/changes``), which would otherwise read the whole table."""
EXPRESSION_INDEXES = frozenset({"ix_events_status_subject"})
"""Indexes on expressions: Alembic's comparison cannot read them back, so it leaves them out
(``migrate.include_object``); a test checks each exists and serves its query on both databases."""

risk_areas = sa.Table(
    "risk_areas",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("region_code", sa.String(6), nullable=False, index=True),
    sa.Column("level", sa.String(16), nullable=False),
    sa.Column("valid_from", UTCDateTime, nullable=False),
    sa.Column("valid_to", UTCDateTime),
    sa.Column("declared_by", ID),
    sa.Column("declared_at", UTCDateTime, nullable=False),
)

cases = sa.Table(
    "cases",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("resident_id", ID, sa.ForeignKey("residents.id"), nullable=False, index=True),
    sa.Column("region_code", sa.String(6), nullable=False, index=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("origin", sa.String(20), nullable=False),
    sa.Column("opened_at", UTCDateTime, nullable=False),
    sa.Column("opened_by", sa.String(100), nullable=False),
    sa.Column("sampled_at", UTCDateTime),
    sa.Column("onset_at", UTCDateTime),
    sa.Column("isolated_at", UTCDateTime),
    sa.Column("source_fact_id", ID, unique=True),
    sa.Column("updated_at", UTCDateTime),
)

tracing_proposals = sa.Table(
    "tracing_proposals",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("case_id", ID, sa.ForeignKey("cases.id"), nullable=False, index=True),
    sa.Column("region_code", sa.String(6), nullable=False),
    sa.Column("requested_by", ID, nullable=False),
    sa.Column("requested_at", UTCDateTime, nullable=False),
    sa.Column("engine", sa.String(16), nullable=False),
    sa.Column("policy", JSONType, nullable=False),
    sa.Column("state", sa.String(16), nullable=False, index=True),
    sa.Column("degree", sa.Integer, nullable=False),
    sa.Column("parent_id", ID),
    sa.Column("decided_by", ID),
    sa.Column("decided_at", UTCDateTime),
    sa.Column("note", sa.Text, nullable=False),
)

tracing_contacts = sa.Table(
    "tracing_contacts",
    metadata,
    sa.Column("proposal_id", ID, sa.ForeignKey("tracing_proposals.id"), primary_key=True),
    sa.Column("resident_id", ID, primary_key=True),
    sa.Column("grade", sa.String(32), nullable=False),
    sa.Column("last_exposure", UTCDateTime, nullable=False),
    sa.Column("longest_seconds", sa.Integer, nullable=False),
    sa.Column("evidence", JSONType, nullable=False),
    sa.Column("decision", sa.String(16), nullable=False),
    sa.Column("fact_id", ID),
    sa.Column("note", sa.Text, nullable=False),
)

tasks = sa.Table(
    "tasks",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("resident_id", ID, sa.ForeignKey("residents.id"), nullable=False, index=True),
    sa.Column("region_code", sa.String(6), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("due_at", UTCDateTime, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("created_by", sa.String(100), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("outcome", sa.String(32)),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("closed_by", ID),
    sa.Column("closed_at", UTCDateTime),
    sa.Index("ix_tasks_region_code_due_at", "region_code", "due_at"),
)

appeals = sa.Table(
    "appeals",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("resident_id", ID, sa.ForeignKey("residents.id"), nullable=False, index=True),
    sa.Column("region_code", sa.String(6), nullable=False, index=True),
    sa.Column("filed_by", ID, nullable=False),
    sa.Column("filed_at", UTCDateTime, nullable=False),
    sa.Column("due_at", UTCDateTime, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("fact_id", ID),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("decided_by", ID),
    sa.Column("decided_at", UTCDateTime),
    sa.Column("decision", sa.Text, nullable=False),
    sa.Column("retracted", JSONType, nullable=False),
)

log_leaves = sa.Table(
    "log_leaves",
    metadata,
    sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("data", sa.Text, nullable=False),
    sa.Column("leaf_hash", sa.LargeBinary(32), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("event_id", sa.BigInteger, unique=True),
)
"""The transparency log's leaves: RFC 8785 canonical JSON of one event each, no personal data."""

log_nodes = sa.Table(
    "log_nodes",
    metadata,
    sa.Column("level", sa.SmallInteger, primary_key=True, autoincrement=False),
    sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("hash", sa.LargeBinary(32), nullable=False),
)
"""The hash of every complete subtree: (level, idx) covers leaves [idx * 2**level, (idx + 1) * 2**level)."""

log_tiles = sa.Table(
    "log_tiles",
    metadata,
    sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("hashes", sa.LargeBinary(960), nullable=False),
)
"""Levels 0-3 of each complete group of 16 leaves (tile idx: leaves [16 idx, 16 idx + 16)) in one row, for
proofs: the 16 leaf hashes, then the 8, 4 and 2 above them, 32 bytes each (``log_repositories``)."""

log_state = sa.Table(
    "log_state",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("root", sa.LargeBinary(32), nullable=False),
    sa.Column("last_event_id", sa.BigInteger, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)
"""One row: the log's size and root, and the last event published; appenders lock it (one at a time)."""

log_checkpoints = sa.Table(
    "log_checkpoints",
    metadata,
    sa.Column("size", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)
"""This log's signed checkpoints (C2SP tlog-checkpoint notes), one per size published."""

log_cosignatures = sa.Table(
    "log_cosignatures",
    metadata,
    sa.Column("size", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("witness", sa.String(200), primary_key=True),
    sa.Column("line", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)
"""Witnesses' cosignatures of this log's checkpoints, served with them."""

witnessed_logs = sa.Table(
    "witnessed_logs",
    metadata,
    sa.Column("origin", sa.String(200), primary_key=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("root", sa.LargeBinary(32), nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)
"""As a witness: the latest checkpoint of each log this instance witnesses, verified consistent."""

feed_sources = sa.Table(
    "feed_sources",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("name", sa.String(100), nullable=False, unique=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("public_key", sa.String(64), nullable=False),
    sa.Column("region_code", sa.String(6), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

feed_batches = sa.Table(
    "feed_batches",
    metadata,
    sa.Column("source_id", ID, sa.ForeignKey("feed_sources.id"), primary_key=True),
    sa.Column("batch_id", sa.String(64), primary_key=True),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("report", JSONType, nullable=False),
)

feed_records = sa.Table(
    "feed_records",
    metadata,
    sa.Column("source_id", ID, nullable=False),
    sa.Column("record_id", KEY, nullable=False),
    sa.Column("batch_id", sa.String(64), nullable=False),
    sa.PrimaryKeyConstraint("record_id", "source_id"),
)
"""Every record a source sent that was accepted: a record id sent again is a duplicate, skipped. Keyed by
record id first: a batch adds tens of thousands of keys of one source, and the source first made every
comparison in the B-tree compare it before the record id. Which resident a record named is not kept here
(migration 0021): the fact it made holds that, with the record's id in its note, and goes when the fact's
retention ends."""

feed_quarantine = sa.Table(
    "feed_quarantine",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("source_id", ID, nullable=False, index=True),
    sa.Column("batch_id", sa.String(64), nullable=False),
    sa.Column("line", sa.Integer, nullable=False),
    sa.Column("record_id", sa.String(64)),
    sa.Column("reasons", JSONType, nullable=False),
    sa.Column("raw", sa.Text, nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False),
)
"""Rejected records, kept with their reasons for the source's operators to fix and send again."""

checkins = sa.Table(
    "checkins",
    metadata,
    sa.Column("id", ID, nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("client_id", sa.String(64), nullable=False),
    sa.Column("resident_id", ID, nullable=False),
    sa.Column("venue_id", ID, nullable=False),
    sa.Column("recorded_at", UTCDateTime, nullable=False),
    sa.Column("method", sa.String(20), nullable=False),
    sa.Column("evidence", sa.String(8), nullable=False),
    sa.Column("flags", sa.String(120), nullable=False),
    sa.Column("lat", sa.Float),
    sa.Column("lon", sa.Float),
    sa.Column("window_start", UTCDateTime),
    sa.Column("direction", sa.String(8)),
    sa.Column("recorded_by", ID),
    sa.UniqueConstraint("resident_id", "client_id", "at", name="uq_checkins_resident_client_at"),
    sa.Index("ix_checkins_venue_at", "venue_id", "at"),
    sa.Index(
        "ix_checkins_venue_at_located",
        "venue_id",
        "at",
        postgresql_where=sa.text("lat IS NOT NULL"),
        sqlite_where=sa.text("lat IS NOT NULL"),
    ),
    sa.Index("ix_checkins_at", "at").ddl_if(dialect="sqlite"),
    postgresql_partition_by="RANGE (at)",
)
"""Check-ins: no foreign keys (the hot write path, and rows outlive nothing: retention drops whole days).

Two indexes on PostgreSQL that every check-in writes (each one more b-tree): the natural key (resident, client
id, time), which identifies a scan and its retries and serves every look-up by resident, and (venue,
time) for tracing and counts. No primary key on the random ``id`` (generated unique, never looked up).
A third, partial, holds only the scans that came with a location, by (venue, time): grading a located scan
compares it with the others' located uses of its code (forwarding), and at a busy venue most scans have
no location (without it, a batch read every scan of the venue in the window to find a few). SQLite adds
(time), its day index; PostgreSQL's day partitions do that job.

On PostgreSQL the table is range-partitioned by day (``checkins_pYYYYMMDD``, plus ``checkins_default`` as
a safety net so that no acknowledged write can fail for want of a partition); on SQLite the ``at``
indexes serve the same day-range queries.
"""


def among(
    conn: sa.Connection, column: sa.ColumnElement[str], values: Collection[str]
) -> sa.ColumnElement[bool]:
    """``column IN values`` for a long list: one array parameter (``= ANY``) on PostgreSQL, where an IN
    list of thousands of placeholders costs more to build and parse than the look-up itself."""
    if conn.dialect.name == "postgresql":
        if (lines := id_lines(values)) is not None:
            split = sa.func.string_to_array(
                sa.bindparam(None, lines, type_=sa.Text), sa.literal_column("E'\\n'"), type_=ARRAY(sa.Text)
            )
            return column == sa.any_(split)
        # an untyped parameter in a cast takes the array type itself: a typed one (``$1::VARCHAR``) would be
        # cast at run time, in a generic plan for every row it filters
        literal = sa.bindparam(None, text_array(values), type_=sa.types.NULLTYPE)
        return column == sa.any_(sa.cast(literal, ARRAY(sa.String)))
    return column.in_(list(values))


def id_lines(values: Collection[str]) -> str | None:
    """The values one per line, if none is empty or holds a line break (ids, digests), for
    ``string_to_array(%s, E'\\n')``; else None. Splitting lines cost PostgreSQL 0.5 µs a value less than
    parsing the quoted literal of ``text_array`` (50,000 values: 2.2 against 2.7 µs a value for a look-up in
    all), and joining them costs Python 0.6 µs a value less than quoting them."""
    lines = "\n".join(values)
    return lines if all(values) and lines.count("\n") == len(values) - 1 else None


def any_text(values: Collection[str]) -> tuple[str, str]:
    """``= ANY(...)`` of these values for a psycopg query: the SQL between the brackets and its parameter,
    split from lines where ``id_lines`` can, else the quoted literal."""
    lines = id_lines(values)
    if lines is not None:
        return "string_to_array(%s, E'\\n')", lines
    return "%s::text[]", text_array(values)


def any_text_probed(values: Collection[str]) -> tuple[str, str]:
    """``any_text`` behind a sub-select, whose value PostgreSQL's planner does not see when it plans: it
    then expects a few values and probes an index for each, where for the tens of thousands of a feed batch
    it would scan the whole table (at a province's 1,440,000 residents a parallel scan, 400 ms for 50,000
    documents against 176 from a covering index)."""
    among, value = any_text(values)
    return f"(SELECT {among})::text[]", value


def text_array(values: Iterable[str]) -> str:
    """PostgreSQL's literal of a text array, every element quoted. Sent as one text parameter: a list
    parameter is adapted element by element in Python by psycopg (as text, a regular expression for each
    element; about 1.5 µs a value, where a feed batch sends 50,000)."""
    return "{" + ",".join(['"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values]) + "}"
