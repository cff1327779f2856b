"""The instance's Ed25519 signing key, signing canonical JSON documents (RFC 8785 + RFC 8032).

A signature covers ``rfc8785.dumps(document)``, so anyone can verify a downloaded rule set (or, later, a
trust list) with the public key alone, whatever whitespace or key order the download had. The key id is
the first 8 bytes of SHA-256 over the DER SubjectPublicKeyInfo, hex-encoded.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from civicpass.adapters.crypto import b64url
from civicpass.adapters.crypto.cose import kid_for
from civicpass.domain.canonical import canonical_json


def canonical(document: Mapping[str, Any]) -> bytes:
    return canonical_json(dict(document))


class Ed25519Signer:
    def __init__(self, seed: bytes) -> None:
        self._key = Ed25519PrivateKey.from_private_bytes(seed)
        self.key_id = kid_for(self._key.public_key()).hex()

    def sign_document(self, document: Mapping[str, Any]) -> str:
        return b64url.encode(self._key.sign(canonical(document)))

    def public_key(self) -> str:
        raw = self._key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return b64url.encode(raw)


def verify_document(public_key: str, document: Mapping[str, Any], signature: str) -> bool:
    """True when ``signature`` is the key's Ed25519 signature over the document's canonical JSON."""
    try:
        Ed25519PublicKey.from_public_bytes(b64url.decode(public_key)).verify(
            b64url.decode(signature), canonical(document)
        )
    except (InvalidSignature, ValueError):
        return False
    return True


class Ed25519Verifier:
    """Verifies Ed25519 signatures over bytes (a feed batch's signing input)."""

    def verify(self, public_key: str, message: bytes, signature: str) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(b64url.decode(public_key)).verify(
                b64url.decode(signature), message
            )
        except (InvalidSignature, ValueError):
            return False
        return True
