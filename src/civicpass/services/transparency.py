"""The transparency log's publisher and proofs (RFC 9162; ``domain.merkle``).

Every change civicpass makes is first an event in the outbox (``events``, written in the same transaction
as the change, named ``source:subject:action``). ``publish`` appends the events not yet in the log as
leaves, in event order, each the RFC 8785 canonical JSON of ``{"name", "at", "event", "data"}`` where
residents appear by pseudonym, never by id or personal data. Proofs are computed from the stored
subtree hashes: O(log n) reads.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from civicpass.domain import merkle
from civicpass.domain.access import AccessRecord
from civicpass.domain.errors import FieldError, InvalidInput, Message, NotFound, PermissionDenied
from civicpass.domain.notes import Checkpoint, NoteError, SignedNote
from civicpass.domain.policy import Action, ResidentActor, Target, authorize
from civicpass.services.context import Deps
from civicpass.services.ports import LogHead, LogLeaf, LogRepository, LogView, NewLeaf, UnitOfWork
from civicpass.services.status import STATUS_CHANGED

RESIDENT_KEYS = ("subject", "resident", "contact")
"""Payload keys that hold a resident's database id: the leaf names their pseudonym instead."""
PUBLISH_BATCH = 5000
LEAVES_PAGE = 1000


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def publish(deps: Deps, limit: int = PUBLISH_BATCH) -> int:
    """Append the events not yet published as leaves (one writer at a time); how many were appended."""
    with deps.uow() as uow:
        head = uow.log.lock_head()
        bound = uow.events.committed_bound()  # never step past an event still being written
        if bound == -1:
            return 0
        events = uow.events.after(head.last_event_id, limit, bound)
        if not events:
            return 0
        ids = {str(e.payload[k]) for e in events for k in RESIDENT_KEYS if isinstance(e.payload.get(k), str)}
        pseudonyms = uow.residents.pseudonyms(ids)
        leaves = [
            NewLeaf(
                e.name,
                {
                    "name": e.name,
                    "at": e.at.isoformat(),
                    "event": e.id,
                    "data": _pseudonymous(e.payload, pseudonyms),
                },
                e.at,
                e.id,
            )
            for e in events
        ]
        grown = uow.log.append(leaves, events[-1].id, deps.clock.now())
        _sign_checkpoint(uow, deps, grown)
        uow.commit()
    return len(events)


def _sign_checkpoint(uow: UnitOfWork, deps: Deps, head: LogHead) -> None:
    if deps.notes is None or head.size == 0:
        return
    text = Checkpoint(deps.notes.note_key.name, head.size, head.root).text()
    note = SignedNote(text, (deps.notes.sign(text),)).encode()
    uow.log.add_checkpoint(head.size, note, deps.clock.now())


def checkpoint(deps: Deps) -> str:
    """The latest signed checkpoint with the witnesses' cosignatures of it (a C2SP signed note)."""
    with deps.uow() as uow:
        found = uow.log.checkpoint()
        if found is None:
            raise NotFound("checkpoint_missing", Message("the log has no checkpoint yet", "日志尚无检查点"))
        size, note = found
        return note + "".join(uow.log.cosignatures(size))


def add_cosignature(deps: Deps, size: int, line: str) -> None:
    """Keep a configured witness's cosignature of our checkpoint of ``size``, after verifying it."""
    try:
        (signature,) = SignedNote.parse("x\n\n" + line.rstrip("\n") + "\n").signatures
    except (NoteError, ValueError):
        raise InvalidInput(
            "cosignature_malformed", Message("not a signature line", "签名行格式无效")
        ) from None
    witness = next(
        (k for k in deps.log_witnesses if k.name == signature.name and k.id == signature.key_id), None
    )
    if witness is None or deps.notes is None:
        raise PermissionDenied(
            "witness_unknown", Message("this log does not know that witness", "本日志未配置该见证方")
        )
    with deps.uow() as uow:
        found = uow.log.checkpoint(size)
        if found is None:
            raise NotFound("checkpoint_missing", Message("no checkpoint of that size", "无该大小的检查点"))
        text = SignedNote.parse(found[1]).text
        if not deps.notes.verify(witness, text, signature):
            raise InvalidInput(
                "cosignature_invalid", Message("the cosignature does not verify", "见证签名验证失败")
            )
        line_text = signature.encode()
        if line_text in uow.log.cosignatures(size):
            return  # the same cosignature again (a retry, or a replay of a public line): nothing changes
        uow.log.add_cosignature(size, witness.name, line_text, deps.clock.now())
        uow.events.add("log:checkpoint:cosigned", {"size": size, "witness": witness.name}, deps.clock.now())
        uow.commit()


def _pseudonymous(payload: Mapping[str, Any], pseudonyms: Mapping[str, str]) -> dict[str, Any]:
    data = dict(payload)
    for key in RESIDENT_KEYS:
        value = data.get(key)
        if isinstance(value, str):
            data[key] = {"pseudonym": pseudonyms.get(value, "unknown")}
    return data


@dataclass(frozen=True)
class InclusionProof:
    index: int
    size: int
    leaf_hash: bytes
    proof: list[bytes]
    root: bytes


def _invalid(name: str, text: str) -> InvalidInput:
    return InvalidInput(
        "log_range_invalid",
        Message(text, "日志范围无效"),
        errors=[FieldError((name,), "log_range_invalid", text)],
    )


def _hashes(reader: LogView | LogRepository, ranges: list[merkle.Range]) -> list[bytes]:
    """The MTH of each range (the empty range's is the empty tree's root), from one read of the stored
    subtrees."""
    return merkle.range_hashes(reader.nodes(merkle.pieces_of(ranges)), ranges)


def head(deps: Deps) -> LogHead:
    with deps.uow() as uow:
        return uow.log.head()


