"""Staff sign-in, roles and jurisdictions, purpose-bound look-ups and the access log."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from civicpass.adapters.messaging import MemoryMessenger
from civicpass.bootstrap import Container
from civicpass.domain.policy import PERMISSIONS, Action
from civicpass.domain.staff import Role
from tests.support import enrol, resident_id_number, staff_headers

LOOKUP = {
    "document": {"type": "resident_id", "number": resident_id_number()},
    "purpose": {"code": "quarantine_check", "text": "home quarantine check, day 3"},
}


def test_staff_sign_in_gives_a_token_and_a_strict_secure_cookie(
    client: TestClient, container: Container
) -> None:
    staff_headers(client, container, Role.AUDITOR, username="auditor-1")
    response = client.post(
        "/v1/staff/sessions", json={"username": "auditor-1", "password": "correct horse battery staple"}
    )
    assert response.status_code == 200
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "Secure" in cookie
    assert "SameSite=strict" in cookie
    wrong = client.post("/v1/staff/sessions", json={"username": "auditor-1", "password": "not the password"})
    assert wrong.status_code == 401
    assert wrong.json()["reason"] == "credentials_invalid"
    nobody = client.post("/v1/staff/sessions", json={"username": "nobody", "password": "not the password"})
    assert nobody.json()["reason"] == "credentials_invalid"


def test_cookie_session_refuses_cross_site_writes(client: TestClient, container: Container) -> None:
    staff_headers(client, container, Role.ADMIN, username="admin-cookie")
    login = client.post(
        "/v1/staff/sessions", json={"username": "admin-cookie", "password": "correct horse battery staple"}
    )
    cookies = {"civicpass_staff": login.json()["access_token"]}
    new_account = {
        "username": "cw-9",
        "password": "long enough password",
        "role": "community_worker",
        "jurisdiction": "440106",
    }
    client.cookies.update(cookies)
    cross = client.post("/v1/staff/accounts", json=new_account, headers={"Origin": "https://evil.example"})
    assert cross.status_code == 403
    assert cross.json()["reason"] == "cross_site_request"
    same = client.post("/v1/staff/accounts", json=new_account, headers={"Origin": "http://testserver"})
    assert same.status_code == 201, same.text
    client.cookies.clear()


def test_lookup_by_document_needs_a_purpose_and_writes_an_access_record(
    client: TestClient, messenger: MemoryMessenger, container: Container
) -> None:
    resident, _ = enrol(client, messenger)
    worker = staff_headers(client, container, Role.COMMUNITY_WORKER, "440106")
    no_purpose = client.post(
        "/v1/staff/resident-lookups",
        headers=worker,
        json={**LOOKUP, "purpose": {"code": "follow_up", "text": ""}},
    )
    assert no_purpose.status_code == 422
    assert no_purpose.json()["reason"] == "purpose_required"

    found = client.post("/v1/staff/resident-lookups", headers=worker, json=LOOKUP)
    assert found.status_code == 200
    assert found.json()["id"] == resident["id"]
    assert found.json()["phone"] == "+8613800138000"

    auditor = staff_headers(client, container, Role.AUDITOR)
    log = client.get("/v1/staff/access-log", headers=auditor, params={"resident_id": resident["id"]}).json()
    assert len(log) == 1
    assert log[0]["purpose"] == {"code": "quarantine_check", "text": "home quarantine check, day 3"}
    assert log[0]["action"] == "resident:pii:read"
    assert set(log[0]["fields"]) == {"name", "document", "phone", "address"}


def test_lookup_outside_the_jurisdiction_is_denied_and_not_logged(
    client: TestClient, messenger: MemoryMessenger, container: Container
) -> None:
    enrol(client, messenger, region_code="440106")
    elsewhere = staff_headers(client, container, Role.COMMUNITY_WORKER, "440103")
    other_city = staff_headers(client, container, Role.CDC, "440300")
    for headers in (elsewhere, other_city):
        denied = client.post("/v1/staff/resident-lookups", headers=headers, json=LOOKUP)
        assert denied.status_code == 403
        assert denied.json()["reasons"] == ["outside_jurisdiction"]
    auditor = staff_headers(client, container, Role.AUDITOR)
    assert client.get("/v1/staff/access-log", headers=auditor).json() == []


@pytest.mark.parametrize("role", [r for r in Role if r not in PERMISSIONS[Action.RESIDENT_PII_READ]])
def test_roles_without_pii_access_cannot_look_up_residents(
    client: TestClient, messenger: MemoryMessenger, container: Container, role: Role
) -> None:
    enrol(client, messenger)
    headers = staff_headers(client, container, role)
    denied = client.post("/v1/staff/resident-lookups", headers=headers, json=LOOKUP)
    assert denied.status_code == 403
    assert denied.json()["reasons"] == ["role_not_permitted"]


def test_residents_cannot_use_staff_routes_and_staff_cannot_use_resident_routes(
    client: TestClient, messenger: MemoryMessenger, container: Container
) -> None:
    _, resident = enrol(client, messenger)
    assert (
        client.post("/v1/staff/resident-lookups", headers=resident, json=LOOKUP).json()["reason"]
        == "staff_only"
    )
    admin = staff_headers(client, container, Role.ADMIN)
    assert client.get("/v1/me", headers=admin).json()["reason"] == "residents_only"
    assert client.get("/v1/me").status_code == 401


def test_listings_show_masked_names_and_documents_inside_the_jurisdiction(
    client: TestClient, messenger: MemoryMessenger, container: Container
) -> None:
    enrol(client, messenger, name="张小三")
    worker = staff_headers(client, container, Role.COMMUNITY_WORKER, "440106")
    listed = client.get("/v1/staff/residents", headers=worker, params={"region_code": "440106"}).json()
    assert listed == [
        {
            "id": listed[0]["id"],
            "kind": "self",
            "name": "张*三",
            "document": {"type": "resident_id", "number": "4401**********" + resident_id_number()[-4:]},
            "phone": "138****8000",
            "region_code": "440106",
        }
    ]
    denied = client.get("/v1/staff/residents", headers=worker, params={"region_code": "440100"})
    assert denied.json()["reasons"] == ["outside_jurisdiction"]


def test_admin_creates_accounts_only_inside_own_jurisdiction(
    client: TestClient, container: Container
) -> None:
    admin = staff_headers(client, container, Role.ADMIN, "440100")
    inside = {
        "username": "cw-tianhe",
        "password": "long enough password",
        "role": "community_worker",
        "jurisdiction": "440106",
    }
    assert client.post("/v1/staff/accounts", headers=admin, json=inside).status_code == 201
    outside = {**inside, "username": "cw-shenzhen", "jurisdiction": "440300"}
    denied = client.post("/v1/staff/accounts", headers=admin, json=outside)
    assert denied.status_code == 403
    assert denied.json()["reasons"] == ["outside_jurisdiction"]
    worker = staff_headers(client, container, Role.COMMUNITY_WORKER, "440100")
    assert client.post("/v1/staff/accounts", headers=worker, json={**inside, "username": "x-1"}).json()[
        "reasons"
    ] == ["role_not_permitted"]
    short = client.post(
        "/v1/staff/accounts", headers=admin, json={**inside, "username": "cw-2", "password": "short"}
    )
    assert short.json()["reason"] == "password_too_short"


def test_only_auditors_read_the_access_log(client: TestClient, container: Container) -> None:
    for role in Role:
        headers = staff_headers(client, container, role)
        response = client.get("/v1/staff/access-log", headers=headers)
        if role is Role.AUDITOR:
            assert response.status_code == 200
        else:
            assert response.status_code == 403
            assert response.json()["reasons"] == ["role_not_permitted"]


def test_regions_api_lists_provinces_and_children(client: TestClient) -> None:
    provinces = client.get("/v1/regions").json()
    assert len(provinces) == 34
    guangdong = client.get("/v1/regions/440000").json()
    assert guangdong["name_zh"] == "广东省"
    assert len(guangdong["children"]) == 21
    assert client.get("/v1/regions/999999").json()["reason"] == "region_not_found"
