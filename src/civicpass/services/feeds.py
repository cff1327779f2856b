"""Importing signed batches from data-source systems (``domain.feeds``): validate, keep the good, report
and quarantine the bad, never apply anything twice.

One batch is one transaction: its facts, its accepted record ids, its quarantine rows and its stored
report commit together, so a batch retried after a lost answer finds its report and changes nothing. A
positive result opens a case (``cases.follow``). The residents a batch gave facts (a travel stay outside
every risk area gives none) are re-evaluated in it when they are at most ``limits.feed_sync_residents``;
a bulk batch marks them due instead, and the status sweep (or the resident's next code or verification,
which re-evaluate a due status first) catches up.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

from civicpass.domain import feeds as fd
from civicpass.domain.errors import (
    Conflict,
    FieldError,
    InvalidInput,
    Message,
    NotAuthenticated,
    NotFound,
)
from civicpass.domain.facts import FactKind
from civicpass.domain.policy import Action, StaffActor, Target, authorize
from civicpass.domain.regions import check_region_code
from civicpass.services import cases
from civicpass.services.context import Deps
from civicpass.services.ports import FeedFacts, UnitOfWork
from civicpass.services.risk_areas import AreaIndex, arrival_expires, highest_level
from civicpass.services.status import StatusChange, notify, recompute_in

T = TypeVar("T")

MEDIA_TYPES = tuple(fd.FORMATS)
RESULT_FACT_DAYS = 14
VACCINATION_FACT_DAYS = 3650
BATCH_ID_MAX = 64


@dataclass(frozen=True)
class NewSource:
    name: str
    kind: str
    public_key: str
    region_code: str


def register_source(deps: Deps, actor: StaffActor | None, new: NewSource) -> fd.FeedSource:
    """An administrator registers a data-source system and its Ed25519 public key (None: the CLI)."""
    if actor is not None:
        authorize(actor, Action.FEED_MANAGE, Target(region=new.region_code)).enforce()
    check_region_code(new.region_code)
    try:
        kind = fd.FeedKind(new.kind)
    except ValueError:
        raise InvalidInput(
            "feed_kind_unknown",
            Message(f"unknown kind of data source {new.kind!r}", "未知的数据源类型"),
            errors=[FieldError(("kind",), "feed_kind_unknown", ", ".join(k.value for k in fd.FeedKind))],
        ) from None
    if not fd.is_public_key(new.public_key):
        raise InvalidInput(
            "public_key_invalid",
            Message(
                "the public key is not an Ed25519 key (32 bytes, base64url)", "公钥不是有效的 Ed25519 公钥"
            ),
            errors=[FieldError(("public_key",), "public_key_invalid", "32 bytes, unpadded base64url")],
        )
    source = fd.FeedSource(
        deps.random.new_id(), new.name.strip(), kind, new.public_key, new.region_code, True, deps.clock.now()
    )
    with deps.uow() as uow:
        uow.feeds.add_source(source)
        uow.events.add(
            "feed:source:registered",
            {"source": source.id, "name": source.name, "kind": kind.value, "key": source.public_key},
            source.created_at,
        )
        uow.commit()
    return source


def admits(deps: Deps, source_id: str) -> bool:
    """Whether a batch for this source can be taken at all (a registered, active source), asked before
    its body is read."""
    with deps.uow() as uow:
        source = uow.feeds.source(source_id)
    return source is not None and source.active


def unauthenticated() -> NotAuthenticated:
    return NotAuthenticated(
        "feed_signature_invalid",
        Message(
            "the batch is not signed by a registered, active data source", "该数据批次未经已登记数据源签名"
        ),
    )


_KINDS = {
    "test_result": (FactKind.TEST_RESULT, RESULT_FACT_DAYS),
    "vaccination": (FactKind.VACCINATION, VACCINATION_FACT_DAYS),
}
"""The record kinds whose fields become a fact's data as they are, and for how many days."""


_MINUTE = 60_000_000  # in microseconds
_KIND_CODE = {kind: code for code, kind in enumerate(_KINDS)}
_KIND_CODES = len(_KINDS)
_LASTING = [timedelta(days=days) for _, days in _KINDS.values()]


def _expires(when: int) -> datetime:
    """When a fact expires, from the minute (since the epoch, rounded up) it happened in and its kind's
    code, as one int: ``minute * _KIND_CODES + _KIND_CODE[kind]``."""
    minute, code = divmod(when, _KIND_CODES)
    return fd.from_epoch_micros(minute * _MINUTE) + _LASTING[code]


def _time(text: Any) -> datetime:
    return datetime.fromisoformat(str(text).replace("Z", "+00:00"))