def prepare_proofs(deps: Deps) -> int:
    """Have the proof reader hold the current tree's upper levels (a chore: a worker's first proofs then do
    not wait for them); the tree size held."""
    return deps.log_reader.prepare() if deps.log_reader is not None else 0


def inclusion(deps: Deps, index: int, size: int | None = None) -> InclusionProof:
    """The audit path of leaf ``index`` in the tree of ``size`` leaves (default: the current tree)."""
    plans: dict[int, list[list[merkle.Node]]] = {}

    def plan(at: int) -> list[list[merkle.Node]]:
        """The stored subtrees making up the leaf and each hash of its path in a tree of ``at`` leaves."""
        if at not in plans:
            ranges = [(index, index + 1), *merkle.inclusion_ranges(index, at)]
            plans[at] = [merkle.pieces(start, end) for start, end in ranges]
        return plans[at]

    def wanted(current: int) -> set[merkle.Node]:
        """What to read if the tree has ``current`` leaves (nothing if the proof cannot be given)."""
        at = current if size is None else size
        if not 0 <= index < at <= current:
            return set()
        needed = {node for pieces in plan(at) for node in pieces}
        return needed if at == current else needed | set(merkle.pieces(0, at))

    if deps.log_reader is None:
        with deps.uow() as uow:
            current = uow.log.head()
            return _inclusion(current, uow.log.nodes(wanted(current.size)), index, size, plan)
    with deps.log_reader.snapshot() as view:
        return _inclusion(*view.head_and_nodes(wanted), index, size, plan)


def _inclusion(
    current: LogHead,
    nodes: Mapping[merkle.Node, bytes],
    index: int,
    size: int | None,
    plan: Callable[[int], list[list[merkle.Node]]],
) -> InclusionProof:
    """The proof from the head and the stored subtrees read for it; the current tree's root is the head's."""
    size = current.size if size is None else size
    if not 0 <= index < size <= current.size:
        raise _invalid("index", f"need 0 <= index < size <= {current.size}")
    leaf, *proof = (merkle.fold([nodes[node] for node in pieces]) for pieces in plan(size))
    (tree_root,) = [current.root] if size == current.size else merkle.range_hashes(nodes, [(0, size)])
    return InclusionProof(index, size, leaf, proof, tree_root)


def consistency(deps: Deps, size1: int, size2: int | None = None) -> tuple[list[bytes], bytes, bytes, int]:
    """PROOF(size1, size2) with both roots (size2 default: the current tree)."""
    with deps.uow() as uow:
        current = uow.log.head().size
        size2 = current if size2 is None else size2
        if not 1 <= size1 <= size2 <= current:
            raise _invalid("size1", f"need 1 <= size1 <= size2 <= {current}")
        root1, root2, *proof = _hashes(
            uow.log, [(0, size1), (0, size2), *merkle.consistency_ranges(size1, size2)]
        )
        return proof, root1, root2, size2


def leaves(deps: Deps, start: int, end: int) -> list[LogLeaf]:
    if not 0 <= start < end or end - start > LEAVES_PAGE:
        raise _invalid("start", f"need 0 <= start < end and at most {LEAVES_PAGE} leaves")
    with deps.uow() as uow:
        return uow.log.leaves(start, end)


def checkpoints(deps: Deps, after: int, limit: int = LEAVES_PAGE) -> list[str]:
    """Signed checkpoints of sizes above ``after``, smallest first (an auditor reads them all)."""
    with deps.uow() as uow:
        return [note for _, note in uow.log.checkpoints(after, min(limit, LEAVES_PAGE))]


@dataclass(frozen=True)
class LoggedChange:
    """One of a resident's status changes, with the proof that the log holds it (None: not yet published)."""

    version: int
    color: str
    previous: str | None
    at: datetime
    leaf: LogLeaf | None
    proof: InclusionProof | None


def my_status_changes(
    deps: Deps, actor: ResidentActor, subject_id: str, limit: int = 50
) -> list[LoggedChange]:
    """A resident's (or dependent's) status changes, newest first, each with its inclusion proof in the
    current tree, so they can check the log cannot deny or alter it (verify against the checkpoint)."""
    authorize(actor, Action.DECLARE_FOR, Target(resident_id=subject_id)).enforce()
    with deps.uow() as uow:
        events = uow.events.of_subject(STATUS_CHANGED, subject_id, min(limit, 200))
        leaves = uow.log.leaves_of_events([e.id for e in events])
        size = uow.log.head().size
        paths = {leaf.index: merkle.inclusion_ranges(leaf.index, size) for leaf in leaves.values()}
        wanted = [(0, size), *(r for ranges in paths.values() for r in ranges)]
        nodes = uow.log.nodes(merkle.pieces_of(wanted))  # one read for every change's proof
        (tree_root,) = merkle.range_hashes(nodes, [(0, size)])
        found = []
        for event in events:
            leaf = leaves.get(event.id)
            proof = None
            if leaf is not None:
                path = merkle.range_hashes(nodes, paths[leaf.index])
                proof = InclusionProof(leaf.index, size, leaf.leaf_hash, path, tree_root)
            payload = event.payload
            found.append(
                LoggedChange(
                    int(payload["version"]),
                    str(payload["color"]),
                    payload.get("previous"),
                    event.at,
                    leaf,
                    proof,
                )
            )
        return found


def who_read(deps: Deps, actor: ResidentActor, subject_id: str, limit: int = 100) -> list[AccessRecord]:
    """Who read the resident's (or dependent's) personal data, when, for what purpose; newest first."""
    authorize(actor, Action.DECLARE_FOR, Target(resident_id=subject_id)).enforce()
    with deps.uow() as uow:
        return uow.access_log.list(subject_id, "", min(limit, 500))
