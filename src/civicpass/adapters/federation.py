"""Other civicpass instances over HTTP: their transparency logs, as this instance's witness reads them."""

from __future__ import annotations

import base64

import httpx2

from civicpass.domain.errors import Conflict, Message, Unavailable


class HttpLogClient:
    def __init__(
        self, base_url: str, timeout: float = 10.0, transport: httpx2.BaseTransport | None = None
    ) -> None:
        self.client = httpx2.Client(base_url=base_url.rstrip("/"), timeout=timeout, transport=transport)

    def _get(self, path: str, **params: int) -> httpx2.Response:
        try:
            response = self.client.get(path, params=params)
        except httpx2.HTTPError as exc:
            raise Unavailable(
                "peer_unavailable",
                Message(f"the other log did not answer: {exc}", "对方日志无应答"),
                extra={"retry_after": 30},
            ) from None
        if 400 <= response.status_code < 500:  # the log answered and refused: the witness judges that
            raise Conflict(
                "peer_refused", Message(f"the other log refused: {response.text[:300]}", "对方日志拒绝请求")
            )
        try:
            response.raise_for_status()
        except httpx2.HTTPError as exc:
            raise Unavailable(
                "peer_unavailable",
                Message(f"the other log did not answer: {exc}", "对方日志无应答"),
                extra={"retry_after": 30},
            ) from None
        return response

    def checkpoint(self) -> str:
        return self._get("/.well-known/civicpass/checkpoint").text

    def consistency(self, size1: int, size2: int) -> list[bytes]:
        body = self._get("/v1/log/proofs/consistency", size1=size1, size2=size2).json()
        return [base64.b64decode(h) for h in body["proof"]]

    def submit_cosignature(self, size: int, line: str) -> None:
        try:
            response = self.client.post("/v1/log/cosignatures", json={"size": size, "line": line})
            response.raise_for_status()
        except httpx2.HTTPError as exc:
            raise Unavailable(
                "peer_unavailable",
                Message(f"the other log refused the cosignature: {exc}", "对方日志拒绝见证签名"),
                extra={"retry_after": 30},
            ) from None

    def close(self) -> None:
        self.client.close()
