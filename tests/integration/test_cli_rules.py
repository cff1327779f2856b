"""Rule sets and statuses from the command line, with dual control kept (each actor gives their password)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from civicpass.adapters.crypto.signing import verify_document
from civicpass.cli import app
from civicpass.settings import Settings

PASSWORDS = {"cdc-a": "first cdc password", "cdc-b": "second cdc password", "lab-a": "lab member password"}


@pytest.fixture
def runner(cli_env: Settings, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    cli = CliRunner()
    assert cli.invoke(app, ["seed-demo", "--residents", "120"]).exit_code == 0
    for username, role in (("cdc-a", "cdc"), ("cdc-b", "cdc"), ("lab-a", "lab")):
        monkeypatch.setenv("CIVICPASS_NEW_STAFF_PASSWORD", PASSWORDS[username])
        made = cli.invoke(app, ["create-staff", username, "--role", role, "--jurisdiction", "440100"])
        assert made.exit_code == 0, made.output
    return cli


def _as(runner: CliRunner, username: str, *args: str) -> tuple[int, str]:
    result = runner.invoke(
        app, [*args, "--as", username], env={"CIVICPASS_STAFF_PASSWORD": PASSWORDS[username]}
    )
    return result.exit_code, result.output


def test_exported_rule_set_verifies_with_its_public_key(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "active.json"
    assert runner.invoke(app, ["rules", "export", str(out)]).exit_code == 0
    exported = json.loads(out.read_text(encoding="utf-8"))
    assert exported["signed"]["version"] == 1
    assert verify_document(exported["public_key"], exported["signed"], exported["signature"])
    exported["signed"]["document"]["parameters"]["fever_celsius"] = 39.0
    assert not verify_document(exported["public_key"], exported["signed"], exported["signature"])


def test_a_proposal_needs_a_second_authorised_member_and_activation_recomputes_everyone(
    runner: CliRunner, tmp_path: Path
) -> None:
    out = tmp_path / "active.json"
    runner.invoke(app, ["rules", "export", str(out)])
    document = json.loads(out.read_text(encoding="utf-8"))["signed"]["document"]
    document["parameters"]["yellow_release"] = "checkins"
    proposal = tmp_path / "proposal.json"
    proposal.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")

    code, output = _as(runner, "lab-a", "rules", "propose", str(proposal))
    assert (code, "role_not_permitted" in output) == (3, True)
    code, output = _as(runner, "cdc-a", "rules", "propose", str(proposal))
    assert code == 0, output
    assert "proposed rule set version 2" in output
    code, output = _as(runner, "cdc-a", "rules", "approve", "2")
    assert code == 3
    assert "own_proposal" in output
    wrong = runner.invoke(
        app, ["rules", "approve", "2", "--as", "cdc-b"], env={"CIVICPASS_STAFF_PASSWORD": "not it"}
    )
    assert wrong.exit_code == 3
    assert "credentials_invalid" in wrong.output
    code, output = _as(runner, "cdc-b", "rules", "approve", "2")
    assert code == 0, output
    assert "rule set version 2 is active; 120 residents re-evaluated" in output
    listing = runner.invoke(app, ["rules", "list"]).output
    assert "superseded" in listing
    assert "active" in listing


def test_status_recompute_and_sweep_cover_every_resident(runner: CliRunner) -> None:
    recomputed = runner.invoke(app, ["status", "recompute"])
    assert recomputed.exit_code == 0
    assert "120 residents re-evaluated" in recomputed.output
    swept = runner.invoke(app, ["status", "sweep"])
    assert swept.exit_code == 0
    assert "0 statuses reviewed" in swept.output
