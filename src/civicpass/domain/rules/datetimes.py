"""Date-times of CertLogic: parsing for ``plusTime`` and ``dccDateOfBirth``, and offsetting by a unit.

Implements "Dates and date-times", "Offset date-time (``plusTime``)" and "DCC Date of birth
(``dccDateOfBirth``)" of the CertLogic specification 1.3.3 (ehn-dcc-development/dgc-business-rules,
certlogic/specification/README.md). Every date-time is an aware UTC ``datetime`` at millisecond precision:

* ``YYYY`` → ``YYYY-12-31``, ``YYYY-MM`` → the last day of that month, ``YYYY-MM-DD`` → that day, each at
  ``00:00:00.000Z`` ("the last date consistent with the provided data");
* ``YYYY-MM-DDThh:mm:ss[.S…][Z|±h|±hh|±hmm|±hhmm|±h:mm|±hh:mm]``; no offset means ``Z``; decimals beyond the
  third are dropped (rounding down to the millisecond).

Offsetting follows JavaScript's ``Date.setUTC<Unit>(getUTC<Unit>() + amount)``: days and hours are exact
durations in UTC (no DST), months and years keep the day of the month and let it overflow into the next
month (2020-02-29 + 1 year = 2021-03-01). Strings the specification calls invalid (``2021-09-99``, a
13th month) raise ``rule_evaluation_failed`` rather than giving an undefined result.
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime, timedelta

from civicpass.domain.rules.errors import rule_evaluation_failed

TIME_UNITS = ("year", "month", "day", "hour")

_YEAR = re.compile(r"([0-9]{4})", re.ASCII)
_YEAR_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})", re.ASCII)
_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})", re.ASCII)
_DATE_TIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:\.([0-9]+))?(Z|([+-])([0-9]{1,2})(?::?([0-9]{2}))?)?",
    re.ASCII,
)


def _utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, micro: int = 0
) -> datetime:
    try:
        return datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)
    except ValueError as exc:
        raise rule_evaluation_failed(f"not a valid date or date-time ({exc})") from None


def _partial_date(text: str) -> datetime | None:
    """``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD`` as the last date-time it allows; ``None`` for other formats."""
    if match := _DATE.fullmatch(text):
        return _utc(int(match[1]), int(match[2]), int(match[3]))
    if match := _YEAR_MONTH.fullmatch(text):
        year, month = int(match[1]), int(match[2])
        if not 1 <= month <= 12:
            raise rule_evaluation_failed(f"not a valid month: {text!r}")
        return _utc(year, month, calendar.monthrange(year, month)[1])
    if match := _YEAR.fullmatch(text):
        return _utc(int(match[1]), 12, 31)
    return None


def parse_date_of_birth(text: str) -> datetime:
    """``dccDateOfBirth``: a possibly partial date ``YYYY[-MM[-DD]]`` as the last date-time it allows."""
    result = _partial_date(text)
    if result is None:
        raise rule_evaluation_failed(f"can't parse {text!r} as an EU DCC date-of-birth")
    return result


def parse_date_time(text: str) -> datetime:
    """The date-time a ``plusTime`` operand denotes, in UTC at millisecond precision."""
    match = _DATE_TIME.fullmatch(text) if "T" in text else None
    if match is None:
        result = _partial_date(text)
        if result is None:
            raise rule_evaluation_failed(f"not an allowed date or date-time format: {text!r}")
        return result
    year, month, day, hour, minute, second, fraction, zone, sign, hours, minutes = match.groups()
    millis = int(fraction[:3].ljust(3, "0")) if fraction else 0
    result = _utc(int(year), int(month), int(day), int(hour), int(minute), int(second), millis * 1000)
    if zone is None or zone == "Z":
        return result
    offset_hours, offset_minutes = int(hours), int(minutes or "0")
    if offset_hours > 23 or offset_minutes > 59:
        raise rule_evaluation_failed(f"not a valid timezone offset: {text!r}")
    offset = timedelta(hours=offset_hours, minutes=offset_minutes)
    try:
        return result + offset if sign == "-" else result - offset
    except OverflowError:
        raise rule_evaluation_failed(f"date-time out of range: {text!r}") from None


def _overflowing(base: datetime, year: int, month_index: int) -> datetime:
    """``base`` moved to ``year`` and 0-based ``month_index`` (any integer), the day overflowing like JS."""
    year += month_index // 12
    try:
        first = base.replace(year=year, month=month_index % 12 + 1, day=1)
        return first + timedelta(days=base.day - 1)
    except (ValueError, OverflowError):
        raise rule_evaluation_failed(f"date-time out of range: year {year}") from None


def plus_time(text: str, amount: int, unit: str) -> datetime:
    """``plusTime``: the date-time in ``text`` offset by ``amount`` ``unit``s."""
    start = parse_date_time(text)
    if amount == 0:
        return start
    if unit == "year":
        return _overflowing(start, start.year + amount, start.month - 1)
    if unit == "month":
        return _overflowing(start, start.year, start.month - 1 + amount)
    try:
        if unit == "day":
            return start + timedelta(days=amount)
        if unit == "hour":
            return start + timedelta(hours=amount)
    except OverflowError:
        raise rule_evaluation_failed(f"date-time out of range: {amount} {unit}s from {text!r}") from None
    raise rule_evaluation_failed(f"unknown time unit {unit!r}; expected one of {', '.join(TIME_UNITS)}")
