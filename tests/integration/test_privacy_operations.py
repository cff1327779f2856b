"""Privacy operations on both databases: retention purges per data class (logged), a resident's export of
everything held about them, and the end-of-epidemic shutdown (no personal data left, the log verifies)."""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from civicpass.adapters.db import tables as t
from civicpass.adapters.messaging import MemoryMessenger
from civicpass.adapters.secrets import destroy_dev_pii_keys, load_or_create_dev_secrets
from civicpass.bootstrap import Container, build
from civicpass.cli import app
from civicpass.services import privacy
from civicpass.services.simulation import Plan, simulate
from civicpass.settings import Settings
from tests.fakes import FakeClock
from tests.support import FEVER, enrol, resident_id_number


def _count(container: Container, table: sa.Table) -> int:
    with container.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def test_declarations_past_retention_are_purged_and_the_purge_is_logged(
    client: TestClient, container: Container, messenger: MemoryMessenger, clock: FakeClock
) -> None:
    _, me = enrol(client, messenger)
    assert (
        client.post(
            "/v1/me/declarations", headers=me, json={"form_key": "health", "answers": FEVER}
        ).status_code
        == 201
    )
    assert privacy.purge(container.deps)["declarations"] == 0
    clock.advance(days=31)
    assert privacy.purge(container.deps)["declarations"] == 1
    assert _count(container, t.declarations) == 0
    with container.deps.uow() as uow:
        purged = [e for e in uow.events.after(0, 10_000) if e.name == "retention:declarations:purged"]
    assert [e.payload["rows"] for e in purged] == [0, 1]


def test_a_resident_downloads_everything_held_about_them(
    client: TestClient, container: Container, messenger: MemoryMessenger
) -> None:
    resident, me = enrol(client, messenger, name="李四")
    assert (
        client.post(
            "/v1/me/declarations", headers=me, json={"form_key": "health", "answers": FEVER}
        ).status_code
        == 201
    )
    assert client.get("/v1/me/status", headers=me).status_code == 200
    exported = client.get("/v1/me/export", headers=me)
    assert exported.status_code == 200
    body = exported.json()
    assert body["resident"]["pii"]["name"] == "李四"
    assert body["resident"]["id"] == resident["id"]
    assert [d["form_key"] for d in body["declarations"]] == ["health"]
    assert body["status"]["color"] == "yellow"
    assert {f["kind"] for f in body["facts"]} == {"health_declaration"}
    other, _ = enrol(
        client, messenger, phone="13900139000", name="王五", number=resident_id_number(serial="456")
    )
    assert client.get("/v1/me/export", headers=me, params={"subject_id": other["id"]}).status_code == 403


def test_shutdown_keeps_statistics_deletes_personal_data_and_the_log_still_verifies(
    cli_env: Settings, tmp_path: Path
) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    container = build(cli_env)
    simulate(container.deps, Plan(residents=200, venues=10, days=2, outbreaks=1))
    assert _count(container, t.residents) == 200
    stats_file = tmp_path / "stats.json"
    refused = runner.invoke(app, ["shutdown-epidemic", "--out", str(stats_file)])
    assert refused.exit_code == 2  # not without --yes
    done = runner.invoke(app, ["shutdown-epidemic", "--out", str(stats_file), "--yes"])
    assert done.exit_code == 0, done.output
    stats = json.loads(stats_file.read_text())
    assert stats["residents"] == 200
    assert stats["checkins_by_day"]
    for table in (
        t.residents,
        t.checkins,
        t.facts,
        t.statuses,
        t.status_history,
        t.cases,
        t.access_log,
        t.declarations,
    ):
        assert _count(container, table) == 0, table.name
    out = tmp_path / "log"
    assert runner.invoke(app, ["audit", "export", str(out)]).exit_code == 0
    verified = runner.invoke(app, ["audit", "verify", "--log", str(out), "--leaves"])
    assert verified.exit_code == 0, verified.output
    last = json.loads((out / "leaves.jsonl").read_text().splitlines()[-1])
    assert last["name"] == "privacy:instance:shutdown"
    assert json.loads(last["canonical"])["data"]["deleted"]["residents"] == 200
    container.dispose()


def test_development_pii_keys_are_destroyed_where_they_are_held(tmp_path: Path) -> None:
    assert not destroy_dev_pii_keys(tmp_path)  # nothing held here
    before = load_or_create_dev_secrets(tmp_path)
    assert destroy_dev_pii_keys(tmp_path)
    stored = json.loads((tmp_path / "secrets.json").read_text())
    assert "pii_keys" not in stored
    assert stored["signing_key"] == before["signing_key"]  # the log's key survives: it must still verify
    assert load_or_create_dev_secrets(tmp_path)["pii_keys"] != before["pii_keys"]
