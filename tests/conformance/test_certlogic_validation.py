"""CertLogic validator against ``certlogic/validation-testSuite`` (dgc-business-rules @ 488f61c).

One test per case: the validator must report exactly the listed issues (``expr`` and ``message``), in
order; an empty list means the expression is valid.
"""

from __future__ import annotations

from typing import Any

import pytest

from civicpass.domain.rules.validation import validate
from tests.conformance import suites

suites.require(suites.CERTLOGIC / "validation-testSuite")

CASES = suites.certlogic_validation_cases()


def test_suite_has_the_size_the_readme_states() -> None:
    assert len(CASES) == suites.CERTLOGIC_VALIDATION_CASES


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(case, marks=[pytest.mark.skip(reason='marked directive: "skip" upstream')])
        if case.get("directive") == "skip"
        else case
        for _, case in CASES
    ],
    ids=[case_id for case_id, _ in CASES],
)
def test_validator_reports_the_listed_issues(case: dict[str, Any]) -> None:
    issues = [issue.as_dict() for issue in validate(case["certLogicExpression"])]
    assert suites.same_json(issues, case["issues"]), issues
