"""Group commit of check-ins: many concurrent requests, one transaction and one durable commit per batch.

At a morning peak every worker holds many check-in requests at once. Each request hands its scan to the
worker's ``CheckinIntake`` and waits; one committer takes everything that is waiting (up to
``max_batch``), authenticates, grades and stores it with ``checkins.record_batch`` in one transaction on
one thread, and answers every request only after that transaction committed — so an acknowledged
check-in is durable, as with one commit per request, but a batch pays for one commit (one fsync)
instead of one per scan. Batches form by themselves: while one commits, the next gathers.

Overload is shed, not queued without end: with ``queue_limit`` scans already waiting, a new one is
refused at once with ``Unavailable("overloaded")`` (503 and Retry-After), nothing of it kept. If a
batch's transaction fails as a whole (nothing of it was stored), it is committed again in halves, and
halves of halves, so one scan that trips an unexpected error cannot take the others down with it (that one gets its error, which
the web layer logs and answers as any unexpected error).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor

from civicpass.domain.checkins import CheckIn
from civicpass.domain.errors import CivicpassError, Message, Unavailable
from civicpass.services.checkins import Outcome, TokenScan, record_batch
from civicpass.services.context import Deps
from civicpass.services.venues import VenueCodes

log = logging.getLogger("civicpass.intake")

Stored = tuple[CheckIn, bool]
Waiting = tuple[TokenScan, "asyncio.Future[Stored]"]


def _overloaded(retry_after: int) -> Unavailable:
    return Unavailable(
        "overloaded",
        Message("too many check-ins at this moment; retry shortly", "当前扫码登记过多，请稍后重试"),
        extra={"retry_after": retry_after},
    )


class CheckinIntake:
    """One per worker process: gathers concurrent scans into group commits on ``committers`` threads.

    One committer by default: more let the next batch be written while one waits for its fsync, but the
    batches get smaller and each costs a fixed handful of statements, which measured slower here.
    """

    def __init__(
        self, deps: Deps, *, max_batch: int = 500, queue_limit: int = 2000, committers: int = 1
    ) -> None:
        self.deps = deps
        self.max_batch = max_batch
        self.queue_limit = queue_limit
        self.codes = VenueCodes(deps)
        self.batches = 0  # committed batches, for the benchmark's and the metrics' sake
        self.committed = 0
        self._waiting: deque[Waiting] = deque()
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._committers: list[asyncio.Task[None]] = []
        self._count = committers
        self._starts = 0
        self._closing = False
        self._threads: ThreadPoolExecutor | None = None
        self._counting = threading.Lock()

    def start(self) -> None:
        """Start committing on the running event loop (the server's start-up).

        Starts nest (a test may serve one app from two clients at once): the first starts the committers
        and only the matching last ``close`` stops them.
        """
        self._starts += 1
        if self._starts > 1:
            return
        self._loop = asyncio.get_running_loop()
        self._threads = ThreadPoolExecutor(self._count, thread_name_prefix="checkin-commit")
        wake = self._wake = asyncio.Event()
        self._committers = [self._loop.create_task(self._commit_forever(wake)) for _ in range(self._count)]

    async def close(self) -> None:
        """Refuse new scans, commit every waiting one and answer it, then stop (the server's shutdown)."""
        self._starts -= 1
        if self._starts > 0 or self._wake is None or self._threads is None:
            return
        self._closing = True
        self._wake.set()
        await asyncio.gather(*self._committers)
        self._threads.shutdown(wait=True)
        self._committers, self._wake, self._loop, self._threads = [], None, None, None
        self._closing = False
        log.info("check-in intake closed: %d check-ins in %d group commits", self.committed, self.batches)

    async def submit(self, item: TokenScan) -> Stored:
        """Record one scan; returns (check-in, newly stored) once durably committed, or raises its refusal."""
        if self._closing or len(self._waiting) >= self.queue_limit:
            raise _overloaded(1)
        loop = asyncio.get_running_loop()
        if self._wake is None or loop is not self._loop:  # not started on this loop (no server lifespan)
            (outcome,) = await loop.run_in_executor(None, self._commit, [item])
            if isinstance(outcome, CivicpassError):
                raise outcome
            return outcome
        future: asyncio.Future[Stored] = loop.create_future()
        self._waiting.append((item, future))
        self._wake.set()
        return await future

    def _commit(self, items: list[TokenScan]) -> list[Outcome]:
        outcomes = record_batch(self.deps, items, self.codes)
        with self._counting:
            self.batches += 1
            self.committed += len(items)
        return outcomes

    async def _commit_forever(self, wake: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self._waiting:
                if self._closing:
                    return
                wake.clear()
                await wake.wait()
                if self._closing:
                    wake.set()  # the other committers must see it too
                continue
            batch = [self._waiting.popleft() for _ in range(min(len(self._waiting), self.max_batch))]
            items = [item for item, _ in batch]
            answers: list[Outcome | Exception]
            try:
                answers = list(await loop.run_in_executor(self._threads, self._commit, items))
            except Exception as failure:  # the transaction failed as a whole: nothing of it was stored
                answers = await self._isolate(loop, items, failure)
            for (_, future), answer in zip(batch, answers, strict=True):
                if future.done():  # a request whose client went away was cancelled
                    continue
                if isinstance(answer, Exception):
                    future.set_exception(answer)
                else:
                    future.set_result(answer)

    async def _isolate(
        self, loop: asyncio.AbstractEventLoop, items: list[TokenScan], failure: Exception
    ) -> list[Outcome | Exception]:
        """Commit a failed batch's scans in halves, then quarters, ... so one poisonous scan fails alone.

        A failure that is not about any one scan (the database is unavailable) fails them all at once.
        """
        if len(items) == 1 or isinstance(failure, Unavailable):
            return [failure] * len(items)
        log.warning("a batch of %d check-ins failed (%r); committing it in halves", len(items), failure)
        answers: list[Outcome | Exception] = []
        middle = len(items) // 2
        for half in (items[:middle], items[middle:]):
            try:
                answers.extend(await loop.run_in_executor(self._threads, self._commit, half))
            except Exception as again:
                answers.extend(await self._isolate(loop, half, again))
        return answers
