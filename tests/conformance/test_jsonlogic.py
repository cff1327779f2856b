"""JsonLogic evaluator against the reference ``tests.json`` (jsonlogic.com, via panzi-json-logic @ f55bf41).

One test per ``[logic, data, expected]`` entry; the section comment before it is part of the test id. The
result must equal ``expected`` in type and value.
"""

from __future__ import annotations

from typing import Any

import pytest

from civicpass.domain.rules.jsonlogic import evaluate
from tests.conformance import suites

suites.require(suites.JSONLOGIC_TESTS)

TESTS = suites.jsonlogic_tests()


def test_suite_has_the_size_the_readme_states() -> None:
    assert len(TESTS) == suites.JSONLOGIC_TESTS_COUNT


@pytest.mark.parametrize("entry", [entry for _, entry in TESTS], ids=[test_id for test_id, _ in TESTS])
def test_rule(entry: list[Any]) -> None:
    logic, data, expected = entry
    result = evaluate(logic, data)
    assert suites.same_json(result, expected), (result, expected)
