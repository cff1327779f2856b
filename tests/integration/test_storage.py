"""Storage on both databases: encryption at rest, blind indexes, key rotation, migrations = tables."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from fastapi.testclient import TestClient

from civicpass.adapters.crypto.pii import PiiDecryptionError
from civicpass.adapters.db import tables as t
from civicpass.adapters.db.engine import make_engine
from civicpass.adapters.db.migrate import alembic_config, include_object, upgrade
from civicpass.adapters.messaging import MemoryMessenger
from civicpass.bootstrap import Container, build
from civicpass.domain.errors import FieldError
from civicpass.domain.facts import Fact, FactKind, FactSource, FactState
from civicpass.domain.feeds import Rejected, rejection_view
from civicpass.domain.identity import parse_document
from civicpass.services.ports import FeedFacts, StoredStatus
from civicpass.settings import Settings
from civicpass.web.app import create_app
from tests.conftest import POSTGRES_URL
from tests.support import enrol, resident_id_number

NAME = "欧阳明月"
ADDRESS = "广州市天河区体育西路191号"


def _all_text(container: Container) -> str:
    """Every value of every row of every table, as text (what a stolen database dump would show)."""
    parts = []
    with container.engine.connect() as conn:
        for table in t.metadata.sorted_tables:
            for row in conn.execute(sa.select(table)):
                parts.extend(str(value) for value in row)
    return "\n".join(parts)


def _sqlite_files(container: Container) -> bytes:
    database = container.engine.url.database
    assert database is not None
    return b"".join(p.read_bytes() for p in Path(database).parent.glob(Path(database).name + "*"))


def test_personal_data_is_not_stored_in_clear(
    client: TestClient, messenger: MemoryMessenger, container: Container
) -> None:
    number = resident_id_number(serial="357")
    enrol(client, messenger, phone="13912345678", number=number, name=NAME)
    dump = _all_text(container)
    for secret in (number, NAME, "13912345678", "体育西路"):
        assert secret not in dump
    if container.engine.dialect.name == "sqlite":
        raw = _sqlite_files(container)
        for secret in (number, NAME, "13912345678"):
            assert secret.encode() not in raw
            assert secret.encode("utf-16-le") not in raw
    with container.engine.connect() as conn:
        row = conn.execute(sa.select(t.residents)).one()
    assert row.doc_number_ct.startswith("v1.k1.")
    assert row.doc_index != number
    assert len(row.doc_index) == 64


def test_lookup_by_document_goes_through_the_blind_index(
    client: TestClient, messenger: MemoryMessenger, container: Container
) -> None:
    number = resident_id_number(serial="358")
    resident, _ = enrol(client, messenger, number=number)
    with container.deps.uow() as uow:
        found = uow.residents.by_document(parse_document("resident_id", number))
        missing = uow.residents.by_document(parse_document("resident_id", resident_id_number(serial="359")))
        other_type = uow.residents.by_document(parse_document("taiwan_permit", "12345678"))
    assert found is not None
    assert found.id == resident["id"]
    assert found.pii.document.number == number
    assert missing is None
    assert other_type is None


def test_a_ciphertext_moved_to_another_row_does_not_decrypt(
    client: TestClient, messenger: MemoryMessenger, container: Container
) -> None:
    a, _ = enrol(client, messenger, phone="13800000001", number=resident_id_number(serial="401"), name="甲")
    b, _ = enrol(client, messenger, phone="13800000002", number=resident_id_number(serial="402"), name="乙")
    with container.engine.begin() as conn:
        name_a = conn.execute(
            sa.select(t.residents.c.name_ct).where(t.residents.c.id == a["id"])
        ).scalar_one()
        conn.execute(t.residents.update().where(t.residents.c.id == b["id"]).values(name_ct=name_a))
    with container.deps.uow() as uow, pytest.raises(PiiDecryptionError):
        uow.residents.get(b["id"])


def test_rotated_keys_keep_old_data_readable_and_encrypt_new_data_with_the_new_key(
    client: TestClient, messenger: MemoryMessenger, container: Container, tmp_path: Path
) -> None:
    old, _ = enrol(client, messenger, phone="13800000003", number=resident_id_number(serial="403"))
    settings = container.settings
    assert settings.pii_keys is not None
    rotated = Settings(
        **{
            **settings.model_dump(),
            "pii_keys": "k2:"
            + base64.b64encode(b"\x07" * 32).decode()
            + ","
            + settings.pii_keys.get_secret_value(),
            "blind_index_key": settings.blind_index_key,
            "signing_key": settings.signing_key,
            "keystore_key": settings.keystore_key,
        }
    )
    second = build(rotated, messenger=messenger)
    try:
        with second.deps.uow() as uow:
            reread = uow.residents.get(old["id"])
        assert reread is not None
        assert reread.pii.name == "张小三"
        with TestClient(create_app(container=second)) as rotated_client:
            new, _ = enrol(
                rotated_client, messenger, phone="13800000004", number=resident_id_number(serial="404")
            )
        with second.engine.connect() as conn:
            envelopes = {
                row.id: row.name_ct
                for row in conn.execute(sa.select(t.residents.c.id, t.residents.c.name_ct))
            }
        assert envelopes[old["id"]].startswith("v1.k1.")
        assert envelopes[new["id"]].startswith("v1.k2.")
    finally:
        second.dispose()


def test_migrations_produce_exactly_the_declared_tables(container: Container) -> None:
    with container.engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True, "include_object": include_object}),
            t.metadata,
        )
    assert diff == []


def test_facts_stored_in_bulk_keep_awkward_json_and_times_in_any_zone(
    client: TestClient, messenger: MemoryMessenger, container: Container
) -> None:
    """``facts.add_feed`` is COPY in binary on PostgreSQL (lengths in bytes, JSON as its text, times as
    microseconds since 2000 in naive UTC), executemany on SQLite: what comes back is what went in, whatever
    the text holds, at any time, microseconds and times before 2000 included."""
    resident, _ = enrol(client, messenger, number=resident_id_number(serial="361"))
    zone = timezone(timedelta(hours=8))
    awkward = {
        "quote": 'a "b" \\ c',
        "controls": "tab\there\nnew line\r\x01",
        "text": "郑州 \u2028 😀",
        "nested": {"list": [1, None, True, "\\N"], "empty": {}},
    }
    facts = FeedFacts("feed:test\twith tab", datetime(2022, 5, 2, 9, 0, 0, 123456, tzinfo=zone))
    for n in range(4):
        expires = datetime(2022, 5, 16 + n, 9, 0, tzinfo=UTC if n else zone)
        if n == 3:
            expires = datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=zone)
        data = json.dumps({**awkward, "n": n}, ensure_ascii=bool(n))
        facts.add(resident["id"], FactKind.TEST_RESULT, data, expires, "line\twith tab\\N")
    facts.number([f"bulk-{n}" for n in range(4)])
    with container.deps.uow() as uow:
        uow.facts.add_feed(facts)
        uow.commit()
    with container.deps.uow() as uow:
        stored = {f.id: f for f in uow.facts.for_subjects([resident["id"]])[resident["id"]]}
    for n in range(4):
        back, sent = stored[f"bulk-{n}"], facts.fact(n)
        assert dict(back.data) == {**awkward, "n": n}
        assert back.effective_at == back.recorded_at == datetime(2022, 5, 2, 1, 0, 0, 123456, tzinfo=UTC)
        assert back.expires_at == sent.expires_at
        assert (back.note, back.authority, back.source) == (sent.note, sent.authority, FactSource.FEED)


def test_quarantined_records_keep_awkward_text_and_shared_reasons(container: Container) -> None:
    """``feeds.quarantine`` is COPY text written by hand on PostgreSQL (tabs, line breaks and backslashes
    escaped, a reason's JSON made once for the records that share it), executemany on SQLite: every row
    comes back as it went in, a record without an id included."""
    at = datetime(2022, 5, 2, 9, 0, 0, 123456, tzinfo=timezone(timedelta(hours=8)))
    unknown = (FieldError(("record_id",), "resident_unknown", "the document of an enrolled resident"),)
    awkward = (
        FieldError(("document", "number"), "invalid", 'a "quoted" \\ back\tslash\nline'),
        FieldError(("dose",), "out_of_range", "1 to 9 郑州 \u2028 😀"),
    )
    rejected = [
        Rejected(1, "r-1", unknown, '{"record_id": "r-1", "tab": "a\tb"}'),
        Rejected(2, None, awkward, "not json at all \\N \\ \r\n end"),
        Rejected(3, "r\t3\\N", unknown, 'r\t3,"quoted"\n'),
        Rejected(4, "r-4", awkward, ""),
        Rejected(5, "r-5", awkward[:1], "the first of those reasons alone"),
    ]
    with container.deps.uow() as uow:
        uow.feeds.quarantine("lab\t1", "batch\\1", rejected, at)
        uow.commit()
    q = t.feed_quarantine.c
    with container.engine.connect() as conn:
        rows = conn.execute(sa.select(t.feed_quarantine).order_by(q.line)).all()
    assert [(r.source_id, r.batch_id, r.line, r.record_id, r.raw) for r in rows] == [
        ("lab\t1", "batch\\1", r.line, r.record_id, r.raw) for r in rejected
    ]
    assert [r.reasons for r in rows] == [rejection_view(r)["errors"] for r in rejected]
    assert {r.received_at for r in rows} == {at}


def test_a_subjects_facts_read_back_field_for_field(
    client: TestClient, messenger: MemoryMessenger, container: Container
) -> None:
    """``facts.for_subjects`` makes facts from rows by position (on PostgreSQL straight from psycopg's
    rows, times read as ``timestamptz`` in the session's UTC): every field of every kind of active fact comes back as it was
    stored, a second person's decision and a fact without expiry included; proposed facts are not read."""
    resident, _ = enrol(client, messenger, number=resident_id_number(serial="362"))
    at = datetime(2022, 5, 2, 1, 0, 0, 123456, tzinfo=UTC)
    common = {"subject_id": resident["id"], "effective_at": at, "recorded_at": at + timedelta(seconds=1)}
    decided = Fact(
        id="fact-decided",
        kind=FactKind.CLOSE_CONTACT,
        data={"case": "c-1", "venue": "洗衣店", "n": [1, None]},
        source=FactSource.STAFF,
        authority="cdc:440106",
        expires_at=None,
        state=FactState.ACTIVE,
        proposed_by="staff-1",
        decided_by="staff-2",
        decided_at=at + timedelta(hours=2),
        note="approved in part",
        **common,
    )
    plain = replace(
        decided,
        id="fact-plain",
        kind=FactKind.TEST_RESULT,
        data={"test": "pcr", "result": "negative", "sampled_at": "2022-05-01T09:00:00+08:00"},
        source=FactSource.FEED,
        expires_at=datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        proposed_by=None,
        decided_by=None,
        decided_at=None,
        note="",
    )
    proposed = replace(
        decided, id="fact-proposed", state=FactState.PROPOSED, decided_by=None, decided_at=None
    )
    with container.deps.uow() as uow:
        for fact in (decided, plain, proposed):
            uow.facts.add(fact)
        uow.commit()
    with container.deps.uow() as uow:
        read = uow.facts.for_subjects([resident["id"], "nobody"])
    assert read["nobody"] == []
    assert sorted(read[resident["id"]], key=lambda f: f.id) == [decided, plain]
    times = [(f.effective_at, f.recorded_at, f.expires_at, f.decided_at) for f in read[resident["id"]]]
    assert all(t.tzinfo is UTC for four in times for t in four if t is not None)


def test_facts_and_statuses_keep_their_times_whatever_the_sessions_time_zone(
    client: TestClient, messenger: MemoryMessenger, container: Container
) -> None:
    """The engine opens PostgreSQL sessions in UTC; the facts' and statuses' times are converted to and
    from their naive UTC explicitly (``AT TIME ZONE 'UTC'``), so a session in another zone writes and reads
    the same instants."""
    if container.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no session time zone")
    with container.engine.connect() as conn:
        assert conn.exec_driver_sql("SHOW TimeZone").scalar_one() == "UTC"
    resident, _ = enrol(client, messenger, number=resident_id_number(serial="371"))
    at = datetime(2022, 5, 2, 23, 30, tzinfo=UTC)
    fact = Fact(
        id="fact-zone",
        subject_id=resident["id"],
        kind=FactKind.VACCINATION,
        data={"vaccine": "CoronaVac", "dose": 1, "administered_at": "2022-05-03T07:00:00+08:00"},
        source=FactSource.FEED,
        authority="feed:lab",
        effective_at=at,
        expires_at=at + timedelta(days=3650),
        recorded_at=at,
        state=FactState.ACTIVE,
    )
    with container.deps.uow() as uow:
        uow.facts.add(fact)
        uow.commit()
    status = StoredStatus(resident["id"], 7, "yellow", [], 1, at, at + timedelta(hours=1), "0" * 64)
    with container.deps.uow() as uow:
        uow.conn.exec_driver_sql("SET LOCAL TimeZone = 'Asia/Shanghai'")
        (read,) = uow.facts.for_subjects([resident["id"]])[resident["id"]]
        uow.statuses.save_many([(status, True)])
        uow.commit()
    assert read == fact
    assert read.effective_at.astimezone(UTC).isoformat() == "2022-05-02T23:30:00+00:00"
    with container.deps.uow() as uow:
        stored = uow.statuses.get(resident["id"])
        column = uow.conn.execute(sa.select(t.statuses.c.evaluated_at)).scalar_one()
    assert stored == status
    assert stored.evaluated_at.tzinfo is UTC
    assert column == at  # as the Core type reads the column's naive UTC


@pytest.mark.postgres
def test_a_postgres_session_keeps_the_given_options_and_runs_in_utc_and_iso(
    postgres_schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine's own session options (UTC, the ISO style) come after those of ``PGOPTIONS`` and of the
    URL's ``options``, which they would otherwise replace: both are kept, and the zone is UTC even where
    the URL asks for another."""
    monkeypatch.setenv("PGOPTIONS", "-c lock_timeout=3000")
    given = "options=-c%20statement_timeout%3D5000%20-c%20TimeZone%3DAsia/Shanghai"
    engine = make_engine(
        f"{POSTGRES_URL}{'&' if '?' in POSTGRES_URL else '?'}{given}", schema=postgres_schema
    )
    try:
        with engine.connect() as conn:
            shown = {
                n: conn.exec_driver_sql(f"SHOW {n}").scalar_one()
                for n in ("statement_timeout", "lock_timeout", "TimeZone", "DateStyle")
            }
    finally:
        engine.dispose()
    assert shown["statement_timeout"] == "5s"
    assert shown["lock_timeout"] == "3s"
    assert shown["TimeZone"] == "UTC"
    assert shown["DateStyle"].startswith("ISO")


def test_migration_0015_drops_the_facts_foreign_key_and_keeps_every_fact(empty_database: sa.Engine) -> None:
    """Facts lose their foreign key to residents and index only proposed facts by time; on SQLite the
    table is rebuilt (batch mode), and its rows must survive it. Downgrading puts both back."""
    engine, now = empty_database, datetime(2022, 5, 2, 1, 0, tzinfo=UTC)
    upgrade(engine, "0014")
    with engine.begin() as conn:
        conn.execute(
            sa.insert(t.residents),
            {
                "id": "r-1",
                "pseudonym": "p-1",
                "kind": "self",
                "name_ct": "x",
                "doc_type": "none",
                "region_code": "440106",
                "active": True,
                "created_at": now,
            },
        )
        facts = [
            {
                "id": f"f-{state}",
                "subject_id": "r-1",
                "kind": "test_result",
                "data": {"result": "negative"},
                "source": "feed",
                "authority": "feed:x",
                "effective_at": now,
                "recorded_at": now,
                "state": state,
                "note": "",
            }
            for state in ("active", "proposed")
        ]
        conn.execute(sa.insert(t.facts), facts)

    upgrade(engine, "head")
    found = sa.inspect(engine)
    assert found.get_foreign_keys("facts") == []
    indexes = {i["name"]: i["column_names"] for i in found.get_indexes("facts")}
    assert indexes["ix_facts_proposed_recorded"] == ["recorded_at", "id"]
    assert "ix_facts_state_recorded" not in indexes
    with engine.connect() as conn:
        kept = conn.execute(sa.select(t.facts.c.id, t.facts.c.data).order_by(t.facts.c.id)).all()
    assert [tuple(row) for row in kept] == [(f["id"], f["data"]) for f in facts]

    command.downgrade(alembic_config(engine), "0014")
    back = sa.inspect(engine)
    assert [fk["referred_table"] for fk in back.get_foreign_keys("facts")] == ["residents"]
    assert "ix_facts_state_recorded" in {i["name"] for i in back.get_indexes("facts")}


_FEED_RECORDS_0015 = sa.table(  # the accepted records as migrations 0007-0020 left them
    "feed_records", *(sa.column(c) for c in ("source_id", "record_id", "batch_id", "subject_id", "fact_id"))
)


def test_migration_0016_keys_feed_records_by_record_id_first_and_keeps_them(
    empty_database: sa.Engine,
) -> None:
    """The accepted records' primary key becomes (record_id, source_id); on SQLite the table is rebuilt
    and its rows must survive, still unique on the pair. Downgrading puts the old order back."""
    engine = empty_database
    upgrade(engine, "0015")
    records = [
        {"source_id": source, "record_id": record, "batch_id": "b-1", "subject_id": "r-1", "fact_id": None}
        for source in ("s-1", "s-2")
        for record in ("lab-1", "lab-2")
    ]
    with engine.begin() as conn:
        conn.execute(sa.insert(_FEED_RECORDS_0015), records)

    upgrade(engine, "0016")
    assert sa.inspect(engine).get_pk_constraint("feed_records")["constrained_columns"] == [
        "record_id",
        "source_id",
    ]
    with engine.connect() as conn:
        kept = conn.execute(sa.select(_FEED_RECORDS_0015).order_by("source_id", "record_id")).mappings().all()
    assert [dict(row) for row in kept] == records
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.execute(sa.insert(_FEED_RECORDS_0015), records[:1])  # the same record of the same source again

    command.downgrade(alembic_config(engine), "0015")
    assert sa.inspect(engine).get_pk_constraint("feed_records")["constrained_columns"] == [
        "source_id",
        "record_id",
    ]


def test_migration_0021_keeps_the_accepted_record_ids_and_drops_their_residents(
    empty_database: sa.Engine,
) -> None:
    """The accepted records lose which resident and fact each named; their ids, still unique per source,
    stay (a record sent again is still a duplicate). Downgrading brings the columns back, empty."""
    engine = empty_database
    upgrade(engine, "0020")
    records = [
        {
            "source_id": "s-1",
            "record_id": f"lab-{n}",
            "batch_id": "b-1",
            "subject_id": "r-1",
            "fact_id": "f-1",
        }
        for n in (1, 2)
    ]
    with engine.begin() as conn:
        conn.execute(sa.insert(_FEED_RECORDS_0015), records)

    upgrade(engine, "head")
    columns = [c["name"] for c in sa.inspect(engine).get_columns("feed_records")]
    assert columns == ["source_id", "record_id", "batch_id"]
    with engine.connect() as conn:
        kept = conn.execute(sa.select(t.feed_records).order_by("record_id")).mappings().all()
    assert [dict(row) for row in kept] == [
        {k: r[k] for k in ("source_id", "record_id", "batch_id")} for r in records
    ]
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.execute(sa.insert(t.feed_records), {**kept[0]})

    command.downgrade(alembic_config(engine), "0020")
    with engine.connect() as conn:
        back = conn.execute(sa.select(_FEED_RECORDS_0015).order_by("record_id")).mappings().all()
    assert [(r["record_id"], r["subject_id"], r["fact_id"]) for r in back] == [
        ("lab-1", None, None),
        ("lab-2", None, None),
    ]


def test_migration_0022_keeps_every_fact_s_data_as_json(empty_database: sa.Engine) -> None:
    """Facts' data becomes ``json`` on PostgreSQL (SQLite's JSON is its text either way): every fact's data
    reads back equal across the change and back again, and the column's type is what each side says."""
    engine = empty_database
    upgrade(engine, "0021")
    data = [
        {"result": "negative", "n": n, "text": "郑州 😀", "nested": {"list": [1, None, True]}}
        for n in range(3)
    ]
    fact = {
        "kind": "test_result",
        "source": "feed",
        "authority": "feed:lab",
        "effective_at": datetime(2022, 5, 2, tzinfo=UTC),
        "recorded_at": datetime(2022, 5, 2, tzinfo=UTC),
        "state": "active",
        "note": "record",
    }
    with engine.begin() as conn:
        conn.execute(
            sa.insert(t.facts),
            [{**fact, "id": f"f-{n}", "subject_id": "r-1", "data": d} for n, d in enumerate(data)],
        )

    def stored() -> tuple[list[Any], str]:
        with engine.connect() as conn:
            rows = conn.execute(sa.select(t.facts.c.data).order_by(t.facts.c.id)).scalars().all()
        kind = str(next(c["type"] for c in sa.inspect(engine).get_columns("facts") if c["name"] == "data"))
        return list(rows), kind

    postgres = engine.dialect.name == "postgresql"
    upgrade(engine, "0022")
    assert stored() == (data, "JSON")
    command.downgrade(alembic_config(engine), "0021")
    assert stored() == (data, "JSONB" if postgres else "JSON")


def test_migration_0023_drops_the_statuses_foreign_key_and_keeps_every_status(
    empty_database: sa.Engine,
) -> None:
    """Statuses lose their foreign key to residents (marking a batch's statuses due fired its trigger for
    every row) and keep every row across the change and back again."""
    engine = empty_database
    upgrade(engine, "0022")

    def foreign_keys() -> list[Any]:
        return [fk["referred_table"] for fk in sa.inspect(engine).get_foreign_keys("statuses")]

    resident = {
        "id": "r-1",
        "pseudonym": "p-1",
        "kind": "adult",
        "name_ct": "x",
        "doc_type": "none",
        "region_code": "440106",
        "active": True,
        "created_at": datetime(2022, 5, 2, tzinfo=UTC),
    }
    status = {
        "subject_id": "r-1",
        "version": 3,
        "color": "yellow",
        "reasons": [{"code": "close_contact"}],
        "ruleset_version": 1,
        "evaluated_at": datetime(2022, 5, 2, tzinfo=UTC),
        "review_at": datetime(2022, 5, 3, tzinfo=UTC),
        "inputs_digest": "0" * 64,
        "due_marks": 2,
    }
    statuses = sa.table(  # as it was then, with its mark counter (migration 0025 took it)
        "statuses", *(sa.column(c.name, c.type) for c in t.statuses.columns), sa.column("due_marks")
    )
    with engine.begin() as conn:
        conn.execute(sa.insert(t.residents), resident)
        conn.execute(sa.insert(statuses), status)
    assert foreign_keys() == ["residents"]

    def stored() -> list[dict[str, Any]]:
        with engine.connect() as conn:
            return [dict(row) for row in conn.execute(sa.select(statuses)).mappings()]

    upgrade(engine, "0023")
    assert foreign_keys() == []
    assert stored() == [status]
    command.downgrade(alembic_config(engine), "0022")
    assert foreign_keys() == ["residents"]
    assert stored() == [status]


def _collations(engine: sa.Engine) -> dict[tuple[str, str], str | None]:
    """Each text column's collation as the database reports it (None where it is the default's)."""
    inspector = sa.inspect(engine)
    return {
        (table, column["name"]): getattr(column["type"], "collation", None)
        for table in inspector.get_table_names()
        for column in inspector.get_columns(table)
        if isinstance(column["type"], sa.String)
    }


def test_migration_0024_puts_every_id_and_key_in_the_c_collation_and_keeps_the_rows(
    empty_database: sa.Engine,
) -> None:
    """On PostgreSQL every column of ``tables.ID`` or ``tables.KEY`` compares in the ``C`` collation after
    0024 and no other column changes; the rows (and their keys' uniqueness) stay, and the downgrade puts
    the default back. SQLite's columns are left as they were."""
    engine = empty_database
    upgrade(engine, "0023")
    with engine.begin() as conn:
        for n, number in enumerate(("a", "B", "b", "é", "z")):  # an order that C and a locale may disagree on
            conn.execute(
                sa.insert(t.feed_records),
                {"source_id": "s-1", "record_id": f"r-{number}", "batch_id": f"b-{n}"},
            )
    before = _collations(engine)
    upgrade(engine, "0024")
    after = _collations(engine)
    keys = {
        (table.name, column.name)
        for table in t.metadata.sorted_tables
        for column in table.columns
        if column.type is t.ID or column.type is t.KEY
    }
    # check-ins' partitions (``checkins_default``, a day's) have their parent's columns
    keys |= {(table, c) for table, c in after if table.startswith("checkins_") and ("checkins", c) in keys}
    postgres = engine.dialect.name == "postgresql"
    assert {name for name, collation in after.items() if collation == "C"} == (keys if postgres else set())
    assert {name: c for name, c in after.items() if name not in keys} == {
        name: c for name, c in before.items() if name not in keys
    }
    with engine.connect() as conn:
        stored = conn.execute(sa.select(t.feed_records.c.record_id).order_by(t.feed_records.c.record_id))
        assert stored.scalars().all() == sorted(["r-a", "r-B", "r-b", "r-é", "r-z"])  # as Python sorts
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.execute(sa.insert(t.feed_records), {"source_id": "s-1", "record_id": "r-a", "batch_id": "b-9"})
    command.downgrade(alembic_config(engine), "0023")
    assert _collations(engine) == before
