"""The civicpass command line on both databases: migrate, seed-demo, create-staff, regions load."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from civicpass.adapters.db import tables as t
from civicpass.cli import app
from civicpass.settings import Settings


def _count(settings: Settings, table: sa.Table) -> int:
    from civicpass.adapters.db.engine import make_engine

    engine = make_engine(settings.database_url, schema=settings.database_schema)
    with engine.connect() as conn:
        count = int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
    engine.dispose()
    return count


def test_migrate_and_seed_demo_are_idempotent(cli_env: Settings) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    first = runner.invoke(app, ["seed-demo", "--residents", "150"])
    assert first.exit_code == 0, first.output
    assert "demo city created: 150 residents" in first.output
    assert "demo-auditor" in first.output
    second = runner.invoke(app, ["seed-demo", "--residents", "150"])
    assert "already present" in second.output
    assert _count(cli_env, t.residents) == 150
    assert _count(cli_env, t.staff) == 7
    assert _count(cli_env, t.guardianships) > 0


def test_create_staff_takes_the_password_from_the_environment_and_refuses_bad_input(
    cli_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    monkeypatch.setenv("CIVICPASS_NEW_STAFF_PASSWORD", "a long enough password")
    made = runner.invoke(app, ["create-staff", "alice", "--role", "cdc", "--jurisdiction", "440100"])
    assert made.exit_code == 0, made.output
    assert "created alice (cdc, jurisdiction 440100)" in made.output
    again = runner.invoke(app, ["create-staff", "alice", "--role", "cdc", "--jurisdiction", "440100"])
    assert again.exit_code == 5
    assert "username_taken" in again.output
    bad = runner.invoke(app, ["create-staff", "bob", "--role", "cdc", "--jurisdiction", "44"])
    assert bad.exit_code == 2
    assert "region_code_invalid" in bad.output


def test_regions_load_adds_a_fuller_list(cli_env: Settings, tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    before = _count(cli_env, t.regions)
    extra = tmp_path / "counties.csv"
    extra.write_text(
        "code,parent,level,name_zh,name_en\n"
        "130102,130100,district,长安区,Chang'an District\n"
        "130104,130100,district,桥西区,Qiaoxi District\n",
        encoding="utf-8",
    )
    loaded = runner.invoke(app, ["regions", "load", str(extra)])
    assert loaded.exit_code == 0, loaded.output
    assert "2 regions added or changed" in loaded.output
    assert _count(cli_env, t.regions) == before + 2
    assert "0 regions added or changed" in runner.invoke(app, ["regions", "load", str(extra)]).output


def test_production_refuses_placeholder_secrets(cli_env: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIVICPASS_ENVIRONMENT", "production")
    monkeypatch.setenv("CIVICPASS_BLIND_INDEX_KEY", "changeme-changeme-changeme-changeme")
    refused = CliRunner().invoke(app, ["migrate"])
    assert refused.exit_code == 2
    assert "placeholder" in refused.output


def test_simulate_generates_a_city_with_check_ins_and_open_cases_beside_the_demo_city(
    cli_env: Settings,
) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["seed-demo", "--residents", "150"]).exit_code == 0
    args = ["simulate", "--residents", "300", "--venues", "20", "--days", "3", "--outbreaks", "2"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "simulated 300 residents, 20 venues" in result.output
    assert "2 cases opened" in result.output
    assert _count(cli_env, t.residents) == 450  # the demo city's people and the simulation's, no clash
    assert _count(cli_env, t.cases) == 2
    checkins = _count(cli_env, t.checkins)
    assert 300 * 3 * 0.8 < checkins < 300 * 3 * 1.5 + 20
    again = runner.invoke(app, [*args, "--seed", "5"])  # a second run adds its own people
    assert again.exit_code == 0, again.output
    assert _count(cli_env, t.residents) == 750


def test_feeds_add_source_and_import_a_signed_file(cli_env: Settings, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from civicpass.adapters.crypto import b64url
    from civicpass.domain.feeds import signing_input

    runner = CliRunner()
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    key = Ed25519PrivateKey.generate()
    public = b64url.encode(
        key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )
    made = runner.invoke(app, ["feeds", "add-source", "Lab B", "--kind", "lab", "--public-key", public])
    assert made.exit_code == 0, made.output
    source = made.output.split()[1]
    body = b"record_id,kind,document_type,document_number\nx1,test_result,passport,E12345\n"
    path = tmp_path / "batch.csv"
    path.write_bytes(body)
    signature = b64url.encode(key.sign(signing_input(source, "file-1", "csv", body)))
    args = [
        "feeds",
        "import",
        str(path),
        "--source",
        source,
        "--batch-id",
        "file-1",
        "--signature",
        signature,
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert '"rejected": 1' in result.output  # no test, result or sampling time: reported by line
    forged = runner.invoke(app, [*args[:-1], b64url.encode(b"\x00" * 64)])
    assert forged.exit_code != 0
    assert "feed_signature_invalid" in forged.output
    bad = runner.invoke(app, ["feeds", "add-source", "Lab C", "--kind", "oracle", "--public-key", public])
    assert bad.exit_code != 0
