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
from civicpass.web.limits import RequestLimits

Endpoint = Callable[[Request], Awaitable[Response]]


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
        self._lane = RequestLimits(self._serve_lane, max_bytes=1 << 20)

    def lane(self, routes: Mapping[tuple[str, str], LaneRoute], max_bytes: int) -> None:
        self.lane_routes.update(routes)
        self._lane = RequestLimits(self._serve_lane, max_bytes=max_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (scope["method"], scope["path"]) in self.lane_routes:
            scope["app"] = self
            await self._lane(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    async def _serve_lane(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self.lane_routes[(scope["method"], scope["path"])]
        request = Request(scope, receive, send)
        try:
            response: Response = await route.endpoint(request)
        except Exception as exc:
            try:
                response = await problems.respond(request, exc)
            except Exception:  # not one of ours: what FastAPI's server-error handler answers
                response = await problems.unexpected(request, exc)
        await response(scope, receive, send)
