"""Shared fixtures: databases (SQLite and PostgreSQL, each test isolated), a wired container, API clients.

PostgreSQL: ``CIVICPASS_TEST_POSTGRES_URL`` (default ``postgresql://postgres@127.0.0.1:5432/test``). Each
pytest-xdist worker gets its own schema, migrated once; tables are emptied after each test. When the
server is unreachable the PostgreSQL tests are skipped locally, but fail under CI (``CI=true``).
"""

from __future__ import annotations

import base64
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from civicpass.adapters.db.engine import make_engine
from civicpass.adapters.db.tables import metadata
from civicpass.adapters.messaging import MemoryMessenger
from civicpass.bootstrap import Container, build, migrate
from civicpass.settings import Settings
from civicpass.web.app import create_app
from tests.fakes import FakeClock

POSTGRES_URL = os.environ.get("CIVICPASS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
TEST_KEYS = {
    "pii_keys": "k1:" + base64.b64encode(b"\x01" * 32).decode(),
    "blind_index_key": base64.b64encode(b"\x02" * 32).decode(),
    "signing_key": base64.b64encode(b"\x03" * 32).decode(),
    "keystore_key": base64.b64encode(b"\x04" * 32).decode(),
}


def _worker() -> str:
    """Unique per test process, so two test runs on one machine never share a schema."""
    return f"{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{os.getpid()}"


def _postgres_available() -> str | None:
    try:
        engine = make_engine(POSTGRES_URL)
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
    except sa.exc.OperationalError as exc:
        return str(exc).splitlines()[0]
    return None


def _abandoned_schemas(conn: sa.Connection) -> list[str]:
    """Schemas left by test runs that were killed before their teardown (their process is gone)."""
    names = conn.execute(
        sa.text(
            "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE 'civicpass_test_%'"
        )
    )
    stale = []
    for (name,) in names:
        pid = name.split("_")[-1] if name.split("_")[-1].isdigit() else name.split("_")[-2]
        try:
            os.kill(int(pid), 0)
        except (ProcessLookupError, ValueError):
            stale.append(name)
        except PermissionError:
            continue
    return stale


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    """An engine on an empty database of its own, SQLite or PostgreSQL (a schema beside this worker's):
    for migration tests, which migrate it step by step."""
    if request.param == "sqlite":
        engine, schema = make_engine(f"sqlite:///{tmp_path / 'empty.db'}"), None
    else:
        schema = request.getfixturevalue("postgres_schema") + "_empty"
        _admin(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE; CREATE SCHEMA "{schema}"')
        engine = make_engine(POSTGRES_URL, schema=schema)
    yield engine
    engine.dispose()
    if schema is not None:
        _admin(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _admin(statement: str) -> None:
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(statement))
    admin.dispose()


@pytest.fixture(scope="session")
def postgres_schema() -> Iterator[str]:
    """A schema of this worker's own in the test database, created fresh and migrated once."""
    problem = _postgres_available()
    if problem is not None:
        message = f"PostgreSQL at {POSTGRES_URL} is unreachable: {problem}"
        if IN_CI:
            pytest.fail(message + " (CI requires it)")
        pytest.skip(message)
    schema = f"civicpass_test_{_worker()}"
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as conn:
        for stale in _abandoned_schemas(conn):
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{stale}" CASCADE'))
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    yield schema
    with admin.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that every SQLite test copies (migrating once is the slow part)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    container = build(_settings(f"sqlite:///{path}", tmp_path_factory.mktemp("tdata")))
    migrate(container)
    container.dispose()
    return path


def _settings(url: str, data_dir: Path, schema: str | None = None, **overrides: Any) -> Settings:
    return Settings(
        database_url=url,
        database_schema=schema,
        data_dir=data_dir,
        password_time_cost=1,
        password_memory_cost=1024,
        demo_residents=200,
        feed_max_bytes=256 * 1024,  # the feed route's own body limit, small enough for the size sweeps
        sweep_interval_seconds=0,
        log_interval_seconds=0,
        alarm_interval_seconds=0,
        checkin_maintenance_interval_seconds=0,
        **TEST_KEYS,
        **overrides,
    )


_migrated_schemas: set[str] = set()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str | None]]:
    """(URL, schema) of an isolated, migrated, empty database: each integration test runs on both."""
    if request.param == "sqlite":
        path = tmp_path / "civicpass.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}", None
        return
    schema = request.getfixturevalue("postgres_schema")
    if schema not in _migrated_schemas:
        container = build(_settings(POSTGRES_URL, tmp_path, schema))
        migrate(container)
        container.dispose()
        _migrated_schemas.add(schema)
    yield POSTGRES_URL, schema
    engine = make_engine(POSTGRES_URL, schema=schema)
    with engine.begin() as conn:
        kept = ("regions", "form_versions", "rule_sets")
        tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables if t.name not in kept)
        conn.execute(sa.text(f"TRUNCATE {tables} CASCADE"))
        # What migrate installs stays (bundled forms and rule set 1); what a test published goes.
        conn.execute(sa.text("DELETE FROM form_versions WHERE published_by IS NOT NULL"))
        conn.execute(sa.text("DELETE FROM rule_sets WHERE version > 1"))
        conn.execute(sa.text("UPDATE rule_sets SET state = 'active' WHERE version = 1"))
    engine.dispose()


@pytest.fixture
def messenger() -> MemoryMessenger:
    return MemoryMessenger()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def container(
    database_url: tuple[str, str | None], tmp_path: Path, messenger: MemoryMessenger, clock: FakeClock
) -> Iterator[Container]:
    url, schema = database_url
    wired = build(_settings(url, tmp_path, schema), messenger=messenger, clock=clock)
    yield wired
    wired.dispose()


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container=container)) as test_client:
        yield test_client


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say plainly how many tests ran on each database, so a skipped PostgreSQL half cannot hide."""
    counts: dict[str, dict[str, int]] = {"sqlite": {}, "postgres": {}}
    for outcome in ("passed", "failed", "skipped", "xfailed", "error"):
        for report in terminalreporter.stats.get(outcome, []):
            nodeid = getattr(report, "nodeid", "")
            if getattr(report, "when", "call") not in ("call", "setup") or (
                outcome == "passed" and report.when != "call"
            ):
                continue
            for database in counts:
                if f"[{database}" in nodeid or f"-{database}" in nodeid:
                    counts[database][outcome] = counts[database].get(outcome, 0) + 1
    for database, by_outcome in counts.items():
        summary = ", ".join(f"{n} {o}" for o, n in sorted(by_outcome.items())) or "none"
        terminalreporter.write_line(f"{database} database tests: {summary}")


@pytest.fixture
def cli_env(
    database_url: tuple[str, str | None], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    url, schema = database_url
    env = {
        "CIVICPASS_DATABASE_URL": url,
        "CIVICPASS_DATA_DIR": str(tmp_path),
        "CIVICPASS_PASSWORD_TIME_COST": "1",
        "CIVICPASS_PASSWORD_MEMORY_COST": "1024",
        **{f"CIVICPASS_{k.upper()}": v for k, v in TEST_KEYS.items()},
    }
    if schema:
        env["CIVICPASS_DATABASE_SCHEMA"] = schema
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return Settings()
