"""Venues, venue codes and check-ins over HTTP, on SQLite and PostgreSQL.

The ``clock`` fixture starts at 2022-05-03T08:00Z, the start of a 5-minute venue code window.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from civicpass.adapters.messaging import MemoryMessenger
from civicpass.bootstrap import Container
from civicpass.domain.checkins import CheckIn
from civicpass.domain.errors import Message, Unavailable
from civicpass.domain.staff import Role
from civicpass.services.checkins import TokenScan
from civicpass.services.intake import CheckinIntake
from tests.fakes import FakeClock
from tests.support import enrol, resident_id_number, staff_headers

PROBLEM = "application/problem+json"
SVG = "{http://www.w3.org/2000/svg}"
CANTON_TOWER = {"lat": 23.1066, "lon": 113.3245}
TWENTY_KM_NORTH = {"lat": 23.1066 + 20 / 111.195, "lon": 113.3245}

Headers = dict[str, str]


@dataclass
class Api:
    client: TestClient
    container: Container
    messenger: MemoryMessenger
    clock: FakeClock

    def resident(self, n: int) -> tuple[dict[str, Any], Headers]:
        return enrol(
            self.client,
            self.messenger,
            phone=f"138001381{n:02d}",
            number=resident_id_number(serial=f"{n:03d}"),
            name="张小三",
        )

    def staff(self, role: Role, username: str, jurisdiction: str = "440100") -> Headers:
        return staff_headers(self.client, self.container, role, jurisdiction, username)

    def register(self, headers: Headers, **body: Any) -> dict[str, Any]:
        response = self.client.post(
            "/v1/staff/venues",
            headers=headers,
            json={"name": "Cafe 1", "kind": "restaurant", "region_code": "440106", **body},
        )
        assert response.status_code == 201, response.text
        venue: dict[str, Any] = response.json()
        return venue

    def venue_code(self, headers: Headers, venue_id: str, static: bool = False) -> dict[str, Any]:
        response = self.client.get(
            f"/v1/staff/venues/{venue_id}/code", headers=headers, params={"static": str(static).lower()}
        )
        assert response.status_code == 200, response.text
        code: dict[str, Any] = response.json()
        return code

    def check_in(
        self, headers: Headers, token: str, client_id: str = "client-0001", **body: Any
    ) -> tuple[int, dict[str, Any]]:
        body = {
            "venue_code": token,
            "client_id": client_id,
            "scanned_at": self.clock.now().isoformat(),
            **body,
        }
        response = self.client.post("/v1/me/check-ins", headers=headers, json=body)
        return response.status_code, response.json()

    def my_check_ins(self, headers: Headers) -> list[dict[str, Any]]:
        response = self.client.get("/v1/me/check-ins", headers=headers)
        assert response.status_code == 200, response.text
        found: list[dict[str, Any]] = response.json()
        return found

    def counts(self, headers: Headers, venue_id: str) -> Any:
        return self.client.get(f"/v1/staff/venues/{venue_id}/counts", headers=headers)


@pytest.fixture
def api(client: TestClient, container: Container, messenger: MemoryMessenger, clock: FakeClock) -> Api:
    return Api(client, container, messenger, clock)


def assert_problem(response: Any, status: int, reason: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["reason"] == reason
    assert set(body["messages"]) == {"zh-CN", "en"}
    return body


def test_a_venue_operator_registers_a_venue_and_a_bus_and_lists_them(api: Api) -> None:
    operator = api.staff(Role.VENUE_OPERATOR, "op-one")
    venue = api.register(operator, name=" Cafe  1 ", location=CANTON_TOWER)
    bus = api.register(operator, name="Bus 36 粤A12345", kind="bus")
    assert {k: venue[k] for k in ("name", "kind", "vehicle", "region_code", "location", "active")} == {
        "name": "Cafe 1",
        "kind": "restaurant",
        "vehicle": False,
        "region_code": "440106",
        "location": CANTON_TOWER,
        "active": True,
    }
    assert (bus["kind"], bus["vehicle"], bus["location"]) == ("bus", True, None)
    listed = api.client.get("/v1/staff/venues", headers=operator)
    assert listed.status_code == 200, listed.text
    assert {v["id"] for v in listed.json()} == {venue["id"], bus["id"]}
    other = api.staff(Role.VENUE_OPERATOR, "op-two")
    assert api.client.get("/v1/staff/venues", headers=other).json() == []


def test_registering_a_venue_needs_a_venue_operator_or_administrator_and_a_known_kind(api: Api) -> None:
    checkpoint = api.staff(Role.CHECKPOINT_OPERATOR, "checkpoint")
    body = {"name": "Cafe", "kind": "restaurant", "region_code": "440106"}
    refused = api.client.post("/v1/staff/venues", headers=checkpoint, json=body)
    assert assert_problem(refused, 403, "permission_denied")["reasons"] == ["role_not_permitted"]
    admin = api.staff(Role.ADMIN, "admin-bj", "110000")
    elsewhere = api.client.post("/v1/staff/venues", headers=admin, json=body)
    assert assert_problem(elsewhere, 403, "permission_denied")["reasons"] == ["outside_jurisdiction"]
    operator = api.staff(Role.VENUE_OPERATOR, "op-one")
    unknown = api.client.post("/v1/staff/venues", headers=operator, json={**body, "kind": "spaceship"})
    assert assert_problem(unknown, 422, "venue_kind_unknown")["errors"][0]["path"] == "/kind"


def test_the_rotating_code_has_a_token_its_5_minute_window_and_an_svg_qr(api: Api) -> None:
    operator = api.staff(Role.VENUE_OPERATOR, "op-one")
    venue = api.register(operator)
    api.clock.advance(minutes=2)
    code = api.venue_code(operator, venue["id"])
    assert code["token"].startswith("CP1:")
    assert code["static"] is False
    start, end = datetime.fromisoformat(code["window_start"]), datetime.fromisoformat(code["window_end"])
    assert (start, end - start) == (api.clock.now() - timedelta(minutes=2), timedelta(minutes=5))
    svg = ET.fromstring(code["qr_svg"])  # noqa: S314 - parses our own rendering, not untrusted input
    assert svg.tag == f"{SVG}svg"
    static = api.venue_code(operator, venue["id"], static=True)
    assert static["static"] is True
    assert datetime.fromisoformat(static["window_end"]) - api.clock.now() == timedelta(days=3650)


def test_a_resident_checks_in_with_medium_evidence_and_a_retry_is_stored_once(api: Api) -> None:
    operator = api.staff(Role.VENUE_OPERATOR, "op-one")
    venue = api.register(operator, location=CANTON_TOWER)
    token = api.venue_code(operator, venue["id"])["token"]
    me, headers = api.resident(1)
    api.clock.advance(minutes=1)
    status, first = api.check_in(headers, token, location=CANTON_TOWER)
    assert status == 201, first
    assert {k: first[k] for k in ("resident_id", "venue_id", "client_id", "method", "evidence", "flags")} == {
        "resident_id": me["id"],
        "venue_id": venue["id"],
        "client_id": "client-0001",
        "method": "rotating_code",
        "evidence": "medium",
        "flags": [],
    }
    api.clock.advance(seconds=20)
    status, again = api.check_in(headers, token, scanned_at=first["at"], location=CANTON_TOWER)
    assert status == 200, again
    assert again == first
    assert api.my_check_ins(headers) == [first]


def test_the_static_code_gives_weak_evidence_flagged_static_code(api: Api) -> None:
    operator = api.staff(Role.VENUE_OPERATOR, "op-one")
    venue = api.register(operator)
    token = api.venue_code(operator, venue["id"], static=True)["token"]
    _, headers = api.resident(1)
    api.clock.advance(days=3)
    status, checkin = api.check_in(headers, token)
    assert status == 201, checkin
    assert (checkin["method"], checkin["evidence"], checkin["flags"]) == (
        "static_code",
        "weak",
        ["static_code"],
    )


def test_a_forwarded_and_a_replayed_code_are_weak_with_their_reasons(api: Api) -> None:
    operator = api.staff(Role.VENUE_OPERATOR, "op-one")
    venue = api.register(operator)
    token = api.venue_code(operator, venue["id"])["token"]
    _, mine = api.resident(1)
    _, theirs = api.resident(2)
    api.clock.advance(minutes=1)
    assert api.check_in(mine, token, location=CANTON_TOWER)[1]["evidence"] == "medium"
    api.clock.advance(minutes=2)
    _, forwarded = api.check_in(theirs, token, client_id="client-far", location=TWENTY_KM_NORTH)
    assert (forwarded["evidence"], forwarded["flags"]) == ("weak", ["forwarded"])
    api.clock.advance(minutes=8)
    _, replayed = api.check_in(mine, token, client_id="client-again")
    assert replayed["flags"] == ["stale_code", "replayed_code"]
    far = api.register(operator, name="Tower", location=CANTON_TOWER)
    _, distant = api.check_in(
        mine, api.venue_code(operator, far["id"])["token"], client_id="client-dist", location=TWENTY_KM_NORTH
    )
    assert (distant["evidence"], distant["flags"]) == ("weak", ["far_from_venue"])


def test_a_checkpoint_on_a_bus_records_strong_boarding_and_alighting(api: Api) -> None:
    operator = api.staff(Role.VENUE_OPERATOR, "op-one")
    bus = api.register(operator, name="Bus 36", kind="bus")
    checkpoint = api.staff(Role.CHECKPOINT_OPERATOR, "checkpoint")
    _, headers = api.resident(1)
    code = api.client.get("/v1/me/code", headers=headers).json()["token"]
    for direction, client_id in (
        ("board", "board-0001"),
        ("alight", "alight-0001"),
        ("alight", "alight-0001"),
    ):
        response = api.client.post(
            "/v1/staff/verifications",
            headers=checkpoint,
            json={"token": code, "venue_id": bus["id"], "client_id": client_id, "direction": direction},
        )
        assert response.status_code == 200, response.text
        assert response.json()["valid"] is True
        api.clock.advance(seconds=30)
    found = api.my_check_ins(headers)
    assert [(c["venue_id"], c["method"], c["evidence"], c["flags"], c["direction"]) for c in found] == [
        (bus["id"], "checkpoint_scan", "strong", [], "board"),
        (bus["id"], "checkpoint_scan", "strong", [], "alight"),
    ]


def test_a_checkpoint_naming_an_unknown_venue_is_404_and_records_nothing(api: Api) -> None:
    checkpoint = api.staff(Role.CHECKPOINT_OPERATOR, "checkpoint")
    _, headers = api.resident(1)
    code = api.client.get("/v1/me/code", headers=headers).json()["token"]
    response = api.client.post(
        "/v1/staff/verifications", headers=checkpoint, json={"token": code, "venue_id": "no-such-venue"}
    )
    assert_problem(response, 404, "venue_not_found")
    assert api.my_check_ins(headers) == []


def test_another_operators_venue_code_and_counts_are_403_not_venue_operator(api: Api) -> None:
    owner = api.staff(Role.VENUE_OPERATOR, "op-one")
    venue = api.register(owner)
    other = api.staff(Role.VENUE_OPERATOR, "op-two")
    for path in ("code", "code?static=true", "counts"):
        response = api.client.get(f"/v1/staff/venues/{venue['id']}/{path}", headers=other)
        assert assert_problem(response, 403, "not_venue_operator")["reasons"] == ["not_venue_operator"]
    admin = api.staff(Role.ADMIN, "admin-gz")
    assert api.counts(admin, venue["id"]).status_code == 200


def test_hourly_counts_show_5_or_more_check_ins_and_suppress_fewer(api: Api) -> None:
    operator = api.staff(Role.VENUE_OPERATOR, "op-one")
    busy, quiet = api.register(operator, name="Busy"), api.register(operator, name="Quiet")
    residents = [api.resident(n)[1] for n in range(1, 6)]
    busy_code = api.venue_code(operator, busy["id"])["token"]
    quiet_code = api.venue_code(operator, quiet["id"])["token"]
    for n, headers in enumerate(residents):
        assert api.check_in(headers, busy_code, client_id=f"busy-{n:04d}")[0] == 201
        if n < 4:
            assert api.check_in(headers, quiet_code, client_id=f"quiet-{n:04d}")[0] == 201
    api.clock.advance(minutes=30)
    hour = (
        api.clock.now().replace(minute=0).astimezone(ZoneInfo("Asia/Shanghai")).isoformat()
    )  # shown in local time
    assert api.counts(operator, busy["id"]).json() == [{"hour": hour, "count": 5}]
    assert api.counts(operator, quiet["id"]).json() == [{"hour": hour, "count": None}]


@pytest.mark.parametrize(
    ("change", "reason", "field_reason"),
    [
        pytest.param({"venue_code": "not a venue code"}, "venue_code_invalid", "bad_prefix", id="garbage"),
        pytest.param(
            {"scanned_at": "2022-05-03T09:00:00+00:00"}, "scan_time_invalid", "scan_time_invalid", id="future"
        ),
        pytest.param(
            {"scanned_at": "2022-05-02T07:59:59+00:00"}, "scan_time_invalid", "scan_time_invalid", id="stale"
        ),
        pytest.param(
            {"client_id": "short"}, "request_invalid", "field_string_too_short", id="short client id"
        ),
        pytest.param({"direction": "sideways"}, "request_invalid", "field_literal_error", id="bad direction"),
    ],
)
def test_bad_check_ins_are_4xx_problems_with_the_reason(
    api: Api, change: dict[str, Any], reason: str, field_reason: str
) -> None:
    operator = api.staff(Role.VENUE_OPERATOR, "op-one")
    token = api.venue_code(operator, api.register(operator)["id"])["token"]
    _, headers = api.resident(1)
    body = {
        "venue_code": token,
        "client_id": "client-0001",
        "scanned_at": api.clock.now().isoformat(),
        **change,
    }
    response = api.client.post("/v1/me/check-ins", headers=headers, json=body)
    problem = assert_problem(response, 422, reason)
    assert [e["reason"] for e in problem["errors"]] == [field_reason]
    assert api.my_check_ins(headers) == []


def test_a_scan_time_without_a_time_zone_is_a_422_problem(api: Api) -> None:
    operator = api.staff(Role.VENUE_OPERATOR, "op-one")
    token = api.venue_code(operator, api.register(operator)["id"])["token"]
    _, headers = api.resident(1)
    body = {"venue_code": token, "client_id": "client-0001", "scanned_at": "2022-05-03T08:00:00"}
    response = api.client.post("/v1/me/check-ins", headers=headers, json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM


def test_a_resident_cannot_check_in_someone_who_is_not_their_dependent(api: Api) -> None:
    operator = api.staff(Role.VENUE_OPERATOR, "op-one")
    token = api.venue_code(operator, api.register(operator)["id"])["token"]
    me, mine = api.resident(1)
    _, stranger = api.resident(2)
    status, problem = api.check_in(stranger, token, subject_id=me["id"])
    assert (status, problem["reason"], problem["reasons"]) == (403, "permission_denied", ["not_guardian"])
    assert api.my_check_ins(mine) == []


class _AtCapacity(CheckinIntake):
    """A worker whose group commit is full (the shedding itself is tested in tests/unit/test_intake.py)."""

    async def submit(self, item: TokenScan) -> tuple[CheckIn, bool]:
        raise Unavailable("overloaded", Message("busy", "忙"), extra={"retry_after": 1})


def test_a_worker_at_capacity_sheds_a_check_in_with_503_and_retry_after_storing_nothing(api: Api) -> None:
    operator = api.staff(Role.VENUE_OPERATOR, "op-one")
    token = api.venue_code(operator, api.register(operator)["id"])["token"]
    _, headers = api.resident(1)
    app = api.client.app
    normal = app.state.checkin_intake  # type: ignore[attr-defined]
    app.state.checkin_intake = _AtCapacity(api.container.deps)  # type: ignore[attr-defined]
    try:
        response = api.client.post(
            "/v1/me/check-ins",
            headers=headers,
            json={"venue_code": token, "client_id": "client-0001", "scanned_at": api.clock.now().isoformat()},
        )
    finally:
        app.state.checkin_intake = normal  # type: ignore[attr-defined]
    assert_problem(response, 503, "overloaded")
    assert response.headers["retry-after"] == "1"
    assert api.my_check_ins(headers) == []


def test_many_residents_checking_in_at_once_are_each_stored_once(api: Api) -> None:
    """Concurrent requests share group commits; every acknowledged check-in is there, retries included."""
    operator = api.staff(Role.VENUE_OPERATOR, "op-one")
    token = api.venue_code(operator, api.register(operator)["id"])["token"]
    residents = [api.resident(n)[1] for n in range(1, 7)]

    def scan(n: int) -> tuple[int, str]:
        body = {
            "venue_code": token,
            "client_id": f"client-{n % 12:04d}",  # every scan is sent twice, as a retrying phone does
            "scanned_at": api.clock.now().isoformat(),
        }
        response = api.client.post("/v1/me/check-ins", headers=residents[n % 6], json=body)
        return response.status_code, response.json()["id"]

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(scan, range(24)))
    assert sorted(status for status, _ in answers).count(201) == 12
    assert {status for status, _ in answers} <= {200, 201}
    assert len({checkin_id for _, checkin_id in answers}) == 12
    assert sum(len(api.my_check_ins(h)) for h in residents) == 12


def test_the_check_in_route_served_past_fastapi_is_the_documented_one(api: Api) -> None:
    operation = api.client.get("/openapi.json").json()["paths"]["/v1/me/check-ins"]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert set(schema["required"]) == {"venue_code", "client_id", "scanned_at"}
    assert "201" in operation["responses"]
    _, headers = api.resident(1)
    response = api.client.put("/v1/me/check-ins", headers=headers, json={})
    assert_problem(response, 405, "method_not_allowed")


@pytest.mark.parametrize(
    ("content_type", "status"),
    [
        (None, 415),  # no content type: not taken for JSON, as FastAPI's strict content-type check
        ("application/json", 201),
        ("application/json; charset=utf-8", 201),
        ("application/vnd.civicpass+json", 201),
        ("text/plain", 415),
        ("application/x-www-form-urlencoded; x=json", 422),  # not JSON, though it says the word
    ],
)
def test_the_check_in_route_reads_the_content_types_fastapi_reads(
    api: Api, content_type: str | None, status: int
) -> None:
    operator = api.staff(Role.VENUE_OPERATOR, "op-one")
    token = api.venue_code(operator, api.register(operator)["id"])["token"]
    _, headers = api.resident(1)
    body = json.dumps(
        {"venue_code": token, "client_id": "client-0001", "scanned_at": api.clock.now().isoformat()}
    )
    if content_type is not None:
        headers = {**headers, "Content-Type": content_type}
    response = api.client.post("/v1/me/check-ins", headers=headers, content=body.encode())
    assert response.status_code == status, response.text
