"""CertLogic and JsonLogic beyond the conformance suites: errors, date-time edge cases, compiled reuse."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from civicpass.domain.errors import CivicpassError, InvalidInput
from civicpass.domain.rules import certlogic, jsonlogic
from civicpass.domain.rules.errors import RULE_EVALUATION_FAILED, RULE_INVALID, RuleError
from civicpass.domain.rules.validation import MAX_DEPTH


def _nested(depth: int) -> Any:
    expr: Any = {"var": "x"}
    for _ in range(depth):
        expr = {"!": [expr]}
    return expr


@pytest.mark.parametrize(
    "expr",
    [
        pytest.param({"all": [{"var": "x"}, True]}, id="unknown operator"),
        pytest.param({"or": [True, False]}, id="JsonLogic-only operator"),
        pytest.param({"if": [True, 1]}, id="if with 2 operands"),
        pytest.param({"and": [True]}, id="and with 1 operand"),
        pytest.param({"===": [1, 1, 1]}, id="=== with 3 operands"),
        pytest.param({"<": [1, 2, 3, 4]}, id="comparison with 4 operands"),
        pytest.param({"!": [True, False]}, id="! with 2 operands"),
        pytest.param({"plusTime": ["2021-01-01", 1]}, id="plusTime with 2 operands"),
        pytest.param({"plusTime": ["2021-01-01", {"var": "n"}, "day"]}, id="plusTime amount not a literal"),
        pytest.param({"plusTime": ["2021-01-01", 1, "week"]}, id="plusTime unknown unit"),
        pytest.param({"extractFromUVCI": [{"var": "u"}, "1"]}, id="extractFromUVCI index not integer"),
        pytest.param({"reduce": [[], {"var": "current"}]}, id="reduce with 2 operands"),
        pytest.param({"dccDateOfBirth": []}, id="dccDateOfBirth with 0 operands"),
        pytest.param({"var": 0}, id="var with an integer"),
        pytest.param({"var": "x."}, id="var with an empty fragment"),
        pytest.param({"and": "x"}, id="operands not an array"),
        pytest.param({}, id="empty object"),
        pytest.param({"var": "x", "if": [1, 2, 3]}, id="two keys"),
        pytest.param(None, id="null"),
        pytest.param(3.14, id="non-integer number"),
        pytest.param(_nested(MAX_DEPTH + 5), id="nested too deeply"),
    ],
)
def test_an_invalid_certlogic_expression_is_refused_before_any_evaluation(expr: Any) -> None:
    with pytest.raises(RuleError) as raised:
        certlogic.compile_expression(expr)
    assert raised.value.reason == RULE_INVALID
    assert raised.value.extra["issues"]
    assert isinstance(raised.value, InvalidInput | CivicpassError)


def test_an_invalid_operand_is_refused_even_where_evaluation_would_never_reach_it() -> None:
    with pytest.raises(RuleError, match="unrecognised operator"):
        certlogic.evaluate({"and": [False, {"foo": [1]}]}, {})


@pytest.mark.parametrize(
    ("expr", "data"),
    [
        pytest.param({"+": [{"var": "a"}, 1]}, {"a": "1"}, id="+ on a string"),
        pytest.param({"<": [{"var": "a"}, 1]}, {"a": None}, id="< on null"),
        pytest.param({"<": [{"var": "a"}, 1]}, {"a": True}, id="< on a boolean"),
        pytest.param(
            {"after": [{"var": "a"}, {"var": "b"}]}, {"a": "2021", "b": "2020"}, id="after on strings"
        ),
        pytest.param({"in": ["a", {"var": "y"}]}, {"y": None}, id="in on null"),
        pytest.param({"in": ["a", {"var": "y"}]}, {"y": "abc"}, id="in on a string"),
        pytest.param({"if": [{"plusTime": ["2021-01-01", 0, "day"]}, 1, 2]}, {}, id="date-time as a guard"),
        pytest.param({"!": [{"var": "f"}]}, {"f": 1.5}, id="non-integer as a condition"),
        pytest.param({"and": [True, {"var": "f"}]}, {"f": 1.5}, id="non-integer as the last and operand"),
        pytest.param({"dccDateOfBirth": [{"var": "dob"}]}, {}, id="dccDateOfBirth of null"),
        pytest.param({"dccDateOfBirth": [{"var": "dob"}]}, {"dob": "2004-13"}, id="dccDateOfBirth month 13"),
        pytest.param({"plusTime": [{"var": "d"}, 0, "day"]}, {"d": "2021-09-99"}, id="plusTime day 99"),
        pytest.param({"plusTime": [{"var": "d"}, 0, "day"]}, {"d": "2022-13"}, id="plusTime month 13"),
        pytest.param({"plusTime": [{"var": "d"}, 0, "day"]}, {"d": "01/02/2021"}, id="plusTime bad format"),
        pytest.param({"plusTime": [{"var": "d"}, 0, "day"]}, {"d": None}, id="plusTime of null"),
        pytest.param({"plusTime": [{"var": "d"}, 9000, "year"]}, {"d": "2021"}, id="plusTime past year 9999"),
        pytest.param({"reduce": [{"var": "xs"}, 0, 0]}, {"xs": "abc"}, id="reduce over a string"),
        pytest.param({"extractFromUVCI": [{"var": "u"}, 0]}, {"u": 7}, id="extractFromUVCI of a number"),
    ],
)
def test_a_type_mismatch_raises_instead_of_returning_a_value(expr: Any, data: Any) -> None:
    with pytest.raises(RuleError) as raised:
        certlogic.evaluate(expr, data)
    assert raised.value.reason == RULE_EVALUATION_FAILED


def _plus_time(text: str, amount: int, unit: str) -> datetime:
    result = certlogic.evaluate({"plusTime": [text, amount, unit]}, None)
    assert isinstance(result, datetime)
    return result


@pytest.mark.parametrize(
    ("unit", "expected"),
    [
        ("day", datetime(2020, 3, 1, tzinfo=UTC)),
        ("month", datetime(2020, 3, 29, tzinfo=UTC)),
        ("year", datetime(2021, 3, 1, tzinfo=UTC)),
    ],
)
def test_plus_time_on_a_leap_day_follows_the_specification_table(unit: str, expected: datetime) -> None:
    assert _plus_time("2020-02-29", 1, unit) == expected


@pytest.mark.parametrize(
    "text",
    [
        "2021-06-01T01:30:00+1:30",
        "2021-06-01T01:30:00+01:30",
        "2021-06-01T01:30:00+130",
        "2021-06-01T01:30:00+0130",
        "2021-06-01T00:00:00Z",
        "2021-06-01T00:00:00",
        "2021-06-01T02:00:00+2",
        "2021-05-31T22:00:00-02",
        "2021-06-01T00:00:00.0009Z",
    ],
)
def test_every_allowed_offset_format_denotes_the_same_instant(text: str) -> None:
    assert _plus_time(text, 0, "hour") == datetime(2021, 6, 1, tzinfo=UTC)


def test_sub_second_digits_are_truncated_to_milliseconds() -> None:
    assert _plus_time("2021-06-01T00:00:00.1239Z", 0, "day").microsecond == 123_000
    assert _plus_time("2021-06-01T00:00:00.5+00:00", 0, "day").microsecond == 500_000


def test_months_overflow_like_javascript_dates() -> None:
    assert _plus_time("2021-01-31", 1, "month") == datetime(2021, 3, 3, tzinfo=UTC)
    assert _plus_time("2021-03-31", -13, "month") == datetime(2020, 3, 2, tzinfo=UTC)
    assert _plus_time("2021-06-01T00:30:00+01:00", 1, "month") == datetime(2021, 7, 1, 23, 30, tzinfo=UTC)


def test_a_partial_date_of_birth_is_the_last_day_it_allows() -> None:
    assert certlogic.evaluate({"dccDateOfBirth": ["2004-02"]}, None) == datetime(2004, 2, 29, tzinfo=UTC)
    assert certlogic.evaluate({"dccDateOfBirth": ["2004"]}, None) == datetime(2004, 12, 31, tzinfo=UTC)
    assert _plus_time("2004-02", 0, "day") == datetime(2004, 2, 29, tzinfo=UTC)


def test_a_compiled_rule_can_be_reused_across_data() -> None:
    rule = certlogic.compile_expression({"and": [{"var": "payload.a"}, {"<": [{"var": "payload.b"}, 5]}]})
    assert [rule({"payload": {"a": True, "b": b}}) for b in (4, 5)] == [True, False]
    assert rule({"payload": {"a": "", "b": "not reached"}}) == ""
    assert rule({}) is None


def test_certlogic_and_jsonlogic_keep_their_own_truthiness() -> None:
    expr = {"if": [{"var": "x"}, "T", "F"]}
    assert certlogic.evaluate(expr, {"x": {}}) == "F"
    assert jsonlogic.evaluate(expr, {"x": {}}) == "T"


def test_jsonlogic_refuses_an_unknown_operation() -> None:
    with pytest.raises(RuleError) as raised:
        jsonlogic.evaluate({"plusTime": ["2021-01-01", 1, "day"]}, {})
    assert raised.value.reason == RULE_INVALID


def test_jsonlogic_refuses_logic_nested_beyond_the_stack() -> None:
    logic: Any = 1
    for _ in range(5000):
        logic = {"!": [logic]}
    with pytest.raises(RuleError) as raised:
        jsonlogic.evaluate(logic, {})
    assert raised.value.reason == RULE_INVALID


@pytest.mark.parametrize(
    ("logic", "expected"),
    [
        ({"+": [0.1, 0.2, 0.3]}, 0.6000000000000001),
        ({"cat": [0.5, 1e21, 1e-7, None, True]}, "0.51e+211e-7nulltrue"),
        ({"==": [[1], "1"]}, True),
        ({"==": [None, 0]}, False),
        ({"<": ["10", "9"]}, True),
        ({"<": ["10", 9]}, False),
        ({"%": [-7, 2]}, -1),
        ({"substr": ["jsonlogic", 20]}, ""),
        ({"var": ["a.0", "d"]}, "d"),
    ],
)
def test_jsonlogic_follows_javascript_semantics(logic: Any, expected: Any) -> None:
    assert jsonlogic.evaluate(logic, {"a": "x"}) == expected
