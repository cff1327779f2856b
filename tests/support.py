"""Test helpers that drive the API the way a client would."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from civicpass.adapters.messaging import MemoryMessenger
from civicpass.bootstrap import Container
from civicpass.domain.identity import gb11643_check_character
from civicpass.domain.phone import normalize_phone
from civicpass.domain.staff import Role
from civicpass.services import staff

HEALTHY = {
    "temperature_c": 36.6,
    "symptoms": [],
    "contact_history": {
        "confirmed_case": False,
        "suspected_case": False,
        "high_risk_area_visitor": False,
        "fever_cluster": False,
    },
}
"""Answers to the bundled health form that raise nothing."""
FEVER = {**HEALTHY, "temperature_c": 38.4, "symptoms": ["fever", "cough"]}
"""Answers to the bundled health form that declare fever and symptoms (yellow under the default rules)."""


def resident_id_number(district: str = "440106", born: str = "19800101", serial: str = "123") -> str:
    first17 = district + born + serial
    return first17 + gb11643_check_character(first17)


def verify_phone(client: TestClient, messenger: MemoryMessenger, phone: str) -> str:
    """Run the OTP exchange for ``phone`` and return the verification token."""
    started = client.post("/v1/phone-verifications", json={"phone": phone})
    assert started.status_code == 201, started.text
    text = messenger.last_to(normalize_phone(phone))
    match = re.search(r"\b(\d{6})\b", text)
    assert match is not None
    confirmed = client.post(
        f"/v1/phone-verifications/{started.json()['id']}/confirm", json={"code": match.group(1)}
    )
    assert confirmed.status_code == 200, confirmed.text
    token: str = confirmed.json()["verification_token"]
    return token


def enrol(
    client: TestClient,
    messenger: MemoryMessenger,
    phone: str = "13800138000",
    number: str | None = None,
    region_code: str = "440106",
    name: str = "张小三",
) -> tuple[dict[str, Any], dict[str, str]]:
    """Enrol a resident; return their record and the Authorization header."""
    token = verify_phone(client, messenger, phone)
    response = client.post(
        "/v1/residents",
        json={
            "verification_token": token,
            "name": name,
            "document": {"type": "resident_id", "number": number or resident_id_number()},
            "region_code": region_code,
            "address": "广州市天河路1号",
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return body["resident"], {"Authorization": f"Bearer {body['access_token']}"}


def staff_headers(
    client: TestClient,
    container: Container,
    role: Role,
    jurisdiction: str = "440100",
    username: str | None = None,
) -> dict[str, str]:
    """Create a staff account with the CLI's trusted path and sign in over the API."""
    name = username or f"t-{role.value.replace('_', '-')}-{jurisdiction}"
    password = "correct horse battery staple"
    staff.create_staff(container.deps, None, staff.NewStaff(name, password, role, jurisdiction, name))
    response = client.post("/v1/staff/sessions", json={"username": name, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}
