"""The Arrow feed parser (adapters/feed_parser.py) gives exactly what the reference parser gives
(domain.feeds.parse_batch): the same valid records in the same columns, the same rejections with every
reason, on generated batches of good, unusual and bad lines, in one block or many."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.csv as pcsv
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from civicpass.adapters.feed_parser import ArrowFeedParser, valid_resident_ids, valid_times
from civicpass.domain import feeds as fd
from civicpass.domain.errors import InvalidInput
from civicpass.domain.facts import is_iso_datetime
from civicpass.domain.features import parse_time
from civicpass.domain.identity import gb11643_check_character, parse_document
from tests.support import resident_id_number

JSONL = "application/jsonl"
LATEST = datetime(2022, 5, 2, 1, 0, tzinfo=UTC)  # the latest time a record may carry: VALID's test's
SOURCES = [fd.ACCEPTS[kind] for kind in fd.FeedKind]

VALID = {
    "test_result": {
        "record_id": "t-1",
        "kind": "test_result",
        "document": {"type": "resident_id", "number": resident_id_number(serial="123")},
        "test": "pcr",
        "result": "negative",
        "sampled_at": "2022-05-02T09:00:00+08:00",
    },
    "vaccination": {
        "record_id": "v-1",
        "kind": "vaccination",
        "document": {"type": "passport", "number": "E12345678", "nationality": "CHN"},
        "vaccine": "CoronaVac",
        "dose": 3,
        "administered_at": "2022-03-01T10:00:00+08:00",
    },
    "travel": {
        "record_id": "s-1",
        "kind": "travel",
        "document": {"type": "resident_id", "number": resident_id_number(serial="124")},
        "region": "440106",
        "from": "2022-04-28T00:00:00+08:00",
        "to": "2022-05-01T00:00:00+08:00",
    },
}
TIMES = [
    "2022-05-02T01:00:00Z",
    "2022-05-02T09:00:00.5+08:00",  # half a second later than LATEST
    "2022-05-02T08:59:59.5+08:00",
    "2022-05-02T09:00:01+08:00",  # of valid_times' shape, a second later than LATEST
    "2099-01-01T00:00:00+08:00",
    "0001-01-01T07:59:59+08:00",  # before the year 1 in UTC
    "9999-12-31T23:59:59-00:01",  # after 9999 in UTC
    "1900-01-01T07:59:59+08:00",  # of valid_times' shape, a second before EARLIEST_TIME
    "1900-01-01T08:00:00+08:00",  # EARLIEST_TIME
    "1899-12-31T23:59:59Z",
    "20220502T090000+0800",  # compact ISO 8601: valid, not plain
    "2022-05-02T09:00:00",  # no offset
    "2022-02-30T09:00:00+08:00",
    "2020-02-29T23:59:59-00:00",  # of valid_times' shape: its edges
    "2022-05-02T09:00:00+08:60",  # nine hours ahead, for datetime.fromisoformat
    "2022-05-02T24:00:00+08:00",
    "0000-01-01T00:00:00+00:00",
    "yesterday",
    "2022-05-02 09:00:00+08:00",
    None,
    12,
]
STARTS = [  # a travel stay's start against its end (VALID's: 2022-05-01T00:00:00+08:00)
    "2022-05-01T00:00:00+08:00",  # at its end: valid
    "2022-05-01T00:00:01+08:00",  # a second after it
    "2022-04-30T16:00:00Z",  # its end, in UTC
    "2022-04-30T16:00:00.000001Z",  # a microsecond after it
    "2022-04-30T23:59:59.999999+08:00",
]
DOCUMENTS = [
    {"type": "resident_id", "number": resident_id_number(serial="125").lower()},  # a lower-case x
    {"type": "resident_id", "number": resident_id_number(serial="126")[:-1] + "0"},  # maybe a bad check
    {"type": "resident_id", "number": resident_id_number(born="19800230", serial="127")},  # 30 February
    {"type": "resident_id", "number": "1101051949123100"},
    {"type": "resident_id", "number": "\uff11" * 17 + "X"},  # full width: NFKC folds it
    {"type": "resident_id", "number": resident_id_number(serial="128"), "nationality": 7},
    {"type": "resident_id", "number": resident_id_number(serial="129"), "nationality": "USA"},  # ignored
    {"type": "resident_id", "number": "4401\x1f06198001011234"},  # the parser's key separator
    {"type": "passport", "number": "E12345678"},  # no nationality
    {"type": "passport", "number": "e1234", "nationality": " usa "},
    {"type": "passport", "number": "E12345678", "nationality": "XXX"},
    {"type": "passport", "number": "E 1234 5678", "nationality": ""},
    {"type": "passport", "number": "E12345\u00e9", "nationality": "CHN"},
    {"type": "passport\x1fx", "number": "E12345678", "nationality": "CHN"},
    {"type": "hk_macao_permit", "number": "H12345678"},
    {"type": "none", "number": None},
    {"type": "none", "number": ""},
    {"type": "none"},
    {"type": "licence", "number": "1"},
    {"type": None, "number": "E12345678"},
    {"number": "E12345678"},
    None,
    "passport",
    [],
    {},
]
CHANGES: dict[str, list[Any]] = {
    "record_id": ["", "a" * 64, "a" * 65, 'quo"te', "back\\slash", "tab\tin", "郑州-1", "t-dup", 5, None],
    "kind": ["travel", "vaccination", "test_result", "swab", None],
    "document": DOCUMENTS,
    "test": ["antigen", "smell", "PCR", None],
    "result": ["positive", "maybe", None, True],
    "sampled_at": TIMES,
    "vaccine": ["科兴", 'say "hi"', "back\\slash", "", "v" * 64, "v" * 65, None],
    "dose": [1, 10, 0, 11, -1, 2.0, "2", True, None, 10**30],
    "administered_at": TIMES,
    "region": ["44010", None],
    "from": [*TIMES, *STARTS],
    "to": TIMES,
    "note": ["x", {"deep": [1, 2.5, None]}, float("nan"), "n" * 4100],  # ignored by both (but its length)
}


@st.composite
def records(draw: st.DrawFn) -> dict[str, Any]:
    """A valid record of some kind with up to two fields changed, dropped or added."""
    record = dict(VALID[draw(st.sampled_from(sorted(VALID)))])
    for name in draw(st.lists(st.sampled_from(sorted(CHANGES)), max_size=2)):
        if draw(st.integers(0, 5)) == 0:
            record.pop(name, None)
        else:
            record[name] = draw(st.sampled_from(CHANGES[name]))
    return record


def _dumped(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False)


junk = st.sampled_from(
    [
        "{not json",
        "[1, 2]",
        '"text"',
        "",
        "   ",
        '{"record_id": "a"}{"record_id": "b"}',
        '{"record_id": "d1", "record_id": "d2", "kind": "test_result"}',
        '{"record_id": "n\\u0000ul", "kind": "test_result"}',
        '{"record_id": "sep\u2028arator", "kind": "test_result"}',
        '{"record_id": "x", "kind": "test_result", "pad": "' + "p" * 4100 + '"}',
        ' {"record_id": "lead", "kind": "test_result"}',
        '{"record_id": "\\ud800", "kind": "test_result"}',
    ]
)
lines = st.lists(st.one_of(records().map(_dumped), records().map(_dumped), junk), max_size=12)


def _body(parts: list[str], newline: str, final: bool) -> bytes:
    return (newline.join(parts) + (newline if final and parts else "")).encode()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    parts=lines,
    newline=st.sampled_from(["\n", "\n", "\n", "\r\n"]),
    final=st.booleans(),
    accepted=st.sampled_from(SOURCES),
    block=st.sampled_from([1, 3, 10_000]),
)
def test_the_arrow_parser_gives_exactly_what_the_reference_gives(
    parts: list[str], newline: str, final: bool, accepted: frozenset[str], block: int
) -> None:
    body = _body(parts, newline, final)
    assert ArrowFeedParser(block)(body, JSONL, accepted, LATEST) == fd.parse_batch(
        body, JSONL, accepted, LATEST
    )


def test_half_a_surrogate_pair_is_refused_record_by_record_as_the_reference_refuses_it() -> None:
    """A JSON escape may name half a UTF-16 surrogate pair (``\\ud800`` alone): not Unicode text, so no
    database stores it (PostgreSQL's COPY failed the whole batch on such a record id). The record alone is
    refused, anywhere in it; a whole pair (an emoji escaped) is text like any other."""
    escaped = {
        "record id": {**VALID["vaccination"], "record_id": "v-\ud800"},
        "low half": {**VALID["vaccination"], "record_id": "v-\udc00-2"},
        "field": {**VALID["vaccination"], "record_id": "v-3", "vaccine": "Corona\udfffVac"},
        "unknown kind": {"record_id": "\ud83d", "kind": "nope"},
        "a whole pair": {**VALID["vaccination"], "record_id": "v-\ud83d\ude00"},
    }
    lines = [json.dumps(VALID["vaccination"])]
    lines += [json.dumps(r) for r in escaped.values()]  # each half (and the pair) as a \\u escape
    body = _body(lines, "\n", final=True)
    accepted = fd.ACCEPTS[fd.FeedKind.VACCINATION_REGISTRY]
    reference = fd.parse_batch(body, JSONL, accepted, LATEST)
    assert reference.valid.record_ids == ["v-1", "v-\U0001f600"]
    assert {r.line: [e.reason for e in r.reasons] for r in reference.rejected} == {
        n: ["unpaired_surrogate"] for n in (2, 3, 4, 5)
    }
    assert all(r.record_id is None for r in reference.rejected)
    assert ArrowFeedParser(block_lines=1)(body, JSONL, accepted, LATEST) == reference
    assert ArrowFeedParser()(body, JSONL, accepted, LATEST) == reference


@pytest.mark.parametrize("accepted", SOURCES)
def test_every_single_change_of_a_valid_record_is_read_as_the_reference_reads_it(
    accepted: frozenset[str],
) -> None:
    variants = [VALID[kind] for kind in sorted(VALID)]
    for kind in sorted(VALID):
        for name, values in CHANGES.items():
            variants.append({k: v for k, v in VALID[kind].items() if k != name})
            variants += [{**VALID[kind], name: value} for value in values]
    body = _body([_dumped(v) for v in variants], "\n", final=True)
    reference = fd.parse_batch(body, JSONL, accepted, LATEST)
    assert reference.valid.record_ids  # some of them are valid for every kind of source
    # a line of another JSON type sends its whole block to the reference: here every line is a block
    assert ArrowFeedParser(block_lines=1)(body, JSONL, accepted, LATEST) == reference
    assert ArrowFeedParser()(body, JSONL, accepted, LATEST) == reference


def _result(n: int, number: str, sampled_at: str = "2022-05-02T09:00:00+08:00") -> str:
    return json.dumps(
        {
            "record_id": f"r{n}",
            "kind": "test_result",
            "document": {"type": "resident_id", "number": number},
            "test": "pcr",
            "result": "negative" if n % 7 else "positive",
            "sampled_at": sampled_at,
        }
    )


def test_a_bad_line_sends_only_its_own_block_to_the_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    numbers = [resident_id_number(serial=f"{n:03d}") for n in range(1, 40)]
    parts = [_result(n, numbers[n % len(numbers)]) for n in range(100)]
    parts[42] = "{broken"
    body = _body(parts, "\n", final=True)
    read: list[int] = []
    original = fd.parse_lines

    def counting(numbered: Any, accepted: frozenset[str], latest: datetime) -> Any:
        numbered = list(numbered)
        read.extend(n for n, _ in numbered)
        return original(numbered, accepted, latest)

    monkeypatch.setattr(fd, "parse_lines", counting)
    parsed = ArrowFeedParser(block_lines=20)(body, JSONL, fd.ACCEPTS[fd.FeedKind.LAB], LATEST)
    monkeypatch.undo()
    assert parsed == fd.parse_batch(body, JSONL, fd.ACCEPTS[fd.FeedKind.LAB], LATEST)
    assert read == list(range(41, 61))  # the block of lines 41-60 holds line 43
    assert [r.line for r in parsed.rejected] == [43]
    assert len(parsed.valid) == 99


def test_records_sharing_a_document_share_one_validated_material() -> None:
    number = resident_id_number(serial="777")
    body = _body([_result(n, number) for n in range(5)], "\n", final=False)
    parsed = ArrowFeedParser()(body, JSONL, fd.ACCEPTS[fd.FeedKind.LAB], LATEST)
    assert len({id(m) for m in parsed.valid.materials}) == 1
    assert parsed.valid.data[0] == json.dumps(
        {"test": "pcr", "result": "positive", "sampled_at": "2022-05-02T09:00:00+08:00"}
    )


def test_a_document_in_several_blocks_and_in_records_not_fast_is_read_as_the_reference_reads_it() -> None:
    """A resident ID's index material comes from its number alone: the same number in later blocks, with a
    nationality the reference ignores, or in a record the fast checks do not take (a record id with a
    quote), gets the material the reference gives it."""
    number, other = resident_id_number(serial="131"), resident_id_number(serial="137")  # the latter ends in X
    parts = [_result(n, number if n % 2 else other) for n in range(9)]
    parts[2] = parts[2].replace('"r2"', '"r\\"2"')  # not plain: the reference's
    parts[5] = parts[5].replace('"resident_id"', '"resident_id", "nationality": "USA"')
    # a lower-case x: parse_document's to read, not the fast check's
    parts[6] = parts[6].replace(other, other.lower())
    assert other.endswith("X")
    assert other.lower() in parts[6]
    body = _body(parts, "\n", final=True)
    for block_lines in (1, 2, 4, 10):
        parsed = ArrowFeedParser(block_lines=block_lines)(body, JSONL, fd.ACCEPTS[fd.FeedKind.LAB], LATEST)
        assert parsed == fd.parse_batch(body, JSONL, fd.ACCEPTS[fd.FeedKind.LAB], LATEST)
        assert len(parsed.valid) == 9
        assert len(set(parsed.valid.materials)) == 2


def test_a_body_that_is_not_utf8_is_refused_as_the_reference_refuses_it() -> None:
    body = b'{"record_id": "\xff"}'
    with pytest.raises(InvalidInput) as fast:
        ArrowFeedParser()(body, JSONL, fd.ACCEPTS[fd.FeedKind.LAB], LATEST)
    with pytest.raises(InvalidInput) as reference:
        fd.parse_batch(body, JSONL, fd.ACCEPTS[fd.FeedKind.LAB], LATEST)
    assert fast.value.reason == reference.value.reason == "feed_not_utf8"


CSV = "text/csv"
CSV_HEADERS = [
    "record_id,kind,document_type,document_number,nationality,test,result,sampled_at",
    "record_id,kind,document_type,document_number,nationality,test,result,sampled_at,vaccine,dose,"
    "administered_at,region,from,to",
    "kind,vaccine,administered_at,dose,nationality,document_number,document_type,record_id,note",
    "record_id,kind,document_type,document_number,test,result,sampled_at,result",  # a name twice
    "record_id,kind,document_type,document_number,test",  # columns missing
    'record_id,kind,document_type,document_number,"test",result,sampled_at',  # quoted
    "record_id,kind",
    "",
    "id,kind,document_type,document_number",  # no record_id
]
CSV_FIELDS = ("document_type", "document_number", "nationality")


def _cell(value: Any) -> str:
    """A field's value as a CSV cell (its JSON text where it is not text or a number)."""
    if value is None:
        return ""
    if isinstance(value, str | int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def _csv_cells(names: list[str], record: dict[str, Any]) -> list[str]:
    document = record.get("document")
    document = document if isinstance(document, dict) else {}
    fields = {**record, **{f: document.get(f.removeprefix("document_")) for f in CSV_FIELDS}}
    return [_cell(fields.get(name)) for name in names]


def _csv_row(names: list[str], record: dict[str, Any], quoting: int | None = None) -> str:
    """A record as a CSV row: its cells joined by commas as they are (``quoting`` None), or written by
    ``csv.writer`` quoting as it says."""
    if quoting is None:
        return ",".join(_csv_cells(names, record))
    written = io.StringIO()
    csv.writer(written, quoting=quoting, lineterminator="").writerow(_csv_cells(names, record))
    return written.getvalue()


csv_junk = st.sampled_from(
    ["", "", "   ", ",", "a,b", 'q1,test_result,"resident_id",x', "x\x00,test_result", "é,test_result"]
)
bom_records = records().map(lambda r: {**r, "record_id": f"\ufeff{r.get('record_id')}"})
"""Records whose row starts with a byte order mark where the header puts the record id first."""
awkward_records = st.builds(
    lambda record, field, value: {**record, field: value},
    records(),
    st.sampled_from(["record_id", "vaccine", "test", "note"]),
    st.sampled_from(["a,b", 'say "hi"', "two\nlines", "cr\rhere", "crlf\r\nx", " ", "\ufeffbom", '"']),
)
"""Records with a value that needs quoting in CSV (or that a careless writer leaves unquoted)."""


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    header=st.sampled_from(CSV_HEADERS),
    rows=st.lists(st.one_of(records(), records(), csv_junk, bom_records, awkward_records), max_size=12),
    newline=st.sampled_from(["\n", "\n", "\n", "\r\n"]),
    final=st.booleans(),
    accepted=st.sampled_from(SOURCES),
    block=st.sampled_from([1, 3, 10_000]),
    quoting=st.sampled_from([None, None, csv.QUOTE_MINIMAL, csv.QUOTE_ALL]),
)
def test_the_arrow_parser_reads_csv_exactly_as_the_reference(
    header: str,
    rows: list[dict[str, Any] | str],
    newline: str,
    final: bool,
    accepted: frozenset[str],
    block: int,
    quoting: int | None,
) -> None:
    """Rows as they are, or written by ``csv.writer`` (quoting what needs it, or everything: cells may
    then hold commas, quotes and line breaks), beside junk lines."""
    names = header.split(",")
    lines = [header, *(row if isinstance(row, str) else _csv_row(names, row, quoting) for row in rows)]
    body = _body(lines, newline, final)
    assert _read(ArrowFeedParser(block), body, accepted) == _read(fd.parse_batch, body, accepted)


def _read(parse: Any, body: bytes, accepted: frozenset[str]) -> fd.Parsed | str:
    """A CSV batch parsed, or the reason it was refused as a whole."""
    try:
        parsed: fd.Parsed = parse(body, CSV, accepted, LATEST)
    except InvalidInput as refused:
        return refused.reason
    return parsed


@pytest.mark.parametrize("accepted", SOURCES)
def test_every_single_change_of_a_valid_record_in_csv_is_read_as_the_reference_reads_it(
    accepted: frozenset[str],
) -> None:
    names = CSV_HEADERS[1].split(",")
    variants = [VALID[kind] for kind in sorted(VALID)]
    for kind in sorted(VALID):
        for name, values in CHANGES.items():
            variants.append({k: v for k, v in VALID[kind].items() if k != name})
            variants += [{**VALID[kind], name: value} for value in values if not isinstance(value, dict)]
    variants += [{**VALID["vaccination"], "dose": dose} for dose in ("03", "0", "²", "٣", "1e1", " 2", "+2")]
    lines = [CSV_HEADERS[1], *(_csv_row(names, v) for v in variants)]
    plain = [line for line in lines if '"' not in line]
    body = _body(plain, "\n", final=True)
    reference = fd.parse_batch(body, CSV, accepted, LATEST)
    assert reference.valid.record_ids  # some of them are valid for every kind of source
    assert ArrowFeedParser(block_lines=1)(body, CSV, accepted, LATEST) == reference
    assert ArrowFeedParser()(body, CSV, accepted, LATEST) == reference


def _rows_read_by_the_reference(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The numbers of the CSV rows ``domain.feeds.parse_csv_rows`` reads from now on (until ``undo``)."""
    read: list[int] = []
    original = fd.parse_csv_rows

    def counting(rows: Any, first: int, accepted: frozenset[str], latest: datetime) -> Any:
        found = original(rows, first, accepted, latest)
        read.extend(range(first, first + len(found)))
        return found

    monkeypatch.setattr(fd, "parse_csv_rows", counting)
    return read


def test_a_plain_csv_batch_is_read_from_arrow_and_a_bad_row_by_the_reference(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Rows numbered after the header, blank lines not counted (as ``csv.DictReader`` reads them); a row of
    another number of cells sends its block to the reference, a record that is not plain only itself."""
    names = CSV_HEADERS[1].split(",")
    numbers = [resident_id_number(serial=f"{n:03d}") for n in range(1, 40)]
    records = [json.loads(_result(n, numbers[n % len(numbers)])) for n in range(60)]
    records[7]["dose"] = "03"  # a test result's dose: ignored
    records[9] = {**VALID["vaccination"], "record_id": "v9", "dose": "03"}  # a dose of 3
    records[12]["test"] = "smell"
    lines = [CSV_HEADERS[1], *(_csv_row(names, r) for r in records)]
    lines[45] = "r44,test_result"  # the 45th row: too few cells
    lines[30:30] = ["", ""]  # blank lines, not rows
    body = _body(lines, "\n", final=True)
    read = _rows_read_by_the_reference(monkeypatch)
    accepted = fd.ACCEPTS[fd.FeedKind.LAB] | {"vaccination"}
    parsed = ArrowFeedParser(block_lines=20)(body, CSV, accepted, LATEST)
    monkeypatch.undo()
    assert parsed == fd.parse_batch(body, CSV, accepted, LATEST)
    assert read == [13, *range(41, 61)]  # the smell test alone, and the block of rows 41-60
    assert [(r.line, r.reasons[0].reason) for r in parsed.rejected] == [
        (13, "invalid"),
        (45, "document_type_unknown"),
    ]
    assert len(parsed.valid) == 58
    assert parsed.valid.data[9] == json.dumps(
        {"vaccine": "CoronaVac", "dose": 3, "administered_at": "2022-03-01T10:00:00+08:00"}
    )
    assert parsed.valid.raws[0] == lines[1]


def test_a_csv_dose_is_a_number_of_ascii_digits() -> None:
    """A dose of other digits ("²" is a digit to ``str.isdigit`` and no number to ``int``) is invalid, where
    it had failed the whole batch with an error."""
    names = CSV_HEADERS[2].split(",")
    doses = {"v1": "03", "v2": "²", "v3": "٣", "v4": "3.0"}
    rows = [_csv_row(names, {**VALID["vaccination"], "record_id": r, "dose": d}) for r, d in doses.items()]
    body = _body([CSV_HEADERS[2], *rows], "\n", final=False)
    accepted = fd.ACCEPTS[fd.FeedKind.VACCINATION_REGISTRY]
    for parse in (fd.parse_batch, ArrowFeedParser()):
        parsed = parse(body, CSV, accepted, LATEST)
        assert parsed.valid.record_ids == ["v1"]
        assert [json.loads(d)["dose"] for d in parsed.valid.data] == [3]
        assert {r.record_id: [(e.path, e.reason) for e in r.reasons] for r in parsed.rejected} == {
            r: [(("dose",), "invalid")] for r in ("v2", "v3", "v4")
        }


def test_a_byte_order_mark_or_an_overlong_header_is_read_as_the_reference_reads_it() -> None:
    """Arrow's reader drops a byte order mark that starts its input (each block's): such a batch is the
    reference's. A header cell longer than the ``csv`` module reads refuses the batch (it failed it)."""
    names = CSV_HEADERS[0].split(",")
    row = _csv_row(names, VALID["test_result"])
    body = _body([CSV_HEADERS[0], "\ufeff" + row, row], "\n", final=True)
    accepted = fd.ACCEPTS[fd.FeedKind.LAB]
    reference = fd.parse_batch(body, CSV, accepted, LATEST)
    assert reference.valid.record_ids == ["\ufefft-1", "t-1"]
    assert ArrowFeedParser(block_lines=1)(body, CSV, accepted, LATEST) == reference
    for newline in ("\n", "\r\n"):
        long = _body([CSV_HEADERS[0] + ",x" + "x" * 140_000, row + ","], newline, final=True)
        assert _read(ArrowFeedParser(), long, accepted) == _read(fd.parse_batch, long, accepted)
        assert _read(fd.parse_batch, long, accepted) == "feed_csv_header"


@pytest.mark.parametrize("quoting", [None, csv.QUOTE_ALL])
def test_a_csv_row_longer_than_quarantine_keeps_is_read_as_the_reference_reads_it(
    quoting: int | None,
) -> None:
    """A valid row whose text passes ``MAX_RECORD_BYTES`` (an ignored column's long note) keeps its text
    cut as the reference cuts it."""
    names = CSV_HEADERS[2].split(",")
    long = {**VALID["vaccination"], "note": "n" * (fd.MAX_RECORD_BYTES + 4)}
    body = _body(
        [CSV_HEADERS[2], *(_csv_row(names, r, quoting) for r in (VALID["vaccination"], long))], "\n", True
    )
    accepted = fd.ACCEPTS[fd.FeedKind.HOSPITAL]
    reference = fd.parse_batch(body, CSV, accepted, LATEST)
    assert [len(raw) for raw in reference.valid.raws][1] == fd.MAX_RECORD_BYTES
    for block in (1, 10_000):
        assert ArrowFeedParser(block)(body, CSV, accepted, LATEST) == reference


def test_a_quoted_csv_batch_is_split_by_the_csv_module_and_only_a_bad_row_goes_to_the_reference(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every cell quoted, a record id holding a comma and a line break: the rows are the ``csv`` module's,
    checked from Arrow's columns; the rows the fast checks do not take are the reference's, written back
    as CSV."""
    names = CSV_HEADERS[1].split(",")
    numbers = [resident_id_number(serial=f"{n:03d}") for n in range(1, 30)]
    records = [json.loads(_result(n, numbers[n])) for n in range(1, 25)]
    records[3]["record_id"] = "r,4\nsecond line"
    records[5]["test"] = "smell"
    body = _body([CSV_HEADERS[1], *(_csv_row(names, r, csv.QUOTE_ALL) for r in records)], "\r\n", True)
    read = _rows_read_by_the_reference(monkeypatch)
    monkeypatch.setattr(pcsv, "read_csv", None)  # Arrow's reader does not read quoted CSV
    accepted = fd.ACCEPTS[fd.FeedKind.LAB]
    parsed = ArrowFeedParser()(body, CSV, accepted, LATEST)
    monkeypatch.undo()
    assert parsed == fd.parse_batch(body, CSV, accepted, LATEST)
    assert read == [4, 6]  # a record id with a line break is valid but not plain: the reference's too
    assert parsed.valid.record_ids[3] == "r,4\nsecond line"
    assert [(r.line, r.record_id) for r in parsed.rejected] == [(6, "r6")]


def _accepted(number: str) -> bool:
    try:
        parse_document("resident_id", number)
    except InvalidInput:
        return False
    return True


_YEARS = st.one_of(st.integers(0, 9999), st.sampled_from([0, 1, 1900, 1996, 2000, 2023, 2024, 2100, 9999]))
_MONTHS = st.one_of(st.integers(0, 99), st.sampled_from([0, 1, 2, 4, 12, 13]))
_DAYS = st.one_of(st.integers(0, 99), st.sampled_from([0, 1, 28, 29, 30, 31, 32]))


@st.composite
def resident_id_numbers(draw: st.DrawFn) -> str:
    """18 characters of the shape of a resident ID number; real and unreal birth dates, right and wrong
    check characters."""
    born = f"{draw(_YEARS):04d}{draw(_MONTHS):02d}{draw(_DAYS):02d}"
    first17 = (
        draw(st.text("0123456789", min_size=6, max_size=6))
        + born
        + draw(st.text("0123456789", min_size=3, max_size=3))
    )
    right = gb11643_check_character(first17)
    return first17 + draw(st.one_of(st.just(right), st.sampled_from("0123456789X")))


@settings(max_examples=300, deadline=None)
@given(numbers=st.lists(resident_id_numbers(), min_size=1, max_size=40), skip=st.integers(0, 3))
def test_resident_id_numbers_checked_at_once_are_those_parse_document_accepts(
    numbers: list[str], skip: int
) -> None:
    # an array that starts inside its buffer, as a filtered or sliced column does
    array = pa.array(["4401"] * skip + numbers).slice(skip)
    assert valid_resident_ids(array).tolist() == [_accepted(n) for n in numbers]
    body = _body([_result(n, number) for n, number in enumerate(numbers)], "\n", final=True)
    assert ArrowFeedParser()(body, JSONL, fd.ACCEPTS[fd.FeedKind.LAB], LATEST) == fd.parse_batch(
        body, JSONL, fd.ACCEPTS[fd.FeedKind.LAB], LATEST
    )


EDGE_BIRTH_DATES = [
    "19000229",  # not a leap year: a century
    "20000229",  # a leap year: a fourth century
    "21000229",
    "20240229",
    "20230229",
    "19960230",
    "00010101",  # the first date Python has
    "00000101",
    "19800001",
    "19801301",
    "19809901",
    "19800100",
    "19800131",
    "19800132",
    "19800430",
    "19800431",
    "99991231",
]


def test_edge_birth_dates_with_every_check_character_are_checked_as_parse_document_checks_them() -> None:
    numbers = [f"440106{born}123{check}" for born in EDGE_BIRTH_DATES for check in "0123456789X"]
    assert valid_resident_ids(pa.array(numbers)).tolist() == [_accepted(n) for n in numbers]
    assert sum(map(_accepted, numbers)) == 6  # the six real dates, each with its one right character


def test_only_numbers_of_18_characters_are_checked_at_once() -> None:
    with pytest.raises(ValueError, match="18 characters"):
        valid_resident_ids(pa.array([resident_id_number(), "1101051949123100"]))


def _two(low: int, high: int) -> st.SearchStrategy[str]:
    return st.integers(low, high).map(lambda n: f"{n:02d}")


@st.composite
def shaped_times(draw: st.DrawFn) -> str:
    """Times of ``valid_times``' shape, each field near and past its limits (a year 0, February 29th of
    every kind of year, hour 24, second 60, an offset of a day or of minutes past 59)."""
    year = draw(st.sampled_from([0, 1, 1900, 2000, 2022, 2024, 9999]) | st.integers(0, 9999))
    return (
        f"{year:04d}-{draw(_two(0, 13))}-{draw(st.sampled_from(['28', '29', '30', '31']) | _two(0, 99))}"
        f"T{draw(_two(0, 25))}:{draw(_two(0, 61))}:{draw(_two(0, 61))}"
        f"{draw(st.sampled_from('+-'))}{draw(_two(0, 24))}:{draw(_two(0, 99))}"
    )


_LATEST_TIMES = st.datetimes(timezones=st.just(UTC)) | st.sampled_from(
    [LATEST, datetime(1, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)]
)


@pytest.mark.parametrize(
    ("text", "accepted"),
    [
        ("1900-01-01T00:00:00Z", True),
        ("1900-01-01T08:00:00+08:00", True),
        ("1900-01-01T07:59:59.999999+08:00", False),
        ("1899-12-31T19:00:00-05:00", True),  # 1900-01-01T00:00:00Z
        ("2199-12-31T23:59:59.999999Z", True),
        ("2200-01-01T00:00:00Z", False),
        ("2200-01-01T07:59:59+08:00", True),
        ("2200-01-01T08:00:00+08:00", False),
        ("0001-01-01T00:00:00+08:00", False),  # no UTC at all
        ("9999-12-31T23:59:59-08:00", False),
        ("2022-05-02T09:00:00", False),  # no offset
    ],
)
def test_times_are_taken_from_1900_up_to_2200(text: str, accepted: bool) -> None:
    assert is_iso_datetime(text) is accepted
    if len(text) == 25 and text[19] in "+-":  # of valid_times' shape
        assert valid_times(pa.array([text]), datetime(9999, 1, 1, tzinfo=UTC)).tolist() == [accepted]


def _accepted_time(text: str, latest: datetime) -> bool:
    return is_iso_datetime(text) and parse_time(text) <= latest


@settings(max_examples=500, deadline=None)
@given(
    times=st.lists(shaped_times(), min_size=1, max_size=40),
    skip=st.integers(0, 3),
    latest=_LATEST_TIMES,
    same=st.booleans(),
)
def test_times_checked_at_once_are_those_the_reference_accepts(
    times: list[str], skip: int, latest: datetime, same: bool
) -> None:
    """Accepted: a time ``is_iso_datetime`` accepts, no later than ``latest`` (some drawn at ``latest``
    itself: the instant of the first time, to the second)."""
    if same and is_iso_datetime(times[0]):
        latest = parse_time(times[0])
    array = pa.array(["2022"] * skip + times).slice(skip)  # starting inside its buffer, as a filtered one
    assert valid_times(array, latest).tolist() == [_accepted_time(t, latest) for t in times]


def test_a_block_of_many_distinct_times_keeps_the_records_the_reference_keeps() -> None:
    """Times of the checked shape (valid, not valid, later than the batch allows) beside others checked
    one by one, in one block."""
    times = [f"2022-05-02T{h:02d}:{m:02d}:00+08:00" for h in range(22, 26) for m in range(0, 60, 7)]
    times += ["2022-05-02T01:00:00Z", "2022-05-02T09:00:00.5+08:00", "yesterday"] * 3
    latest = datetime(2022, 5, 2, 15, 0, tzinfo=UTC)  # 23:00 in UTC+8
    body = _body([_result(n, resident_id_number(), sampled_at=t) for n, t in enumerate(times)], "\n", True)
    parsed = ArrowFeedParser()(body, JSONL, fd.ACCEPTS[fd.FeedKind.LAB], latest)
    assert parsed == fd.parse_batch(body, JSONL, fd.ACCEPTS[fd.FeedKind.LAB], latest)
    assert len(parsed.valid) == sum(_accepted_time(t, latest) for t in times) == 9 + 1 + 6
    assert {e.reason for r in parsed.rejected for e in r.reasons} == {"invalid", "future"}
