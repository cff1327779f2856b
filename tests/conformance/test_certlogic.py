"""CertLogic evaluator against ``certlogic/testSuite`` (dgc-business-rules @ 488f61c), read in place.

One test per assertion; the result must equal ``expected`` in type and value. Assertions marked
``directive: "skip"`` upstream (on the assertion, its case or its file) are skipped here and counted in the
run summary: the four ``in`` with a ``null`` right-hand side in ``ins-with-nulls.json`` (the reference
implementation throws there, and so do we) and the whole of ``patched-reduce.json`` (a ``data`` key in the
``reduce`` lambda's context that the specification only says CertLogic *may* add one day).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from civicpass.domain.rules.certlogic import compile_expression, evaluate
from civicpass.domain.rules.errors import RuleError
from civicpass.domain.rules.validation import validate
from tests.conformance import suites

suites.require(suites.CERTLOGIC / "testSuite")

ASSERTIONS = suites.certlogic_assertions()


def _params() -> list[Any]:
    return [
        pytest.param(
            item,
            id=item.id,
            marks=[pytest.mark.skip(reason=f'marked directive: "skip" upstream ({item.file})')]
            if item.skipped
            else [],
        )
        for item in ASSERTIONS
    ]


def _cases() -> dict[str, list[suites.Assertion]]:
    cases: dict[str, list[suites.Assertion]] = {}
    for item in ASSERTIONS:
        cases.setdefault(f"{item.file}/{item.case_index}:{item.case_name}", []).append(item)
    return cases


def test_suite_has_the_size_the_readme_states() -> None:
    cases = {(item.file, item.case_index) for item in ASSERTIONS}
    assert (len(cases), len(ASSERTIONS)) == (suites.CERTLOGIC_CASES, suites.CERTLOGIC_ASSERTIONS)


@pytest.mark.parametrize("item", _params())
def test_assertion(item: suites.Assertion) -> None:
    result = evaluate(item.expression, item.data)
    assert suites.same_json(result, item.expected), (item.message, result, item.expected)


def _outcome(run: Callable[[], Any]) -> tuple[str, Any]:
    """("value", result) or ("error", reason code), so that two ways of evaluating can be compared."""
    try:
        return ("value", run())
    except RuleError as exc:
        return ("error", exc.reason)


@pytest.mark.parametrize("case", list(_cases().values()), ids=list(_cases()))
def test_compiled_once_gives_what_evaluate_gives_on_every_assertion(case: list[suites.Assertion]) -> None:
    compiled = {id(item.expression): compile_expression(item.expression) for item in case}
    for item in case:
        fresh = _outcome(lambda item=item: evaluate(item.expression, item.data))
        reused = _outcome(lambda item=item: compiled[id(item.expression)](item.data))
        assert suites.same_json(list(reused), list(fresh)), item.id


def test_every_suite_expression_passes_the_validator() -> None:
    assert [item.id for item in ASSERTIONS if validate(item.expression)] == []
