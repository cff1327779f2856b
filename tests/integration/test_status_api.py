"""The status engine over HTTP, on SQLite and PostgreSQL: colors come from facts and rules, never from a person.

A resident reads a green status with its explanation; declarations, staff facts (under dual control),
risk areas and rule-set versions change it, each with reasons in zh-CN and en, local times, a history of
versions and a notification. Time is moved with the ``clock`` fixture to show windows lapsing.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from fastapi.testclient import TestClient

from civicpass.adapters.crypto.signing import verify_document
from civicpass.adapters.files import bundled_ruleset
from civicpass.adapters.messaging import MemoryMessenger
from civicpass.bootstrap import Container
from civicpass.domain.phone import normalize_phone
from civicpass.domain.staff import Role
from civicpass.services import status as status_service
from tests.fakes import FakeClock
from tests.support import FEVER, HEALTHY, enrol, resident_id_number, staff_headers

SHANGHAI = ZoneInfo("Asia/Shanghai")
GREEN_EN = "green: no rule applies"
GREEN_ZH = "绿码：未命中任何赋码规则"
TESTS_RELEASE = "turns green after two negative tests at least 24 hours apart within 3 days"


def status(client: TestClient, headers: dict[str, str], **extra: str) -> dict[str, Any]:
    response = client.get("/v1/me/status", headers={**headers, **extra})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def declare(client: TestClient, headers: dict[str, str], form_key: str, answers: dict[str, Any]) -> None:
    response = client.post(
        "/v1/me/declarations", headers=headers, json={"form_key": form_key, "answers": answers}
    )
    assert response.status_code == 201, response.text


def second_resident(
    client: TestClient, messenger: MemoryMessenger, district: str = "440106", serial: str = "457"
) -> tuple[dict[str, Any], dict[str, str]]:
    return enrol(
        client,
        messenger,
        phone="1380013" + serial.zfill(4),
        number=resident_id_number(district=district, serial=serial),
        region_code=district,
        name="李四",
    )


def problem(response: Any, status_code: int, reason: str) -> dict[str, Any]:
    assert response.status_code == status_code, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["reason"] == reason, body
    return body


# ---- reading a status ------------------------------------------------------------------------------


def test_a_new_resident_is_green_with_version_1_and_an_explanation(
    client: TestClient, messenger: MemoryMessenger
) -> None:
    resident, headers = enrol(client, messenger)
    body = status(client, headers)
    assert body["subject_id"] == resident["id"]
    assert body["color"] == "green"
    assert body["version"] == 1
    assert body["reasons"] == []
    assert body["release"] == []
    assert body["summary"] == [GREEN_EN]
    assert body["ruleset_version"] == 1
    assert len(body["inputs_digest"]) == 64
    # Chinese on request; the same stored version, not a new one.
    zh = status(client, headers, **{"Accept-Language": "zh-CN,zh;q=0.9"})
    assert zh["summary"] == [GREEN_ZH]
    assert (zh["color"], zh["version"]) == ("green", 1)
    history = client.get("/v1/me/status/history", headers=headers).json()
    assert [(h["version"], h["color"]) for h in history] == [(1, "green")]


def test_a_fever_declaration_makes_the_status_yellow_with_the_release_and_local_times(
    client: TestClient, messenger: MemoryMessenger, clock: FakeClock
) -> None:
    # 20:30 UTC is already the next day in Shanghai: dates in reasons must be local ones.
    clock.current = datetime(2022, 5, 3, 20, 30, tzinfo=UTC)
    assert clock.current.astimezone(SHANGHAI).date().isoformat() == "2022-05-04"
    resident, headers = enrol(client, messenger)
    assert status(client, headers)["color"] == "green"
    clock.advance(minutes=5)
    declare(client, headers, "health", FEVER)

    body = status(client, headers)
    assert body["color"] == "yellow"
    assert body["version"] == 2
    assert [r["reason_code"] for r in body["reasons"]] == ["declared_symptoms"]
    reason = body["reasons"][0]
    assert reason["color"] == "yellow"
    assert reason["rule_id"] == "YELLOW-DECLARED-SYMPTOMS-TESTS"
    assert reason["text"] == {
        "en": "yellow: fever or symptoms declared on 2022-05-04",
        "zh-CN": "黄码：于2022-05-04申报发热或有症状",
    }
    assert body["summary"] == [reason["text"]["en"]]
    assert body["release"] == [reason["release"]]
    assert body["release"][0]["en"] == TESTS_RELEASE
    assert "核酸检测" in body["release"][0]["zh-CN"]
    # Times: UTC instants, and the same instant in Asia/Shanghai.
    evaluated = datetime.fromisoformat(body["evaluated_at"])
    local = datetime.fromisoformat(body["evaluated_at_local"])
    assert evaluated == clock.now() == local
    assert local.utcoffset() == timedelta(hours=8)
    assert body["evaluated_at_local"].startswith("2022-05-04T04:35")
    assert datetime.fromisoformat(body["review_at"]) > clock.now()
    zh = status(client, headers, **{"Accept-Language": "zh-CN"})
    assert zh["summary"] == ["黄码：于2022-05-04申报发热或有症状"]

    history = client.get("/v1/me/status/history", headers=headers)
    assert history.status_code == 200, history.text
    assert [(h["version"], h["color"]) for h in history.json()] == [(2, "yellow"), (1, "green")]
    assert history.json()[0]["reasons"] == body["reasons"]
    # The resident was told the color changed.
    assert "Your code is now yellow" in messenger.last_to(normalize_phone("13800138000"))
    assert resident["id"] == body["subject_id"]


def test_a_normal_declaration_keeps_green_without_a_new_version(
    client: TestClient, messenger: MemoryMessenger
) -> None:
    _, headers = enrol(client, messenger)
    status(client, headers)
    declare(client, headers, "health", HEALTHY)
    body = status(client, headers)
    assert (body["color"], body["version"]) == ("green", 1)
    assert len(client.get("/v1/me/status/history", headers=headers).json()) == 1


# ---- staff facts under dual control ---------------------------------------------------------------


def test_close_contact_needs_a_second_cdc_member_and_then_turns_red(
    client: TestClient, container: Container, messenger: MemoryMessenger
) -> None:
    resident, headers = enrol(client, messenger)
    assert status(client, headers)["color"] == "green"
    cdc_a = staff_headers(client, container, Role.CDC, username="cdc-a")
    cdc_b = staff_headers(client, container, Role.CDC, username="cdc-b")
    worker = staff_headers(client, container, Role.COMMUNITY_WORKER)

    recorded = client.post(
        "/v1/staff/facts",
        headers=cdc_a,
        json={"subject_id": resident["id"], "kind": "close_contact", "data": {}, "note": "case 42"},
    )
    assert recorded.status_code == 201, recorded.text
    fact = recorded.json()
    assert fact["state"] == "proposed"
    assert (fact["kind"], fact["source"], fact["decided_by"]) == ("close_contact", "staff", None)
    # A proposal changes nothing yet.
    before = status(client, headers)
    assert (before["color"], before["version"]) == ("green", 1)
    sent_before = len(messenger.sent)

    own = client.post(f"/v1/staff/facts/{fact['id']}/approve", headers=cdc_a)
    assert problem(own, 403, "own_proposal")["reasons"] == ["own_proposal"]
    not_permitted = client.post(f"/v1/staff/facts/{fact['id']}/approve", headers=worker)
    assert "role_not_permitted" in problem(not_permitted, 403, "permission_denied")["reasons"]
    assert status(client, headers)["color"] == "green"

    approved = client.post(f"/v1/staff/facts/{fact['id']}/approve", headers=cdc_b)
    assert approved.status_code == 200, approved.text
    assert approved.json()["state"] == "active"
    assert approved.json()["decided_by"] not in (None, fact["proposed_by"])

    after = status(client, headers)
    assert after["color"] == "red"
    assert after["version"] == 2
    assert [r["reason_code"] for r in after["reasons"]] == ["close_contact"]
    assert after["release"][0]["en"].startswith("turns green 14 days after the contact")
    # The resident was told, in both languages, with the reason.
    told = [text for to, text in messenger.sent[sent_before:] if to == normalize_phone("13800138000")]
    assert len(told) == 1
    assert "红码" in told[0]
    assert "Your code is now red" in told[0]
    assert "close contact" in told[0]
    # Deciding twice is refused.
    again = client.post(f"/v1/staff/facts/{fact['id']}/approve", headers=cdc_b)
    problem(again, 409, "fact_not_proposed")


def test_a_rejected_proposal_keeps_the_color_and_proposals_stay_in_their_jurisdiction(
    client: TestClient, container: Container, messenger: MemoryMessenger
) -> None:
    guangzhou, gz_headers = enrol(client, messenger)
    shenzhen, _ = second_resident(client, messenger, district="440304")
    province = staff_headers(client, container, Role.CDC, jurisdiction="440000", username="cdc-gd")
    cdc_gz = staff_headers(client, container, Role.CDC, jurisdiction="440100", username="cdc-gz")
    cdc_sz = staff_headers(client, container, Role.CDC, jurisdiction="440300", username="cdc-sz")
    assert status(client, gz_headers)["color"] == "green"

    ids = {}
    for who in (guangzhou, shenzhen):
        response = client.post(
            "/v1/staff/facts",
            headers=province,
            json={"subject_id": who["id"], "kind": "secondary_contact", "data": {}},
        )
        assert response.status_code == 201, response.text
        assert response.json()["state"] == "proposed"
        ids[who["id"]] = response.json()["id"]

    def listed(headers: dict[str, str]) -> set[str]:
        response = client.get("/v1/staff/facts/proposals", headers=headers)
        assert response.status_code == 200, response.text
        return {p["id"] for p in response.json()}

    assert listed(cdc_gz) == {ids[guangzhou["id"]]}
    assert listed(cdc_sz) == {ids[shenzhen["id"]]}
    assert listed(province) == set(ids.values())
    # Outside one's jurisdiction a proposal cannot be decided either.
    outside = client.post(f"/v1/staff/facts/{ids[shenzhen['id']]}/approve", headers=cdc_gz)
    assert "outside_jurisdiction" in problem(outside, 403, "permission_denied")["reasons"]

    short = client.post(f"/v1/staff/facts/{ids[guangzhou['id']]}/reject", headers=cdc_gz, json={"note": "x"})
    problem(short, 422, "request_invalid")
    rejected = client.post(
        f"/v1/staff/facts/{ids[guangzhou['id']]}/reject",
        headers=cdc_gz,
        json={"note": "not a contact: wrong phone number"},
    )
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["state"] == "rejected"
    assert rejected.json()["note"] == "not a contact: wrong phone number"
    body = status(client, gz_headers)
    assert (body["color"], body["version"]) == ("green", 1)
    assert listed(cdc_gz) == set()
    assert listed(province) == {ids[shenzhen["id"]]}
    problem(
        client.post(f"/v1/staff/facts/{ids[guangzhou['id']]}/approve", headers=cdc_sz),
        403,
        "permission_denied",
    )
    problem(
        client.post(f"/v1/staff/facts/{ids[guangzhou['id']]}/approve", headers=province),
        409,
        "fact_not_proposed",
    )


# ---- risk areas --------------------------------------------------------------------------------------


def _declare_shenzhen_medium(client: TestClient, container: Container) -> dict[str, Any]:
    cdc = staff_headers(client, container, Role.CDC, jurisdiction="440000", username="cdc-gd")
    response = client.post(
        "/v1/staff/risk-areas",
        headers=cdc,
        json={
            "region_code": "440300",
            "level": "medium",
            "valid_from": "2022-04-25T00:00:00+08:00",
            "valid_to": "2022-05-20T00:00:00+08:00",
        },
    )
    assert response.status_code == 201, response.text
    area: dict[str, Any] = response.json()
    return area


SHENZHEN_TRIP = {
    "places": [{"place": "440304", "from": "2022-05-01", "to": "2022-05-02"}],
    "planned_arrival": {"region": "440106", "date": "2022-05-03", "transport": "train"},
}


def test_a_trip_through_a_declared_risk_area_gives_yellow_and_the_list_is_public(
    client: TestClient, container: Container, messenger: MemoryMessenger
) -> None:
    _, headers = enrol(client, messenger)
    other, other_headers = second_resident(client, messenger)
    area = _declare_shenzhen_medium(client, container)
    assert (area["region_code"], area["level"]) == ("440300", "medium")

    public = client.get("/v1/risk-areas")
    assert public.status_code == 200, public.text
    assert [(a["id"], a["region_code"], a["level"]) for a in public.json()] == [
        (area["id"], "440300", "medium")
    ]

    declare(client, headers, "trip", SHENZHEN_TRIP)
    body = status(client, headers)
    assert body["color"] == "yellow"
    assert [r["reason_code"] for r in body["reasons"]] == ["risk_area_arrival"]
    assert body["reasons"][0]["text"]["en"] == (
        "yellow: arrived from a medium-risk area (440304) on 2022-05-03"
    )
    assert body["release"][0]["en"] == TESTS_RELEASE

    # A trip elsewhere, or through Shenzhen before the area was declared risky, stays green.
    declare(
        client,
        other_headers,
        "trip",
        {"places": [{"place": "440304", "from": "2022-04-01", "to": "2022-04-03"}]},
    )
    declare(
        client,
        other_headers,
        "trip",
        {"places": [{"place": "110105", "from": "2022-05-01", "to": "2022-05-02"}]},
    )
    assert status(client, other_headers)["color"] == "green"
    assert other["id"] != body["subject_id"]

    # Only the CDC declares risk areas, and only in its own jurisdiction.
    worker = staff_headers(client, container, Role.COMMUNITY_WORKER)
    payload = {"region_code": "440300", "level": "high", "valid_from": "2022-05-01T00:00:00+08:00"}
    problem(client.post("/v1/staff/risk-areas", headers=worker, json=payload), 403, "permission_denied")
    cdc_gz = staff_headers(client, container, Role.CDC, jurisdiction="440100", username="cdc-gz")
    outside = client.post("/v1/staff/risk-areas", headers=cdc_gz, json=payload)
    assert "outside_jurisdiction" in problem(outside, 403, "permission_denied")["reasons"]
    unknown = client.post("/v1/staff/risk-areas", headers=cdc_gz, json={**payload, "level": "low"})
    problem(unknown, 422, "risk_level_unknown")


def test_an_arrival_yellow_lapses_to_green_when_the_window_passes(
    client: TestClient, container: Container, messenger: MemoryMessenger, clock: FakeClock
) -> None:
    _, headers = enrol(client, messenger)
    _declare_shenzhen_medium(client, container)
    declare(client, headers, "trip", SHENZHEN_TRIP)
    yellow = status(client, headers)
    assert (yellow["color"], yellow["version"]) == ("yellow", 1)

    clock.advance(days=5)
    assert status(client, headers)["color"] == "yellow"  # still inside the 14 days after arrival

    clock.advance(days=10)  # 15 days after the declaration, 14+ days after arriving on 2022-05-03
    lapsed = status(client, headers)
    assert lapsed["color"] == "green"
    assert lapsed["reasons"] == []
    assert lapsed["version"] == 2
    assert datetime.fromisoformat(lapsed["evaluated_at"]) == clock.now()
    history = client.get("/v1/me/status/history", headers=headers).json()
    assert [(h["version"], h["color"]) for h in history] == [(2, "green"), (1, "yellow")]


def test_the_sweep_lapses_due_statuses_without_a_read_and_tells_the_resident(
    client: TestClient, container: Container, messenger: MemoryMessenger, clock: FakeClock
) -> None:
    resident, headers = enrol(client, messenger)
    _declare_shenzhen_medium(client, container)
    declare(client, headers, "trip", SHENZHEN_TRIP)
    assert status(client, headers)["color"] == "yellow"
    clock.advance(days=15)
    assert status_service.sweep(container.deps) == 1
    with container.engine.connect() as conn:
        row = conn.execute(
            sa.text("SELECT color, version FROM statuses WHERE subject_id = :id"), {"id": resident["id"]}
        ).one()
    assert tuple(row) == ("green", 2)
    assert "Your code is now green" in messenger.last_to(normalize_phone("13800138000"))
    assert status_service.sweep(container.deps) == 0  # nothing is due any more
    assert (status(client, headers)["color"], status(client, headers)["version"]) == ("green", 2)


def test_a_resident_named_twice_in_one_re_evaluation_is_evaluated_and_saved_once(
    client: TestClient, container: Container, messenger: MemoryMessenger
) -> None:
    """A batch's statuses are saved by one statement per batch on PostgreSQL, which may not touch a row
    twice: a resident named twice (two contacts of one case, say) is evaluated once, one first version."""
    resident, headers = enrol(client, messenger)
    declare(client, headers, "health", FEVER)  # its first status: yellow
    newcomer, _ = second_resident(client, messenger)  # no status yet: its first is a change
    changes = status_service.recompute(container.deps, [newcomer["id"], resident["id"], newcomer["id"]])
    assert [(c.subject_id, c.current.version) for c in changes] == [(newcomer["id"], 1)]
    with container.engine.connect() as conn:
        current = conn.execute(sa.text("SELECT subject_id, version, color FROM statuses")).all()
        history = conn.execute(sa.text("SELECT subject_id, version FROM status_history")).all()
    assert sorted(map(tuple, current)) == sorted(
        [(resident["id"], 1, "yellow"), (newcomer["id"], 1, "green")]
    )
    assert sorted(map(tuple, history)) == sorted([(resident["id"], 1), (newcomer["id"], 1)])


# ---- guardians --------------------------------------------------------------------------------------


def test_a_guardian_sees_a_dependents_status_and_a_stranger_does_not(
    client: TestClient, messenger: MemoryMessenger
) -> None:
    _, guardian = enrol(client, messenger)
    _, stranger = second_resident(client, messenger)
    child = client.post(
        "/v1/me/dependents",
        headers=guardian,
        json={"name": "小宝", "birth_date": "2018-01-01", "relation": "parent"},
    )
    assert child.status_code == 201, child.text
    child_id = child.json()["id"]

    seen = client.get(f"/v1/me/dependents/{child_id}/status", headers=guardian)
    assert seen.status_code == 200, seen.text
    body = seen.json()
    assert (body["subject_id"], body["color"], body["version"], body["by_proxy"]) == (
        child_id,
        "green",
        1,
        True,
    )

    refused = client.get(f"/v1/me/dependents/{child_id}/status", headers=stranger)
    assert "not_guardian" in problem(refused, 403, "permission_denied")["reasons"]
    history = client.get("/v1/me/status/history", headers=stranger, params={"subject_id": child_id})
    problem(history, 403, "permission_denied")

    # A declaration by proxy moves the dependent's color, which the guardian reads.
    response = client.post(
        "/v1/me/declarations",
        headers=guardian,
        json={"form_key": "health", "subject_id": child_id, "answers": FEVER},
    )
    assert response.status_code == 201, response.text
    after = client.get(f"/v1/me/dependents/{child_id}/status", headers=guardian).json()
    assert (after["color"], after["version"], after["by_proxy"]) == ("yellow", 2, True)
    proxied = client.get("/v1/me/status/history", headers=guardian, params={"subject_id": child_id})
    assert [h["color"] for h in proxied.json()] == ["yellow", "green"]
    # The guardian's own status is untouched.
    assert status(client, guardian)["color"] == "green"


# ---- rule sets ----------------------------------------------------------------------------------------


def test_the_active_rule_set_is_published_signed(client: TestClient) -> None:
    response = client.get("/v1/rule-sets/active")
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["version"], body["state"], body["identifier"]) == (1, "active", "civicpass-default")
    assert body["signed"]["version"] == 1
    assert body["signed"]["document"] == bundled_ruleset()
    assert body["rules"] == len(bundled_ruleset()["rules"])
    assert verify_document(body["public_key"], body["signed"], body["signature"])
    tampered = copy.deepcopy(body["signed"])
    tampered["document"]["parameters"]["fever_celsius"] = 39.0
    assert not verify_document(body["public_key"], tampered, body["signature"])
    assert not verify_document(body["public_key"], {**body["signed"], "version": 2}, body["signature"])


def _residents(container: Container) -> int:
    with container.engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM residents")).scalar_one())


def test_a_new_rule_set_needs_a_second_cdc_member_and_re_evaluates_everyone(
    client: TestClient, container: Container, messenger: MemoryMessenger
) -> None:
    _, yellow_headers = enrol(client, messenger)
    _, green_headers = second_resident(client, messenger)
    second_resident(client, messenger, serial="458")  # never read their status: no stored status yet
    declare(client, yellow_headers, "health", FEVER)
    before = status(client, yellow_headers)
    assert (before["color"], before["release"][0]["en"]) == ("yellow", TESTS_RELEASE)
    assert status(client, green_headers)["color"] == "green"

    cdc_a = staff_headers(client, container, Role.CDC, username="cdc-a")
    cdc_b = staff_headers(client, container, Role.CDC, username="cdc-b")
    worker = staff_headers(client, container, Role.COMMUNITY_WORKER)
    document = bundled_ruleset()
    document["identifier"] = "civicpass-checkins"
    document["parameters"]["yellow_release"] = "checkins"

    refused = client.post("/v1/rule-sets", headers=worker, json=document)
    assert "role_not_permitted" in problem(refused, 403, "permission_denied")["reasons"]
    proposed = client.post("/v1/rule-sets", headers=cdc_a, json=document)
    assert proposed.status_code == 201, proposed.text
    assert (proposed.json()["version"], proposed.json()["state"]) == (2, "proposed")
    assert proposed.json()["identifier"] == "civicpass-checkins"
    # Still version 1 until approved.
    assert client.get("/v1/rule-sets/active").json()["version"] == 1
    assert status(client, yellow_headers)["release"][0]["en"] == TESTS_RELEASE

    own = client.post("/v1/rule-sets/2/approve", headers=cdc_a)
    assert problem(own, 403, "own_proposal")["reasons"] == ["own_proposal"]
    problem(client.post("/v1/rule-sets/2/approve", headers=worker), 403, "permission_denied")

    approved = client.post("/v1/rule-sets/2/approve", headers=cdc_b)
    assert approved.status_code == 200, approved.text
    assert approved.json()["state"] == "active"
    assert approved.json()["residents_evaluated"] == _residents(container) == 3

    active = client.get("/v1/rule-sets/active").json()
    assert (active["version"], active["identifier"]) == (2, "civicpass-checkins")
    assert active["signed"]["document"]["parameters"]["yellow_release"] == "checkins"
    assert verify_document(active["public_key"], active["signed"], active["signature"])
    listing = client.get("/v1/rule-sets", headers=cdc_a).json()
    assert [(v["version"], v["state"]) for v in listing] == [(1, "superseded"), (2, "active")]

    after = status(client, yellow_headers)
    assert after["color"] == "yellow"
    assert after["ruleset_version"] == 2
    assert after["reasons"][0]["rule_id"] == "YELLOW-DECLARED-SYMPTOMS-CHECKINS"
    assert "check-ins" in after["release"][0]["en"]
    assert after["release"][0]["en"] == (
        "turns green after 7 consecutive normal daily health check-ins (0 so far)"
    )
    assert "健康打卡" in after["release"][0]["zh-CN"]
    assert after["version"] == before["version"] + 1
    # The green resident was re-evaluated under version 2 without a new version (same outcome).
    green = status(client, green_headers)
    assert (green["color"], green["version"], green["ruleset_version"]) == ("green", 1, 2)
    # Approving again is refused: it is no longer a proposal.
    problem(client.post("/v1/rule-sets/2/approve", headers=cdc_b), 409, "ruleset_not_proposed")


def test_an_invalid_rule_set_is_refused_with_field_errors(client: TestClient, container: Container) -> None:
    cdc = staff_headers(client, container, Role.CDC)
    document = bundled_ruleset()
    document["rules"][0]["color"] = "purple"
    document["rules"][1]["logic"] = {"no-such-operation": [1, 2]}
    response = client.post("/v1/rule-sets", headers=cdc, json=document)
    body = problem(response, 422, "ruleset_invalid")
    errors = {(e["path"], e["reason"]) for e in body["errors"]}
    assert ("/rules/0/color", "color_unknown") in errors
    assert ("/rules/1/logic", "logic_invalid") in errors
    assert {e["path"] for e in body["errors"]} <= {"/rules/0/color", "/rules/1/logic"}
    assert set(body["messages"]) == {"zh-CN", "en"}
    # Nothing was stored.
    assert [v["version"] for v in client.get("/v1/rule-sets", headers=cdc).json()] == [1]
