"""A feed batch (JSON Lines or CSV) parsed column by column with Apache Arrow, for bulk batches (issue 6).

``domain.feeds.parse_batch`` is the reference: it decodes and validates each line in Python, 17-22 µs a
record. ``ArrowFeedParser`` returns exactly what the reference returns (property tests compare the two
on generated batches of either format, bad lines included) in 2.5-4 µs: Arrow's JSON or CSV reader (C++)
turns a block of lines into columns, its compute kernels check that each field has the plain shape of a
valid value, and only what needs the domain's own rules runs in Python, once per distinct value:
documents (``parse_document``) and times (``is_iso_datetime``, and no later than the batch allows).
Resident ID numbers, one per record on a day of mass testing, are checked for a whole block at once with
NumPy (``valid_resident_ids``: the GB 11643 check character and the birth date, tested against
``parse_document``); only those it does not accept as they are go to ``parse_document``. So are times of
the shape most sources send, one per record as well (``valid_times``, tested against the reference's
check); a travel stay's start as well, and that it is not after its end. A record the fast checks do not
accept (a valid but unusual value, a bad record) goes to the reference line by line, so its outcome, with
every reason of a rejection, is the reference's by construction. A block that Arrow cannot read as one
plain JSON object per line (a malformed line, a field of another JSON type, a duplicate key) and a batch
with other line breaks than ``\\n`` or with NUL go to the reference whole.

A CSV batch is read by Arrow when it quotes nothing (no ``"``, no ``\\r``, no NUL, no byte order mark; a
header naming each column once): then each line is a row and its cells are split at each comma, as the
``csv`` module splits them, and Arrow's reader only has to be told to treat an empty cell as a field left
out (null), as the reference does. Any other CSV batch (one that quotes: a quoted field may hold commas and
line breaks) is split into cells by the ``csv`` module itself, the reference's own reader, and its columns
are checked the same way (``_tokenised``). A block with a row of another number of cells than the header
goes to the reference (``domain.feeds.parse_csv_rows``).

"Plain" values need no escaping in JSON or in COPY text: printable ASCII without ``"`` and ``\\``. The
data text of a fast record is then exactly what ``json.dumps`` writes of the reference's field mapping.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.json as pj

from civicpass.domain import feeds as fd
from civicpass.domain.errors import InvalidInput
from civicpass.domain.facts import EARLIEST_TIME, END_OF_TIMES, is_iso_datetime
from civicpass.domain.identity import DocumentType, index_material, parse_document

BLOCK_LINES = 10_000
"""Lines per Arrow read: a block that cannot be read fast is parsed by the reference, not the batch."""

FAST_KINDS = frozenset({"test_result", "vaccination", "travel"})
"""The record kinds read from Arrow's columns (others, none today, would be the reference's)."""

_TEXT = pa.string()
SCHEMA = pa.schema(
    [
        ("record_id", _TEXT),
        ("kind", _TEXT),
        ("document", pa.struct([("type", _TEXT), ("number", _TEXT), ("nationality", _TEXT)])),
        ("test", _TEXT),
        ("result", _TEXT),
        ("sampled_at", _TEXT),
        ("vaccine", _TEXT),
        ("dose", pa.int64()),
        ("administered_at", _TEXT),
        ("region", _TEXT),
        ("from", _TEXT),
        ("to", _TEXT),
    ]
)
"""The fields the fast kinds read, with the JSON type of their valid values; others are ignored (as the
reference ignores them), and a value of another type makes Arrow refuse the block."""

_PARSE = pj.ParseOptions(explicit_schema=SCHEMA, unexpected_field_behavior="ignore")
_READ = pj.ReadOptions(use_threads=False, block_size=1 << 22)
_PLAIN = r"^[ !#-\[\]-~]{1,64}$"  # 1-64 printable ASCII characters but " and \
_PLAIN_TIME = r"^[0-9A-Za-z:.+-]{1,64}$"  # the characters of an ISO 8601 time; is_iso_datetime decides
_REGION_CODE = r"^[1-9][0-9]{5}$"  # ``regions.is_region_code``
_SEP = "\x1f"  # joins a document's three fields into one key (split again into three, or not fast)


class ArrowFeedParser:
    """``domain.feeds.parse_batch``, with JSON Lines and CSV read by Arrow (see the module's docstring)."""

    def __init__(self, block_lines: int = BLOCK_LINES) -> None:
        self.block_lines = block_lines

    def __call__(self, body: bytes, media_type: str, accepted: frozenset[str], latest: datetime) -> fd.Parsed:
        form = fd.FORMATS.get(media_type)
        if not accepted & FAST_KINDS or form not in ("jsonl", "csv"):
            return fd.parse_batch(body, media_type, accepted, latest)
        if form == "csv":
            return self._csv(body, accepted, latest)
        text = fd.decode(body)
        lines = text.splitlines()  # the reference's lines
        newlines = text.count("\n") + (not text.endswith("\n") and text != "")
        if "\r" in text or len(lines) != newlines or "\x00" in text or "\\u0000" in text:
            return fd.collect(fd.parse_lines(enumerate(lines, start=1), accepted, latest))
        # every line ends at a "\n" (no other line break): the same lines in bytes, for Arrow
        raw = body.split(b"\n")[: len(lines)]

        def reference(lines: list[str], first: int, into: fd.Parsed) -> None:
            fd.collect(fd.parse_lines(enumerate(lines, start=first), accepted, latest), into)

        return self._blocks(lines, lambda a, b: _json_table(raw[a:b]), accepted, latest, reference)

    def _blocks(
        self,
        lines: list[str],
        table: Callable[[int, int], pa.Table | None],
        accepted: frozenset[str],
        latest: datetime,
        reference: Reference,
    ) -> fd.Parsed:
        """The lines (or rows) parsed in blocks of ``block_lines`` (``_block``), ``table(start, end)``
        giving the columns of each, if it can."""
        parsed = fd.Parsed(fd.ValidRecords(), [])
        materials: dict[str | None, str | None] = {}
        for start in range(0, len(lines), self.block_lines):
            end = start + self.block_lines
            _block(
                table(start, end), lines[start:end], start + 1, accepted, latest, parsed, materials, reference
            )
        return parsed

    def _csv(self, body: bytes, accepted: frozenset[str], latest: datetime) -> fd.Parsed:
        """A CSV batch: read by Arrow's reader where it quotes nothing (each line a row, its cells split at
        each comma), else split into cells by the ``csv`` module itself (``_tokenised``)."""
        text = fd.decode(body)
        header, *lines = text.split("\n")  # the lines the csv module reads (io.StringIO splits at "\n")
        names = header.split(",")
        if (
            '"' in text
            or "\r" in text
            or "\x00" in text
            or "\ufeff" in text  # Arrow's reader drops a byte order mark that starts its input; csv keeps it
            or not _header(names)
            or max(map(len, [header, *lines])) > csv.field_size_limit()
        ):
            return self._tokenised(body, text, accepted, latest)
        rows = [line for line in lines if line]  # csv.DictReader skips blank lines, and does not count them

        def reference(lines: list[str], first: int, into: fd.Parsed) -> None:
            reader = csv.DictReader(io.StringIO("\n".join(lines)), fieldnames=names)
            fd.collect(fd.parse_csv_rows(reader, first, accepted, latest), into)

        return self._blocks(rows, lambda a, b: _csv_table(names, rows[a:b]), accepted, latest, reference)

    def _tokenised(self, body: bytes, text: str, accepted: frozenset[str], latest: datetime) -> fd.Parsed:
        """A CSV batch that quotes (or holds ``\\r`` or a byte order mark), its rows split into cells by the
        ``csv`` module (the reference's own reader) and its columns checked as Arrow's are. A row the fast
        checks do not take goes to the reference written back as CSV (``csv.writer`` quoting every cell,
        which the reader reads back to the same cells). A batch the ``csv`` module cannot read to its end,
        with NUL or with an odd header is the reference's whole."""
        try:
            found = list(csv.reader(io.StringIO(text))) if "\x00" not in text else []
        except csv.Error:  # an unclosed quote or a huge field: the reference reports where
            found = []
        names = found[0] if found else []  # the header: csv.DictReader's first row, even an empty one
        if not _header(names):
            return fd.parse_batch(body, "text/csv", accepted, latest)
        rows = [row for row in found[1:] if row]  # csv.DictReader skips empty rows, and does not count them
        lines = [",".join(row) for row in rows]  # a row's text as the reference keeps it

        def reference(lines: list[str], first: int, into: fd.Parsed) -> None:
            written = io.StringIO()
            csv.writer(written, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(
                rows[first - 1 : first - 1 + len(lines)]
            )
            reader = csv.DictReader(io.StringIO(written.getvalue()), fieldnames=names)
            fd.collect(fd.parse_csv_rows(reader, first, accepted, latest), into)

        return self._blocks(
            lines, lambda a, b: _cells_table(names, rows[a:b], lines[a:b]), accepted, latest, reference
        )


def _header(names: list[str]) -> bool:
    """Whether a CSV header can be read column by column: each name once, record id and kind among them
    (another is the reference's to read, or to refuse)."""
    return len(set(names)) == len(names) and {"record_id", "kind"} <= set(names)


Reference = Callable[[list[str], int, fd.Parsed], None]
"""The reference parser for lines (JSON Lines) or rows (CSV) numbered from the given one, into a result."""


def _json_table(raw: list[bytes]) -> pa.Table | None:
    """A block of JSON Lines (each one's bytes) as ``SCHEMA``'s columns, or None where Arrow cannot read it
    as one plain object per line."""
    joined = b"\n".join(raw)
    # each line starts with { and ends with }: every line break (the only ones are the lines' ends) lies
    # between a } and a {, counted in C (0.3 µs a line less than testing each line's ends in Python)
    plain = joined[:1] == b"{" and joined[-1:] == b"}" and joined.count(b"}\n{") == len(raw) - 1
    if not plain or max(map(len, raw)) > fd.MAX_RECORD_BYTES:
        return None
    try:
        return pj.read_json(io.BytesIO(joined), read_options=_READ, parse_options=_PARSE)
    except pa.ArrowInvalid:
        return None


_CSV_PARSE = pcsv.ParseOptions(
    quote_char=False,
    double_quote=False,
    escape_char=False,
    newlines_in_values=False,
    ignore_empty_lines=False,
)
_CSV_COLUMNS = (*(name for name in SCHEMA.names if name != "document"), *fd.CSV_COLUMNS)
"""``SCHEMA``'s fields as CSV columns: the document's flattened (``domain.feeds.CSV_COLUMNS``)."""
_CSV_CONVERT = pcsv.ConvertOptions(
    column_types=dict.fromkeys(_CSV_COLUMNS, _TEXT),
    strings_can_be_null=True,
    null_values=[""],  # an empty cell is a field left out (and only that: not "NULL" or "NaN")
    include_columns=list(_CSV_COLUMNS),
    include_missing_columns=True,
)
_DOSE = r"^[0-9]{1,18}$"  # a number the reference reads (ASCII digits) and int64 holds


def _csv_table(names: list[str], rows: list[str]) -> pa.Table | None:
    """A block of CSV rows (no quotes) as ``SCHEMA``'s columns (``_schema_table``). None where a row has
    another number of cells than the header, or is longer than quarantine keeps a record's text."""
    if max(map(len, rows)) > fd.MAX_RECORD_BYTES:
        return None
    options = pcsv.ReadOptions(column_names=names, use_threads=False, block_size=1 << 22)
    try:
        cells = pcsv.read_csv(
            io.BytesIO("\n".join(rows).encode()),
            read_options=options,
            parse_options=_CSV_PARSE,
            convert_options=_CSV_CONVERT,
        )
    except pa.ArrowInvalid:
        return None
    return _schema_table(lambda name: cells.column(name).combine_chunks())


def _cells_table(names: list[str], rows: list[list[str]], lines: list[str]) -> pa.Table | None:
    """A block of CSV rows split into cells as ``SCHEMA``'s columns (``_schema_table``). None where a row
    has another number of cells than the header, or its text is longer than quarantine keeps."""
    if any(len(row) != len(names) for row in rows) or max(map(len, lines)) > fd.MAX_RECORD_BYTES:
        return None
    where = {name: n for n, name in enumerate(names)}

    def column(name: str) -> pa.Array:
        if name not in where:
            return pa.nulls(len(rows), _TEXT)
        values = pa.array([row[where[name]] for row in rows], _TEXT)
        return pc.if_else(pc.equal(values, ""), pa.scalar(None, _TEXT), values)

    return _schema_table(column)


def _schema_table(col: Callable[[str], pa.Array]) -> pa.Table:
    """``SCHEMA``'s columns from a block's CSV columns (``col``: text, null for an empty cell or a column
    the header does not name), as the reference reads them: an empty cell is a field left out, the
    document's three columns are its fields, a dose of ASCII digits is a number (another dose null: not
    fast)."""
    document = pa.StructArray.from_arrays(
        [col(name) for name in fd.CSV_COLUMNS], names=["type", "number", "nationality"]
    )
    doses = col("dose")
    dose = pc.cast(pc.if_else(pc.match_substring_regex(doses, _DOSE), doses, None), pa.int64())
    columns = {name: col(name) for name in _CSV_COLUMNS if name not in fd.CSV_COLUMNS}
    return pa.table({**columns, "document": document, "dose": dose}).select(SCHEMA.names)


def _block(
    table: pa.Table | None,
    lines: list[str],
    first: int,
    accepted: frozenset[str],
    latest: datetime,
    into: fd.Parsed,
    materials: dict[str | None, str | None],
    reference: Reference,
) -> None:
    """Parse the lines numbered from ``first`` into ``into``: from Arrow's columns where it could read them
    (``table``: ``SCHEMA``'s columns, a row a line), else by the reference. ``materials`` holds the
    ``index_material`` of each document of the batch validated so far, by key (None: not valid as it is)."""
    if table is None or table.num_rows != len(lines):
        reference(lines, first, into)
        return
    fast, (record_id_column, kind_column, key_column, time_column, data_column) = _checked(table, accepted)
    good, times = _good_times(time_column, latest)
    is_travel = pc.fill_null(pc.equal(kind_column, "travel"), False).to_numpy(zero_copy_only=False)
    begun = times  # a sample's or dose's start is its time
    if is_travel.any():  # a stay's start: a good time too, and not after its end
        good_start, starts = _good_times(table.column("from"), latest)
        good &= ~is_travel | (good_start & (starts <= times))
        begun = np.where(is_travel, starts, times)
    good_times, instants = good.tolist(), times.tolist()
    began = instants if begun is times else begun.tolist()  # a block without stays: the same list
    record_ids, kinds, keys, data = (
        c.to_pylist() for c in (record_id_column, kind_column, key_column, data_column)
    )
    new = {key for key, ok in zip(keys, fast, strict=True) if ok} - materials.keys()
    if new:
        _resident_id_materials(table, key_column, materials)
        _validate_documents(new - materials.keys(), materials)
    found = [
        materials.get(key) if ok and good_time else None
        for key, ok, good_time in zip(keys, fast, good_times, strict=True)
    ]
    valid = into.valid
    if None not in found:  # the common bulk batch: every record plain and valid
        valid.lines.extend(range(first, first + len(lines)))
        valid.record_ids.extend(record_ids)
        valid.kinds.extend(kinds)
        valid.materials.extend(found)  # type: ignore[arg-type]  # None is not in it
        valid.data.extend(data)
        valid.raws.extend(lines)
        valid.times.extend(instants)
        valid.starts.extend(began)
        return
    for n, material in enumerate(found):
        if material is None:
            reference([lines[n]], first + n, into)
            continue
        valid.lines.append(first + n)
        valid.record_ids.append(record_ids[n])
        valid.kinds.append(kinds[n])
        valid.materials.append(material)
        valid.data.append(data[n])
        valid.raws.append(lines[n])
        valid.times.append(instants[n])
        valid.starts.append(began[n])


def _plain(values: pa.ChunkedArray, pattern: str = _PLAIN) -> pa.ChunkedArray:
    return pc.match_substring_regex(values, pattern)


def _all(*conditions: pa.ChunkedArray) -> pa.ChunkedArray:
    result = conditions[0]
    for condition in conditions[1:]:
        result = pc.and_kleene(result, condition)
    return result


def _checked(table: pa.Table, accepted: frozenset[str]) -> tuple[list[bool], list[pa.ChunkedArray]]:
    """Which rows have the plain shape of a valid test result, vaccination or travel stay (whose start
    and end ``_block`` checks as times), and the columns the records need: record id, kind, document
    key, time (``domain.feeds.TIME_FIELDS``: the one an expiry counts from), and the data text (what
    ``json.dumps`` writes of the reference's field mapping: plain values need no escaping). Only the kinds
    the source sends and the block holds are computed (a lab's block: test results alone)."""
    col = table.column
    kind, document = col("kind"), col("document")
    doc_type, number, nationality = (pc.struct_field(document, f) for f in ("type", "number", "nationality"))
    present = []  # (is of the kind, plain shape, time, data text) of each kind accepted and in the block
    for name in ("test_result", "vaccination", "travel"):
        is_kind = pc.equal(kind, name)
        if name in accepted and pc.any(is_kind).as_py():
            shape, time, text = _KIND_COLUMNS[name](col)
            present.append((is_kind, pc.and_kleene(is_kind, shape), time, text))
    fast = pc.and_kleene(_plain(col("record_id")), _any_of([shape for _, shape, _, _ in present]))
    keys = pc.binary_join_element_wise(doc_type, number, pc.coalesce(nationality, ""), _SEP)
    times, data = (
        _by_kind([(is_kind, columns[n]) for is_kind, *columns in present], len(table)) for n in (1, 2)
    )
    return pc.fill_null(fast, False).to_pylist(), [col("record_id"), kind, keys, times, data]


def _any_of(conditions: list[pa.ChunkedArray]) -> pa.ChunkedArray | pa.Scalar:
    if not conditions:
        return pa.scalar(False)
    result = conditions[0]
    for condition in conditions[1:]:
        result = pc.or_kleene(result, condition)
    return result


def _by_kind(choices: list[tuple[pa.ChunkedArray, pa.ChunkedArray]], rows: int) -> pa.ChunkedArray:
    """Each row's value from the column of its kind (of ``(is of the kind, column)``; null for others)."""
    if not choices:
        return pa.chunked_array([pa.nulls(rows, _TEXT)])
    result = choices[-1][1]
    for is_kind, column in reversed(choices[:-1]):
        result = pc.if_else(is_kind, column, result)
    return result


def _test_result(col: Callable[[str], pa.ChunkedArray]) -> tuple[pa.ChunkedArray, ...]:
    shape = _all(
        pc.is_in(col("test"), value_set=pa.array(["pcr", "antigen"])),
        pc.is_in(col("result"), value_set=pa.array(["positive", "negative"])),
        _plain(col("sampled_at"), _PLAIN_TIME),
    )
    text = pc.binary_join_element_wise(
        '{"test": "',
        col("test"),
        '", "result": "',
        col("result"),
        '", "sampled_at": "',
        col("sampled_at"),
        '"}',
        "",
    )
    return shape, col("sampled_at"), text


def _vaccination(col: Callable[[str], pa.ChunkedArray]) -> tuple[pa.ChunkedArray, ...]:
    shape = _all(
        _plain(col("vaccine")),
        pc.greater_equal(col("dose"), 1),
        pc.less_equal(col("dose"), 10),
        _plain(col("administered_at"), _PLAIN_TIME),
    )
    text = pc.binary_join_element_wise(
        '{"vaccine": "',
        col("vaccine"),
        '", "dose": ',
        pc.cast(col("dose"), _TEXT),
        ', "administered_at": "',
        col("administered_at"),
        '"}',
        "",
    )
    return shape, col("administered_at"), text


def _travel(col: Callable[[str], pa.ChunkedArray]) -> tuple[pa.ChunkedArray, ...]:
    shape = _all(
        pc.match_substring_regex(col("region"), _REGION_CODE),
        _plain(col("from"), _PLAIN_TIME),
        _plain(col("to"), _PLAIN_TIME),
    )
    text = pc.binary_join_element_wise(
        '{"region": "', col("region"), '", "from": "', col("from"), '", "to": "', col("to"), '"}', ""
    )
    return shape, col("to"), text


_KIND_COLUMNS = {"test_result": _test_result, "vaccination": _vaccination, "travel": _travel}
"""Each fast kind's plain shape (given that a row is of that kind), time and data text, from the columns."""


_MONTH_DAYS = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] + [0] * 87, dtype=np.int64)


