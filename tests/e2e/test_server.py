"""The real server, started the way ``make run`` starts it, answering over real HTTP on loopback."""

from __future__ import annotations

import base64
import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx2
import pytest
import sqlalchemy as sa

from civicpass.adapters.db.engine import make_engine
from tests.conftest import POSTGRES_URL
from tests.support import resident_id_number

pytestmark = pytest.mark.slow


@dataclass
class Server:
    url: str
    process: subprocess.Popen[str]
    output: Path
    schema: str | None = None

    def text(self) -> str:
        return self.output.read_text()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``civicpass serve --seed`` (what ``make run`` runs) on SQLite under ./var, or on a PostgreSQL schema."""
    workdir = tmp_path_factory.mktemp("server")
    port = _free_port()
    database: dict[str, str] = {}
    if request.param == "postgres":
        schema = request.getfixturevalue("postgres_schema") + "_e2e"
        engine = make_engine(POSTGRES_URL)
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        engine.dispose()
        database = {"CIVICPASS_DATABASE_URL": POSTGRES_URL, "CIVICPASS_DATABASE_SCHEMA": schema}
    env = {
        **database,
        **{k: v for k, v in os.environ.items() if not k.startswith("CIVICPASS_")},
        "CIVICPASS_PORT": str(port),
        "CIVICPASS_DEMO_RESIDENTS": "300",
        "CIVICPASS_PASSWORD_TIME_COST": "1",
        "CIVICPASS_PASSWORD_MEMORY_COST": "1024",
        "CIVICPASS_COOKIE_SECURE": "false",
    }
    output = workdir / "server.log"
    with output.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "civicpass", "serve", "--seed"],
            cwd=workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"server exited with {process.returncode}:\n{output.read_text()}")
        try:
            if httpx2.get(url + "/health", timeout=1).status_code == 200:
                break
        except httpx2.TransportError:
            time.sleep(0.2)
    else:
        process.kill()
        pytest.fail("server did not answer /health within 60 s:\n" + output.read_text())
    yield Server(url, process, output, database.get("CIVICPASS_DATABASE_SCHEMA"))
    process.terminate()
    process.wait(timeout=15)
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
    started = httpx2.post(server.url + "/v1/phone-verifications", json={"phone": "13700000001"}).json()
    deadline = time.monotonic() + 5
    code = None
    while code is None and time.monotonic() < deadline:
        found = re.search(r"\[civicpass sms\] to \+8613700000001: .*?(\d{6})", server.text())
        code = found.group(1) if found else None
        time.sleep(0.05)
    assert code is not None
    token = httpx2.post(
        f"{server.url}/v1/phone-verifications/{started['id']}/confirm", json={"code": code}
    ).json()
    enrolled = httpx2.post(
        server.url + "/v1/residents",
        json={
            "verification_token": token["verification_token"],
            "name": "陈大文",
            "document": {"type": "resident_id", "number": resident_id_number(serial="999")},
            "region_code": "440106",
        },
    )
    assert enrolled.status_code == 201, enrolled.text
    me = httpx2.get(
        server.url + "/v1/me", headers={"Authorization": "Bearer " + enrolled.json()["access_token"]}
    )
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
