"""The HTTP ceiling of this machine at this moment: a do-nothing ASGI app under the same server and load.

It reads the request body and answers 201 with a small JSON body, nothing else. The check-in benchmark
serves it with uvicorn exactly as civicpass is served (workers, httptools, uvloop, no access log) and
drives it with the same load generator, so the ratio of the two rates, measured minutes apart on the
same machine, says how close check-ins come to what the server stack and the client alone allow.
"""

from __future__ import annotations

from starlette.types import Receive, Scope, Send

ANSWER = b'{"id":"00000000-0000-4000-8000-000000000000","evidence":"medium"}'


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(ANSWER)).encode())]
    await send({"type": "http.response.start", "status": 201, "headers": headers})
    await send({"type": "http.response.body", "body": ANSWER})
