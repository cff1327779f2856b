"""The ASGI application factory. Nothing is built at import time: ``create_app(settings)`` does it all."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI

from civicpass import __version__
from civicpass.adapters.db.partitions import SqlCheckinStorage
from civicpass.adapters.federation import HttpLogClient
from civicpass.bootstrap import Container, build
from civicpass.domain.notes import VerifierKey
from civicpass.services import alarms, witness
from civicpass.services.intake import CheckinIntake
from civicpass.services.maintenance import maintain
from civicpass.services.status import sweep
from civicpass.services.transparency import prepare_proofs, publish
from civicpass.settings import Settings
from civicpass.web import pages, problems
from civicpass.web.fastlane import LaneApp
from civicpass.web.limits import RequestLimits
from civicpass.web.routes import (
    cases,
    checkins,
    codes,
    declarations,
    facts,
    feeds,
    followup,
    health,
    regions,
    residents,
    rulesets,
    staff,
    status,
)
from civicpass.web.routes import log as transparency_log

log = logging.getLogger("civicpass.web")


def witness_peers(text: str) -> list[tuple[HttpLogClient, VerifierKey]]:
    """``<url>|<verifier key>,...`` as clients and keys (the key pins the log's identity)."""
    peers = []
    for item in (i.strip() for i in text.split(",")):
        if item:
            url, _, key = item.partition("|")
            peers.append((HttpLogClient(url.strip()), VerifierKey.parse(key)))
    return peers


def create_app(settings: Settings | None = None, *, container: Container | None = None) -> LaneApp:
    """Build the app from settings (or from an already wired container, as tests do)."""
    wired = container or build(settings or Settings())

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        config = wired.settings
        storage = SqlCheckinStorage(wired.engine)
        peers = witness_peers(config.witness_peers)
        chores = [
            asyncio.create_task(_every(interval, name, job))
            for interval, name, job in (
                (config.sweep_interval_seconds, "status sweep", lambda: sweep(wired.deps)),
                (config.log_interval_seconds, "transparency log", lambda: publish(wired.deps)),
                (config.log_interval_seconds, "proof reader", lambda: prepare_proofs(wired.deps)),
                (config.alarm_interval_seconds, "misuse alarms", lambda: alarms.scan(wired.deps)),
                (
                    config.witness_interval_seconds if peers else 0,
                    "witnessing",
                    lambda: witness.observe_all(wired.deps, peers),
                ),
                (
                    config.checkin_maintenance_interval_seconds,
                    "check-in maintenance",
                    lambda: maintain(wired.deps, storage),
                ),
            )
            if interval > 0
        ]
        intake.start()
        # What start-up made (modules, the container, its pools) lives as long as the worker: frozen, the
        # garbage collector stops walking it in every full collection (a feed batch's 50,000 records set
        # off several; 1 µs of Python a record less, docs/performance.md). Thawed before the worker exits,
        # so that it is freed in order.
        gc.freeze()
        yield
        gc.unfreeze()
        await intake.close()  # every waiting check-in is committed and answered before the worker exits
        for chore in chores:
            chore.cancel()
        for client, _ in peers:
            client.close()
        if container is None:
            wired.dispose()

    app = LaneApp(
        title="civicpass",
        version=__version__,
        description="Health code and citizen code platform. Errors are RFC 9457 problem+json with a reason code.",
        lifespan=lifespan,
        # FastAPI's built-in OpenTelemetry instrumentation looks the providers up on every request; civicpass
        # configures no OpenTelemetry, so the look-ups are pure cost at a peak (observability: SPEC §3).
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.container = wired
    intake = CheckinIntake(
        wired.deps,
        max_batch=wired.settings.checkin_batch_max,
        queue_limit=wired.settings.checkin_queue_limit,
        committers=wired.settings.checkin_committers,
    )
    app.state.checkin_intake = intake
    problems.install(app)
    # Routes match in order; check-ins are most of the traffic at a peak, so their router comes first.
    routers = (
        checkins,
        health,
        residents,
        declarations,
        status,
        codes,
        staff,
        facts,
        cases,
        feeds,
        followup,
        transparency_log,
        rulesets,
        regions,
    )
    for module in routers:
        app.include_router(module.router)
    app.include_router(transparency_log.well_known)
    app.include_router(transparency_log.me)
    app.include_router(transparency_log.staff)
    app.include_router(pages.router)
    app.add_middleware(
        RequestLimits,
        max_bytes=wired.settings.max_body_bytes,
        larger={feeds.FEED_PATH: wired.settings.feed_max_bytes},  # signed feed batches are bulk uploads
        gates={feeds.FEED_PATH: feeds.upload_gate(wired.deps)},  # ...only from registered sources
    )
    app.lane(checkins.FAST_ROUTES, wired.settings.max_body_bytes)  # the peak's hot path, past FastAPI's stack
    return app


async def _every(interval: int, name: str, job: Callable[[], object]) -> None:
    """Run a chore in a worker thread every ``interval`` seconds (first run soon after start-up).

    Statuses due for review are re-evaluated so residents are told promptly; check-in partitions are made
    ahead and expired ones purged. A failed run must not stop the server; the next one retries.
    """
    await asyncio.sleep(min(interval, 5))
    while True:
        try:
            result = await anyio.to_thread.run_sync(job)
        except Exception:  # the chore's own errors are logged; the server keeps serving
            log.exception("%s failed", name)
        else:
            log.info("%s: %s", name, result)
        await asyncio.sleep(interval)


def log_to_stderr() -> None:
    """Send the ``civicpass`` loggers' INFO lines (chores, group commits) to stderr, beside uvicorn's own."""
    logger = logging.getLogger("civicpass")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s:     [%(process)d] %(name)s: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


def app_from_environment() -> LaneApp:
    """Entry for ``uvicorn --factory civicpass.web.app:app_from_environment`` (multi-worker serving)."""
    log_to_stderr()
    return create_app(Settings())
