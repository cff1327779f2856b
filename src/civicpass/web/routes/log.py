"""The transparency log, public: its size and root, leaves, inclusion and consistency proofs (RFC 9162).
Hashes are standard base64, as in C2SP checkpoints."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Query, Response, status
from fastapi.responses import PlainTextResponse
from pydantic import Field

from civicpass.services import alarms, privacy
from civicpass.services import transparency as tl
from civicpass.web.deps import CurrentResident, CurrentStaff, ServiceDeps
from civicpass.web.schemas import Strict

router = APIRouter(prefix="/v1/log", tags=["transparency log"])


@router.get("")
def log_head(deps: ServiceDeps) -> dict[str, Any]:
    """The current tree: its size and root hash."""
    head = tl.head(deps)
    return {"size": head.size, "root": tl.b64(head.root)}


@router.get("/checkpoints")
def log_checkpoints(deps: ServiceDeps, after: int = Query(0, ge=0, le=2**62)) -> list[str]:
    """Every signed checkpoint above size ``after`` (at most 1,000, smallest first), for auditors."""
    return tl.checkpoints(deps, after)


@router.get("/leaves")
def log_leaves(
    deps: ServiceDeps, start: int = Query(ge=0, le=2**62), end: int = Query(ge=1, le=2**62)
) -> list[dict[str, Any]]:
    """Leaves [start, end), at most 1,000: each the canonical JSON its leaf hash covers."""
    return [
        {
            "index": leaf.index,
            "name": leaf.name,
            "data": json.loads(leaf.data),
            "canonical": leaf.data,
            "leaf_hash": tl.b64(leaf.leaf_hash),
        }
        for leaf in tl.leaves(deps, start, end)
    ]


@router.get("/proofs/inclusion")
def inclusion_proof(
    deps: ServiceDeps, index: int = Query(ge=0, le=2**62), size: int | None = Query(None, ge=1, le=2**62)
) -> dict[str, Any]:
    """The audit path of leaf ``index`` in the tree of ``size`` leaves (default: the current tree)."""
    proof = tl.inclusion(deps, index, size)
    return {
        "index": proof.index,
        "size": proof.size,
        "leaf_hash": tl.b64(proof.leaf_hash),
        "proof": [tl.b64(h) for h in proof.proof],
        "root": tl.b64(proof.root),
    }


@router.get("/proofs/consistency")
def consistency_proof(
    deps: ServiceDeps, size1: int = Query(ge=1, le=2**62), size2: int | None = Query(None, ge=1, le=2**62)
) -> dict[str, Any]:
    """That the tree of ``size1`` leaves is a prefix of the tree of ``size2`` (default: the current)."""
    proof, root1, root2, size2 = tl.consistency(deps, size1, size2)
    return {
        "size1": size1,
        "size2": size2,
        "proof": [tl.b64(h) for h in proof],
        "root1": tl.b64(root1),
        "root2": tl.b64(root2),
    }


class CosignatureIn(Strict):
    size: int = Field(ge=1, le=2**62)
    line: str = Field(
        min_length=10, max_length=400, description="'— <witness name> <base64>' (C2SP tlog-cosignature)"
    )


@router.post("/cosignatures", status_code=status.HTTP_204_NO_CONTENT)
def add_cosignature(body: CosignatureIn, deps: ServiceDeps) -> Response:
    """A configured witness's cosignature of one of our checkpoints; served with the checkpoint."""
    tl.add_cosignature(deps, body.size, body.line)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


well_known = APIRouter(tags=["transparency log"])


@well_known.get("/.well-known/civicpass/checkpoint", response_class=PlainTextResponse)
def latest_checkpoint(deps: ServiceDeps) -> PlainTextResponse:
    """The latest checkpoint as a C2SP signed note, with the witnesses' cosignatures."""
    return PlainTextResponse(tl.checkpoint(deps), media_type="text/plain; charset=utf-8")


@well_known.get("/.well-known/civicpass/log-keys")
def log_keys(deps: ServiceDeps) -> dict[str, Any]:
    """This instance's verifier keys: the log's note key, its witness key, and the witnesses it serves."""
    notes = deps.notes
    return {
        "note_key": notes.note_key.encode() if notes else None,
        "witness_key": notes.witness_key.encode() if notes else None,
        "witnesses": [k.encode() for k in deps.log_witnesses],
    }


me = APIRouter(prefix="/v1/me", tags=["transparency log"])


@me.get("/status/changes")
def my_status_changes(
    actor: CurrentResident, deps: ServiceDeps, subject_id: str | None = Query(None, max_length=36)
) -> list[dict[str, Any]]:
    """Your status changes (or a dependent's), newest first, each with its inclusion proof in the
    transparency log: check it against the checkpoint at /.well-known/civicpass/checkpoint."""
    found = tl.my_status_changes(deps, actor, subject_id or actor.id)
    return [
        {
            "version": change.version,
            "color": change.color,
            "previous": change.previous,
            "at": change.at.isoformat(),
            "published": change.leaf is not None,
            "leaf": None
            if change.leaf is None
            else {
                "index": change.leaf.index,
                "canonical": change.leaf.data,
                "leaf_hash": tl.b64(change.leaf.leaf_hash),
            },
            "inclusion": None
            if change.proof is None
            else {
                "size": change.proof.size,
                "proof": [tl.b64(h) for h in change.proof.proof],
                "root": tl.b64(change.proof.root),
            },
        }
        for change in found
    ]


@me.get("/access-log")
def who_read_my_data(
    actor: CurrentResident, deps: ServiceDeps, subject_id: str | None = Query(None, max_length=36)
) -> list[dict[str, Any]]:
    """Who read your personal data (or a dependent's), when and for what purpose, newest first."""
    return [
        {
            "at": r.at.isoformat(),
            "staff_id": r.staff_id,
            "action": r.action,
            "purpose": {"code": r.purpose.code.value, "text": r.purpose.text},
            "fields": list(r.fields),
        }
        for r in tl.who_read(deps, actor, subject_id or actor.id)
    ]


staff = APIRouter(prefix="/v1/staff", tags=["transparency log"])


@staff.get("/alarms")
def misuse_alarms(
    actor: CurrentStaff, deps: ServiceDeps, days: int = Query(7, ge=1, le=90)
) -> list[dict[str, Any]]:
    """Misuse alarms of the last days, newest first (auditors): bulk hand-made facts or bulk look-ups."""
    return [
        {"id": e.id, "kind": e.name, "at": e.at.isoformat(), **e.payload}
        for e in alarms.recent(deps, actor, days)
    ]


@me.get("/export")
def export_my_data(
    actor: CurrentResident, deps: ServiceDeps, subject_id: str | None = Query(None, max_length=36)
) -> dict[str, Any]:
    """Everything civicpass holds about you (or a dependent), as JSON."""
    return privacy.export_me(deps, actor, subject_id or actor.id)
