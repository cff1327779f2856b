"""What the transparency log gives residents, on both databases: their status changes each with an
inclusion proof that checks against the signed checkpoint, and who read their data (also in the log,
by pseudonym and purpose code only)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient

from civicpass.adapters.messaging import MemoryMessenger
from civicpass.bootstrap import Container
from civicpass.domain import merkle
from civicpass.domain.notes import Checkpoint, SignedNote
from civicpass.domain.staff import Role
from civicpass.services import transparency as tl
from civicpass.services.status import STATUS_CHANGED
from tests.support import FEVER, enrol, resident_id_number, staff_headers


def _b(text: str) -> bytes:
    return base64.b64decode(text)


def test_a_resident_checks_each_status_change_against_the_signed_checkpoint(
    client: TestClient, container: Container, messenger: MemoryMessenger
) -> None:
    resident, me = enrol(client, messenger)
    assert client.get("/v1/me/status", headers=me).status_code == 200  # first evaluation: green
    declared = client.post("/v1/me/declarations", headers=me, json={"form_key": "health", "answers": FEVER})
    assert declared.status_code == 201, declared.text
    before = client.get("/v1/me/status/changes", headers=me).json()
    assert before
    assert not any(c["published"] for c in before)  # the log trails the change until it publishes
    tl.publish(container.deps)
    changes = client.get("/v1/me/status/changes", headers=me).json()
    assert [c["color"] for c in changes][:2] == ["yellow", "green"]
    note = SignedNote.parse(client.get("/.well-known/civicpass/checkpoint").text)
    checkpoint = Checkpoint.parse(note.text)
    keys = client.get("/.well-known/civicpass/log-keys").json()
    assert checkpoint.origin == keys["note_key"].split("+")[0]
    for change in changes:
        leaf, inclusion = change["leaf"], change["inclusion"]
        assert inclusion["size"] == checkpoint.size
        assert _b(inclusion["root"]) == checkpoint.root
        assert merkle.leaf_hash(leaf["canonical"].encode()) == _b(leaf["leaf_hash"])
        merkle.verify_inclusion(
            leaf["index"],
            checkpoint.size,
            _b(leaf["leaf_hash"]),
            [_b(p) for p in inclusion["proof"]],
            checkpoint.root,
        )
        logged = json.loads(leaf["canonical"])
        assert logged["data"]["color"] == change["color"]
        assert resident["id"] not in leaf["canonical"]  # by pseudonym only


def test_a_resident_sees_who_read_their_data_and_the_log_holds_the_read_without_their_name(
    client: TestClient, container: Container, messenger: MemoryMessenger
) -> None:
    resident, me = enrol(client, messenger, name="王小明")
    worker = staff_headers(client, container, Role.COMMUNITY_WORKER, "440106")
    lookup = {
        "document": {"type": "resident_id", "number": resident_id_number()},
        "purpose": {"code": "follow_up", "text": "quarantine call for 王小明"},
    }
    assert client.post("/v1/staff/resident-lookups", headers=worker, json=lookup).status_code == 200
    (read,) = client.get("/v1/me/access-log", headers=me).json()
    assert read["purpose"] == {"code": "follow_up", "text": "quarantine call for 王小明"}
    assert read["action"] == "resident:pii:read"
    tl.publish(container.deps)
    size = tl.head(container.deps).size
    leaves = client.get("/v1/log/leaves", params={"start": 0, "end": size}).json()
    (logged,) = [leaf for leaf in leaves if leaf["name"] == "pii:resident:read"]
    assert logged["data"]["data"]["purpose"] == "follow_up"
    assert logged["data"]["data"]["by"] == read["staff_id"]
    assert "王小明" not in json.dumps(leaves, ensure_ascii=False)
    assert resident["id"] not in json.dumps(leaves)
    other, _ = enrol(client, messenger, phone="13900139000", number=resident_id_number(serial="456"))
    assert client.get("/v1/me/access-log", headers=me, params={"subject_id": other["id"]}).status_code == 403


def test_a_residents_status_changes_are_found_by_index_on_both_databases(container: Container) -> None:
    """``/v1/me/status/changes`` must not read the whole outbox: the very statement the repository runs is
    served by ix_events_status_subject (an index on an expression, which the schema comparison leaves
    out, so it is checked here)."""
    at = datetime(2022, 5, 3, 8, tzinfo=UTC)
    with container.deps.uow() as uow:
        for n in range(30):
            uow.events.add(STATUS_CHANGED, {"subject": f"r{n % 3}", "version": n}, at)
            uow.events.add("pii:resident:read", {"subject": f"r{n % 3}", "by": "x"}, at)
        uow.commit()
    ran: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        ran.append((statement, parameters))

    sa.event.listen(container.engine, "before_cursor_execute", capture)
    try:
        with container.deps.uow() as uow:
            found = uow.events.of_subject(STATUS_CHANGED, "r1", 4)
    finally:
        sa.event.remove(container.engine, "before_cursor_execute", capture)
    assert [e.payload["version"] for e in found] == [28, 25, 22, 19]  # newest first, that resident's only
    (statement, parameters) = next((s, p) for s, p in ran if "FROM events" in s)
    with container.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET enable_seqscan = off")  # a tiny table: can the index serve it at all?
            plan = [str(row[0]) for row in conn.exec_driver_sql("EXPLAIN " + statement, parameters)]
        else:
            plan = [str(row) for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)]
    assert any("ix_events_status_subject" in line for line in plan), plan
