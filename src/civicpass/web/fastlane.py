"""A direct path for the requests that dominate a morning peak, in front of FastAPI's whole stack.

At thousands of check-ins a second, FastAPI's per-request machinery (its middleware layers, matching the
path against every route, the exit stacks, dependency resolution) cost a worker more CPU than the
check-in itself (profiles in docs/performance.md). ``LaneApp`` is the FastAPI application with one
difference: a request whose (method, path) is a lane route goes to that route's endpoint, the very
function the documented FastAPI route runs, behind the same request limits (body size, NUL), with errors
answered by the same problem handlers (``problems.respond``) and unexpected ones logged and answered 500
as FastAPI's server-error handler does. Clients see the same API either way; everything else is FastAPI.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import FastAPI
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from civicpass.web import problems
from civicpass.web.limits import Limits

Endpoint = Callable[[Request, bytes], Awaitable[Response]]
"""An endpoint of the lane gets the request and its whole body, already read within the limits."""


@dataclass(frozen=True)
class LaneRoute:
    """An endpoint served by the lane, with what FastAPI would otherwise read off its signature."""

    endpoint: Endpoint
    body: type[BaseModel]  # the JSON body it reads (documented in OpenAPI; swept by the bad-input tests)
    auth: Literal["resident", "staff"]  # who may call it (the endpoint checks it)


class LaneApp(FastAPI):
    """FastAPI, with the lane routes answered before its stack; ``lane(...)`` declares them."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lane_routes: dict[tuple[str, str], LaneRoute] = {}
        self._limits: Limits | None = None  # set with the routes

    def lane(self, routes: Mapping[tuple[str, str], LaneRoute], max_bytes: int) -> None:
        self.lane_routes.update(routes)
        self._limits = Limits(max_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self.lane_routes.get((scope["method"], scope["path"])) if scope["type"] == "http" else None
        if route is None or self._limits is None:
            await super().__call__(scope, receive, send)
            return
        scope["app"] = self
        body = await self._limits.read(scope, receive, send)
        if body is None:  # refused (NUL in the URL, body too large), the answer already sent
            return
        request = Request(scope, receive, send)
        try:
            response: Response = await route.endpoint(request, body)
        except Exception as exc:
            try:
                response = await problems.respond(request, exc)
            except Exception:  # not one of ours: what FastAPI's server-error handler answers
                response = await problems.unexpected(request, exc)
        await response(scope, receive, send)
