"""Signed feed batches over HTTP on both databases (COPY on PostgreSQL): counts in the database match the
report, a replay changes nothing, bad signatures are 401, the quarantine is readable by administrators."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from civicpass.adapters.crypto import b64url
from civicpass.adapters.db import tables as t
from civicpass.bootstrap import Container
from civicpass.domain import feeds as fd
from civicpass.domain.staff import Role
from civicpass.services.simulation import Plan, simulate
from tests.support import staff_headers


def _count(container: Container, table: sa.Table, *where: Any) -> int:
    with container.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar_one())


def _passports(container: Container, count: int) -> list[str]:
    report = simulate(container.deps, Plan(residents=count, venues=4, days=1, outbreaks=0))
    with container.deps.uow() as uow:
        people = [uow.residents.get(r) for r in uow.residents.ids_after("", count)]
    assert report.residents == count
    return [p.pii.document.number for p in people if p is not None and p.pii.document.number]


def _send(
    client: TestClient,
    key: Ed25519PrivateKey,
    source: str,
    batch: str,
    body: bytes,
    form: str = "jsonl",
    **headers: str,
) -> Any:
    signature = b64url.encode(key.sign(fd.signing_input(source, batch, form, body)))
    return client.post(
        f"/v1/feeds/{source}/batches",
        content=body,
        headers={
            "Content-Type": "text/csv" if form == "csv" else "application/jsonl",
            "Civicpass-Batch-Id": batch,
            "Civicpass-Signature": signature,
            **headers,
        },
    )


def _source(client: TestClient, admin: dict[str, str], name: str, kind: str) -> tuple[str, Ed25519PrivateKey]:
    """A data source registered by an administrator (``admin``: their headers) with a key of its own: its
    id and its key."""
    key = Ed25519PrivateKey.generate()
    public = b64url.encode(
        key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )
    made = client.post(
        "/v1/staff/feed-sources",
        json={"name": name, "kind": kind, "public_key": public, "region_code": "440100"},
        headers=admin,
    )
    assert made.status_code == 201, made.text
    return made.json()["id"], key


def test_a_signed_batch_over_http_is_stored_once_with_its_bad_records_in_quarantine(
    client: TestClient, container: Container
) -> None:
    passports = _passports(container, 300)
    admin = staff_headers(client, container, Role.ADMIN)
    source, key = _source(client, admin, "Lab A", "lab")
    records = [
        {
            "record_id": f"lab-a-{n}",
            "kind": "test_result",
            "document": {"type": "passport", "number": number, "nationality": "CHN"},
            "test": "pcr",
            "result": "positive" if n == 7 else "negative",
            "sampled_at": "2022-05-02T09:00:00+08:00",
        }
        for n, number in enumerate(passports)
    ]
    lines = [json.dumps(r) for r in records] + [
        "garbage",
        json.dumps({**records[0], "record_id": "x", "test": "?"}),
    ]
    body = "\n".join(lines).encode()
    first = _send(client, key, source, "2022-05-03-001", body)
    assert first.status_code == 200, first.text
    report = first.json()
    assert (report["received"], report["accepted"], report["rejected"], report["facts"]) == (302, 300, 2, 300)
    assert report["replayed"] is False
    assert _count(container, t.facts, t.facts.c.kind == "test_result") == 300
    assert _count(container, t.feed_records) == 300
    assert _count(container, t.feed_quarantine) == 2
    assert _count(container, t.cases) == 1  # the one positive result opened a case

    again = _send(client, key, source, "2022-05-03-001", body)
    assert again.json() == {**report, "replayed": True}
    assert _count(container, t.facts, t.facts.c.kind == "test_result") == 300

    quarantine = client.get(f"/v1/staff/feed-sources/{source}/quarantine", headers=admin)
    assert quarantine.status_code == 200
    assert sorted(q["line"] for q in quarantine.json()) == [301, 302]

    forged = _send(client, Ed25519PrivateKey.generate(), source, "2022-05-03-002", body)
    assert forged.status_code == 401
    assert forged.json()["reason"] == "feed_signature_invalid"
    wrong_type = _send(client, key, source, "2022-05-03-003", body, **{"Content-Type": "application/json"})
    assert wrong_type.status_code == 422
    assert wrong_type.json()["reason"] == "feed_media_type"
    missing = client.post(
        f"/v1/feeds/{source}/batches", content=body, headers={"Content-Type": "application/jsonl"}
    )
    assert missing.status_code == 401  # unsigned: refused before the body is read
    assert missing.json()["reason"] == "feed_signature_invalid"
    outsider = staff_headers(client, container, Role.CDC)
    assert client.get(f"/v1/staff/feed-sources/{source}/quarantine", headers=outsider).status_code == 403


def test_a_batch_for_an_unknown_source_is_refused_before_its_body_is_read(client: TestClient) -> None:
    received: list[int] = []

    def body() -> Any:  # a chunked upload; what the server read is counted
        for _ in range(100):
            received.append(1)
            yield b"x" * 1024

    headers = {"Content-Type": "application/jsonl", "Civicpass-Batch-Id": "b", "Civicpass-Signature": "AAAA"}
    refused = client.post("/v1/feeds/no-such-source/batches", content=body(), headers=headers)
    assert refused.status_code == 401
    assert refused.json()["reason"] == "feed_signature_invalid"
    unsigned = client.post(
        "/v1/feeds/no-such-source/batches", content=b"{}", headers={"Content-Type": "application/jsonl"}
    )
    assert unsigned.status_code == 401


def test_record_ids_and_values_that_need_escaping_are_stored_as_sent(
    client: TestClient, container: Container
) -> None:
    """A bulk batch goes to the database as COPY text and its id lists as array literals: a record id or
    a value with a tab, a backslash, a quote or a line break (valid, so the reference parser reads them)
    is stored as sent, found again as a duplicate, and its fact holds the same data."""
    passports = _passports(container, 4)
    source, key = _source(client, staff_headers(client, container, Role.ADMIN), "Hospital B", "hospital")
    awkward = ["tab\tid", "back\\slash\\N", 'quote"d,{x}', "new\nline\r"]
    records = [
        {
            "record_id": record_id,
            "kind": "vaccination",
            "document": {"type": "passport", "number": number, "nationality": "CHN"},
            "vaccine": f'Corona"Vac" \\ {n}\t',
            "dose": n + 1,
            "administered_at": "2022-03-01T10:00:00+08:00",
        }
        for n, (record_id, number) in enumerate(zip(awkward, passports, strict=True))
    ]
    body = "\n".join(json.dumps(r) for r in records).encode()
    report = _send(client, key, source, "awkward-1", body).json()
    assert (report["accepted"], report["rejected"], report["facts"]) == (4, 0, 4)
    with container.engine.connect() as conn:
        stored = list(conn.execute(sa.select(t.feed_records.c.record_id)).scalars())
        facts = {f.note: f for f in conn.execute(sa.select(t.facts).where(t.facts.c.kind == "vaccination"))}
    assert sorted(stored) == sorted(awkward)
    for record in records:
        fact = facts[f"record {record['record_id']}"]
        assert fact.data == {k: record[k] for k in ("vaccine", "dose", "administered_at")}
    again = _send(client, key, source, "awkward-2", body).json()
    assert (again["accepted"], again["duplicates"]) == (0, 4)


def test_records_stored_by_an_earlier_batch_are_skipped_and_the_rest_of_the_batch_stored(
    client: TestClient, container: Container
) -> None:
    """A batch that sends again records an earlier batch stored: those are skipped as duplicates (even one
    whose resident is no longer found), a new one with an unknown resident is rejected, a new one with its
    resident found is kept with its fact, and the stored record ids stay those of their first batch."""
    passports = _passports(container, 3)
    source, key = _source(client, staff_headers(client, container, Role.ADMIN), "Hospital D", "hospital")

    def dose(record_id: str, number: str) -> str:
        document = {"type": "passport", "number": number, "nationality": "CHN"}
        record = {"record_id": record_id, "kind": "vaccination", "document": document, "vaccine": "CoronaVac"}
        return json.dumps({**record, "dose": 1, "administered_at": "2022-03-01T10:00:00+08:00"})

    first = _send(
        client, key, source, "d-1", "\n".join([dose("a", passports[0]), dose("b", passports[1])]).encode()
    )
    assert first.json()["accepted"] == 2
    again = [dose("b", passports[1]), dose("a", "NOBODY123"), dose("c", passports[2]), dose("d", "NOBODY456")]
    report = _send(client, key, source, "d-2", "\n".join(again).encode()).json()
    assert (report["accepted"], report["duplicates"], report["rejected"], report["facts"]) == (1, 2, 1, 1)
    assert [(r["line"], r["errors"][0]["reason"]) for r in report["rejections"]] == [(4, "resident_unknown")]
    with container.engine.connect() as conn:
        stored = conn.execute(sa.select(t.feed_records.c.record_id, t.feed_records.c.batch_id)).all()
        notes = conn.execute(sa.select(t.facts.c.note).where(t.facts.c.kind == "vaccination")).scalars().all()
    assert sorted(stored) == [("a", "d-1"), ("b", "d-1"), ("c", "d-2")]
    assert sorted(notes) == ["record a", "record b", "record c"]


def test_half_a_surrogate_pair_in_a_record_is_refused_and_the_rest_of_the_batch_kept(
    client: TestClient, container: Container
) -> None:
    """A JSON escape naming half a UTF-16 surrogate pair, in a record id (of a valid record or of one
    refused for another reason) or in a value, failed the whole batch with an error where the database
    was given it; now that record alone is refused (and quarantined), the others stored."""
    passports = _passports(container, 4)
    source, key = _source(client, staff_headers(client, container, Role.ADMIN), "Hospital S", "hospital")

    def dose(record_id: str, number: str, vaccine: str = "CoronaVac") -> dict[str, Any]:
        return {
            "record_id": record_id,
            "kind": "vaccination",
            "document": {"type": "passport", "number": number, "nationality": "CHN"},
            "vaccine": vaccine,
            "dose": 1,
            "administered_at": "2022-03-01T10:00:00+08:00",
        }

    records = [
        dose("ok-1", passports[0]),
        dose("half-\ud800", passports[1]),
        dose("ok-2", passports[2], vaccine="Corona\udc00Vac"),
        {"record_id": "\udfff", "kind": "nope"},
        dose("pair-\ud83d\ude00", passports[3]),
    ]
    body = "\n".join(json.dumps(r) for r in records).encode()  # each half as a \u escape
    sent = _send(client, key, source, "halves-1", body)
    assert sent.status_code == 200, sent.text
    report = sent.json()
    assert (report["accepted"], report["rejected"], report["facts"]) == (2, 3, 2)
    assert {r["line"]: r["errors"][0]["reason"] for r in report["rejections"]} == dict.fromkeys(
        (2, 3, 4), "unpaired_surrogate"
    )
    with container.engine.connect() as conn:
        stored = set(conn.execute(sa.select(t.feed_records.c.record_id)).scalars())
    assert stored == {"ok-1", "pair-\U0001f600"}
    assert _count(container, t.feed_quarantine) == 3


def test_a_csv_batch_over_http_is_read_like_json_lines_quoted_or_not(
    client: TestClient, container: Container
) -> None:
    """Unquoted CSV (read by Arrow) and the same records quoted (read by the ``csv`` module) give the same
    facts; a row of too few cells is rejected alone, with its line counted after the header."""
    passports = _passports(container, 60)
    source, key = _source(client, staff_headers(client, container, Role.ADMIN), "Lab C", "lab")
    header = "record_id,kind,document_type,document_number,nationality,test,result,sampled_at"
    rows = [
        f"{prefix}-{n},test_result,passport,{number},CHN,antigen,negative,2022-05-02T09:00:00+08:00"
        for prefix in ("plain", "quoted")
        for n, number in enumerate(passports)
    ]
    half = len(passports)
    plain = [header, *rows[:half], "plain-x,test_result,passport"]
    quoted = [header, *('"' + row.replace(",", '","') + '"' for row in rows[half:])]
    reports = [
        _send(client, key, source, name, "\n".join(lines).encode(), "csv").json()
        for name, lines in (("csv-plain", plain), ("csv-quoted", quoted))
    ]
    assert [(r["accepted"], r["rejected"]) for r in reports] == [(half, 1), (half, 0)]
    assert reports[0]["rejections"][0]["line"] == half + 1
    query = sa.select(t.facts.c.note, t.facts.c.data).where(t.facts.c.kind == "test_result")
    with container.engine.connect() as conn:
        data: dict[str, Any] = dict(conn.execute(query).all())
    result = {"test": "antigen", "result": "negative", "sampled_at": "2022-05-02T09:00:00+08:00"}
    assert len(data) == 2 * half
    assert all(data[f"record plain-{n}"] == data[f"record quoted-{n}"] == result for n in range(half))


def test_travel_stays_over_http_become_arrivals_where_an_area_was_declared_meanwhile(
    client: TestClient, container: Container
) -> None:
    """A transport source's stays, on both databases: those in a region a CDC declared a risk area while
    the traveller was there become arrival facts with the area's level (a city's area covers its districts;
    a district's area after the stay, or another city, none), read from one look-up of the batch's areas."""
    passports = _passports(container, 4)
    cdc = staff_headers(client, container, Role.CDC, jurisdiction="440000", username="cdc-gd")
    for region, level, start, end in (
        ("440300", "medium", "2022-04-25T00:00:00+08:00", "2022-05-20T00:00:00+08:00"),
        ("440106", "high", "2022-05-02T12:00:00+08:00", None),
    ):
        declared = client.post(
            "/v1/staff/risk-areas",
            headers=cdc,
            json={"region_code": region, "level": level, "valid_from": start, "valid_to": end},
        )
        assert declared.status_code == 201, declared.text
    source, key = _source(client, staff_headers(client, container, Role.ADMIN), "Rail", "travel")
    stays = {  # record id: region, from, to
        "shenzhen": ("440304", "2022-05-01T08:00:00+08:00", "2022-05-02T09:30:00+08:00"),
        "tianhe-before": ("440106", "2022-05-01T08:00:00+08:00", "2022-05-02T12:00:00+08:00"),
        "tianhe-during": ("440106", "2022-05-02T04:00:00Z", "2022-05-03T04:00:00Z"),
        "beijing": ("110105", "2022-05-01T08:00:00+08:00", "2022-05-02T08:00:00+08:00"),
    }
    body = "\n".join(
        json.dumps(
            {
                "record_id": record_id,
                "kind": "travel",
                "document": {"type": "passport", "number": number, "nationality": "CHN"},
                "region": region,
                "from": start,
                "to": end,
            }
        )
        for (record_id, (region, start, end)), number in zip(stays.items(), passports, strict=True)
    ).encode()
    report = _send(client, key, source, "stays-1", body).json()
    assert (report["accepted"], report["rejected"], report["facts"]) == (4, 0, 2)
    query = sa.select(t.facts.c.note, t.facts.c.data).where(t.facts.c.kind == "risk_area_arrival")
    with container.engine.connect() as conn:
        arrivals: dict[str, Any] = dict(conn.execute(query).all())
    assert arrivals == {
        "record shenzhen": {"region": "440304", "level": "medium", "arrived_at": "2022-05-02T09:30:00+08:00"},
        "record tianhe-during": {
            "region": "440106",
            "level": "high",
            "arrived_at": "2022-05-03T04:00:00+00:00",
        },
    }
