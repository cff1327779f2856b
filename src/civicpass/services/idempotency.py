"""Idempotent writes: a retried request with the same ``Idempotency-Key`` returns the first answer.

The stored answer is written in the same transaction as the change it describes, so either both are
committed or neither is. A key reused for a different request is a conflict, never a silent replay.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
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


def run_once(
    uow: UnitOfWork,
    deps: Deps,
    scope: str,
    key: str | None,
    payload: Any,
    action: Callable[[], str],
) -> str:
    """Run ``action`` unless ``(scope, key)`` already ran; return the id it created (then or now).

    The caller commits ``uow`` afterwards.
    """
    if key is None:
        return action()
    digest = fingerprint(payload)
    stored = uow.idempotency.get(scope, key)
    if stored is not None:
        if stored.fingerprint != digest:
            raise Conflict(
                "idempotency_key_reused",
                Message("this Idempotency-Key was used for a different request", "该幂等键已用于另一个请求"),
            )
        return stored.result_id
    result_id = action()
    uow.idempotency.add(scope, key, StoredResponse(digest, result_id), deps.clock.now())
    return result_id
