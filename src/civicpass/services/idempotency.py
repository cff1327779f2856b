"""Idempotent writes: a retried request with the same ``Idempotency-Key`` returns the first answer.

The stored answer is written in the same transaction as the change it describes, so either both are
committed or neither is. A key reused for a different request is a conflict, never a silent replay.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

from civicpass.domain.errors import Conflict, Message
from civicpass.services.context import Deps
from civicpass.services.ports import StoredResponse, UnitOfWork


def fingerprint(payload: Any) -> str:
    """A digest of the request, key order ignored; dataclasses are digested field by field."""
    if dataclasses.is_dataclass(payload) and not isinstance(payload, type):
        payload = dataclasses.asdict(payload)
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def replay(uow: UnitOfWork, scope: str, key: str | None, payload: Any) -> str | None:
    """The id a previous request with this key created, or None if the key is new (or absent).

    Call it before validating, so a retry replays even if the rules for new requests changed since.
    """
    if key is None:
        return None
    stored = uow.idempotency.get(scope, key)
    if stored is None:
        return None
    if stored.fingerprint != fingerprint(payload):
        raise Conflict(
            "idempotency_key_reused",
            Message("this Idempotency-Key was used for a different request", "该幂等键已用于另一个请求"),
        )
    return stored.result_id


def remember(uow: UnitOfWork, deps: Deps, scope: str, key: str | None, payload: Any, result_id: str) -> None:
    """Record what a keyed request created, in the caller's transaction."""
    if key is not None:
        uow.idempotency.add(scope, key, StoredResponse(fingerprint(payload), result_id), deps.clock.now())
