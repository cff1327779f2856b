"""Reports, after the run, how many conformance cases each suite loaded and how they came out."""

from __future__ import annotations

import sys
from collections import Counter

import pytest

from tests.conformance import suites

_OUTCOMES = ("passed", "failed", "skipped", "xfailed", "xpassed", "error")


def _loaded() -> list[str]:
    lines = []
    if suites.CERTLOGIC.exists():
        assertions = suites.certlogic_assertions()
        cases = {(a.file, a.case_index) for a in assertions}
        skipped = sum(a.skipped for a in assertions)
        lines.append(
            f"certlogic/testSuite: {len(cases)} cases, {len(assertions)} assertions "
            f"({skipped} marked skip upstream)"
        )
        lines.append(f"certlogic/validation-testSuite: {len(suites.certlogic_validation_cases())} cases")
    if suites.JSONLOGIC_TESTS.exists():
        lines.append(f"jsonlogic/tests.json: {len(suites.jsonlogic_tests())} tests")
    return lines or [f"no conformance suites found under {suites.CONFORMANCE}"]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    outcomes: dict[str, Counter[str]] = {}
    for outcome in _OUTCOMES:
        for report in terminalreporter.stats.get(outcome, []):
            nodeid = getattr(report, "nodeid", "")
            if "tests/conformance/" not in nodeid or "::" not in nodeid:
                continue
            if outcome == "passed" and getattr(report, "when", "call") != "call":
                continue
            test = nodeid.split("[", 1)[0].removeprefix("tests/conformance/")
            outcomes.setdefault(test, Counter())[outcome] += 1
    if not outcomes:
        return
    terminalreporter.section("conformance suites")
    for line in _loaded():
        terminalreporter.write_line(line)
    for test, counts in sorted(outcomes.items()):
        summary = ", ".join(f"{counts[o]} {o}" for o in _OUTCOMES if counts[o])
        terminalreporter.write_line(f"{test}: {summary}")
    # The EU DCC module reports its own per-stage figures, when it was collected in this run.
    eu_dcc = sys.modules.get("tests.conformance.test_eu_dcc")
    if eu_dcc is not None:
        for line in eu_dcc.summary_lines(terminalreporter.stats):
            terminalreporter.write_line(line)
