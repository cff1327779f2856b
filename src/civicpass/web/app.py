"""The ASGI application factory. Nothing is built at import time: ``create_app(settings)`` does it all."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI

from civicpass import __version__
from civicpass.bootstrap import Container, build
from civicpass.services.status import sweep
from civicpass.settings import Settings
from civicpass.web import problems
from civicpass.web.limits import RequestLimits
from civicpass.web.routes import (
    checkins,
    codes,
    declarations,
    facts,
    health,
    regions,
    residents,
    rulesets,
    staff,
    status,
)

log = logging.getLogger("civicpass.web")


def create_app(settings: Settings | None = None, *, container: Container | None = None) -> FastAPI:
    """Build the app from settings (or from an already wired container, as tests do)."""
    wired = container or build(settings or Settings())

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        sweeper = None
        if wired.settings.sweep_interval_seconds > 0:
            sweeper = asyncio.create_task(_sweep_forever(wired, wired.settings.sweep_interval_seconds))
        yield
        if sweeper is not None:
            sweeper.cancel()
        if container is None:
            wired.dispose()

    app = FastAPI(
        title="civicpass",
        version=__version__,
        description="Health code and citizen code platform. Errors are RFC 9457 problem+json with a reason code.",
        lifespan=lifespan,
    )
    app.state.container = wired
    problems.install(app)
    for module in (health, residents, declarations, status, codes, checkins, staff, facts, rulesets, regions):
        app.include_router(module.router)
    app.add_middleware(RequestLimits, max_bytes=wired.settings.max_body_bytes)
    return app


async def _sweep_forever(container: Container, interval: int) -> None:
    """Re-evaluate statuses that are due (windows lapsing, facts expiring) so residents are told promptly."""
    while True:
        await asyncio.sleep(interval)
        try:
            reviewed = await anyio.to_thread.run_sync(sweep, container.deps)
        except Exception:  # a failed sweep must not stop the server; the next one retries
            log.exception("status sweep failed")
        else:
            if reviewed:
                log.info("status sweep reviewed %d residents", reviewed)


def app_from_environment() -> FastAPI:
    """Entry for ``uvicorn --factory civicpass.web.app:app_from_environment`` (multi-worker serving)."""
    return create_app(Settings())
