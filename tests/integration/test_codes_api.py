"""Health codes over HTTP, on SQLite and PostgreSQL: issue, print, verify offline and online, the trust list.

The ``clock`` fixture starts at 2022-05-03T08:00Z; codes live 120 s by default, offline codes 1 to 7 days.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from civicpass.adapters.crypto.signing import verify_document
from civicpass.adapters.messaging import MemoryMessenger
from civicpass.bootstrap import Container
from civicpass.domain.staff import Role
from tests.fakes import FakeClock
from tests.support import FEVER, enrol, resident_id_number, staff_headers

SVG = "{http://www.w3.org/2000/svg}"


def parse_svg(text: str) -> ET.Element:
    """Parse an SVG this instance rendered (our own output, so the stdlib parser is safe here)."""
    return ET.fromstring(text)  # noqa: S314 - parses our own rendering, not untrusted input


def my_code(client: TestClient, headers: dict[str, str]) -> dict[str, Any]:
    response = client.get("/v1/me/code", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def verify_offline(client: TestClient, token: str) -> dict[str, Any]:
    response = client.post("/v1/codes/verify", json={"token": token})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def verify_online(client: TestClient, headers: dict[str, str], token: str) -> dict[str, Any]:
    response = client.post("/v1/staff/verifications", headers=headers, json={"token": token})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def stranger(client: TestClient, messenger: MemoryMessenger) -> tuple[dict[str, Any], dict[str, str]]:
    return enrol(client, messenger, phone="13800138457", number=resident_id_number(serial="457"), name="李四")


def test_my_code_is_a_dynamic_120_second_token_that_verifies_with_high_assurance(
    client: TestClient, messenger: MemoryMessenger, clock: FakeClock
) -> None:
    _, headers = enrol(client, messenger)
    code = my_code(client, headers)
    assert code["token"].startswith("CP1:")
    assert (code["color"], code["kind"], code["status_version"]) == ("green", "dynamic", 1)
    issued_at, expires_at = (
        datetime.fromisoformat(code["issued_at"]),
        datetime.fromisoformat(code["expires_at"]),
    )
    assert issued_at == clock.now()
    assert expires_at - issued_at == timedelta(seconds=120)
    assert code["refresh_after_seconds"] == 90

    result = verify_offline(client, code["token"])
    assert (result["valid"], result["reasons"], result["color"]) == (True, [], "green")
    assert (result["kind"], result["assurance"]) == ("dynamic", "high")
    # The offline answer carries no personal data.
    assert "masked_name" not in result

    clock.advance(seconds=150)
    assert verify_offline(client, code["token"])["reasons"] == ["expired"]


def test_a_guardian_gets_a_proxy_code_for_a_dependent_and_a_stranger_gets_none(
    client: TestClient, messenger: MemoryMessenger
) -> None:
    me, headers = enrol(client, messenger)
    child = client.post(
        "/v1/me/dependents",
        headers=headers,
        json={"name": "张小宝", "birth_date": "2019-06-01", "relation": "parent"},
    ).json()
    response = client.get(f"/v1/me/dependents/{child['id']}/code", headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["kind"] == "proxy"
    assert verify_offline(client, response.json()["token"])["assurance"] == "medium"

    _, other = stranger(client, messenger)
    for path in (f"/v1/me/dependents/{child['id']}/code", f"/v1/me/dependents/{me['id']}/code"):
        refused = client.get(path, headers=other)
        assert refused.status_code == 403, refused.text
        assert refused.json()["reasons"] == ["not_guardian"]
    refused = client.get("/v1/me/code/offline", headers=other, params={"subject_id": me["id"]})
    assert refused.status_code == 403


def test_an_offline_code_prints_as_svg_and_pdf_and_verifies_with_low_assurance(
    client: TestClient, messenger: MemoryMessenger
) -> None:
    _, headers = enrol(client, messenger)
    as_json = client.get("/v1/me/code/offline", headers=headers, params={"format": "json", "days": 5})
    assert as_json.status_code == 200, as_json.text
    code = as_json.json()
    assert code["kind"] == "offline"
    lifetime = datetime.fromisoformat(code["expires_at"]) - datetime.fromisoformat(code["issued_at"])
    assert lifetime == timedelta(days=5)
    result = verify_offline(client, code["token"])
    assert (result["valid"], result["kind"], result["assurance"]) == (True, "offline", "low")

    svg = client.get("/v1/me/code/offline", headers=headers, params={"days": 7})
    assert svg.status_code == 200
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert svg.headers["cache-control"] == "no-store"
    texts = ["".join(t.itertext()) for t in parse_svg(svg.text).iter(SVG + "text")]
    assert "张*三" in texts
    assert "张小三" not in svg.text
    assert "绿码 / green" in texts
    assert "有效期至 valid until 2022-05-10 16:00" in texts  # 08:00Z + 7 days, in Shanghai time
    assert any("lower assurance" in t for t in texts)

    pdf = client.get("/v1/me/code/offline", headers=headers, params={"format": "pdf", "days": 1})
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-")

    default = client.get("/v1/me/code/offline", headers=headers, params={"format": "json"}).json()
    default_lifetime = datetime.fromisoformat(default["expires_at"]) - datetime.fromisoformat(
        default["issued_at"]
    )
    assert default_lifetime == timedelta(days=3)
    for days in (0, 8):
        assert client.get("/v1/me/code/offline", headers=headers, params={"days": days}).status_code == 422
    assert client.get("/v1/me/code/offline", headers=headers, params={"format": "png"}).status_code == 422


def test_the_trust_list_is_signed_and_lists_the_active_key_as_a_jwk(
    client: TestClient, messenger: MemoryMessenger
) -> None:
    _, headers = enrol(client, messenger)
    kid = verify_offline(client, my_code(client, headers)["token"])["kid"]
    response = client.get("/.well-known/civicpass/trust-list")
    assert response.status_code == 200
    signed = response.json()
    document = signed["trust_list"]
    assert verify_document(signed["public_key"], document, signed["signature"])
    assert not verify_document(
        signed["public_key"], {**document, "version": document["version"] + 1}, signed["signature"]
    )
    (issuer,) = document["issuers"]
    assert issuer["colors"] == {"green": "green", "yellow": "yellow", "red": "red"}
    (key,) = issuer["keys"]
    assert (key["kid"], key["kty"], key["crv"], key["alg"], key["status"]) == (
        kid,
        "OKP",
        "Ed25519",
        "EdDSA",
        "active",
    )
    assert set(key) >= {"x", "not_before", "not_after"}
    expiry = datetime.fromisoformat(document["expires_at"]) - datetime.fromisoformat(document["issued_at"])
    assert expiry == timedelta(hours=24)
    assert document["version"] >= 1


def test_a_checkpoint_operator_sees_the_masked_name_and_the_read_is_in_the_access_log(
    client: TestClient, messenger: MemoryMessenger, container: Container
) -> None:
    me, headers = enrol(client, messenger)
    token = my_code(client, headers)["token"]
    checkpoint = staff_headers(client, container, Role.CHECKPOINT_OPERATOR)
    result = verify_online(client, checkpoint, token)
    assert (result["valid"], result["assurance"], result["masked_name"]) == (True, "high", "张*三")
    assert (result["current_color"], result["status_changed_since_issue"]) == ("green", False)

    auditor = staff_headers(client, container, Role.AUDITOR)
    log = client.get("/v1/staff/access-log", headers=auditor, params={"resident_id": me["id"]})
    assert log.status_code == 200, log.text
    (entry,) = log.json()
    assert (entry["action"], entry["purpose"]["code"]) == ("code:verify_online", "code_verification")
    assert entry["fields"] == ["masked_name", "status"]


def test_a_status_change_after_issue_wins_online_while_offline_still_reads_the_code(
    client: TestClient, messenger: MemoryMessenger, container: Container, clock: FakeClock
) -> None:
    _, headers = enrol(client, messenger)
    token = my_code(client, headers)["token"]
    clock.advance(seconds=10)
    declared = client.post(
        "/v1/me/declarations", headers=headers, json={"form_key": "health", "answers": FEVER}
    )
    assert declared.status_code == 201, declared.text
    checkpoint = staff_headers(client, container, Role.CHECKPOINT_OPERATOR)
    online = verify_online(client, checkpoint, token)
    assert online["valid"]
    assert (online["color"], online["current_color"], online["status_changed_since_issue"]) == (
        "yellow",
        "yellow",
        True,
    )
    assert online["status_version"] == 1  # what the code says; the answer's color is the current one
    offline = verify_offline(client, token)
    assert (offline["valid"], offline["color"]) == (True, "green")
    assert my_code(client, headers)["color"] == "yellow"


def test_residents_and_roles_without_the_permission_cannot_verify_online(
    client: TestClient, messenger: MemoryMessenger, container: Container
) -> None:
    _, headers = enrol(client, messenger)
    token = my_code(client, headers)["token"]
    as_resident = client.post("/v1/staff/verifications", headers=headers, json={"token": token})
    assert as_resident.status_code == 403, as_resident.text
    assert as_resident.json()["reason"] == "staff_only"
    lab = staff_headers(client, container, Role.LAB)
    as_lab = client.post("/v1/staff/verifications", headers=lab, json={"token": token})
    assert as_lab.status_code == 403
    assert as_lab.json()["reasons"] == ["role_not_permitted"]
    anonymous = client.post("/v1/staff/verifications", json={"token": token})
    assert anonymous.status_code == 401


def test_the_qr_svg_renders_a_code_and_refuses_other_text(
    client: TestClient, messenger: MemoryMessenger
) -> None:
    _, headers = enrol(client, messenger)
    token = my_code(client, headers)["token"]
    response = client.get("/v1/codes/qr.svg", params={"token": token})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert parse_svg(response.text).tag == SVG + "svg"
    for text in ("hello world, this is no code", "CP1:lowercase-is-not-base45", "XX1:ABCDEFGH"):
        assert client.get("/v1/codes/qr.svg", params={"token": text}).status_code == 422
