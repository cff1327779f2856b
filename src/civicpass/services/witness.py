"""Witnessing another civicpass log (C2SP tlog-witness, pull style): fetch its latest checkpoint, check the
log's signature, check it is consistent with the last checkpoint seen (an RFC 9162 consistency proof),
remember it and send back a cosignature. A log that shows two different trees of the same size (a fork),
a smaller tree (a rollback) or a tree the proof does not connect is refused and an alarm is logged: the
evidence (both notes) becomes an event, so it lands in this instance's own transparency log.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from civicpass.domain import merkle
from civicpass.domain.errors import CivicpassError, Conflict, Message, Unavailable
from civicpass.domain.notes import Checkpoint, NoteError, SignedNote, VerifierKey
from civicpass.services.context import Deps
from civicpass.services.ports import LogClient, WitnessedLog


@dataclass(frozen=True)
class Observation:
    origin: str
    size: int
    previous: int | None
    cosigned: bool


def _alarm(deps: Deps, kind: str, details: dict[str, Any], en: str, zh: str) -> Conflict:
    with deps.uow() as uow:
        uow.events.add(f"witness:log:{kind}", details, deps.clock.now())
        uow.commit()
    return Conflict(f"log_{kind}", Message(en, zh), extra={"origin": details.get("origin")})


def observe(deps: Deps, log: LogClient, key: VerifierKey) -> Observation:
    """Witness ``log`` (whose note key is ``key``) once; raise ``Conflict`` with an alarm on misbehaviour."""
    if deps.notes is None:
        raise Conflict("witness_key_missing", Message("this instance has no witness key", "本实例无见证密钥"))
    raw = log.checkpoint()
    try:
        note = SignedNote.parse(raw)
        checkpoint = Checkpoint.parse(note.text)
    except NoteError as exc:
        raise _alarm(
            deps, "malformed", {"origin": key.name, "error": str(exc)}, str(exc), "检查点格式无效"
        ) from None
    if checkpoint.origin != key.name or not any(deps.notes.verify(key, note.text, s) for s in note.by(key)):
        raise _alarm(
            deps,
            "unsigned",
            {"origin": key.name, "note": raw[:2000]},
            "the checkpoint is not signed by the log's key",
            "检查点未经日志密钥签名",
        )
    with deps.uow() as uow:
        seen = uow.witnessed.get(key.name)
    previous = seen.size if seen else None
    if seen is not None:
        evidence = {"origin": key.name, "seen": seen.note, "now": note.text}
        if checkpoint.size < seen.size:
            raise _alarm(
                deps, "rollback", evidence, "the log shows a smaller tree than before", "日志规模回退"
            )
        if checkpoint.size == seen.size and checkpoint.root != seen.root:
            raise _alarm(
                deps,
                "fork",
                evidence,
                "two different trees of the same size: the log forked",
                "同一规模出现两个不同的树",
            )
        if checkpoint.size > seen.size:
            try:
                proof = log.consistency(seen.size, checkpoint.size)
                merkle.verify_consistency(seen.size, checkpoint.size, proof, seen.root, checkpoint.root)
            except Unavailable:
                raise  # the log is down or busy: try again later, nothing is wrong yet
            except (merkle.ProofError, CivicpassError) as exc:
                raise _alarm(
                    deps,
                    "inconsistent",
                    {**evidence, "error": str(exc)},
                    f"the new tree does not extend the one seen before: {exc}",
                    "新树与此前所见不一致",
                ) from None
    line = deps.notes.cosign(note.text, int(deps.clock.now().timestamp()))
    log.submit_cosignature(checkpoint.size, line.encode())
    with deps.uow() as uow:
        uow.witnessed.put(
            WitnessedLog(key.name, checkpoint.size, checkpoint.root, note.text), deps.clock.now()
        )
        uow.events.add(
            "witness:log:cosigned",
            {"origin": key.name, "size": checkpoint.size, "previous": previous},
            deps.clock.now(),
        )
        uow.commit()
    return Observation(key.name, checkpoint.size, previous, True)


def observe_all(
    deps: Deps, peers: Sequence[tuple[LogClient, VerifierKey]]
) -> list[Observation | CivicpassError]:
    """Witness each configured peer once (the server does this on a schedule); a peer that is down or
    misbehaves is reported and does not stop the others (its alarm is already an event)."""
    done: list[Observation | CivicpassError] = []
    for client, key in peers:
        try:
            done.append(observe(deps, client, key))
        except CivicpassError as exc:
            done.append(exc)
    return done
