"""A lean HTTP/1.1 load generator for the benchmarks: keep-alive connections on raw asyncio streams.

Why not httpx: a general client spends about 1 ms of CPU per request, so on a 2-core machine it, not the
server, would set the rate it measures (it tops out near 900 requests/s). This one is an asyncio protocol
that writes prepared bytes and reads a status line, headers and a ``Content-Length`` body, nothing more
(about 30 µs of CPU a request here), optionally in several processes; it records which requests were
acknowledged so that a benchmark can check each of them was stored.

It speaks only what the benchmarks need: ``POST`` with a JSON body, responses with ``Content-Length``
(uvicorn's), keep-alive. ``wrk`` measures the same ceiling where it is installed (docs/performance.md).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

try:  # uvloop comes with uvicorn[standard]; the generator works without it, only slower
    import uvloop
except ImportError:  # pragma: no cover
    uvloop = None

BodyMaker = Callable[[int], tuple[str, bytes]]
"""Request number -> (client id recorded when acknowledged, JSON body)."""


@dataclass
class Tally:
    statuses: dict[int, int] = field(default_factory=dict)
    acknowledged: list[str] = field(default_factory=list)  # client ids answered 201
    transport_errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)

    def merge(self, other: Tally) -> None:
        for status, n in other.statuses.items():
            self.statuses[status] = self.statuses.get(status, 0) + n
        self.acknowledged.extend(other.acknowledged)
        self.transport_errors += other.transport_errors
        self.seconds = max(self.seconds, other.seconds)
        self.latencies.extend(other.latencies)

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * p))] if ordered else 0.0


class _Client(asyncio.Protocol):
    """One keep-alive connection: writes a request, resolves a future with the status of its response."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.waiting: asyncio.Future[int] | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def send(self, request: bytes) -> asyncio.Future[int]:
        self.waiting = asyncio.get_running_loop().create_future()
        assert self.transport is not None
        self.transport.write(request)
        return self.waiting

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buffer[:end])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
                break
        if len(self.buffer) < end + 4 + length:
            return
        del self.buffer[: end + 4 + length]
        if self.waiting is not None and not self.waiting.done():
            self.waiting.set_result(int(head[9:12]))

    def connection_lost(self, exc: Exception | None) -> None:
        if self.waiting is not None and not self.waiting.done():
            self.waiting.set_exception(ConnectionError("connection lost"))


async def _open(host: str, port: int) -> _Client:
    _, client = await asyncio.get_running_loop().create_connection(_Client, host, port)
    return client


async def _connection(
    host: str,
    port: int,
    path: str,
    tokens: Sequence[str],
    next_number: Callable[[], int | None],
    make_body: BodyMaker,
    tally: Tally,
    opened: asyncio.Barrier,
) -> None:
    client = await _open(host, port)
    await opened.wait()  # every connection is open before the first request (the clock starts then)
    prefix = f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
    try:
        while (n := next_number()) is not None:
            client_id, body = make_body(n)
            request = (
                f"{prefix}Authorization: Bearer {tokens[n % len(tokens)]}\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            ).encode() + body
            started = time.perf_counter()
            try:
                status = await client.send(request)
            except (OSError, ConnectionError):
                tally.transport_errors += 1
                client = await _open(host, port)
                continue
            tally.latencies.append(time.perf_counter() - started)
            tally.statuses[status] = tally.statuses.get(status, 0) + 1
            if status == 201:
                tally.acknowledged.append(client_id)
    finally:
        if client.transport is not None:
            client.transport.close()


async def _drive(
    host: str,
    port: int,
    path: str,
    tokens: Sequence[str],
    first: int,
    count: int,
    connections: int,
    make_body: BodyMaker,
) -> Tally:
    numbers = iter(range(first, first + count))
    tally = Tally()

    def next_number() -> int | None:
        return next(numbers, None)

    opened = asyncio.Barrier(connections + 1)
    tasks = []
    for _ in range(connections):
        tasks.append(
            asyncio.create_task(_connection(host, port, path, tokens, next_number, make_body, tally, opened))
        )
        # One at a time: a server's worker processes share one listening socket, and a burst of connects
        # is accepted whole by whichever worker wakes first; a steady arrival spreads them (as real
        # clients arrive) over the workers.
        await asyncio.sleep(0.01)
    await opened.wait()
    started = time.perf_counter()
    await asyncio.gather(*tasks)
    tally.seconds = time.perf_counter() - started
    return tally


def checkin_body(venue_codes: Sequence[str]) -> BodyMaker:
    """Bodies of ``POST /v1/me/check-ins``: request n scans venue n (mod the venues) with a fresh client
    id at the current time; with the token of resident n (mod the residents) as ``run`` sends it."""

    def make(n: int) -> tuple[str, bytes]:
        client_id = uuid.uuid4().hex
        at = datetime.now(UTC).isoformat()
        code = venue_codes[n % len(venue_codes)]
        body = f'{{"venue_code":"{code}","client_id":"{client_id}","scanned_at":"{at}"}}'
        return client_id, body.encode()

    return make


def _process(args: tuple[str, int, str, Sequence[str], int, int, int, BodyMaker]) -> Tally:
    if uvloop is not None:
        uvloop.install()
    return asyncio.run(_drive(*args))


def run(
    host: str,
    port: int,
    path: str,
    tokens: Sequence[str],
    make_body: BodyMaker,
    count: int,
    connections: int,
    processes: int = 1,
    first: int = 0,
) -> Tally:
    """Send ``count`` requests, numbered from ``first``, over ``connections`` keep-alive connections
    spread over ``processes``."""
    share, per_process = count // processes, max(1, connections // processes)
    jobs = [
        (
            host,
            port,
            path,
            tokens,
            first + k * share,
            share if k < processes - 1 else count - k * share,
            per_process,
            make_body,
        )
        for k in range(processes)
    ]
    total = Tally()
    if processes == 1:
        total.merge(_process(jobs[0]))
        return total
    context = multiprocessing.get_context("fork")  # fork: the body maker is a closure, never pickled
    results = context.Queue()
    workers = [context.Process(target=lambda job=job: results.put(_process(job))) for job in jobs]
    for worker in workers:
        worker.start()
    for _ in workers:
        total.merge(results.get())
    for worker in workers:
        worker.join()
    return total
