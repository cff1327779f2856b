"""Loading the third-party conformance suites in place from ``../shared/conformance/``.

See ``shared/conformance/README.md`` for how each suite is laid out. A missing folder skips the suite
locally but fails the run under CI (``CI=true``), where ``shared/`` is always checked out beside the clone.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CONFORMANCE = Path(__file__).resolve().parents[2].parent / "shared" / "conformance"
CERTLOGIC = CONFORMANCE / "certlogic"
JSONLOGIC_TESTS = CONFORMANCE / "jsonlogic" / "tests.json"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# The sizes shared/conformance/README.md states; a changed copy of a suite must change them too.
CERTLOGIC_CASES = 60
CERTLOGIC_ASSERTIONS = 232
CERTLOGIC_VALIDATION_CASES = 23
JSONLOGIC_TESTS_COUNT = 275


def require(path: Path) -> None:
    """Skip the calling test module when ``path`` is absent, or fail loudly under CI."""
    if path.exists():
        return
    message = f"conformance suite not found at {path} (expected shared/ beside the project clone)"
    if IN_CI:
        pytest.fail(message + "; CI requires it", pytrace=False)
    pytest.skip(message, allow_module_level=True)


def same_json(actual: Any, expected: Any) -> bool:
    """Equal in type and value, recursively: ``True`` is not ``1`` and ``1`` is not ``1.0``."""
    if type(actual) is not type(expected):
        return False
    if isinstance(actual, list):
        return len(actual) == len(expected) and all(map(same_json, actual, expected))
    if isinstance(actual, dict):
        return actual.keys() == expected.keys() and all(same_json(actual[k], expected[k]) for k in actual)
    return bool(actual == expected)


@dataclass(frozen=True)
class Assertion:
    """One CertLogic evaluator assertion with where it comes from."""

    file: str
    case_index: int
    case_name: str
    index: int
    expression: Any
    data: Any
    expected: Any
    skipped: bool
    message: str

    @property
    def id(self) -> str:
        return f"{self.file}/{self.case_index}:{self.case_name}/{self.index}"


def _load(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return json.load(handle)


def certlogic_suites() -> list[tuple[str, dict[str, Any]]]:
    """Every ``certlogic/testSuite/*.json`` as (file stem, suite), sorted by name."""
    return [(path.stem, _load(path)) for path in sorted((CERTLOGIC / "testSuite").glob("*.json"))]


def certlogic_assertions() -> list[Assertion]:
    """Every assertion; ``directive: "skip"`` on the file, the case or the assertion marks it skipped."""
    found = []
    for stem, suite in certlogic_suites():
        for case_index, case in enumerate(suite["cases"]):
            for index, item in enumerate(case["assertions"]):
                directives = (suite.get("directive"), case.get("directive"), item.get("directive"))
                found.append(
                    Assertion(
                        file=stem,
                        case_index=case_index,
                        case_name=case["name"],
                        index=index,
                        expression=item.get("certLogicExpression", case.get("certLogicExpression")),
                        data=item["data"],
                        expected=item["expected"],
                        skipped="skip" in directives,
                        message=item.get("message", ""),
                    )
                )
    return found


def certlogic_validation_cases() -> list[tuple[str, dict[str, Any]]]:
    """Every ``certlogic/validation-testSuite`` case as (id, case)."""
    found = []
    for path in sorted((CERTLOGIC / "validation-testSuite").glob("*.json")):
        for index, case in enumerate(_load(path)["cases"]):
            found.append((f"{path.stem}/{index}", case))
    return found


def jsonlogic_tests() -> list[tuple[str, list[Any]]]:
    """Every ``[logic, data, expected]`` of ``jsonlogic/tests.json`` with the section comment in its id."""
    found = []
    section = "start"
    for entry in _load(JSONLOGIC_TESTS):
        if isinstance(entry, str):
            section = entry.strip("# ").strip() or section
            continue
        found.append((f"{len(found)}:{section[:40]}", entry))
    return found
