"""Other civicpass instances over HTTP: their transparency logs, as this instance's witness reads them."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import httpx2

from civicpass.domain.errors import Conflict, Message, Unavailable


def _unavailable(detail: str) -> Unavailable:
    return Unavailable(
        "peer_unavailable",
        Message(f"the other log did not answer: {detail}", "对方日志无应答"),
        extra={"retry_after": 30},
    )


class HttpLogClient:
    def __init__(
        self, base_url: str, timeout: float = 10.0, transport: httpx2.BaseTransport | None = None
    ) -> None:
        self.client = httpx2.Client(base_url=base_url.rstrip("/"), timeout=timeout, transport=transport)

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx2.Response:
        """One request; unreachable or failing (5xx): ``Unavailable``, try later; refused (4xx): ``Conflict``,
        which the witness judges."""
        try:
            response = self.client.request(method, path, **kwargs)
        except httpx2.HTTPError as exc:
            raise _unavailable(str(exc)) from None
        if response.status_code in (408, 425, 429):  # busy or slow: try later, nothing is wrong yet
            raise _unavailable(f"status {response.status_code}")
        if 400 <= response.status_code < 500:
            raise Conflict(
                "peer_refused", Message(f"the other log refused: {response.text[:300]}", "对方日志拒绝请求")
            )
        if response.status_code >= 500:
            raise _unavailable(f"status {response.status_code}")
        return response

    def checkpoint(self) -> str:
        return self._call("GET", "/.well-known/civicpass/checkpoint").text

    def consistency(self, size1: int, size2: int) -> list[bytes]:
        response = self._call("GET", "/v1/log/proofs/consistency", params={"size1": size1, "size2": size2})
        try:
            return [base64.b64decode(h, validate=True) for h in response.json()["proof"]]
        except (
            ValueError,
            KeyError,
            TypeError,
            binascii.Error,
        ):  # the log answered nonsense: the witness judges
            raise Conflict(
                "peer_malformed",
                Message("the other log's proof is not well formed", "对方日志的证明格式无效"),
            ) from None

    def submit_cosignature(self, size: int, line: str) -> None:
        self._call("POST", "/v1/log/cosignatures", json={"size": size, "line": line})

    def close(self) -> None:
        self.client.close()
