"""Checkpoints (C2SP tlog-checkpoint) in signed notes (C2SP signed-note), and witness cosignatures (C2SP
tlog-cosignature): the text formats, the key ids, and what each signature covers. Signing and verifying
the Ed25519 bytes is the crypto adapter's job (``adapters/crypto/notes.py``).

A checkpoint is the note text::

    <origin>
    <tree size, decimal>
    <root hash, standard base64>

followed by a blank line and one signature line per signer: ``— <key name> <base64(key id || signature)>``
(U+2014). A key id is the first 4 bytes of SHA-256(key name || "\\n" || type || public key), type 0x01 for
Ed25519 notes and 0x04 for cosignatures. A cosignature's bytes are an 8-byte big-endian UNIX time then the
Ed25519 signature over ``"cosignature/v1\\ntime <t>\\n" + checkpoint text``. A verifier key is written
``<name>+<key id hex>+<base64(type || public key)>``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

ED25519 = 0x01
COSIGNATURE = 0x04
DASH = "\u2014"
MAX_NOTE = 1 << 16


class NoteError(ValueError):
    """A note, key or signature line that is not well formed."""


def key_id(name: str, kind: int, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([kind]) + public_key).digest()[:4]


@dataclass(frozen=True)
class VerifierKey:
    name: str
    kind: int
    public_key: bytes

    @property
    def id(self) -> bytes:
        return key_id(self.name, self.kind, self.public_key)

    def encode(self) -> str:
        raw = base64.b64encode(bytes([self.kind]) + self.public_key).decode()
        return f"{self.name}+{self.id.hex()}+{raw}"

    @classmethod
    def parse(cls, text: str) -> VerifierKey:
        try:
            name, hex_id, raw_b64 = text.strip().split("+", 2)  # the key's base64 may hold "+" too
            raw = base64.b64decode(raw_b64, validate=True)
        except (ValueError, binascii.Error):
            raise NoteError(f"not a verifier key <name>+<id>+<key>: {text[:80]!r}") from None
        if (
            not name
            or any(c.isspace() for c in name)
            or len(raw) != 33
            or raw[0] not in (ED25519, COSIGNATURE)
        ):
            raise NoteError("a verifier key names an Ed25519 (0x01) or cosignature (0x04) key of 32 bytes")
        key = cls(name, raw[0], raw[1:])
        if key.id.hex() != hex_id.lower():
            raise NoteError(f"the key id {hex_id} does not match the key (expected {key.id.hex()})")
        return key


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def text(self) -> str:
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode(), *self.extensions]
        return "\n".join(lines) + "\n"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        lines = text.split("\n")
        if len(lines) < 4 or lines[-1] != "" or any(line == "" for line in lines[:-1]):
            raise NoteError("a checkpoint is origin, size and root hash lines, each ended by a newline")
        origin, size, root, *extensions = lines[:-1]
        if not (size.isascii() and size.isdigit()) or (size != "0" and size.startswith("0")):
            raise NoteError(f"the tree size must be a decimal number, not {size!r}")
        try:
            hash_bytes = base64.b64decode(root, validate=True)
        except binascii.Error:
            raise NoteError("the root hash must be standard base64") from None
        if len(hash_bytes) != 32:
            raise NoteError(f"the root hash has {len(hash_bytes)} bytes, expected 32")
        return cls(origin, int(size), hash_bytes, tuple(extensions))


@dataclass(frozen=True)
class SignatureLine:
    name: str
    key_id: bytes
    signature: bytes  # for a cosignature: 8-byte time, then the Ed25519 signature

    def encode(self) -> str:
        return f"{DASH} {self.name} {base64.b64encode(self.key_id + self.signature).decode()}\n"


@dataclass(frozen=True)
class SignedNote:
    text: str
    signatures: tuple[SignatureLine, ...]

    def encode(self) -> str:
        return self.text + "\n" + "".join(s.encode() for s in self.signatures)

    @classmethod
    def parse(cls, note: str) -> SignedNote:
        if len(note) > MAX_NOTE:
            raise NoteError(f"a note is at most {MAX_NOTE} bytes")
        text, sep, rest = note.rpartition("\n\n")
        if not sep or not rest.endswith("\n"):
            raise NoteError("a signed note is text, a blank line, then signature lines")
        signatures = []
        for line in rest[:-1].split("\n"):
            parts = line.split(" ")
            if len(parts) != 3 or parts[0] != DASH:
                raise NoteError(f"a signature line is '{DASH} <name> <signature>', not {line[:80]!r}")
            try:
                raw = base64.b64decode(parts[2], validate=True)
            except binascii.Error:
                raise NoteError("a signature must be standard base64") from None
            if len(raw) < 5:
                raise NoteError("a signature is a 4-byte key id and the signature")
            signatures.append(SignatureLine(parts[1], raw[:4], raw[4:]))
        return cls(text + "\n", tuple(signatures))

    def by(self, key: VerifierKey) -> list[SignatureLine]:
        return [s for s in self.signatures if s.name == key.name and s.key_id == key.id]


def cosigned_message(checkpoint_text: str, timestamp: int) -> bytes:
    """What a witness signs (C2SP tlog-cosignature v1)."""
    return f"cosignature/v1\ntime {timestamp}\n{checkpoint_text}".encode()
