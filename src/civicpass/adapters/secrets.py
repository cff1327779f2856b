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


def load_or_create_dev_secrets(data_dir: Path) -> dict[str, str]:
    """Read ``secrets.json`` from the data directory, creating it (mode 0600) on first use."""
    path = data_dir / "secrets.json"
    if path.exists():
        stored: dict[str, str] = json.loads(path.read_text())
        return stored
    data_dir.mkdir(parents=True, exist_ok=True)
    secrets = {
        "pii_keys": "k1:" + base64.b64encode(os.urandom(32)).decode(),
        "blind_index_key": base64.b64encode(os.urandom(32)).decode(),
        "demo_secret": base64.b64encode(os.urandom(16)).decode(),
    }
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(secrets, handle, indent=2)
    return secrets


def key_material(
    pii_keys: str | None, blind_index_key: str | None, data_dir: Path, *, generate: bool
) -> KeyMaterial:
    """Explicit keys win; otherwise development generates them into ``data_dir``; production refuses."""
    dev = (
        load_or_create_dev_secrets(data_dir)
        if generate and (pii_keys is None or blind_index_key is None)
        else {}
    )
    ring_text = pii_keys or dev.get("pii_keys")
    index_text = blind_index_key or dev.get("blind_index_key")
    if ring_text is None or index_text is None:
        raise ValueError("PII keys and the blind-index key must be configured")
    keys, active = parse_keyring(ring_text)
    index_key = base64.b64decode(index_text, validate=True)
    if len(index_key) != 32:
        raise ValueError("the blind-index key must be 32 bytes")
    demo_secret = (
        dev.get("demo_secret") or hmac.new(index_key, b"civicpass:demo", hashlib.sha256).hexdigest()[:24]
    )
    return KeyMaterial(keys, active, index_key, demo_secret)
