"""Two civicpass instances on loopback: one witnesses the other's transparency log over HTTP, its
cosignature is served with the log's checkpoint, and a second server presenting another tree under the
same log key (a split view: a forked log) is caught."""

from __future__ import annotations

import base64
import os
import time
from pathlib import Path

import httpx2
import pytest

from civicpass.adapters.federation import HttpLogClient
from civicpass.bootstrap import Container
from civicpass.domain.errors import Conflict
from civicpass.domain.notes import SignedNote, VerifierKey
from civicpass.services import witness
from tests.e2e.serving import Server, serving

pytestmark = pytest.mark.slow
ORIGIN = "city-a.example/log"


def _checkpoint(server: Server, min_size: int = 1, timeout: float = 20) -> SignedNote:
    """The server's checkpoint once its log has at least ``min_size`` leaves (it publishes every second)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = httpx2.get(server.url + "/.well-known/civicpass/checkpoint")
        if response.status_code == 200:
            note = SignedNote.parse(response.text)
            if int(note.text.split("\n")[1]) >= min_size:
                return note
        time.sleep(0.2)
    raise AssertionError(f"no checkpoint of {min_size} leaves:\n{server.text()[-3000:]}")


def test_an_instance_witnesses_another_over_http_and_catches_a_split_view(
    container: Container, tmp_path: Path
) -> None:
    if container.engine.dialect.name != "sqlite":
        pytest.skip("the witness's own database does not matter here; once is enough")
    notes = container.deps.notes
    assert notes is not None
    seed = base64.b64encode(os.urandom(32)).decode()
    settings = {
        "CIVICPASS_LOG_INTERVAL_SECONDS": "1",
        "CIVICPASS_LOG_ORIGIN": ORIGIN,
        "CIVICPASS_SIGNING_KEY": seed,
        "CIVICPASS_LOG_WITNESSES": notes.witness_key.encode(),
        "CIVICPASS_DEMO_RESIDENTS": "50",
    }
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with serving(tmp_path / "a", settings) as log:
        keys = httpx2.get(log.url + "/.well-known/civicpass/log-keys").json()
        assert keys["witnesses"] == [notes.witness_key.encode()]
        log_key = VerifierKey.parse(keys["note_key"])
        first = _checkpoint(log)
        client = HttpLogClient(log.url)
        seen = witness.observe(container.deps, client, log_key)
        assert seen.cosigned
        assert seen.size >= int(first.text.split("\n")[1])
        served = _checkpoint(log)
        assert any(notes.verify(notes.witness_key, served.text, s) for s in served.by(notes.witness_key))
        # The log notes the cosignature as an event, so it grows; the witness checks it only grew.
        _checkpoint(log, seen.size + 1)
        again = witness.observe(container.deps, client, log_key)
        assert again.previous == seen.size
        assert again.size > seen.size
        client.close()
        # Another server with the same log key and origin but its own history: a split view.
        with serving(tmp_path / "b", settings) as impostor:
            _checkpoint(impostor, again.size)
            impostor_client = HttpLogClient(impostor.url)
            with pytest.raises(Conflict) as caught:
                witness.observe(container.deps, impostor_client, log_key)
            impostor_client.close()
    assert caught.value.reason in ("log_fork", "log_inconsistent", "log_rollback")
    with container.deps.uow() as uow:
        alarms = [
            e
            for e in uow.events.after(0, 10_000)
            if e.name == caught.value.reason.replace("log_", "witness:log:")
        ]
    assert alarms
    assert alarms[-1].payload["origin"] == ORIGIN
