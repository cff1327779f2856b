"""Key material: parsed from settings, or generated once into the data directory in development."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class KeyMaterial:
    pii_keys: dict[str, bytes]
    pii_active: str
    blind_index_key: bytes
    signing_key: bytes
    keystore_key: bytes
    demo_secret: str


def parse_keyring(text: str) -> tuple[dict[str, bytes], str]:
    """'kid:base64,kid2:base64' -> ({kid: key}, first kid)."""
    keys: dict[str, bytes] = {}
    order: list[str] = []
    for item in text.split(","):
        kid, _, b64 = item.strip().partition(":")
        key = base64.b64decode(b64, validate=True)
        if not kid or len(key) != 32:
            raise ValueError("each PII key is 'kid:base64' of 32 bytes")
        keys[kid] = key
        order.append(kid)
    if not order:
        raise ValueError("the PII keyring is empty")
    return keys, order[0]


def _fresh_secrets() -> dict[str, str]:
    return {
        "pii_keys": "k1:" + base64.b64encode(os.urandom(32)).decode(),
        "blind_index_key": base64.b64encode(os.urandom(32)).decode(),
        "signing_key": base64.b64encode(os.urandom(32)).decode(),
        "keystore_key": base64.b64encode(os.urandom(32)).decode(),
        "demo_secret": base64.b64encode(os.urandom(16)).decode(),
    }


def load_or_create_dev_secrets(data_dir: Path) -> dict[str, str]:
    """Read ``secrets.json`` from the data directory, creating it (mode 0600) on first use.

    A file from an older version keeps every key it has; only the missing ones are added.
    """
    path = data_dir / "secrets.json"
    stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    secrets = {**_fresh_secrets(), **stored}
    if secrets != stored:
        data_dir.mkdir(parents=True, exist_ok=True)
        _write_secrets(path, secrets)
    return secrets


def _write_secrets(path: Path, secrets: dict[str, str]) -> None:
    """Replace ``secrets.json`` atomically, readable by the owner only, flushed to disk."""
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(secrets, handle, indent=2)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def _key32(text: str, name: str) -> bytes:
    key = base64.b64decode(text, validate=True)
    if len(key) != 32:
        raise ValueError(f"the {name} must be 32 bytes (base64)")
    return key


def key_material(
    pii_keys: str | None,
    blind_index_key: str | None,
    signing_key: str | None,
    keystore_key: str | None,
    data_dir: Path,
    *,
    generate: bool,
) -> KeyMaterial:
    """Explicit keys win; otherwise development generates them into ``data_dir``; production refuses.

    ``signing_key`` is the instance's Ed25519 private key (32-byte seed), which signs what the instance
    publishes (rule sets, trust lists, log checkpoints).
    """
    missing = None in (pii_keys, blind_index_key, signing_key, keystore_key)
    dev = load_or_create_dev_secrets(data_dir) if generate and missing else {}
    ring_text = pii_keys or dev.get("pii_keys")
    index_text = blind_index_key or dev.get("blind_index_key")
    signing_text = signing_key or dev.get("signing_key")
    keystore_text = keystore_key or dev.get("keystore_key")
    if ring_text is None or index_text is None or signing_text is None or keystore_text is None:
        raise ValueError("the PII keyring, the blind-index key and the signing key must be configured")
    keys, active = parse_keyring(ring_text)
    index_key = _key32(index_text, "blind-index key")
    demo_secret = (
        dev.get("demo_secret") or hmac.new(index_key, b"civicpass:demo", hashlib.sha256).hexdigest()[:24]
    )
    return KeyMaterial(
        keys,
        active,
        index_key,
        _key32(signing_text, "signing key"),
        _key32(keystore_text, "keystore key"),
        demo_secret,
    )


def destroy_dev_pii_keys(data_dir: Path) -> bool:
    """Crypto-shredding for the end of the epidemic: drop the development PII keyring from ``secrets.json``
    (a new one is made on the next start). False when the keys are not held here (configured keys must be
    destroyed where they are kept)."""
    path = data_dir / "secrets.json"
    if not path.exists():
        return False
    stored: dict[str, str] = json.loads(path.read_text())
    if "pii_keys" not in stored:
        return False
    del stored["pii_keys"]
    _write_secrets(path, stored)
    return True
