"""Signed notes, checkpoints and cosignatures (domain/notes.py, adapters/crypto/notes.py), against the Go
reference implementation's vector (golang.org/x/mod/sumdb/note): same key id, same signature bytes."""

from __future__ import annotations

import base64

import pytest

from civicpass.adapters.crypto.notes import Ed25519NoteKeys
from civicpass.domain.notes import COSIGNATURE, Checkpoint, NoteError, SignedNote, VerifierKey

# golang.org/x/mod/sumdb/note, note_test.go
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
)
GO_NOTE = (
    GO_TEXT
    + "\n— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)


def _go_keys() -> Ed25519NoteKeys:
    seed = base64.b64decode(GO_SKEY.split("+", 4)[4])[1:]  # PRIVATE+KEY+<name>+<id>+<base64(type || seed)>
    return Ed25519NoteKeys(seed, "PeterNeumann", "PeterNeumann/witness")


def test_the_go_reference_note_verifies_and_signing_reproduces_it_byte_for_byte() -> None:
    key = VerifierKey.parse(GO_VKEY)
    assert key.encode() == GO_VKEY
    note = SignedNote.parse(GO_NOTE)
    assert note.text == GO_TEXT
    keys = _go_keys()
    assert keys.note_key == key
    (line,) = note.by(key)
    assert keys.verify(key, note.text, line)
    assert SignedNote(GO_TEXT, (keys.sign(GO_TEXT),)).encode() == GO_NOTE
    assert not keys.verify(key, GO_TEXT.replace("problem", "question"), line)


def test_a_checkpoint_note_round_trips_and_malformed_ones_are_refused() -> None:
    checkpoint = Checkpoint("example.org/log", 12, bytes(range(32)))
    assert checkpoint.text() == "example.org/log\n12\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"
    assert Checkpoint.parse(checkpoint.text()) == checkpoint
    for bad in (
        "example.org/log\n12\n",  # no root
        "example.org/log\n012\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",  # leading zero
        "example.org/log\n12\nAAEC\n",  # short hash
        "example.org/log\n12\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",  # no final newline
    ):
        with pytest.raises(NoteError):
            Checkpoint.parse(bad)
    for bad in (
        GO_TEXT,
        GO_NOTE.replace("— ", "- "),
        GO_NOTE + "trailing",
        GO_NOTE.replace("x08go", "x08g!"),
    ):
        with pytest.raises(NoteError):
            SignedNote.parse(bad)
    with pytest.raises(NoteError):
        VerifierKey.parse(GO_VKEY.replace("c74f20a3", "c74f20a4"))


def test_a_cosignature_covers_the_checkpoint_and_its_time() -> None:
    keys = _go_keys()
    text = Checkpoint("example.org/log", 12, bytes(32)).text()
    line = keys.cosign(text, 1_651_564_800)
    assert keys.witness_key.kind == COSIGNATURE
    assert keys.verify(keys.witness_key, text, line)
    assert int.from_bytes(line.signature[:8], "big") == 1_651_564_800
    tampered_time = type(line)(line.name, line.key_id, (1).to_bytes(8, "big") + line.signature[8:])
    assert not keys.verify(keys.witness_key, text, tampered_time)
    assert not keys.verify(keys.witness_key, text.replace("12", "13"), line)
    assert not keys.verify(keys.note_key, text, line)  # a cosignature is not a note signature
    assert SignedNote.parse(text + "\n" + line.encode()).by(keys.witness_key) == [line]


def test_a_verifier_key_whose_base64_holds_a_plus_sign_parses() -> None:
    for n in range(64):  # some of these keys' base64 has "+" in it
        keys = Ed25519NoteKeys(bytes([n]) * 32, "city-a.example/log", "city-a.example/witness")
        for key in (keys.note_key, keys.witness_key):
            assert VerifierKey.parse(key.encode()) == key
