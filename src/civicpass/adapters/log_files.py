"""A transparency log exported to a directory, and the two sources an auditor reads (directory, HTTP).

Layout of an export (``civicpass audit export DIR``)::

    DIR/log-key.txt        the log's verifier key (<name>+<id>+<key>)
    DIR/checkpoints.jsonl  {"size", "note"} per signed checkpoint, by size
    DIR/leaves.jsonl       {"index", "name", "canonical", "leaf_hash"} per leaf, by index
    DIR/nodes.jsonl        {"level", "index", "hash"} per stored complete subtree
    DIR/tiles.jsonl        {"index", "hashes"} per stored tile (levels 0-3 of 16 leaves, 30 hashes in
                           ``log_repositories.tile_nodes`` order), checked against the leaves like nodes
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import sqlalchemy as sa

from civicpass.adapters.db import tables as t
from civicpass.adapters.db.log_repositories import tile_hashes
from civicpass.domain import merkle
from civicpass.services.audit import PAGE, AuditLeaf


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _event(canonical: str) -> int | None:
    event = json.loads(canonical).get("event")
    return event if isinstance(event, int) else None


def export_log(engine: sa.Engine, log_key: str, out: Path) -> int:
    """Write the log as stored (leaves, subtree hashes, checkpoints) to ``out``; the number of leaves."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "log-key.txt").write_text(log_key + "\n")
    with engine.connect() as conn:
        c = t.log_checkpoints.c
        with (out / "checkpoints.jsonl").open("w") as f:
            for checkpoint in conn.execute(sa.select(c.size, c.note).order_by(c.size)):
                f.write(json.dumps({"size": int(checkpoint.size), "note": checkpoint.note}) + "\n")
        leaf = t.log_leaves.c
        count = 0
        with (out / "leaves.jsonl").open("w") as f:
            for row in conn.execution_options(yield_per=PAGE).execute(
                sa.select(leaf.idx, leaf.name, leaf.data, leaf.leaf_hash).order_by(leaf.idx)
            ):
                record = {
                    "index": int(row.idx),
                    "name": row.name,
                    "canonical": row.data,
                    "leaf_hash": _b64(bytes(row.leaf_hash)),
                }
                f.write(json.dumps(record, ensure_ascii=False) + "\n")
                count += 1
        n = t.log_nodes.c
        with (out / "nodes.jsonl").open("w") as f:
            for node in conn.execution_options(yield_per=PAGE).execute(
                sa.select(n.level, n.idx, n.hash).order_by(n.level, n.idx)
            ):
                f.write(
                    json.dumps(
                        {"level": int(node.level), "index": int(node.idx), "hash": _b64(bytes(node.hash))}
                    )
                    + "\n"
                )
        tile = t.log_tiles.c
        with (out / "tiles.jsonl").open("w") as f:
            for index, hashes in conn.execution_options(yield_per=PAGE).execute(
                sa.select(tile.idx, tile.hashes).order_by(tile.idx)
            ):
                f.write(json.dumps({"index": int(index), "hashes": _b64(bytes(hashes))}) + "\n")
    return count


class DirSource:
    """An exported log: everything is read from the files, nothing from the instance."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._leaves: list[dict[str, Any]] | None = None

    def key(self) -> str:
        return (self.path / "log-key.txt").read_text().strip()

    def checkpoints(self) -> list[str]:
        lines = (self.path / "checkpoints.jsonl").read_text().splitlines()
        return [json.loads(line)["note"] for line in lines if line.strip()]

    def consistency(self, size1: int, size2: int) -> list[bytes]:
        hashes = [base64.b64decode(r["leaf_hash"]) for r in self._all()[:size2]]
        return merkle.consistency_proof(size1, hashes)

    def _all(self) -> list[dict[str, Any]]:
        if self._leaves is None:
            with (self.path / "leaves.jsonl").open() as f:
                self._leaves = [json.loads(line) for line in f if line.strip()]
        return self._leaves

    def leaves(self, start: int, end: int) -> list[AuditLeaf]:
        return [
            AuditLeaf(r["index"], r["canonical"], base64.b64decode(r["leaf_hash"]), _event(r["canonical"]))
            for r in self._all()[start:end]
        ]

    def nodes(self) -> Iterator[tuple[int, int, bytes]]:
        """The stored subtrees, then each tile's (an export made before tiles has none)."""
        with (self.path / "nodes.jsonl").open() as f:
            for line in f:
                if line.strip():
                    r = json.loads(line)
                    yield r["level"], r["index"], base64.b64decode(r["hash"])
        tiles = self.path / "tiles.jsonl"
        if tiles.exists():
            with tiles.open() as f:
                for line in f:
                    if line.strip():
                        r = json.loads(line)
                        hashes = tile_hashes(r["index"], base64.b64decode(r["hashes"]))
                        for (level, index), digest in hashes.items():
                            yield level, index, digest


class HttpSource:
    """A live instance, read through its public API (``client``'s base URL is the instance's)."""

    def __init__(self, client: httpx2.Client) -> None:
        self.client = client

    def key(self) -> str:
        key: str = self.client.get("/.well-known/civicpass/log-keys").json()["note_key"]
        return key

    def checkpoints(self) -> list[str]:
        found: list[str] = []
        while True:
            after = int(found[-1].split("\n")[1]) if found else 0
            page: list[str] = self.client.get("/v1/log/checkpoints", params={"after": after}).json()
            if not page:
                return found
            found.extend(page)

    def consistency(self, size1: int, size2: int) -> list[bytes]:
        body = self.client.get("/v1/log/proofs/consistency", params={"size1": size1, "size2": size2}).json()
        return [base64.b64decode(h) for h in body.get("proof", [])]

    def leaves(self, start: int, end: int) -> list[AuditLeaf]:
        rows = self.client.get("/v1/log/leaves", params={"start": start, "end": end}).json()
        return [
            AuditLeaf(r["index"], r["canonical"], base64.b64decode(r["leaf_hash"]), _event(r["canonical"]))
            for r in rows
        ]

    def nodes(self) -> Iterator[tuple[int, int, bytes]]:
        return iter(())  # a live instance serves proofs, not its stored subtrees
