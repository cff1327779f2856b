"""Long lists of values in one parameter (``tables.among``, ``tables.any_text``): ids and digests go one
per line for ``string_to_array``; any other values (empty, with a line break, quotes or backslashes) as
the quoted array literal. Either way a query finds exactly the rows whose value is listed."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from civicpass.adapters.db import pg_hot
from civicpass.adapters.db import tables as t
from civicpass.bootstrap import Container

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
            among, parameter = t.any_text(wanted)
            rows = pg.execute(PROBE.format(among=among), (parameter,)).fetchall()
            assert sorted(row[0] for row in rows) == sorted(v for v in values if v in wanted)
