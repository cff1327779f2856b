"""Long lists of values in one parameter (``tables.among``, ``tables.any_text``): ids and digests go one
per line for ``string_to_array``; any other values (empty, with a line break, quotes or backslashes) as
the quoted array literal. Either way a query finds exactly the rows whose value is listed."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from civicpass.adapters.db import pg_hot
from civicpass.adapters.db import tables as t
from civicpass.adapters.db.feed_repositories import known_records
from civicpass.adapters.db.repositories import RESIDENTS_BY_INDEX
from civicpass.bootstrap import Container
from civicpass.domain.identity import Document, DocumentType

AWKWARD = ["", "line\nbreak", "\n", 'quo"te', "back\\slash", "{braces}", "a,b", "NULL", " spaced ", "郑州"]
IDS = [str(uuid.UUID(int=n)) for n in range(1, 40)]
PROBE = "SELECT v FROM among_probe WHERE v = ANY({among})"  # as the repositories' queries are written


def test_ids_go_one_per_line_and_anything_else_as_the_literal() -> None:
    assert t.id_lines(IDS) == "\n".join(IDS)
    assert t.any_text(IDS) == ("string_to_array(%s, E'\\n')", "\n".join(IDS))
    for values in ([], [""], ["a", ""], ["a\nb"], ["a", "b\n"], ["\n"]):
        assert t.id_lines(values) is None
        assert t.any_text(values) == ("%s::text[]", t.text_array(values))


@pytest.mark.parametrize(
    "wanted",
    [IDS[:3], IDS, AWKWARD, AWKWARD[1:2], [""], IDS[:5] + AWKWARD[3:6], ["absent"], []],
    ids=["ids", "many ids", "awkward", "a line break", "empty", "mixed", "absent", "none"],
)
def test_a_query_finds_exactly_the_listed_values(container: Container, wanted: list[str]) -> None:
    values = IDS + AWKWARD
    table = sa.Table(
        "among_probe", sa.MetaData(), sa.Column("v", sa.Text, nullable=False), prefixes=["TEMPORARY"]
    )
    with container.engine.connect() as conn:
        table.create(conn)
        conn.execute(table.insert(), [{"v": v} for v in values])
        found = conn.execute(sa.select(table.c.v).where(t.among(conn, table.c.v, wanted))).scalars().all()
        assert sorted(found) == sorted(v for v in values if v in wanted)
        if pg := pg_hot.connection(conn):
            for any_text in (t.any_text, t.any_text_probed):
                among, parameter = any_text(wanted)
                rows = pg.execute(PROBE.format(among=among), (parameter,)).fetchall()
                assert sorted(row[0] for row in rows) == sorted(v for v in values if v in wanted)


def _plan_nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [plan, *(node for child in plan.get("Plans", []) for node in _plan_nodes(child))]


@pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_a_feed_batch_finds_its_holders_in_the_covering_index_whatever_it_names(container: Container) -> None:
    """20,000 residents (every tenth inactive) and a look-up of 8,000 documents: PostgreSQL reads the holders'
    ids from ``ix_residents_active_doc_index`` alone; with the list visible to the planner it would scan the
    table (and at a province's size, in parallel). Alone only where VACUUM could mark the table's pages
    visible to all: a transaction another session holds open (the suite's other worker) can keep it from
    that, and the plan then visits the rows' pages too, still by probing that index."""
    numbers = [f"E{n:08d}" for n in range(20_000)]
    digest = container.deps.digest
    rows = [
        {
            "id": str(uuid.UUID(int=n + 1)),
            "pseudonym": f"p{n}",
            "kind": "adult",
            "name_ct": "x",
            "doc_type": "passport",
            "doc_index": digest.blind_index(Document(DocumentType.PASSPORT, number, "CHN").index_material),
            "region_code": "440100",
            "active": n % 10 != 0,
            "created_at": datetime(2022, 5, 1, tzinfo=UTC),
        }
        for n, number in enumerate(numbers)
    ]
    with container.engine.begin() as conn:
        conn.execute(t.residents.insert(), rows)
    with container.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE residents"))  # as autovacuum keeps the table
    asked = [Document(DocumentType.PASSPORT, number, "CHN") for number in numbers[:8000]]
    with container.deps.uow() as uow:
        found = uow.residents.ids_of_materials([d.index_material for d in asked])
    assert found == [str(uuid.UUID(int=n + 1)) if n % 10 != 0 else None for n in range(len(asked))]
    among, parameter = t.any_text_probed([digest.blind_index(d.index_material) for d in asked])
    with container.engine.connect() as conn:
        pg = pg_hot.connection(conn)
        assert pg is not None
        # read before the plan is made: autovacuum may mark the pages visible to all at any moment, and
        # then a plan made before it (with the table's pages to visit) would be judged as made after it
        # this schema's table (the search path's): by name alone, another schema's residents (the other
        # worker's, a benchmark's) could answer
        visible = pg.execute(
            "SELECT relallvisible = relpages FROM pg_class WHERE oid = 'residents'::regclass"
        )
        all_visible = visible.fetchone()[0]  # type: ignore[index]
        explained = pg.execute(
            f"EXPLAIN (FORMAT JSON) {RESIDENTS_BY_INDEX.format(among=among)}", (parameter,)
        )
        plan = explained.fetchone()[0][0]["Plan"]  # type: ignore[index]
    scans = [(n["Node Type"], n.get("Index Name")) for n in _plan_nodes(plan) if "Scan" in n["Node Type"]]
    if all_visible:  # the index alone answers
        assert scans == [("Index Only Scan", "ix_residents_active_doc_index")]
    else:  # a transaction of another session kept VACUUM from marking the new rows visible to all: the
        # planner then also visits the table's pages of the rows it finds, through the same index
        assert {index for _, index in scans if index} == {"ix_residents_active_doc_index"}, scans
        assert "Seq Scan" not in {node for node, _ in scans}, scans


@pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_a_feed_batch_finds_its_known_records_by_probing_the_primary_key(container: Container) -> None:
    """A source's 20,000 stored records (and another source's 5,000) and a batch of 8,000 ids, half of
    them stored: ``feeds.known`` finds exactly those, by probing ``feed_records``' primary key, never by
    scanning the table (which it did with the list visible to the planner, once the table was large
    enough for that to look cheaper: a scan of the whole table for every batch, as the table grows)."""
    rows = [{"source_id": "lab", "record_id": f"r-{n}", "batch_id": f"b-{n // 1000}"} for n in range(20_000)]
    rows += [{"source_id": "other", "record_id": f"r-{n}", "batch_id": "b"} for n in range(20_000, 25_000)]
    with container.engine.begin() as conn:
        conn.execute(t.feed_records.insert(), rows)
    with container.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE feed_records"))  # as autovacuum keeps the table
    batch = [f"r-{n}" for n in range(16_000, 24_000)]
    with container.deps.uow() as uow:
        assert uow.feeds.known("lab", batch) == {f"r-{n}" for n in range(16_000, 20_000)}
    with container.engine.connect() as conn:
        pg = pg_hot.connection(conn)
        assert pg is not None
        query, parameters = known_records("lab", batch)
        plan = pg.execute(f"EXPLAIN (FORMAT JSON) {query}", parameters).fetchone()[0][0]["Plan"]  # type: ignore[index]
        key = pg.execute(
            "SELECT conname FROM pg_constraint WHERE conrelid = 'feed_records'::regclass AND contype = 'p'"
        ).fetchone()[0]  # type: ignore[index]
    scans = [(n["Node Type"], n.get("Index Name")) for n in _plan_nodes(plan) if "Scan" in n["Node Type"]]
    # the index alone, or with the table's pages of the rows it finds where a transaction of another
    # session kept VACUUM from marking them visible to all (as for the holders' look-up above)
    assert {index for _, index in scans if index} == {key}, scans
    assert "Seq Scan" not in {node for node, _ in scans}, scans
