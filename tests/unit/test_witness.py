"""Witnessing (services/witness.py) between two instances over fakes: cosign a consistent log; refuse and
raise an alarm for a fork (two trees of one size), a rollback, or a tree that does not extend the last."""

from __future__ import annotations

import base64
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import pytest

from civicpass.adapters.crypto.notes import Ed25519NoteKeys
from civicpass.domain import merkle
from civicpass.domain.errors import Conflict
from civicpass.domain.notes import Checkpoint, SignedNote
from civicpass.services import transparency as tl
from civicpass.services import witness
from civicpass.services.context import Deps
from tests.fakes import FakeStore, fake_deps

LOG_SEED, WITNESS_SEED = b"\x11" * 32, b"\x22" * 32


def _instance(seed: bytes, origin: str) -> tuple[Deps, FakeStore]:
    deps, store, _, _ = fake_deps()
    return replace(deps, notes=Ed25519NoteKeys(seed, origin, origin.replace("/log", "/witness"))), store


@dataclass
class Direct:
    """The log's services called directly, as the HTTP client would reach them."""

    deps: Deps

    def checkpoint(self) -> str:
        return tl.checkpoint(self.deps)

    def consistency(self, size1: int, size2: int) -> list[bytes]:
        return tl.consistency(self.deps, size1, size2)[0]

    def submit_cosignature(self, size: int, line: str) -> None:
        tl.add_cosignature(self.deps, size, line)


@dataclass
class Forged(Direct):
    """A log that serves a checkpoint of its own making (signed with its real key)."""

    note: str = ""

    def checkpoint(self) -> str:
        return self.note

    def consistency(self, size1: int, size2: int) -> list[bytes]:
        return [merkle.leaf_hash(b"made up")] * 3


def _events(deps: Deps, count: int) -> None:
    with deps.uow() as uow:
        for n in range(count):
            uow.events.add("test:event:made", {"n": n}, datetime(2022, 5, 3, tzinfo=UTC))
        uow.commit()


@pytest.fixture
def pair() -> tuple[Deps, Deps, FakeStore]:
    log, _ = _instance(LOG_SEED, "city-a.example/log")
    watcher, watcher_store = _instance(WITNESS_SEED, "city-b.example/log")
    assert watcher.notes is not None
    log = replace(log, log_witnesses=(watcher.notes.witness_key,))
    return log, watcher, watcher_store


def _forged(log: Deps, size: int, root: bytes) -> str:
    assert log.notes is not None
    text = Checkpoint(log.notes.note_key.name, size, root).text()
    return SignedNote(text, (log.notes.sign(text),)).encode()


def test_a_witness_cosigns_a_log_that_only_grows(pair: tuple[Deps, Deps, FakeStore]) -> None:
    log, watcher, _ = pair
    assert log.notes is not None
    assert watcher.notes is not None
    _events(log, 5)
    tl.publish(log)
    first = witness.observe(watcher, Direct(log), log.notes.note_key)
    assert (first.size, first.previous, first.cosigned) == (5, None, True)
    served = SignedNote.parse(tl.checkpoint(log))
    (cosignature,) = served.by(watcher.notes.witness_key)
    assert watcher.notes.verify(watcher.notes.witness_key, served.text, cosignature)
    _events(log, 7)
    tl.publish(log)
    second = witness.observe(watcher, Direct(log), log.notes.note_key)
    assert (second.size, second.previous) == (tl.head(log).size, 5)
    assert second.size >= 12  # the 12 events, and the log's own note of the first cosignature


def test_a_fork_a_rollback_or_a_rewritten_history_is_refused_with_an_alarm(
    pair: tuple[Deps, Deps, FakeStore],
) -> None:
    log, watcher, watcher_store = pair
    assert log.notes is not None
    _events(log, 6)
    tl.publish(log)
    witness.observe(watcher, Direct(log), log.notes.note_key)
    real = Checkpoint.parse(SignedNote.parse(tl.checkpoint(log)).text)
    cases = {
        "fork": _forged(log, 6, merkle.leaf_hash(b"another tree")),
        "rollback": _forged(log, 4, real.root),
        "inconsistent": _forged(log, 9, merkle.leaf_hash(b"not an extension")),
    }
    for kind, note in cases.items():
        with pytest.raises(Conflict) as refused:
            witness.observe(watcher, Forged(log, note), log.notes.note_key)
        assert refused.value.reason == f"log_{kind}"
        alarm = [payload for name, payload in watcher_store.events if name == f"witness:log:{kind}"]
        assert alarm
        assert alarm[-1]["origin"] == "city-a.example/log"
    assert watcher_store.log_leaves == []  # (its own log picks the alarms up when it publishes)
    tl.publish(watcher)
    assert {leaf.name for leaf in watcher_store.log_leaves} >= {"witness:log:fork", "witness:log:rollback"}


def test_a_checkpoint_not_signed_by_the_logs_key_is_refused(pair: tuple[Deps, Deps, FakeStore]) -> None:
    log, watcher, _ = pair
    assert log.notes is not None
    other, _ = _instance(b"\x33" * 32, "city-a.example/log")
    assert other.notes is not None
    note = _forged(other, 3, bytes(32))
    with pytest.raises(Conflict) as refused:
        witness.observe(watcher, Forged(log, note), log.notes.note_key)
    assert refused.value.reason == "log_unsigned"
    assert base64.b64encode(bytes(32)).decode() in note


def test_a_cosignature_sent_again_changes_nothing(pair: tuple[Deps, Deps, FakeStore]) -> None:
    log, watcher, _ = pair
    assert log.notes is not None
    assert watcher.notes is not None
    _events(log, 3)
    tl.publish(log)
    witness.observe(watcher, Direct(log), log.notes.note_key)
    note = SignedNote.parse(tl.checkpoint(log))
    (line,) = note.by(watcher.notes.witness_key)
    tl.publish(log)  # the log's note of the first cosignature
    size = tl.head(log).size
    tl.add_cosignature(log, 3, line.encode())  # a replay of the public line, twice
    tl.add_cosignature(log, 3, line.encode())
    tl.publish(log)
    assert tl.head(log).size == size  # no new leaves


def test_scheduled_witnessing_reports_each_peer_and_a_bad_one_does_not_stop_the_others(
    pair: tuple[Deps, Deps, FakeStore],
) -> None:
    log, watcher, _ = pair
    assert log.notes is not None
    impostor, _ = _instance(b"\x44" * 32, "city-a.example/log")  # the same origin, another key
    _events(log, 2)
    tl.publish(log)
    bad = Forged(log, _forged(impostor, 2, bytes(32)))
    done = witness.observe_all(watcher, [(bad, log.notes.note_key), (Direct(log), log.notes.note_key)])
    assert isinstance(done[0], Conflict)
    assert done[0].reason == "log_unsigned"
    assert isinstance(done[1], witness.Observation)
    assert done[1].cosigned


def test_witness_peers_are_configured_as_url_and_verifier_key() -> None:
    from civicpass.web.app import witness_peers

    key = Ed25519NoteKeys(b"\x55" * 32, "a.example/log", "a.example/witness").note_key
    peers = witness_peers(f"http://127.0.0.1:1|{key.encode()}, http://127.0.0.1:2|{key.encode()}")
    try:
        assert [k for _, k in peers] == [key, key]
        assert str(peers[1][0].client.base_url) == "http://127.0.0.1:2"
    finally:
        for client, _ in peers:
            client.close()
    assert witness_peers("") == []
