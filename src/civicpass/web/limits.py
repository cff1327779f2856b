"""Request limits enforced before any route runs: body size (413) and NUL characters in the URL (400).

Both answer RFC 9457 problem+json themselves, since they run outside FastAPI's exception handlers.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send


def problem_body(status: int, reason: str, en: str, zh: str, **extra: Any) -> dict[str, Any]:
    """An RFC 9457 problem answered before routing (the app's handlers give the same shape)."""
    return {
        "type": f"urn:civicpass:problem:{reason}",
        "title": reason.replace("_", " "),
        "status": status,
        "detail": en,
        "reason": reason,
        "messages": {"zh-CN": zh, "en": en},
        **extra,
    }


async def _send_problem(send: Send, body: dict[str, Any]) -> None:
    payload = json.dumps(body, ensure_ascii=False).encode()
    await send(
        {
            "type": "http.response.start",
            "status": body["status"],
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


_NUL = problem_body(
    400, "nul_character", "the URL must not contain the NUL character (%00)", "网址中不能包含空字符（%00）"
)


def _has_nul(scope: Scope) -> bool:
    target = scope.get("raw_path", b"") + b"?" + scope.get("query_string", b"")
    return b"%00" in target or b"\x00" in target or "\x00" in scope.get("path", "")


class Limits:
    """Refuses NUL in path or query, and bodies over ``max_bytes`` (by declared length or by counting)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.too_large = problem_body(
            413,
            "body_too_large",
            f"the request body is larger than {max_bytes} bytes",
            f"请求内容超过{max_bytes}字节",
            limit=max_bytes,
        )

    async def read(self, scope: Scope, receive: Receive, send: Send) -> bytes | None:
        """The whole body if the request is within the limits; else None, the refusal already sent."""
        if _has_nul(scope):
            await _send_problem(send, _NUL)
            return None
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and (not value.isdigit() or int(value) > self.max_bytes):
                await _send_problem(send, self.too_large)
                return None
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await _send_problem(send, self.too_large)
                return None
            chunks.append(chunk)
            more = message.get("more_body", False)
        return b"".join(chunks)


Gate = Callable[[Scope], Awaitable[dict[str, Any] | None]]
"""Asked before a large body is read: None to go on, or the problem to answer instead (nothing read)."""


class RequestLimits:
    """The limits as ASGI middleware: the body is read, checked and handed on to the app.

    Paths with a larger limit (bulk uploads) may have a gate, asked before the body is read, so that
    nobody can make the server hold a large body it would refuse anyway.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        larger: Mapping[str, int] | None = None,
        gates: Mapping[str, Gate] | None = None,
    ) -> None:
        self.app = app
        self.limits = Limits(max_bytes)
        self.larger = [(prefix, Limits(size)) for prefix, size in (larger or {}).items()]
        self.gates = dict(gates or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        limits = next((lim for prefix, lim in self.larger if path.startswith(prefix)), self.limits)
        for prefix, gate in self.gates.items():
            if _has_nul(scope):
                break  # the body limits refuse it (400) before any gate looks the path up
            if path.startswith(prefix) and (refused := await gate(scope)) is not None:
                await _send_problem(send, refused)
                return
        body = await limits.read(scope, receive, send)
        if body is None:
            return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
