"""The file keystore for code-signing keys: private keys sealed with AES-256-GCM under a key-encryption key.

One JSON file holds every issuer key with its state (active, retired, revoked) and validity. Exactly one
key is active and signs new codes; rotation retires it (it stays in the trust list until the last code it
signed has expired) and makes a new one active; revocation stops a key verifying anything. The file is
rewritten atomically; other processes notice a change by its modification time. A KMS or HSM adapter
implements the same port.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from civicpass.adapters.crypto import b64url
from civicpass.adapters.crypto.cose import kid_for
from civicpass.domain.errors import Conflict, Message, NotFound
from civicpass.domain.trustlist import IssuerKey, KeyStatus

PrivateKey = Ed25519PrivateKey | ec.EllipticCurvePrivateKey
COSE_ALG = {"EdDSA": -8, "ES256": -7}


def kid_of(private: PrivateKey) -> str:
    """The key id (``cose.kid_for`` of the public key), hex, as the trust list and COSE headers carry it."""
    return kid_for(private.public_key()).hex()


def jwk_of(private: PrivateKey) -> dict[str, str]:
    public = private.public_key()
    if isinstance(private, Ed25519PrivateKey):
        raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {"kty": "OKP", "crv": "Ed25519", "x": b64url.encode(raw), "use": "sig"}
    numbers = private.public_key().public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": b64url.encode(numbers.x.to_bytes(32, "big")),
        "y": b64url.encode(numbers.y.to_bytes(32, "big")),
        "use": "sig",
    }


@dataclass(frozen=True)
class SigningKey:
    kid: str
    alg: str
    cose_alg: int
    sign: Callable[[bytes], bytes]
    """Signs the COSE ToBeSigned bytes; ES256 gives a DER signature the codec converts to r||s."""


class FileKeyStore:
    def __init__(self, path: Path, kek: bytes) -> None:
        self.path = path
        self._aead = AESGCM(kek)
        self._lock = threading.Lock()
        self._mtime = -1.0
        self._entries: list[dict[str, Any]] = []
        self._generation = 0

    # -- persistence ---------------------------------------------------------------------------------
    def _load(self) -> list[dict[str, Any]]:
        mtime = self.path.stat().st_mtime if self.path.exists() else 0.0
        if mtime != self._mtime:
            stored: dict[str, Any] = json.loads(self.path.read_text()) if self.path.exists() else {}
            stored = {"generation": 0, "keys": [], **stored}
            self._entries, self._generation = stored["keys"], stored["generation"]
            self._mtime = mtime
        return self._entries

    @property
    def generation(self) -> int:
        """Grows by one with every change of key or state: the trust list's version."""
        with self._lock:
            self._load()
            return self._generation

    def _save(self, entries: list[dict[str, Any]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        generation = self._generation + 1
        with os.fdopen(fd, "w") as handle:
            json.dump({"generation": generation, "keys": entries}, handle, indent=1)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.path)
        self._entries, self._generation = entries, generation
        self._mtime = self.path.stat().st_mtime

    def _seal(self, kid: str, private: PrivateKey) -> str:
        der = private.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        nonce = os.urandom(12)
        return b64url.encode(nonce + self._aead.encrypt(nonce, der, f"keystore:{kid}".encode()))

    def _open(self, entry: dict[str, Any]) -> PrivateKey:
        raw = b64url.decode(entry["sealed"])
        der = self._aead.decrypt(raw[:12], raw[12:], f"keystore:{entry['kid']}".encode())
        key = serialization.load_der_private_key(der, password=None)
        if not isinstance(key, Ed25519PrivateKey | ec.EllipticCurvePrivateKey):
            raise TypeError("unexpected key type in keystore")
        return key

    # -- the port ------------------------------------------------------------------------------------
    def issuer_keys(self) -> list[IssuerKey]:
        with self._lock:
            return [IssuerKey.from_dict(e["public"]) for e in self._load()]

    def active(self, now: datetime) -> SigningKey:
        """The key that signs new codes; a first key is generated when the store is empty."""
        with self._lock:
            entries = self._load()
            current = next((e for e in entries if e["public"]["status"] == KeyStatus.ACTIVE.value), None)
            if current is None:
                current = self._generate(now, "EdDSA")
                self._save([*entries, current])
            private = self._open(current)
        kid = current["kid"]
        if isinstance(private, Ed25519PrivateKey):
            return SigningKey(kid, "EdDSA", COSE_ALG["EdDSA"], private.sign)
        ec_key = private

        def sign_es256(data: bytes) -> bytes:
            return ec_key.sign(data, ec.ECDSA(hashes.SHA256()))

        return SigningKey(kid, "ES256", COSE_ALG["ES256"], sign_es256)

    def _generate(self, now: datetime, alg: str) -> dict[str, Any]:
        private: PrivateKey = (
            Ed25519PrivateKey.generate() if alg == "EdDSA" else ec.generate_private_key(ec.SECP256R1())
        )
        kid = kid_of(private)
        public = IssuerKey(kid, alg, jwk_of(private), KeyStatus.ACTIVE, now.replace(microsecond=0), None)
        return {"kid": kid, "public": public.as_dict(), "sealed": self._seal(kid, private)}

    def rotate(self, now: datetime, longest_code: timedelta, alg: str = "EdDSA") -> IssuerKey:
        """A new active key; the old one retires and stays verifiable until its last code can expire."""
        with self._lock:
            entries = []
            for entry in self._load():
                key = IssuerKey.from_dict(entry["public"])
                if key.status is KeyStatus.ACTIVE:
                    key = replace(key, status=KeyStatus.RETIRED, not_after=now + longest_code)
                entries.append({**entry, "public": key.as_dict()})
            fresh = self._generate(now, alg)
            self._save([*entries, fresh])
        return IssuerKey.from_dict(fresh["public"])

    def revoke(self, kid: str, now: datetime) -> IssuerKey:
        with self._lock:
            entries = self._load()
            entry = next((e for e in entries if e["kid"] == kid), None)
            if entry is None:
                raise NotFound("key_not_found", Message(f"no key {kid}", f"密钥 {kid} 不存在"))
            key = IssuerKey.from_dict(entry["public"])
            if key.status is KeyStatus.REVOKED:
                raise Conflict("key_already_revoked", Message("this key is already revoked", "该密钥已吊销"))
            revoked = replace(key, status=KeyStatus.REVOKED, not_after=key.not_after or now)
            self._save([{**e, "public": revoked.as_dict()} if e is entry else e for e in entries])
        return revoked