def _arrivals(
    uow: UnitOfWork, stays: list[Mapping[str, Any]], starts: list[int], ends: list[int], now: datetime
) -> list[tuple[str, datetime] | None]:
    """Each travel stay's arrival fact (its data as JSON, its expiry), from the stay's fields, its start and
    its end (``starts``, ``ends``: in microseconds since the epoch, as the parsers give them): an arrival
    when the region was a risk area meanwhile, held from the stay's end (``risk_areas.arrival_expires``);
    None for a stay outside every risk area (kept as received, no fact). The risk areas of all the stays'
    period are read once (``risk_areas.AreaIndex``); a stay in a region no area ever contained is not
    looked at further (its times not parsed again)."""
    if not stays:
        return []
    period = fd.from_epoch_micros(min(starts)), fd.from_epoch_micros(max(ends))
    areas = AreaIndex(uow.risk_areas.overlapping(*period))
    found: list[tuple[str, datetime] | None] = []
    for stay in stays:
        if containing := areas.containing(str(stay["region"])):
            # as datetimes only here, where an area contains the region: the arrival keeps the end's offset
            start, end = _time(stay["from"]), _time(stay["to"])
            if (level := highest_level(containing, start, end)) is not None:
                data = {"region": stay["region"], "level": level, "arrived_at": end.isoformat()}
                found.append((json.dumps(data), arrival_expires(end, now)))
                continue
        found.append(None)
    return found


def import_batch(
    deps: Deps, source_id: str, batch_id: str, body: bytes, media_type: str, signature: str
) -> dict[str, Any]:
    """Import one signed batch; the report says what was accepted, skipped and rejected (and why)."""
    if not (0 < len(batch_id) <= BATCH_ID_MAX) or not batch_id.isprintable():
        raise InvalidInput(
            "batch_id_invalid",
            Message(f"the batch id must be 1 to {BATCH_ID_MAX} printable characters", "批次编号无效"),
        )
    if media_type not in MEDIA_TYPES:
        raise InvalidInput(
            "feed_media_type",
            Message("a batch is JSON Lines or CSV", "数据批次应为 JSON Lines 或 CSV"),
            extra={"accepted": list(MEDIA_TYPES)},
        )
    digest = hashlib.sha256(body).hexdigest()
    now = deps.clock.now()
    changes: list[StatusChange] = []
    with deps.uow() as uow:
        source = uow.feeds.source(source_id)
        if source is None or not source.active or deps.signatures is None:
            raise unauthenticated()
        if not deps.signatures.verify(
            source.public_key,
            fd.signing_input_of_digest(source_id, batch_id, fd.FORMATS[media_type], digest),
            signature,
        ):
            raise unauthenticated()
        stored = uow.feeds.batch(source_id, batch_id)
        if stored is not None:
            if stored.sha256 != digest:
                raise Conflict(
                    "batch_id_reused",
                    Message("this batch id was used for different contents", "该批次编号已用于不同的内容"),
                )
            return {**stored.report, "replayed": True}
        parse = deps.feed_parser or fd.parse_batch
        parsed = parse(body, media_type, fd.ACCEPTS[source.kind], fd.latest_time(now))
        report, touched = _apply(uow, deps, source, batch_id, parsed, now)
        uow.feeds.add_batch(source_id, batch_id, digest, now, report)
        uow.events.add(
            "feed:batch:imported",
            {
                k: report[k]
                for k in ("source", "batch_id", "received", "accepted", "duplicates", "rejected", "facts")
            },
            now,
        )
        if len(touched) <= deps.limits.feed_sync_residents:
            changes = recompute_in(uow, deps, touched)
        else:  # a bulk batch: the sweep (or each one's next code) re-evaluates them, seconds later
            uow.statuses.mark_due(touched, now)
        uow.commit()
    notify(deps, changes)
    return {**report, "replayed": False}


