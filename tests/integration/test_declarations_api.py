"""Declarations against versioned forms, by residents and by proxy, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from civicpass.adapters.messaging import MemoryMessenger
from civicpass.bootstrap import Container
from civicpass.domain.staff import Role
from tests.support import HEALTHY, enrol, staff_headers

HEALTH = HEALTHY


def test_the_bundled_forms_are_published(client: TestClient) -> None:
    forms = {f["key"]: f for f in client.get("/v1/forms").json()}
    assert set(forms) == {"daily_checkin", "health", "trip"}
    assert forms["health"]["version"] == 1
    assert forms["trip"]["title"] == {"zh-CN": "行程申报", "en": "Trip declaration"}
    assert "temperature_c" in forms["health"]["labels"]


def test_resident_declares_health_and_a_trip_and_lists_them_newest_first(
    client: TestClient, messenger: MemoryMessenger
) -> None:
    _, headers = enrol(client, messenger)
    health = client.post(
        "/v1/me/declarations", headers=headers, json={"form_key": "health", "answers": HEALTH}
    )
    assert health.status_code == 201, health.text
    trip = {
        "places": [
            {"place": "440300", "from": "2022-05-01", "to": "2022-05-02"},
            {"place": "HKG", "from": "2022-05-02", "to": "2022-05-03"},
        ],
        "planned_arrival": {
            "region": "440106",
            "date": "2022-05-04",
            "transport": "train",
            "transport_number": "G1001",
        },
    }
    assert (
        client.post(
            "/v1/me/declarations", headers=headers, json={"form_key": "trip", "answers": trip}
        ).status_code
        == 201
    )
    listed = client.get("/v1/me/declarations", headers=headers).json()
    assert {d["form_key"] for d in listed} == {"health", "trip"}
    assert all(d["form_version"] == 1 and d["by_proxy"] is False for d in listed)


def test_declaration_validation_errors_name_each_field_with_a_reason(
    client: TestClient, messenger: MemoryMessenger
) -> None:
    _, headers = enrol(client, messenger)
    bad = {**HEALTH, "temperature_c": "hot", "symptoms": ["sneezing"], "extra": 1}
    response = client.post(
        "/v1/me/declarations", headers=headers, json={"form_key": "health", "answers": bad}
    )
    assert response.status_code == 422
    body = response.json()
    assert body["reason"] == "declaration_invalid"
    assert body["form_version"] == 1
    reasons = {(e["path"], e["reason"]) for e in body["errors"]}
    assert ("/answers/temperature_c", "schema_type") in reasons
    assert ("/answers/symptoms/0", "schema_enum") in reasons
    assert ("/answers/extra", "schema_additionalProperties") in reasons
    unknown = client.post(
        "/v1/me/declarations", headers=headers, json={"form_key": "nonsense", "answers": {}}
    )
    assert unknown.status_code == 404
    assert unknown.json()["reason"] == "form_not_found"


def test_guardian_declares_for_a_dependent_and_it_is_recorded_as_proxy(
    client: TestClient, messenger: MemoryMessenger
) -> None:
    guardian, headers = enrol(client, messenger)
    child = client.post(
        "/v1/me/dependents",
        headers=headers,
        json={"name": "小宝", "birth_date": "2018-01-01", "relation": "parent"},
    ).json()
    response = client.post(
        "/v1/me/declarations",
        headers=headers,
        json={
            "form_key": "daily_checkin",
            "subject_id": child["id"],
            "answers": {"temperature_c": 36.4, "feels_well": True},
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert (body["subject_id"], body["submitted_by"], body["by_proxy"]) == (child["id"], guardian["id"], True)
    listed = client.get("/v1/me/declarations", headers=headers, params={"subject_id": child["id"]}).json()
    assert [d["id"] for d in listed] == [body["id"]]
    assert client.get("/v1/me/declarations", headers=headers).json() == []


def test_nobody_declares_for_someone_who_is_not_their_dependent(
    client: TestClient, messenger: MemoryMessenger
) -> None:
    other, _ = enrol(client, messenger, phone="13800138020", number="11010519491231002X")
    _, headers = enrol(client, messenger)
    response = client.post(
        "/v1/me/declarations",
        headers=headers,
        json={
            "form_key": "daily_checkin",
            "subject_id": other["id"],
            "answers": {"temperature_c": 36.4, "feels_well": True},
        },
    )
    assert response.status_code == 403
    assert response.json()["reasons"] == ["not_guardian"]


def test_retried_declaration_with_the_same_idempotency_key_is_stored_once(
    client: TestClient, messenger: MemoryMessenger
) -> None:
    _, headers = enrol(client, messenger)
    body = {"form_key": "health", "answers": HEALTH}
    first = client.post("/v1/me/declarations", headers={**headers, "Idempotency-Key": "retry-1"}, json=body)
    second = client.post("/v1/me/declarations", headers={**headers, "Idempotency-Key": "retry-1"}, json=body)
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    assert len(client.get("/v1/me/declarations", headers=headers).json()) == 1
    reused = client.post(
        "/v1/me/declarations",
        headers={**headers, "Idempotency-Key": "retry-1"},
        json={**body, "answers": {**HEALTH, "temperature_c": 38.0}},
    )
    assert reused.status_code == 409
    assert reused.json()["reason"] == "idempotency_key_reused"


def _v2_health(client: TestClient) -> dict[str, Any]:
    form = client.get("/v1/forms/health").json()
    schema = form["schema"]
    schema["properties"]["vaccinated"] = {"type": "boolean"}
    schema["required"] = [*schema["required"], "vaccinated"]
    return {"title": form["title"], "schema": schema, "ui": form["ui"], "labels": form["labels"]}


def test_a_new_form_version_does_not_break_old_submissions(
    client: TestClient, messenger: MemoryMessenger, container: Container
) -> None:
    _, headers = enrol(client, messenger)
    old = client.post(
        "/v1/me/declarations", headers=headers, json={"form_key": "health", "answers": HEALTH}
    ).json()
    cdc = staff_headers(client, container, Role.CDC)
    published = client.post("/v1/forms/health/versions", headers=cdc, json=_v2_health(client))
    assert published.status_code == 201, published.text
    assert published.json()["version"] == 2

    refused = client.post(
        "/v1/me/declarations", headers=headers, json={"form_key": "health", "answers": HEALTH}
    )
    assert refused.status_code == 422
    assert refused.json()["form_version"] == 2
    new = client.post(
        "/v1/me/declarations",
        headers=headers,
        json={"form_key": "health", "answers": {**HEALTH, "vaccinated": True}},
    )
    assert new.json()["form_version"] == 2
    still_v1 = client.post(
        "/v1/me/declarations",
        headers=headers,
        json={"form_key": "health", "form_version": 1, "answers": HEALTH},
    )
    assert still_v1.json()["form_version"] == 1

    listed = {d["id"]: d for d in client.get("/v1/me/declarations", headers=headers).json()}
    assert listed[old["id"]]["form_version"] == 1
    assert listed[old["id"]]["answers"] == HEALTH
    assert client.get("/v1/forms/health/versions/1").json()["schema"]["required"] == [
        "temperature_c",
        "symptoms",
        "contact_history",
    ]


def test_only_admin_and_cdc_publish_forms_and_invalid_schemas_are_refused(
    client: TestClient, container: Container
) -> None:
    worker = staff_headers(client, container, Role.COMMUNITY_WORKER)
    denied = client.post("/v1/forms/health/versions", headers=worker, json=_v2_health(client))
    assert denied.status_code == 403
    assert denied.json()["reasons"] == ["role_not_permitted"]
    admin = staff_headers(client, container, Role.ADMIN)
    invalid = client.post(
        "/v1/forms/health/versions", headers=admin, json={"title": {"en": "x"}, "schema": {"type": "nope"}}
    )
    assert invalid.status_code == 422
    assert invalid.json()["reason"] == "form_definition_invalid"
    assert {e["reason"] for e in invalid.json()["errors"]} >= {"title_missing", "schema_invalid"}


def test_a_trip_outside_the_years_taken_is_a_422_naming_each_day(
    client: TestClient, messenger: MemoryMessenger
) -> None:
    """A trip's days become times that the status engine reckons from: a day before 1900 or from 2200 on
    is refused as a bad date (a trip in the year 1 or on 9999-12-31 had failed with a 500); the last days
    inside are taken."""

    def trip(start: str, end: str, arrival: str) -> dict[str, Any]:
        arrive = {"region": "440106", "date": arrival, "transport": "train", "transport_number": "G1001"}
        answers = {"places": [{"place": "440300", "from": start, "to": end}], "planned_arrival": arrive}
        return {"form_key": "trip", "answers": answers}

    _, headers = enrol(client, messenger)
    for start, end, arrival in [
        ("0001-01-01", "0001-01-01", "0001-01-02"),
        ("1899-12-31", "9999-12-31", "2200-01-01"),
    ]:
        response = client.post("/v1/me/declarations", headers=headers, json=trip(start, end, arrival))
        assert response.status_code == 422, response.text
        reasons = {(e["path"], e["reason"]) for e in response.json()["errors"]}
        assert reasons == {
            ("/answers/places/0/from", "schema_format"),
            ("/answers/places/0/to", "schema_format"),
            ("/answers/planned_arrival/date", "schema_format"),
        }
    taken = client.post(
        "/v1/me/declarations", headers=headers, json=trip("1900-01-01", "2199-12-31", "2199-12-31")
    )
    assert taken.status_code == 201, taken.text
