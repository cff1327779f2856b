"""Enrolment, sign-in and dependents through the HTTP API, on SQLite and PostgreSQL."""

from __future__ import annotations

from fastapi.testclient import TestClient

from civicpass.adapters.messaging import MemoryMessenger
from tests.fakes import FakeClock
from tests.support import enrol, resident_id_number, verify_phone


def test_resident_enrols_with_verified_phone_and_sees_own_record(
    client: TestClient, messenger: MemoryMessenger
) -> None:
    resident, headers = enrol(client, messenger)
    me = client.get("/v1/me", headers=headers)
    assert me.status_code == 200
    body = me.json()
    assert body["id"] == resident["id"]
    assert body["name"] == "张小三"
    assert body["phone"] == "+8613800138000"
    assert body["birth_date"] == "1980-01-01"
    assert body["dependents"] == []


def test_lower_case_x_is_accepted_and_stored_upper_case(
    client: TestClient, messenger: MemoryMessenger
) -> None:
    number = "11010519491231002X"
    resident, _ = enrol(client, messenger, number=number.lower())
    assert resident["document"]["number"] == number


def test_enrolment_with_a_wrong_check_digit_is_refused_with_its_reason(
    client: TestClient, messenger: MemoryMessenger
) -> None:
    token = verify_phone(client, messenger, "13800138001")
    good = resident_id_number()
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    response = client.post(
        "/v1/residents",
        json={
            "verification_token": token,
            "name": "李四",
            "document": {"type": "resident_id", "number": bad},
            "region_code": "440106",
        },
        headers={"Accept-Language": "zh-CN"},
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["reason"] == "resident_id_check_digit"
    assert body["detail"] == "居民身份证号码校验位不正确"
    assert body["errors"][0]["path"] == "/document/number"


def test_each_document_type_can_enrol(client: TestClient, messenger: MemoryMessenger) -> None:
    documents = [
        {"type": "hk_macao_permit", "number": "H12345678"},
        {"type": "taiwan_permit", "number": "12345678"},
        {"type": "passport", "number": "E12345678", "nationality": "gbr"},
        {"type": "foreign_permanent_residence", "number": "USA440106000001"},
    ]
    for i, document in enumerate(documents):
        token = verify_phone(client, messenger, f"1390000000{i}")
        response = client.post(
            "/v1/residents",
            json={
                "verification_token": token,
                "name": "Test Person",
                "document": document,
                "region_code": "440106",
                "birth_date": "1990-01-01",
            },
        )
        assert response.status_code == 201, response.text
        assert response.json()["resident"]["document"]["type"] == document["type"]


def test_self_enrolment_without_a_document_is_refused(client: TestClient, messenger: MemoryMessenger) -> None:
    token = verify_phone(client, messenger, "13800138002")
    response = client.post(
        "/v1/residents",
        json={
            "verification_token": token,
            "name": "王五",
            "document": {"type": "none"},
            "region_code": "440106",
            "birth_date": "1990-01-01",
        },
    )
    assert response.status_code == 422
    assert response.json()["reason"] == "document_required"


def test_verification_token_works_once(client: TestClient, messenger: MemoryMessenger) -> None:
    token = verify_phone(client, messenger, "13800138003")
    body = {
        "verification_token": token,
        "name": "赵六",
        "document": {"type": "resident_id", "number": resident_id_number(serial="777")},
        "region_code": "440106",
    }
    assert client.post("/v1/residents", json=body).status_code == 201
    again = client.post("/v1/sessions", json={"verification_token": token})
    assert again.status_code == 410
    assert again.json()["reason"] == "verification_used"


def test_same_document_cannot_enrol_twice(client: TestClient, messenger: MemoryMessenger) -> None:
    enrol(client, messenger, phone="13800138004")
    token = verify_phone(client, messenger, "13800138005")
    response = client.post(
        "/v1/residents",
        json={
            "verification_token": token,
            "name": "冒名",
            "document": {"type": "resident_id", "number": resident_id_number()},
            "region_code": "440106",
        },
    )
    assert response.status_code == 409
    assert response.json()["reason"] == "document_already_enrolled"


def test_wrong_codes_are_limited_and_codes_expire(
    client: TestClient, messenger: MemoryMessenger, clock: FakeClock
) -> None:
    started = client.post("/v1/phone-verifications", json={"phone": "13800138006"}).json()
    for left in (4, 3, 2, 1, 0):
        wrong = client.post(f"/v1/phone-verifications/{started['id']}/confirm", json={"code": "000000"})
        assert wrong.status_code == 401
        assert wrong.json()["attempts_left"] == left
    locked = client.post(f"/v1/phone-verifications/{started['id']}/confirm", json={"code": "000000"})
    assert locked.status_code == 429
    assert locked.json()["reason"] == "otp_attempts_exceeded"

    second = client.post("/v1/phone-verifications", json={"phone": "13800138007"}).json()
    clock.advance(minutes=6)
    expired = client.post(f"/v1/phone-verifications/{second['id']}/confirm", json={"code": "123456"})
    assert expired.status_code == 410
    assert expired.json()["reason"] == "otp_expired"


def test_codes_per_phone_are_rate_limited(client: TestClient) -> None:
    for _ in range(5):
        assert client.post("/v1/phone-verifications", json={"phone": "13800138008"}).status_code == 201
    limited = client.post("/v1/phone-verifications", json={"phone": "+86 138 0013 8008"})
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "3600"


def test_resident_signs_in_again_and_signs_out(client: TestClient, messenger: MemoryMessenger) -> None:
    enrol(client, messenger, phone="13800138010")
    token = verify_phone(client, messenger, "13800138010")
    signed = client.post("/v1/sessions", json={"verification_token": token})
    assert signed.status_code == 200
    headers = {"Authorization": f"Bearer {signed.json()['access_token']}"}
    assert client.get("/v1/me", headers=headers).status_code == 200
    assert client.delete("/v1/sessions/current", headers=headers).status_code == 204
    after = client.get("/v1/me", headers=headers)
    assert after.status_code == 401
    assert after.json()["reason"] == "token_invalid"


def test_guardian_manages_dependents_and_a_second_guardian_can_join(
    client: TestClient, messenger: MemoryMessenger
) -> None:
    _, mother = enrol(
        client, messenger, phone="13800138011", number=resident_id_number(serial="101"), name="林母"
    )
    father, father_headers = enrol(
        client, messenger, phone="13800138012", number=resident_id_number(serial="102"), name="林父"
    )
    child = client.post(
        "/v1/me/dependents",
        headers=mother,
        json={"name": "林小宝", "birth_date": "2019-06-01", "relation": "parent"},
    )
    assert child.status_code == 201, child.text
    child_id = child.json()["id"]
    assert child.json()["kind"] == "dependent"

    joined = client.post(
        f"/v1/me/dependents/{child_id}/guardians",
        headers=mother,
        json={"phone": "13800138012", "relation": "parent"},
    )
    assert joined.status_code == 201
    assert joined.json()["guardian_id"] == father["id"]
    assert [d["id"] for d in client.get("/v1/me", headers=father_headers).json()["dependents"]] == [child_id]

    _, stranger = enrol(
        client, messenger, phone="13800138013", number=resident_id_number(serial="103"), name="路人"
    )
    third = client.post(
        f"/v1/me/dependents/{child_id}/guardians",
        headers=mother,
        json={"phone": "13800138013", "relation": "carer"},
    )
    assert third.status_code == 409
    assert third.json()["reason"] == "too_many_guardians"
    peek = client.get(f"/v1/me/dependents/{child_id}", headers=stranger)
    assert peek.status_code == 403
    assert peek.json()["reasons"] == ["not_guardian"]

    assert client.delete(f"/v1/me/dependents/{child_id}", headers=mother).status_code == 204
    assert client.get(f"/v1/me/dependents/{child_id}", headers=father_headers).json()["active"] is True
    assert client.delete(f"/v1/me/dependents/{child_id}", headers=father_headers).status_code == 204
    assert client.get("/v1/me", headers=father_headers).json()["dependents"] == []


def test_dependent_with_a_document_that_is_already_enrolled_is_a_conflict(
    client: TestClient, messenger: MemoryMessenger
) -> None:
    enrol(client, messenger, phone="13800138014", number=resident_id_number(serial="201"))
    _, headers = enrol(client, messenger, phone="13800138015", number=resident_id_number(serial="202"))
    response = client.post(
        "/v1/me/dependents",
        headers=headers,
        json={
            "name": "重复",
            "document": {"type": "resident_id", "number": resident_id_number(serial="201")},
            "relation": "child",
        },
    )
    assert response.status_code == 409
    assert response.json()["reason"] == "document_already_enrolled"
