"""Codes from the command line, on both databases: issue, export the trust list, verify offline, keys.

``civicpass verify`` needs nothing but a token and a trust-list file; the other commands work on the
database and keystore the ``cli_env`` settings point at. The CLI runs on the real clock.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from civicpass.bootstrap import build
from civicpass.cli import app
from civicpass.domain.trustlist import KeyStatus, TrustList
from civicpass.settings import Settings


def invoke(*args: str, code: int = 0) -> Result:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result


def verified(token: str, trust_list: Path, *extra: str, code: int = 0) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(
        invoke("verify", token, "--trust-list", str(trust_list), *extra, code=code).stdout
    )
    return body


@pytest.fixture
def resident_id(cli_env: Settings) -> str:
    invoke("seed-demo", "--residents", "20")
    container = build(cli_env)
    try:
        with container.deps.uow() as uow:
            (first,) = uow.residents.ids_after("", 1)
    finally:
        container.dispose()
    return first


def issue(resident_id: str, *extra: str) -> str:
    token = invoke("codes", "issue", resident_id, *extra).stdout.strip()
    assert token.startswith("CP1:")
    return token


def export(path: Path) -> Path:
    assert "written to" in invoke("trust-list", "export", str(path)).output
    return path


def test_an_issued_code_verifies_offline_against_an_exported_trust_list(
    resident_id: str, tmp_path: Path
) -> None:
    token = issue(resident_id)
    trust_list = export(tmp_path / "trust-list.json")
    result = verified(token, trust_list)
    assert (result["valid"], result["reasons"], result["kind"], result["assurance"]) == (
        True,
        [],
        "dynamic",
        "high",
    )
    assert result["color"] in ("green", "yellow", "red")
    assert result["trust_list_signer_pinned"] is False
    signed = json.loads(trust_list.read_text(encoding="utf-8"))
    assert TrustList.from_document(signed["trust_list"]).key(result["kid"]) is not None

    later = datetime.fromisoformat(result["expires_at"]) + timedelta(minutes=5)
    expired = verified(token, trust_list, "--at", later.isoformat(), code=1)
    assert (expired["valid"], expired["reasons"]) == (False, ["expired"])
    assert expired["verified_at"] == later.isoformat()


def test_an_offline_code_from_the_cli_is_low_assurance(resident_id: str, tmp_path: Path) -> None:
    token = issue(resident_id, "--offline-days", "7")
    result = verified(token, export(tmp_path / "tl.json"))
    assert (result["valid"], result["kind"], result["assurance"]) == (True, "offline", "low")
    lifetime = datetime.fromisoformat(result["expires_at"]) - datetime.fromisoformat(result["issued_at"])
    assert lifetime == timedelta(days=7)
    invoke("codes", "issue", resident_id, "--offline-days", "8", code=2)


def test_a_tampered_trust_list_or_a_wrong_pinned_signer_is_trust_list_invalid(
    resident_id: str, tmp_path: Path
) -> None:
    token = issue(resident_id)
    trust_list = export(tmp_path / "trust-list.json")
    signed = json.loads(trust_list.read_text(encoding="utf-8"))

    pinned = verified(token, trust_list, "--signer-key", signed["public_key"])
    assert (pinned["valid"], pinned["trust_list_signer_pinned"]) == (True, True)

    tampered = json.loads(json.dumps(signed))
    tampered["trust_list"]["expires_at"] = "2099-01-01T00:00:00+00:00"
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(tampered), encoding="utf-8")
    assert verified(token, forged, code=1)["reasons"] == ["trust_list_invalid"]

    stranger_key = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
    wrong = verified(token, trust_list, "--signer-key", stranger_key, code=1)
    assert (wrong["reasons"], wrong["trust_list_signer_pinned"]) == (["trust_list_invalid"], True)


def test_rotating_leaves_one_active_and_one_retired_key_and_both_verify(
    resident_id: str, cli_env: Settings, tmp_path: Path
) -> None:
    before = issue(resident_id)
    old_kid = verified(before, export(tmp_path / "a.json"))["kid"]
    rotated = invoke("keys", "rotate").output
    assert "new active key" in rotated
    assert "(EdDSA)" in rotated

    listing = invoke("keys", "list").output
    assert listing.count("active") == 1
    assert listing.count("retired") == 1
    container = build(cli_env)
    try:
        keys = {k.kid: k.status for k in container.deps.keystore.issuer_keys()}
    finally:
        container.dispose()
    assert sorted(keys.values()) == [KeyStatus.ACTIVE, KeyStatus.RETIRED]
    assert keys[old_kid] is KeyStatus.RETIRED
    assert old_kid in listing

    after = issue(resident_id)
    trust_list = export(tmp_path / "b.json")
    new = verified(after, trust_list)
    assert new["kid"] != old_kid
    assert keys[new["kid"]] is KeyStatus.ACTIVE
    assert verified(before, trust_list)["kid"] == old_kid

    invoke("keys", "rotate", "--alg", "RS256", code=2)


def test_a_revoked_key_is_refused_by_a_freshly_exported_trust_list(resident_id: str, tmp_path: Path) -> None:
    token = issue(resident_id, "--offline-days", "3")
    cached = export(tmp_path / "before.json")
    kid = verified(token, cached)["kid"]

    assert f"key {kid} revoked" in invoke("keys", "revoke", kid).output
    # An offline verifier on the list it fetched earlier does not know yet ...
    assert verified(token, cached)["valid"] is True
    # ... a fresh list tells it.
    refused = verified(token, export(tmp_path / "after.json"), code=1)
    assert (refused["reasons"], refused["kid"]) == (["revoked_key"], kid)

    again = invoke("keys", "revoke", kid, code=5)
    assert "key_already_revoked" in again.output
    assert "key_not_found" in invoke("keys", "revoke", "00" * 8, code=4).output
    # A new key signs the next code.
    assert verified(issue(resident_id), export(tmp_path / "later.json"))["kid"] != kid
