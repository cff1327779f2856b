"""Field-level encryption of personal data (AES-256-GCM) and keyed blind indexes (HMAC-SHA256).

Envelope format, one string per field: ``v1.<key id>.<base64url(nonce || ciphertext || tag)>``. The
associated data binds a ciphertext to its table, column and row, so a ciphertext copied into another row
or column fails to decrypt. The key id names the key that encrypted it, so keys can rotate: new writes
use the active key and old envelopes stay readable while their key is in the keyring.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from civicpass.adapters.crypto import b64url

_VERSION = "v1"
_NONCE = 12


class PiiDecryptionError(Exception):
    """An envelope could not be opened: unknown key id, wrong context or tampered bytes."""


@dataclass(frozen=True)
class PiiCipher:
    """AES-GCM with a keyring ``{key id: 32-byte key}`` and the id of the key new writes use."""

    keys: Mapping[str, bytes]
    active: str

    def __post_init__(self) -> None:
        if self.active not in self.keys:
            raise ValueError(f"active PII key {self.active!r} is not in the keyring")
        for kid, key in self.keys.items():
            if len(key) != 32 or "." in kid:
                raise ValueError(f"PII key {kid!r} must be 32 bytes and its id must not contain '.'")

    def encrypt(self, plaintext: str, context: str) -> str:
        nonce = os.urandom(_NONCE)
        sealed = AESGCM(self.keys[self.active]).encrypt(nonce, plaintext.encode(), context.encode())
        return f"{_VERSION}.{self.active}.{b64url.encode(nonce + sealed)}"

    def decrypt(self, envelope: str, context: str) -> str:
        try:
            version, kid, body = envelope.split(".", 2)
        except ValueError:
            raise PiiDecryptionError("not an envelope") from None
        if version != _VERSION or kid not in self.keys:
            raise PiiDecryptionError(f"unknown envelope version {version!r} or key id {kid!r}")
        raw = b64url.decode(body)
        try:
            return AESGCM(self.keys[kid]).decrypt(raw[:_NONCE], raw[_NONCE:], context.encode()).decode()
        except InvalidTag:
            raise PiiDecryptionError("envelope does not authenticate in this context") from None


_SHA256_BLOCK = 64


class Sha256Hmac:
    """HMAC-SHA256 (RFC 2104) of many messages under one key: SHA-256 states with the key's inner and
    outer pads absorbed once, copied for each message. ``hmac.HMAC.copy`` copies the same states in C,
    but makes a Python ``HMAC`` object per copy and calls through it: 1.8 against 1.1 µs a digest
    (docs/decisions.md). Equal to ``hmac`` for every key and message (tests/unit/test_crypto_pii.py)."""

    def __init__(self, key: bytes) -> None:
        if len(key) > _SHA256_BLOCK:
            key = hashlib.sha256(key).digest()
        key = key.ljust(_SHA256_BLOCK, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))

    def hexdigest(self, message: bytes) -> str:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()


@dataclass(frozen=True)
class HmacDigest:
    """Keyed digests: one key for blind indexes, derived sub-keys keep the two uses apart."""

    key: bytes

    def _sub(self, label: bytes) -> bytes:
        return hmac.digest(self.key, b"civicpass:" + label, "sha256")

    @cached_property
    def _blind_index_mac(self) -> Sha256Hmac:
        return Sha256Hmac(self._sub(b"blind-index"))

    @cached_property
    def _secret_digest_mac(self) -> Sha256Hmac:
        return Sha256Hmac(self._sub(b"secret-digest"))

    # Each digest copies keyed states whose key is already absorbed (``Sha256Hmac``), instead of hashing
    # the key's pads again each time as a one-shot ``hmac.digest`` does. A feed batch computes a blind
    # index per record, and every request digests its bearer token.

    def blind_index(self, material: str) -> str:
        return self._blind_index_mac.hexdigest(material.encode())

    def secret_digest(self, secret: str) -> str:
        return self._secret_digest_mac.hexdigest(secret.encode())
