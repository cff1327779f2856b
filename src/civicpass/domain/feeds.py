"""Signed data feeds (跨部门数据): labs, hospitals, the vaccination registry and travel records push batches.

A data-source system has an Ed25519 key registered here. It sends a batch (JSON Lines or CSV) with a batch
id and a signature over ``signing_input``: a domain-separated line naming the format version, the source,
the batch, the body's format (``jsonl`` or ``csv``: the signature binds how the body is read, not only its
bytes) and the SHA-256 of the exact body. Every record is validated on its own: good ones become facts,
bad ones are reported with their reasons and kept in quarantine. The same batch again changes nothing
(its stored report is returned), and a record id a source already sent is skipped (``duplicate``).

Record kinds (JSON field names; the CSV header uses the same names, with ``document_type``,
``document_number`` and ``nationality`` flattened)::

    test_result  {record_id, kind, document: {type, number, nationality?}, test: pcr|antigen,
                  result: positive|negative, sampled_at}
    vaccination  {record_id, kind, document, vaccine, dose, administered_at}
    travel       {record_id, kind, document, region (GB/T 2260), from, to}   stay in a region (telecom,
                  rail, aviation): an arrival fact when the region was a declared risk area meanwhile

A record's times may not be later than the batch's receipt plus ``CLOCK_TOLERANCE`` (reason ``future``):
a negative result dated tomorrow would count today as the test that ends an isolation.
"""

from __future__ import annotations

import base64
import binascii
import csv
import hashlib
import io
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from civicpass.domain.errors import FieldError, InvalidInput, Message
from civicpass.domain.facts import ISO_TIME, is_iso_datetime
from civicpass.domain.features import parse_time
from civicpass.domain.identity import Document, DocumentType, parse_document
from civicpass.domain.regions import is_region_code

SIGNING_CONTEXT = b"civicpass-feed-v2"
FORMATS = {"application/jsonl": "jsonl", "application/x-ndjson": "jsonl", "text/csv": "csv"}
"""The media types a batch may have, and the format each names (what the signature covers)."""
MAX_RECORD_BYTES = 4096
RECORD_ID_MAX = 64


class FeedKind(StrEnum):
    LAB = "lab"
    HOSPITAL = "hospital"
    VACCINATION_REGISTRY = "vaccination_registry"
    TRAVEL = "travel"


ACCEPTS: dict[FeedKind, frozenset[str]] = {
    FeedKind.LAB: frozenset({"test_result"}),
    FeedKind.HOSPITAL: frozenset({"test_result", "vaccination"}),
    FeedKind.VACCINATION_REGISTRY: frozenset({"vaccination"}),
    FeedKind.TRAVEL: frozenset({"travel"}),
}
"""Which record kinds each kind of source may send."""


@dataclass(frozen=True)
class FeedSource:
    id: str
    name: str
    kind: FeedKind
    public_key: str  # Ed25519, unpadded base64url of the 32 raw bytes
    region_code: str
    active: bool
    created_at: datetime


@dataclass(frozen=True)
class FeedRecord:
    """A valid record, before its resident is looked up."""

    line: int
    record_id: str
    kind: str
    document: Document
    data: Mapping[str, Any]
    raw: str = ""  # the line as received (kept in quarantine if a later check refuses it)


@dataclass(frozen=True)
class Rejected:
    line: int
    record_id: str | None
    reasons: tuple[FieldError, ...]
    raw: str


@dataclass
class ValidRecords:
    """A batch's valid records column by column: a bulk batch of 50,000 is a few lists, not 50,000 objects.

    ``materials`` holds each record's document as its holder is found, its ``Document.index_material``
    (records with equal documents may share one string); ``data`` each record's fields as the JSON text
    ``json.dumps`` writes of its ``FeedRecord.data`` (what a fact stores); ``times`` when each happened
    (its ``TIME_FIELDS`` field: a sample taken, a dose given, a stay ended) in microseconds since the
    Unix epoch, which its fact's expiry counts from; ``starts`` when each began, in the same unit (a
    stay's ``from``; the time of a sample or dose, which has no duration).
    """

    lines: list[int] = field(default_factory=list)
    record_ids: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    materials: list[str] = field(default_factory=list)
    data: list[str] = field(default_factory=list)
    raws: list[str] = field(default_factory=list)
    times: list[int] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.lines)

    def append(self, record: FeedRecord) -> None:
        self.lines.append(record.line)
        self.record_ids.append(record.record_id)
        self.kinds.append(record.kind)
        self.materials.append(record.document.index_material)
        self.data.append(json.dumps(dict(record.data)))
        self.raws.append(record.raw)
        time = epoch_micros(str(record.data[TIME_FIELDS[record.kind]]))
        self.times.append(time)
        start = START_FIELDS.get(record.kind)
        self.starts.append(time if start is None else epoch_micros(str(record.data[start])))

    def rejected(self, i: int, reason: str, expected: str) -> Rejected:
        """The ``i``-th record refused by a check after parsing, for its record id (into quarantine)."""
        problem = FieldError(("record_id",), reason, expected)
        return Rejected(self.lines[i], self.record_ids[i], (problem,), self.raws[i])