def _apply(
    uow: UnitOfWork,
    deps: Deps,
    source: fd.FeedSource,
    batch_id: str,
    parsed: fd.Parsed,
    now: datetime,
) -> tuple[dict[str, Any], list[str]]:
    """Store a parsed batch's new records as facts. A bulk batch is handled column by column, so that a
    record costs a few list operations here and a line of COPY text in the database."""
    valid, rejected = parsed.valid, list(parsed.rejected)
    ids, kinds = valid.record_ids, valid.kinds
    first = _first_of_each_id(valid, rejected)
    known = uow.feeds.known(source.id, _take(ids, first))
    fresh = [i for i in first if ids[i] not in known] if known else first
    found = uow.residents.ids_of_materials(_take(valid.materials, fresh))  # each distinct document once
    accepted, holders = fresh, cast("list[str]", found)  # every record's resident found, unless:
    if None in found:
        for i, holder in zip(fresh, found, strict=True):
            if holder is None:
                rejected.append(valid.rejected(i, "resident_unknown", "the document of an enrolled resident"))
        accepted = [i for i, holder in zip(fresh, found, strict=True) if holder is not None]
        holders = [holder for holder in found if holder is not None]
    facts = FeedFacts(f"feed:{source.id}", now)
    as_is, facts.subjects = accepted, list(holders)  # a lab's batch: each record a fact as it is
    if not set(_take(kinds, accepted)) <= _KINDS.keys():
        pairs = [(i, holder) for i, holder in zip(accepted, holders, strict=True) if kinds[i] in _KINDS]
        as_is, facts.subjects = [i for i, _ in pairs], [holder for _, holder in pairs]
    as_kinds = _take(kinds, as_is)
    facts.kinds = [_KINDS[kind][0] for kind in as_kinds]
    facts.data = _take(valid.data, as_is)
    # a result is good for so many days from its sample, a dose from its day, not from when they arrived;
    # counted from the end of the minute it happened in: a morning's batch then has a few hundred expiries
    # to make and write, not one for each of its 50,000 samples
    # (a minute and a kind as one int, read back by ``_expires``: hashed and compared as a number is)
    whens = [
        -(-time // _MINUTE) * _KIND_CODES + _KIND_CODE[kind]
        for time, kind in zip(_take(valid.times, as_is), as_kinds, strict=True)
    ]
    expiry = {when: _expires(when) for when in set(whens)}
    facts.expires = [expiry[when] for when in whens]
    facts.notes = [f"record {record_id}" for record_id in _take(ids, as_is)]
    if len(as_is) < len(accepted):  # travel stays: an arrival fact if the region was a risk area meanwhile
        stays = [(i, holder) for i, holder in zip(accepted, holders, strict=True) if kinds[i] not in _KINDS]
        # the stays' data decoded as one JSON array: a third of the time of a decode each
        fields = json.loads("[" + ",".join(valid.data[i] for i, _ in stays) + "]")
        starts, ends = ([when[i] for i, _ in stays] for when in (valid.starts, valid.times))
        arrivals = _arrivals(uow, fields, starts, ends, now)
        for (i, subject), arrival in zip(stays, arrivals, strict=True):
            if arrival is not None:
                data, expires = arrival
                facts.add(subject, FactKind.RISK_AREA_ARRIVAL, data, expires, f"record {ids[i]}")
    facts.number(deps.random.ordered_ids(len(facts)))
    uow.facts.add_feed(facts)
    uow.feeds.add_records(source.id, batch_id, _take(ids, accepted))
    rejected.sort(key=lambda r: r.line)
    uow.feeds.quarantine(source.id, batch_id, rejected, now)
    # the substring first: a batch's negative results are not each decoded to find none
    for n in [n for n, text in enumerate(facts.data) if '"positive"' in text]:
        fact = facts.fact(n)
        if fact.kind is FactKind.TEST_RESULT and fact.data.get("result") == "positive":
            cases.follow(uow, deps, fact)
    report = {
        "source": source.id,
        "batch_id": batch_id,
        "received": parsed.received,
        "accepted": len(accepted),
        "duplicates": len(first) - len(fresh),
        "rejected": len(rejected),
        "facts": len(facts),
        "rejections": fd.reasons_of(rejected[:1000]),
    }
    # a stay that made no fact changes no one's status; the facts' order is their holders' (``number``):
    # the holders in order, each once, without sorting them again
    return report, list(dict.fromkeys([facts.subjects[n] for n in facts.order]))


def _take(column: list[T], positions: list[int]) -> list[T]:
    """The column's values at these positions, which ascend: a copy of the whole column where they are all
    of its positions (a bulk batch's usual case: every record new, its resident found, and a fact)."""
    if len(positions) == len(column):
        return list(column)
    return [column[i] for i in positions]


def _first_of_each_id(valid: fd.ValidRecords, rejected: list[fd.Rejected]) -> list[int]:
    """The records whose id comes first in the batch; the later ones are rejected (into ``rejected``)."""
    ids = valid.record_ids
    if len(set(ids)) == len(ids):
        return list(range(len(ids)))
    seen: set[str] = set()
    first: list[int] = []
    for i, record_id in enumerate(ids):
        if record_id in seen:
            rejected.append(valid.rejected(i, "duplicate_in_batch", "a record id once per batch"))
        else:
            seen.add(record_id)
            first.append(i)
    return first


def sources(deps: Deps, actor: StaffActor) -> list[fd.FeedSource]:
    authorize(actor, Action.FEED_MANAGE, Target(region=actor.jurisdiction)).enforce()
    with deps.uow() as uow:
        return uow.feeds.sources()


def quarantined(deps: Deps, actor: StaffActor, source_id: str, limit: int = 100) -> list[dict[str, Any]]:
    authorize(actor, Action.FEED_MANAGE, Target(region=actor.jurisdiction)).enforce()
    with deps.uow() as uow:
        if uow.feeds.source(source_id) is None:
            raise NotFound("feed_source_not_found", Message("no such data source", "数据源不存在"))
        return uow.feeds.quarantined(source_id, min(limit, 1000))
