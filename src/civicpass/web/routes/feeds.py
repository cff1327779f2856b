"""Data-source systems push signed batches; administrators register sources and read the quarantine."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, status
from pydantic import Field
from starlette.concurrency import run_in_threadpool
from starlette.types import Scope

from civicpass.domain.errors import Unavailable
from civicpass.domain.feeds import FeedSource
from civicpass.services import feeds
from civicpass.services.context import Deps
from civicpass.web.deps import CurrentStaff, ServiceDeps
from civicpass.web.limits import problem_body
from civicpass.web.schemas import Strict

router = APIRouter(prefix="/v1", tags=["feeds"])
FEED_PATH = "/v1/feeds/"


class SourceIn(Strict):
    name: str = Field(min_length=1, max_length=100)
    kind: str = Field(max_length=32, examples=["lab"])
    public_key: str = Field(max_length=64, description="Ed25519, 32 bytes, unpadded base64url")
    region_code: str = Field(max_length=6)


def source_view(source: FeedSource) -> dict[str, Any]:
    return {
        "id": source.id,
        "name": source.name,
        "kind": source.kind.value,
        "public_key": source.public_key,
        "region_code": source.region_code,
        "active": source.active,
        "created_at": source.created_at.isoformat(),
    }


@router.post("/feeds/{source_id}/batches")
async def submit_batch(
    source_id: str,
    request: Request,
    deps: ServiceDeps,
    batch_id: Annotated[str, Header(alias="Civicpass-Batch-Id", max_length=64)],
    signature: Annotated[str, Header(alias="Civicpass-Signature", max_length=200)],
) -> dict[str, Any]:
    """A signed batch (JSON Lines or CSV; see docs/formats/feeds.md). Good records are kept, bad ones are
    reported here and quarantined; the same batch again returns its first report (``replayed``)."""
    body = await request.body()
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return await run_in_threadpool(feeds.import_batch, deps, source_id, batch_id, body, media_type, signature)


@router.post("/staff/feed-sources", status_code=status.HTTP_201_CREATED)
def register_source(body: SourceIn, actor: CurrentStaff, deps: ServiceDeps) -> dict[str, Any]:
    """Register a data-source system with its public key (administrators)."""
    new = feeds.NewSource(body.name, body.kind, body.public_key, body.region_code)
    return source_view(feeds.register_source(deps, actor, new))


@router.get("/staff/feed-sources")
def list_sources(actor: CurrentStaff, deps: ServiceDeps) -> list[dict[str, Any]]:
    return [source_view(s) for s in feeds.sources(deps, actor)]


@router.get("/staff/feed-sources/{source_id}/quarantine")
def quarantine(
    source_id: str, actor: CurrentStaff, deps: ServiceDeps, limit: int = Query(100, ge=1, le=1000)
) -> list[dict[str, Any]]:
    """The source's rejected records, newest first, with their reasons."""
    return feeds.quarantined(deps, actor, source_id, limit)


def upload_gate(deps: Deps) -> Callable[[Scope], Awaitable[dict[str, Any] | None]]:
    """Before a batch's body is read: the signature headers are there and the source is registered."""
    error = feeds.unauthenticated()
    refused = problem_body(401, error.reason, error.message.en, error.message.zh)

    async def gate(scope: Scope) -> dict[str, Any] | None:
        parts = scope.get("path", "").split("/")  # "", "v1", "feeds", source, "batches"
        headers = {k.lower() for k, _ in scope.get("headers", ())}
        if len(parts) != 5 or not {b"civicpass-signature", b"civicpass-batch-id"} <= headers:
            return refused
        try:
            admitted = await run_in_threadpool(feeds.admits, deps, parts[3][:64])
        except Unavailable as exc:  # the database is down: the usual 503 (the app's handlers come later)
            m = exc.message
            return problem_body(503, exc.reason, m.en, m.zh, retry_after=exc.extra.get("retry_after", 2))
        return None if admitted else refused

    return gate
