"""The instance's Ed25519 signing key, signing canonical JSON documents (RFC 8785 + RFC 8032).

A signature covers ``rfc8785.dumps(document)``, so anyone can verify a downloaded rule set (or, later, a
trust list) with the public key alone, whatever whitespace or key order the download had. The key id is
the first 8 bytes of SHA-256 over the DER SubjectPublicKeyInfo, hex-encoded.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def canonical(document: Mapping[str, Any]) -> bytes:
    return rfc8785.dumps(dict(document))


class Ed25519Signer:
    def __init__(self, seed: bytes) -> None:
        self._key = Ed25519PrivateKey.from_private_bytes(seed)
        spki = self._key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.key_id = hashlib.sha256(spki).digest()[:8].hex()

    def sign_document(self, document: Mapping[str, Any]) -> str:
        return _b64(self._key.sign(canonical(document)))

    def public_key(self) -> str:
        raw = self._key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return _b64(raw)


def verify_document(public_key: str, document: Mapping[str, Any], signature: str) -> bool:
    """True when ``signature`` is the key's Ed25519 signature over the document's canonical JSON."""
    try:
        Ed25519PublicKey.from_public_bytes(_unb64(public_key)).verify(_unb64(signature), canonical(document))
    except (InvalidSignature, ValueError):
        return False
    return True
