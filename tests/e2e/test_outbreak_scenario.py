"""An outbreak in a generated city, over HTTP, on SQLite and PostgreSQL: 10,000 residents, 500 venues and
about 200,000 check-ins over 14 days. A lab's signed result opens a case; the CDC traces it; a second CDC
member approves; contacts turn red or yellow with reasons; negative tests bring them back to green; an
appeal is upheld; contacts on weak evidence alone are never proposed; every step checks role and
jurisdiction."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from civicpass.adapters.crypto import b64url
from civicpass.bootstrap import Container
from civicpass.domain import feeds as fd
from civicpass.domain.checkins import CheckIn, Evidence, Flag, Method
from civicpass.domain.sessions import SubjectKind
from civicpass.domain.staff import Role
from civicpass.services.auth import open_session
from civicpass.services.simulation import Plan, simulate
from tests.fakes import FakeClock
from tests.support import staff_headers

pytestmark = pytest.mark.slow


class Lab:
    """A lab system with its signing key, registered by an administrator over the API."""

    def __init__(self, client: TestClient, admin: dict[str, str]) -> None:
        self.client, self.key, self.sent = client, Ed25519PrivateKey.generate(), 0
        raw = self.key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        made = client.post(
            "/v1/staff/feed-sources",
            json={
                "name": "City lab",
                "kind": "lab",
                "public_key": b64url.encode(raw),
                "region_code": "440100",
            },
            headers=admin,
        )
        assert made.status_code == 201, made.text
        self.source = made.json()["id"]

    def results(self, documents: list[dict[str, Any]], result: str, sampled_at: str) -> dict[str, Any]:
        self.sent += 1
        lines = [
            json.dumps(
                {
                    "record_id": f"lab-{self.sent}-{n}",
                    "kind": "test_result",
                    "document": doc,
                    "test": "pcr",
                    "result": result,
                    "sampled_at": sampled_at,
                }
            )
            for n, doc in enumerate(documents)
        ]
        body, batch = "\n".join(lines).encode(), f"batch-{self.sent}"
        signature = b64url.encode(self.key.sign(fd.signing_input(self.source, batch, "jsonl", body)))
        response = self.client.post(
            f"/v1/feeds/{self.source}/batches",
            content=body,
            headers={
                "Content-Type": "application/jsonl",
                "Civicpass-Batch-Id": batch,
                "Civicpass-Signature": signature,
            },
        )
        assert response.status_code == 200, response.text
        report: dict[str, Any] = response.json()
        assert report["rejected"] == 0, report["rejections"]
        return report


def _status(container: Container, resident: str) -> tuple[str, list[str]]:
    with container.deps.uow() as uow:
        status = uow.statuses.get(resident)
    assert status is not None
    return status.color, [r["reason_code"] for r in status.reasons]


def _document(container: Container, resident: str) -> dict[str, Any]:
    with container.deps.uow() as uow:
        person = uow.residents.get(resident)
    assert person is not None
    doc = person.pii.document
    return {"type": doc.type.value, "number": doc.number, "nationality": doc.nationality}


def test_an_outbreak_from_lab_result_to_green_again(
    client: TestClient, container: Container, clock: FakeClock
) -> None:
    report = simulate(container.deps, Plan(residents=10_000, venues=500, days=14, seed=2022, outbreaks=0))
    assert report.residents == 10_000
    assert report.venues == 500
    assert 180_000 < report.checkins < 230_000
    admin = staff_headers(client, container, Role.ADMIN)
    cdc_a = staff_headers(client, container, Role.CDC, username="cdc-a")
    cdc_b = staff_headers(client, container, Role.CDC, username="cdc-b")
    cdc_c = staff_headers(client, container, Role.CDC, username="cdc-c")
    worker = staff_headers(client, container, Role.COMMUNITY_WORKER, "440106")
    shenzhen = staff_headers(client, container, Role.CDC, "440300", username="cdc-sz")

    # The index resident: someone who went out yesterday. Three others used that place's code forwarded.
    now = clock.now()
    with container.deps.uow() as uow:
        residents = uow.residents.ids_after("", 10_000)
        yesterday = uow.tracing.visits_of(residents, now - timedelta(days=1), now)
    outing = next(v for v in sorted(yesterday, key=lambda v: (v.at, v.id)) if v.direction is None)
    index = outing.resident_id
    forwarded = [r for r in residents if r != index][:3]
    with container.deps.uow() as uow:
        uow.checkins.add_many(
            [
                CheckIn(
                    f"fwd-{n}",
                    f"fwd-{n}",
                    r,
                    outing.venue_id,
                    outing.at + timedelta(minutes=2),
                    outing.at,
                    Method.ROTATING_CODE,
                    Evidence.WEAK,
                    (Flag.FORWARDED,),
                )
                for n, r in enumerate(forwarded)
            ]
        )
        uow.commit()

    # 1. The lab's signed positive result opens a case; the index resident is red.
    lab = Lab(client, admin)
    lab.results([_document(container, index)], "positive", (now - timedelta(hours=5)).isoformat())
    assert _status(container, index)[0] == "red"
    cases = client.get("/v1/staff/cases", params={"state": "suspected"}, headers=cdc_a).json()
    (case,) = [c for c in cases if c["resident_id"] == index]
    for outsider in (worker, shenzhen, admin):
        assert (
            client.post(
                f"/v1/staff/cases/{case['id']}/tracing", json={"engine": "sql"}, headers=outsider
            ).status_code
            == 403
        )

    # 2. Tracing proposes contacts; nothing changes yet; weak-only contacts cannot be approved.
    run = client.post(f"/v1/staff/cases/{case['id']}/tracing", json={"engine": "sql"}, headers=cdc_a)
    assert run.status_code == 201, run.text
    proposal = run.json()
    contacts = {c["resident_id"]: c for c in proposal["contacts"]}
    assert {contacts[r]["grade"] for r in forwarded if r in contacts} == {"weak_only"}
    assert all(contacts[r]["decision"] == "not_proposable" for r in forwarded if r in contacts)
    close = [r for r, c in contacts.items() if c["grade"] == "close_contact"]
    companions = [r for r, c in contacts.items() if c["grade"] == "spatiotemporal_companion"]
    assert close, proposal
    assert companions, proposal
    with container.deps.uow() as uow:
        before = uow.statuses.get_many(close + companions)
    assert all(s.color == "green" for s in before.values())
    approve = f"/v1/staff/tracing/{proposal['id']}/approve"
    assert client.post(approve, json={"contacts": "all"}, headers=cdc_a).status_code == 403  # own run
    assert client.post(approve, json={"contacts": "all"}, headers=worker).status_code == 403
    assert client.post(approve, json={"contacts": forwarded[:1]}, headers=cdc_b).status_code in (403, 422)

    # 3. A second CDC member approves: close contacts red, companions yellow, each with its reason.
    decided = client.post(approve, json={"contacts": "all", "note": "reviewed"}, headers=cdc_b)
    assert decided.status_code == 200, decided.text
    for r in close:
        assert _status(container, r) == ("red", ["close_contact"])
    for r in companions:
        assert _status(container, r) == ("yellow", ["spatiotemporal_companion"])
    for r in forwarded:
        color, _ = _status(container, r) if r in before else ("green", [])
        assert color == "green"
    tasks = client.get("/v1/staff/tasks", headers=worker).json()
    assert {t["resident_id"] for t in tasks} <= set(close + companions)

    # 4. An appeal is upheld by someone who did not author the fact: that contact is green at once.
    appellant = close[0]
    with container.deps.uow() as uow:
        token, _ = open_session(uow, container.deps, SubjectKind.RESIDENT, appellant)
        uow.commit()
    me = {"Authorization": f"Bearer {token}"}
    fact_id = next(c["fact_id"] for c in decided.json()["contacts"] if c["resident_id"] == appellant)
    filed = client.post(
        "/v1/me/appeals", json={"fact_id": fact_id, "reason": "I was at work that day"}, headers=me
    )
    assert filed.status_code == 201, filed.text
    decision = f"/v1/staff/appeals/{filed.json()['id']}/decision"
    ruling = {"upheld": True, "reason": "the office checkpoint shows you at work"}
    assert client.post(decision, json=ruling, headers=me).status_code == 403
    assert client.post(decision, json=ruling, headers=cdc_b).json()["reason"] == "own_fact"
    assert client.post(decision, json=ruling, headers=cdc_c).status_code == 200
    assert _status(container, appellant)[0] == "green"
    assert client.get("/v1/me/appeals", headers=me).json()[0]["decision"] == ruling["reason"]

    # 5. Negative tests bring the others back to green: companions after two tests 24 h apart, close
    # contacts after their 14 days with a negative test.
    since = min(c["last_exposure"] for c in proposal["contacts"])
    first, second = (clock.now() + timedelta(days=d) for d in (1, 2))
    clock.advance(days=2, hours=1)
    docs = [_document(container, r) for r in companions]
    lab.results(docs, "negative", first.isoformat())
    assert all(_status(container, r)[0] == "yellow" for r in companions)  # one test is not enough
    lab.results(docs, "negative", second.isoformat())
    for r in companions:
        assert _status(container, r)[0] == "green", (r, since)
    clock.advance(days=13)
    lab.results([_document(container, r) for r in close[1:]], "negative", clock.now().isoformat())
    for r in close[1:]:
        assert _status(container, r)[0] == "green"
