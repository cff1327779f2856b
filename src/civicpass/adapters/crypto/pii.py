"""Field-level encryption of personal data (AES-256-GCM) and keyed blind indexes (HMAC-SHA256).

Envelope format, one string per field: ``v1.<key id>.<base64url(nonce || ciphertext || tag)>``. The
associated data binds a ciphertext to its table, column and row, so a ciphertext copied into another row
or column fails to decrypt. The key id names the key that encrypted it, so keys can rotate: new writes
use the active key and old envelopes stay readable while their key is in the keyring.
"""

from __future__ import annotations

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


@dataclass(frozen=True)
class HmacDigest:
    """Keyed digests: one key for blind indexes, derived sub-keys keep the two uses apart."""

    key: bytes

    def _sub(self, label: bytes) -> bytes:
        return hmac.digest(self.key, b"civicpass:" + label, "sha256")

    @cached_property
    def _blind_index_mac(self) -> hmac.HMAC:
        return hmac.new(self._sub(b"blind-index"), digestmod="sha256")

    @cached_property
    def _secret_digest_mac(self) -> hmac.HMAC:
        return hmac.new(self._sub(b"secret-digest"), digestmod="sha256")

    # Each digest copies a keyed HMAC whose key is already absorbed: half the cost of a one-shot
    # ``hmac.digest`` (0.86 against 1.73 us), which hashes the key's pads again every time. A feed
    # batch computes a blind index per record, and every request digests its bearer token.

    def blind_index(self, material: str) -> str:
        mac = self._blind_index_mac.copy()
        mac.update(material.encode())
        return mac.hexdigest()

    def secret_digest(self, secret: str) -> str:
        mac = self._secret_digest_mac.copy()
        mac.update(secret.encode())
        return mac.hexdigest()
