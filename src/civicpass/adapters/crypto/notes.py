"""Ed25519 signatures of signed notes and witness cosignatures (formats in ``domain/notes.py``).

The instance's note key is its signing key; its witness (cosignature) key is derived from the same seed
with a fixed label, so one secret backs both without one key signing two kinds of message.
"""

from __future__ import annotations

import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from civicpass.domain.notes import COSIGNATURE, ED25519, SignatureLine, VerifierKey, cosigned_message

WITNESS_LABEL = b"civicpass witness key v1\n"


def _public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


class Ed25519NoteKeys:
    def __init__(self, seed: bytes, log_name: str, witness_name: str) -> None:
        self._note = Ed25519PrivateKey.from_private_bytes(seed)
        self._witness = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(WITNESS_LABEL + seed).digest())
        self.note_key = VerifierKey(log_name, ED25519, _public(self._note))
        self.witness_key = VerifierKey(witness_name, COSIGNATURE, _public(self._witness))

    def sign(self, text: str) -> SignatureLine:
        key = self.note_key
        return SignatureLine(key.name, key.id, self._note.sign(text.encode()))

    def cosign(self, checkpoint_text: str, timestamp: int) -> SignatureLine:
        key = self.witness_key
        signature = self._witness.sign(cosigned_message(checkpoint_text, timestamp))
        return SignatureLine(key.name, key.id, timestamp.to_bytes(8, "big") + signature)

    def verify(self, key: VerifierKey, text: str, line: SignatureLine) -> bool:
        """Whether ``line`` is ``key``'s signature (or cosignature) over the note ``text``."""
        if line.name != key.name or line.key_id != key.id:
            return False
        try:
            public = Ed25519PublicKey.from_public_bytes(key.public_key)
            if key.kind == COSIGNATURE:
                if len(line.signature) != 72:
                    return False
                timestamp = int.from_bytes(line.signature[:8], "big")
                public.verify(line.signature[8:], cosigned_message(text, timestamp))
            else:
                public.verify(line.signature, text.encode())
        except (InvalidSignature, ValueError):
            return False
        return True