def _fixed_rows(texts: pa.Array, width: int) -> np.ndarray:
    """These ASCII strings of ``width`` characters each as the rows of a byte matrix, read in place from
    the array's buffer (ValueError if any has another length)."""
    count = len(texts)
    offsets = pa.Array.from_buffers(pa.int32(), count + 1, [None, texts.buffers()[1]], offset=texts.offset)
    start, end = offsets[0].as_py(), offsets[count].as_py()
    if end - start != width * count:
        raise ValueError(f"expected texts of {width} characters")
    rows: np.ndarray = np.frombuffer(
        texts.buffers()[2], dtype=np.uint8, count=width * count, offset=start
    ).reshape(count, width)
    return rows


def _numbers(rows: np.ndarray, *spans: tuple[int, int]) -> list[np.ndarray]:
    """The decimal number in each column span ``[start, end)`` of rows of ASCII digits."""
    found = []
    for start, end in spans:
        weights = 10 ** np.arange(end - start - 1, -1, -1, dtype=np.int64)
        found.append((rows[:, start:end].astype(np.int64) - ord("0")) @ weights)
    return found


def _real_dates(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Which (year, month, day) are dates of the proleptic Gregorian calendar, years 1 to 9999."""
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month_days = _MONTH_DAYS[month] + (leap & (month == 2))  # 0 for months 0 and 13-99
    result: np.ndarray = (year >= 1) & (day >= 1) & (day <= month_days)
    return result


_TIME_SHAPE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}[+-][0-9]{2}:[0-9]{2}$"
"""The shape of the times most sources send (``2022-05-02T09:00:00+08:00``): checked by ``valid_times``."""


def _days_since_epoch(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Days from 1970-01-01 to these dates of the proleptic Gregorian calendar (H. Hinnant's
    ``days_from_civil``: years counted from March, so that February's length comes last)."""
    years = year - (month <= 2)
    era = years // 400
    of_era = years - era * 400
    of_year = (153 * ((month + 9) % 12) + 2) // 5 + day - 1
    days: np.ndarray = era * 146_097 + of_era * 365 + of_era // 4 - of_era // 100 + of_year - 719_468
    return days


_FIRST_SECOND, _END_SECOND = ((t - fd.EPOCH) // timedelta(seconds=1) for t in (EARLIEST_TIME, END_OF_TIMES))
"""The range of times ``is_iso_datetime`` accepts, in seconds from the epoch."""


def valid_times(times: pa.Array, latest: datetime) -> np.ndarray:
    """Which of these times of ``_TIME_SHAPE`` the reference accepts (``_checked_times``)."""
    return _checked_times(times, latest)[0]


def _checked_times(times: pa.Array, latest: datetime) -> tuple[np.ndarray, np.ndarray]:
    """Which of these times of ``_TIME_SHAPE`` the reference accepts: ``is_iso_datetime`` (a real date,
    hour 0-23, minute and second 0-59, an offset of less than a day, within ``in_time_range``;
    ``datetime.fromisoformat`` counts an offset's minutes past 59 into the hours, so ``+08:60`` is nine
    hours) and not later than ``latest``; and each one's instant in microseconds since the epoch (as
    ``domain.feeds.epoch_micros``). Each time is a row of 25 bytes, so a block's times are checked in a
    few NumPy operations instead of parsing each distinct one (0.4 µs); tested against the reference."""
    rows = _fixed_rows(times, 25)
    year, month, day, hour, minute, second, offset_hours, offset_minutes = _numbers(
        rows, (0, 4), (5, 7), (8, 10), (11, 13), (14, 16), (17, 19), (20, 22), (23, 25)
    )
    offset = np.where(rows[:, 19] == ord("+"), 1, -1) * (offset_hours * 3600 + offset_minutes * 60)
    instant = _days_since_epoch(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset
    micros: np.ndarray = instant * 1_000_000
    result: np.ndarray = (
        _real_dates(year, month, day)
        & (hour <= 23)
        & (minute <= 59)
        & (second <= 59)
        & (offset_hours * 60 + offset_minutes < 24 * 60)
        & (instant >= _FIRST_SECOND)
        & (instant < _END_SECOND)
        & (micros <= fd.micros_since_epoch(latest))
    )
    return result, micros


def _good_times(times: pa.ChunkedArray, latest: datetime) -> tuple[np.ndarray, np.ndarray]:
    """Whether each time is one the reference accepts (None: False): ``is_iso_datetime``, not later than
    ``latest``; and the instant of each accepted one (``domain.feeds.epoch_micros``), as NumPy arrays.
    Those of ``_TIME_SHAPE`` by ``_checked_times``, any other once per distinct value."""
    times = times.combine_chunks()
    shaped = pc.fill_null(pc.match_substring_regex(times, _TIME_SHAPE), False)
    unshaped = pc.and_(pc.invert(shaped), pc.is_valid(times))
    good = np.zeros(len(times), dtype=bool)
    micros = np.zeros(len(times), dtype=np.int64)
    if pc.any(shaped).as_py():
        rows = shaped.to_numpy(zero_copy_only=False)
        good[rows], micros[rows] = _checked_times(pc.filter(times, shaped), latest)
    if pc.any(unshaped).as_py():
        others = pc.filter(times, unshaped).to_pylist()
        instants = {t: fd.epoch_micros(t) for t in set(others) if is_iso_datetime(t)}  # each parsed once
        limit = fd.micros_since_epoch(latest)
        taken = {t: m for t, m in instants.items() if m <= limit}
        rows = unshaped.to_numpy(zero_copy_only=False)
        good[rows] = [t in taken for t in others]
        micros[rows] = [taken.get(t, 0) for t in others]
    return good, micros


_RESIDENT_ID_SHAPE = r"^[0-9]{17}[0-9X]$"
_RESIDENT_ID_MATERIAL = index_material(DocumentType.RESIDENT_ID, "")  # and then the number
_WEIGHTS = np.array([pow(2, 17 - i, 11) for i in range(17)], dtype=np.int64)  # ISO 7064 MOD 11-2
_CHECK_CHARACTERS = np.frombuffer(b"10X98765432", dtype=np.uint8)  # by the weighted sum modulo 11


def valid_resident_ids(numbers: pa.Array) -> np.ndarray:
    """Which of these 18-character numbers of 17 digits and a digit or ``X`` (``_RESIDENT_ID_SHAPE``)
    ``parse_document`` accepts as they are: the GB 11643 check character, and a birth date (digits 7-14)
    that is a real date. Each number is a row of 18 bytes in the array's buffer, so the whole array is
    checked in a few NumPy operations (0.06 against about 1.9 µs a number for ``parse_document``)."""
    rows = _fixed_rows(numbers, 18)
    digits = rows[:, :17].astype(np.int64) - ord("0")
    checked = _CHECK_CHARACTERS[digits @ _WEIGHTS % 11] == rows[:, 17]
    year, month, day = _numbers(rows, (6, 10), (10, 12), (12, 14))
    result: np.ndarray = checked & _real_dates(year, month, day)
    return result


def _resident_id_materials(
    table: pa.Table, keys: pa.ChunkedArray, found: dict[str | None, str | None]
) -> None:
    """The index material of the block's keys that are resident ID numbers valid as they are, into
    ``found`` (a ``Document``'s, without making one: a batch of mass testing has one per record). A key's
    material is its number's alone (a resident ID's nationality is China's, whatever a record says), so a
    key already in ``found``, or one of a record that is not fast, gets the material it has or would get."""
    document = table.column("document")
    doc_type, number = pc.struct_field(document, "type"), pc.struct_field(document, "number")
    shaped = pc.fill_null(
        pc.and_(pc.equal(doc_type, "resident_id"), pc.match_substring_regex(number, _RESIDENT_ID_SHAPE)),
        False,
    )
    numbers = pc.filter(number, shaped).combine_chunks()
    if not len(numbers):
        return
    valid = pa.array(valid_resident_ids(numbers))
    materials = pc.binary_join_element_wise(_RESIDENT_ID_MATERIAL, pc.filter(numbers, valid), "")
    found.update(
        zip(pc.filter(pc.filter(keys, shaped), valid).to_pylist(), materials.to_pylist(), strict=True)
    )


def _validate_documents(keys: set[str | None], found: dict[str | None, str | None]) -> None:
    """Each of these documents as the reference validates it, its index material into ``found`` (None: not
    valid as it is)."""
    for key in keys:
        if key is None:
            continue
        parts = key.split(_SEP)
        if len(parts) != 3:  # a field held the separator: this record is the reference's to read
            found[key] = None
            continue
        doc_type, number, nationality = parts
        try:
            document = parse_document(doc_type, number, nationality or None)
        except InvalidInput:
            found[key] = None
            continue
        found[key] = None if document.type is DocumentType.NONE else document.index_material
