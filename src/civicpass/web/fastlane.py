"""A direct path for the requests that dominate a morning peak, past FastAPI's routing and dependency layers.

At thousands of check-ins a second, FastAPI's per-request machinery (matching the path against every
route, the exit stacks, the exception middleware, dependency resolution) cost a worker more CPU than the
check-in itself (profile in docs/performance.md). The lane maps (method, path) to the very endpoint
function that the documented FastAPI route runs, calls it with a plain ``Request``, and answers errors
through the same problem handlers (``problems.respond``), so clients see the same API either way. It sits
inside the request limits (body size, NUL) like every route; anything it does not know goes on to FastAPI.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from civicpass.web import problems

Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class LaneRoute:
    """An endpoint served by the lane, with what FastAPI would otherwise read off its signature."""

    endpoint: Endpoint
    body: type[BaseModel]  # the JSON body it reads (documented in OpenAPI; swept by the bad-input tests)
    auth: Literal["resident", "staff"]  # who may call it (the endpoint checks it)


class FastLane:
    def __init__(self, app: ASGIApp, routes: Mapping[tuple[str, str], LaneRoute]) -> None:
        self.app = app
        self.routes = dict(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = (
            self.routes.get((scope.get("method", ""), scope.get("path", "")))
            if scope["type"] == "http"
            else None
        )
        if route is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive, send)
        try:
            response = await route.endpoint(request)
        except Exception as exc:  # mapped exactly as FastAPI's handlers map it; unexpected ones propagate
            response = await problems.respond(request, exc)
        await response(scope, receive, send)
