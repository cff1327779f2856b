"""The real server, started the way ``make run`` starts it, answering over real HTTP on loopback."""

from __future__ import annotations

import base64
import json
import re
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx2
import pytest
import sqlalchemy as sa

from civicpass.adapters.db.engine import make_engine
from tests.conftest import POSTGRES_URL
from tests.e2e.serving import Server, serving

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``civicpass serve --seed`` (what ``make run`` runs) on SQLite under ./var, or on a PostgreSQL schema."""
    workdir = tmp_path_factory.mktemp("server")
    database: dict[str, str] = {}
    if request.param == "postgres":
        schema = request.getfixturevalue("postgres_schema") + "_e2e"
        engine = make_engine(POSTGRES_URL)
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        engine.dispose()
        database = {"CIVICPASS_DATABASE_URL": POSTGRES_URL, "CIVICPASS_DATABASE_SCHEMA": schema}
    settings = {**database, "CIVICPASS_DEMO_RESIDENTS": "300"}
    with serving(workdir, settings, database.get("CIVICPASS_DATABASE_SCHEMA")) as started:
        yield started
    if database:
        engine = make_engine(POSTGRES_URL)
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{database["CIVICPASS_DATABASE_SCHEMA"]}" CASCADE'))
        engine.dispose()


def test_server_answers_health_and_ready_with_the_demo_city(server: Server) -> None:
    assert httpx2.get(server.url + "/health").json()["status"] == "ok"
    assert httpx2.get(server.url + "/ready").json() == {
        "status": "ready",
        "checks": {"database": "ok", "migrations": "ok"},
    }
    assert "demo city created: 300 residents" in server.text()


def test_demo_staff_credentials_printed_on_start_work(server: Server) -> None:
    match = re.search(r"demo-community-worker\s*│\s*([0-9a-f]{16})", server.text())
    assert match is not None, server.text()
    login = httpx2.post(
        server.url + "/v1/staff/sessions",
        json={"username": "demo-community-worker", "password": match.group(1)},
    )
    assert login.status_code == 200
    headers = {"Authorization": "Bearer " + login.json()["access_token"]}
    listed = httpx2.get(
        server.url + "/v1/staff/residents", headers=headers, params={"region_code": "440100", "limit": 5}
    ).json()
    assert len(listed) == 5
    assert all("*" in r["name"] for r in listed)


def test_a_resident_enrols_over_http_with_the_code_from_the_console(server: Server) -> None:
    headers, _ = server.enrol("13700000001", "陈大文", "999")
    me = httpx2.get(server.url + "/v1/me", headers=headers)
    assert me.json()["name"] == "陈大文"


def test_development_secrets_were_generated_into_var(server: Server) -> None:
    secrets = server.output.parent / "var" / "secrets.json"
    assert secrets.exists()
    assert oct(secrets.stat().st_mode & 0o777) == "0o600"
    assert len(base64.b64decode(json.loads(secrets.read_text())["blind_index_key"])) == 32


def test_check_in_storage_is_partitioned_by_day_on_postgresql_and_indexed_by_time_on_sqlite(
    server: Server,
) -> None:
    if server.schema is None:
        database = sqlite3.connect(server.output.parent / "var" / "civicpass.db")
        names = {row[0] for row in database.execute("SELECT name FROM sqlite_master")}
        database.close()
        assert {"checkins", "ix_checkins_venue_at", "ix_checkins_at"} <= names
        assert not any(name.startswith("checkins_p") for name in names)
        return
    expected = {
        f"checkins_p{(datetime.now(UTC) + timedelta(days=d)).strftime('%Y%m%d')}" for d in range(0, 8)
    }
    engine = make_engine(POSTGRES_URL, schema=server.schema)
    deadline = time.monotonic() + 30
    found: set[str] = set()
    while time.monotonic() < deadline and not expected <= found:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = :s AND tablename LIKE 'checkins_p%'"
                ),
                {"s": server.schema},
            )
            found = {r[0] for r in rows}
        time.sleep(0.5)
    engine.dispose()
    assert expected <= found, f"missing partitions: {sorted(expected - found)}"
