"""The transparency log, public: its size and root, leaves, inclusion and consistency proofs (RFC 9162).
Hashes are standard base64, as in C2SP checkpoints."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Query

from civicpass.services import transparency as tl
from civicpass.web.deps import ServiceDeps

router = APIRouter(prefix="/v1/log", tags=["transparency log"])


@router.get("")
def log_head(deps: ServiceDeps) -> dict[str, Any]:
    """The current tree: its size and root hash."""
    head = tl.head(deps)
    return {"size": head.size, "root": tl.b64(head.root)}


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
