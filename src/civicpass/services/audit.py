"""Auditing a transparency log from outside (``civicpass audit verify``): trust nothing but the log's key.

Checks, in order, stopping at the first failure (which names the first bad leaf index it can):

1. every checkpoint is signed by the log's key and names the log's origin;
2. each checkpoint extends the one before (an RFC 9162 consistency proof from the source), or, when the
   leaves are read, each checkpoint's root is the root of the leaves before it;
3. with the leaves: their indexes run 0, 1, 2... with no gap; each leaf hash is SHA-256(0x00 || its
   canonical JSON); event ids only grow (nothing reordered); and every stored subtree hash the source
   offers equals the one the leaves give (an edited interior hash is found).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from civicpass.domain import merkle
from civicpass.domain.notes import Checkpoint, NoteError, SignedNote, VerifierKey
from civicpass.services.ports import NoteKeys

PAGE = 1000


@dataclass(frozen=True)
class AuditLeaf:
    index: int
    canonical: str
    leaf_hash: bytes
    event: int | None


class AuditSource(Protocol):
    """What an auditor reads: a live instance (HTTP) or an exported directory."""

    def checkpoints(self) -> list[str]: ...
    def consistency(self, size1: int, size2: int) -> list[bytes]: ...
    def leaves(self, start: int, end: int) -> list[AuditLeaf]: ...
    def nodes(self) -> Iterator[tuple[int, int, bytes]]:
        """Stored subtree hashes (level, index, hash), where the source has them (an export does)."""
        ...


@dataclass
class AuditReport:
    checkpoints: int = 0
    leaves: int = 0
    nodes: int = 0
    size: int = 0
    failure: str | None = None
    bad_index: int | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failure is None

    def fail(self, message: str, index: int | None) -> AuditReport:
        self.failure, self.bad_index = message, index
        return self


def _parse(notes: NoteKeys, key: VerifierKey, raw: str) -> Checkpoint:
    note = SignedNote.parse(raw)
    checkpoint = Checkpoint.parse(note.text)
    if checkpoint.origin != key.name:
        raise NoteError(f"the checkpoint's origin {checkpoint.origin!r} is not the key's {key.name!r}")
    if not any(notes.verify(key, note.text, s) for s in note.by(key)):
        raise NoteError("no valid signature by the log's key")
    return checkpoint


def verify(source: AuditSource, key: VerifierKey, notes: NoteKeys, *, with_leaves: bool) -> AuditReport:
    report = AuditReport()
    checkpoints: list[Checkpoint] = []
    for raw in source.checkpoints():
        try:
            checkpoints.append(_parse(notes, key, raw))
        except NoteError as exc:
            return report.fail(f"checkpoint #{len(checkpoints) + 1}: {exc}", None)
    checkpoints.sort(key=lambda c: c.size)
    report.checkpoints = len(checkpoints)
    if not checkpoints:
        return report.fail("the log has no checkpoint", None)
    for before, after in itertools.pairwise(checkpoints):
        if before.size == after.size and before.root != after.root:
            return report.fail(f"two checkpoints of size {before.size} with different roots", before.size)
        if not with_leaves and after.size > before.size:
            try:
                proof = source.consistency(before.size, after.size)
                merkle.verify_consistency(before.size, after.size, proof, before.root, after.root)
            except merkle.ProofError as exc:
                return report.fail(
                    f"checkpoint {after.size} does not extend checkpoint {before.size}: {exc}", before.size
                )
    report.size = checkpoints[-1].size
    if with_leaves:
        return _verify_leaves(source, checkpoints, report)
    return report


def _verify_leaves(
    source: AuditSource, checkpoints: Sequence[Checkpoint], report: AuditReport
) -> AuditReport:
    size = report.size
    stack: list[tuple[int, bytes]] = []  # the compact range: perfect subtrees (level, hash), largest first
    hashes: list[bytes] = []
    pending = list(checkpoints)
    previous_event, previous_index, verified = -1, -1, 0
    for start in range(0, size, PAGE):
        page = source.leaves(start, min(size, start + PAGE))
        # First each leaf on its own (exact indexes), then the tree the page builds against the checkpoints.
        for offset, leaf in enumerate(page):
            expected = start + offset
            if leaf.index != expected:
                return report.fail(
                    f"leaf {expected} is missing (found index {leaf.index} in its place)", expected
                )
            if merkle.leaf_hash(leaf.canonical.encode()) != leaf.leaf_hash:
                return report.fail(f"leaf {leaf.index}: its hash does not match its contents", leaf.index)
            if leaf.event is not None:
                if leaf.event <= previous_event:
                    return report.fail(
                        f"leaf {previous_index} (event {previous_event}) comes before leaf {leaf.index}"
                        f" (event {leaf.event}): reordered",
                        previous_index,
                    )
                previous_event, previous_index = leaf.event, leaf.index
        if len(page) < min(PAGE, size - start):
            return report.fail(f"leaf {start + len(page)} is missing (the log ends early)", start + len(page))
        for leaf in page:
            hashes.append(leaf.leaf_hash)
            _push(stack, leaf.leaf_hash)
            while pending and pending[0].size == len(hashes):
                checkpoint = pending.pop(0)
                if merkle.fold([h for _, h in stack]) != checkpoint.root:
                    return report.fail(
                        f"the leaves before {checkpoint.size} do not give checkpoint {checkpoint.size}'s root",
                        verified,
                    )
                verified = checkpoint.size
    report.leaves = len(hashes)
    levels = [hashes]  # every complete subtree's hash, level by level, from the leaves
    while len(levels[-1]) > 1:
        below = levels[-1]
        levels.append([merkle.node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)])
    for level, index, stored in source.nodes():
        if level >= len(levels) or index >= len(levels[level]):
            continue  # a subtree the checkpoints do not cover yet
        report.nodes += 1
        if levels[level][index] != stored:
            first = index << level
            return report.fail(f"stored subtree ({level}, {index}) does not match leaves {first}..", first)
    return report


def _push(stack: list[tuple[int, bytes]], leaf: bytes) -> None:
    level, h = 0, leaf
    while stack and stack[-1][0] == level:
        _, left = stack.pop()
        h, level = merkle.node_hash(left, h), level + 1
    stack.append((level, h))