@dataclass
class Parsed:
    """Every line of a batch: the valid records (in line order) and the rejected ones with their reasons."""

    valid: ValidRecords
    rejected: list[Rejected]

    @property
    def received(self) -> int:
        return len(self.valid) + len(self.rejected)


def is_public_key(text: str) -> bool:
    """An Ed25519 public key as sources register it: 32 bytes, unpadded base64url."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return False
    return len(raw) == 32 and len(text) == 43


def signing_input(source_id: str, batch_id: str, batch_format: str, body: bytes) -> bytes:
    """What a source signs: the format version, source, batch, body format (``jsonl``/``csv``) and SHA-256
    of the body, one per line."""
    return signing_input_of_digest(source_id, batch_id, batch_format, hashlib.sha256(body).hexdigest())


def signing_input_of_digest(source_id: str, batch_id: str, batch_format: str, body_sha256: str) -> bytes:
    """``signing_input`` of a body whose SHA-256 (hex) is known already: the importer hashes a batch once,
    for its signature and for recognising it when it is sent again (a batch's tens of megabytes)."""
    return b"\n".join(
        [SIGNING_CONTEXT, *(part.encode() for part in (source_id, batch_id, batch_format, body_sha256))]
    )


_FIELDS: dict[str, dict[str, tuple[str, Any]]] = {
    "test_result": {
        "test": ("choice", {"pcr", "antigen"}),
        "result": ("choice", {"positive", "negative"}),
        "sampled_at": ("time", None),
    },
    "vaccination": {"vaccine": ("text", 64), "dose": ("int", (1, 10)), "administered_at": ("time", None)},
    "travel": {"region": ("region", None), "from": ("time", None), "to": ("time", None)},
}


CLOCK_TOLERANCE = timedelta(minutes=10)
"""How far past a batch's receipt the times of its records may be: a source's clock may run a little
ahead of ours. Later than that, a time has not happened yet (docs/decisions.md)."""
NOT_LATER = (
    "a time not after the batch was received"
    f" ({CLOCK_TOLERANCE // timedelta(minutes=1)} minutes of clock difference allowed)"
)


TIME_FIELDS = {"test_result": "sampled_at", "vaccination": "administered_at", "travel": "to"}
"""The field saying when a record's event happened: a fact's expiry counts from it, not from the import."""
START_FIELDS = {"travel": "from"}
"""The field of when a record's event began, for the kinds whose events last (others begin at their time)."""
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def micros_since_epoch(moment: datetime) -> int:
    """An aware time in microseconds since the Unix epoch."""
    return (moment - EPOCH) // timedelta(microseconds=1)


def epoch_micros(text: str) -> int:
    """A time ``is_iso_datetime`` accepts, in microseconds since the Unix epoch."""
    return micros_since_epoch(parse_time(text))


def from_epoch_micros(micros: int) -> datetime:
    return EPOCH + timedelta(microseconds=micros)


def latest_time(received_at: datetime) -> datetime:
    """The latest time a record of a batch received at ``received_at`` may carry."""
    return received_at + CLOCK_TOLERANCE


def _check_field(name: str, rule: tuple[str, Any], value: Any, latest: datetime) -> FieldError | None:
    kind, arg = rule
    if kind == "choice":
        ok, expected = value in arg, "one of " + ", ".join(sorted(arg))
    elif kind == "time":
        ok, expected = isinstance(value, str) and is_iso_datetime(value), ISO_TIME
        if ok and parse_time(value) > latest:  # a result sampled tomorrow would release someone today
            return FieldError((name,), "future", NOT_LATER)
    elif kind == "text":
        ok, expected = isinstance(value, str) and 0 < len(value) <= arg, f"text of 1 to {arg} characters"
    elif kind == "int":
        ok = isinstance(value, int) and not isinstance(value, bool) and arg[0] <= value <= arg[1]
        expected = f"a whole number from {arg[0]} to {arg[1]}"
    else:
        ok, expected = isinstance(value, str) and is_region_code(value), "a GB/T 2260 code of six digits"
    if ok:
        return None
    return FieldError((name,), "missing" if value is None else "invalid", expected)


def validate(
    line: int, raw: Mapping[str, Any], accepted: frozenset[str], text: str, latest: datetime
) -> FeedRecord | Rejected:
    """One record: valid, or rejected with every reason (not only the first); its times may not be later
    than ``latest`` (``latest_time`` of the batch's receipt)."""
    problems: list[FieldError] = []
    record_id = raw.get("record_id")
    if not (isinstance(record_id, str) and 0 < len(record_id) <= RECORD_ID_MAX):
        problems.append(FieldError(("record_id",), "invalid", f"text of 1 to {RECORD_ID_MAX} characters"))
        record_id = None
    kind = raw.get("kind")
    if kind not in accepted:
        problems.append(FieldError(("kind",), "kind_not_accepted", "one of " + ", ".join(sorted(accepted))))
    document: Document | None = None
    doc = raw.get("document")
    if not isinstance(doc, Mapping):
        problems.append(FieldError(("document",), "missing", "an object with type and number"))
    else:
        number, nationality = doc.get("number"), doc.get("nationality")
        try:
            document = parse_document(
                str(doc.get("type", "")),
                number if isinstance(number, str) else None,
                nationality if isinstance(nationality, str) else None,
            )
        except InvalidInput as exc:
            problems.extend(exc.errors)
        if document is not None and document.type is DocumentType.NONE:
            problems.append(FieldError(("document", "type"), "invalid", "a document with a number"))
    if isinstance(kind, str) and kind in accepted and kind in _FIELDS:
        for name, rule in _FIELDS[kind].items():
            if (problem := _check_field(name, rule, raw.get(name), latest)) is not None:
                problems.append(problem)
        if kind == "travel" and not problems and _order(raw) < 0:
            problems.append(FieldError(("to",), "invalid", "not before from"))
    if problems or document is None or not isinstance(kind, str) or record_id is None:
        return Rejected(line, record_id, tuple(problems), _kept(text))
    data = {name: raw[name] for name in _FIELDS[kind]}
    return FeedRecord(line, record_id, kind, document, data, _kept(text))


def _order(raw: Mapping[str, Any]) -> int:
    start, end = parse_time(str(raw["from"])), parse_time(str(raw["to"]))
    return (end > start) - (end < start)


def _unpaired_surrogate(raw: Any) -> bool:
    """Whether a decoded JSON value holds a lone UTF-16 surrogate (from an escape like ``\\ud800`` without
    its pair): not Unicode text, so no database stores it and no UTF-8 encodes it."""
    try:
        json.dumps(raw, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return True
    return False


def _kept(text: str) -> str:
    """The text as quarantine keeps it: bounded, and without NUL (no database stores it in text)."""
    return text[:MAX_RECORD_BYTES].replace("\x00", "")


def _rejected_line(line: int, text: str, reason: str, expected: str) -> Rejected:
    return Rejected(line, None, (FieldError((), reason, expected),), _kept(text))


def decode(body: bytes) -> str:
    """A batch's text: UTF-8, or refused as a whole."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(
            "feed_not_utf8", Message("a batch is UTF-8 text", "数据批次应为 UTF-8 文本")
        ) from None


def parse(
    body: bytes, media_type: str, accepted: frozenset[str], latest: datetime
) -> list[FeedRecord | Rejected]:
    """Every line of a JSON Lines or CSV batch, validated (line numbers count from 1, CSV after the header)."""
    text = decode(body)
    if media_type == "text/csv":
        return _parse_csv(text, accepted, latest)
    return parse_lines(enumerate(text.splitlines(), start=1), accepted, latest)


def parse_lines(
    lines: Iterable[tuple[int, str]], accepted: frozenset[str], latest: datetime
) -> list[FeedRecord | Rejected]:
    """Numbered lines of JSON Lines, validated one by one; blank lines are skipped."""
    found: list[FeedRecord | Rejected] = []
    for n, line in lines:
        if not line.strip():
            continue
        if len(line.encode()) > MAX_RECORD_BYTES:
            found.append(_rejected_line(n, line, "record_too_long", f"at most {MAX_RECORD_BYTES} bytes"))
            continue
        try:
            raw = json.loads(line)
        except ValueError:
            found.append(_rejected_line(n, line, "malformed_json", "one JSON object per line"))
            continue
        if not isinstance(raw, dict):
            found.append(_rejected_line(n, line, "not_an_object", "one JSON object per line"))
            continue
        if "\x00" in line or "\\u0000" in line:  # no database stores NUL in text: refuse the record alone
            found.append(_rejected_line(n, line, "nul_character", "text without NUL"))
            continue
        if "\\u" in line and _unpaired_surrogate(raw):  # nor half a UTF-16 pair (an escape like \ud800)
            found.append(_rejected_line(n, line, "unpaired_surrogate", "text without half a surrogate pair"))
            continue
        found.append(validate(n, raw, accepted, line, latest))
    return found


def parse_batch(body: bytes, media_type: str, accepted: frozenset[str], latest: datetime) -> Parsed:
    """``parse``, its valid records in columns: the reference that any faster parser must equal exactly."""
    return collect(parse(body, media_type, accepted, latest))


def collect(found: Iterable[FeedRecord | Rejected], into: Parsed | None = None) -> Parsed:
    """Records and rejections, in their order, added to ``into`` (a new ``Parsed`` by default)."""
    parsed = into if into is not None else Parsed(ValidRecords(), [])
    for item in found:
        if isinstance(item, Rejected):
            parsed.rejected.append(item)
        else:
            parsed.valid.append(item)
    return parsed


CSV_COLUMNS = ("document_type", "document_number", "nationality")


def _parse_csv(text: str, accepted: frozenset[str], latest: datetime) -> list[FeedRecord | Rejected]:
    reader = csv.DictReader(io.StringIO(text))
    try:
        names = reader.fieldnames
    except csv.Error:  # an unclosed quote or a huge field in the header
        names = None
    if not names or not {"record_id", "kind"} <= set(names):
        raise InvalidInput(
            "feed_csv_header",
            Message("the CSV header must name record_id, kind and the record's fields", "CSV 表头缺少必需列"),
        )
    return parse_csv_rows(reader, 1, accepted, latest)


def parse_csv_rows(
    rows: Iterator[dict[Any, Any]], first: int, accepted: frozenset[str], latest: datetime
) -> list[FeedRecord | Rejected]:
    """CSV rows as ``csv.DictReader`` reads them (blank lines skipped), numbered from ``first``,
    validated one by one."""
    found: list[FeedRecord | Rejected] = []
    numbered = enumerate(rows, start=first)
    while True:
        try:
            n, row = next(numbered)
        except StopIteration:
            break
        except csv.Error as exc:  # an unclosed quote or a huge field: this line and the rest are unreadable
            found.append(_rejected_line(first + len(found), str(exc), "malformed_csv", "RFC 4180 CSV"))
            break
        line = ",".join(str(v) for v in row.values())
        if "\x00" in line:
            found.append(_rejected_line(n, line, "nul_character", "text without NUL"))
            continue
        if None in row:  # more cells than the header names
            found.append(_rejected_line(n, line, "extra_cells", "as many cells as the header"))
            continue
        raw: dict[str, Any] = {k: v for k, v in row.items() if k not in CSV_COLUMNS and v not in ("", None)}
        raw["document"] = {
            "type": row.get("document_type") or "",
            "number": row.get("document_number") or None,
            "nationality": row.get("nationality") or None,
        }
        dose = raw.get("dose")
        if isinstance(dose, str) and dose.isascii() and dose.isdigit():  # "²" is a digit, not a number
            raw["dose"] = int(dose)
        found.append(validate(n, raw, accepted, line, latest))
    return found


def rejection_view(rejected: Rejected) -> dict[str, Any]:
    return {
        "line": rejected.line,
        "record_id": rejected.record_id,
        "errors": [
            {"path": "/".join(str(p) for p in e.path), "reason": e.reason, "expected": e.message}
            for e in rejected.reasons
        ],
    }


def reasons_of(records: Sequence[Rejected]) -> list[dict[str, Any]]:
    return [rejection_view(r) for r in records]
