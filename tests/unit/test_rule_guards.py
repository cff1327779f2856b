"""Rule guards skip rules that cannot fire; skipping must never change a result."""

from __future__ import annotations

import itertools

import pytest

from civicpass.adapters.files import bundled_ruleset
from civicpass.domain.rules.certlogic import boolsiness
from civicpass.domain.rulesets import Rule, guard_of, parse_ruleset

RULESET = parse_ruleset(bundled_ruleset())
TRIGGER = {
    "active": True,
    "since": "2022-05-01T00:00:00Z",
    "tests_released": False,
    "checkins_released": False,
    "normal_checkins": 0,
    "negative_test_after": False,
}
FEATURES = {
    "case": {"active": True, "classification": "confirmed", "since": "2022-05-01T00:00:00Z"},
    "close_contact": TRIGGER,
    "secondary_contact": TRIGGER,
    "companion": TRIGGER,
    "declaration": {**TRIGGER, "fever": True, "symptoms": ["cough"]},
    "arrival": {**TRIGGER, "level": "medium", "level_zh": "中", "region": "440300"},
    "isolation": {
        "active": True,
        "since": "2022-05-01T00:00:00Z",
        "until": "2022-05-20T00:00:00Z",
        "place": "home",
        "place_zh": "居家",
        "negative_test_at_end": False,
    },
    "peer": {"active": True, "color": "red", "issuer": "CN-110000", "since": "2022-05-01T00:00:00Z"},
}


def _context(present: set[str], release: str) -> dict[str, object]:
    params = {**RULESET.parameters, "yellow_release": release}
    return {
        "now": "2022-05-03T08:00:00Z",
        "params": params,
        **{k: (v if k in present else None) for k, v in FEATURES.items()},
    }


def test_every_default_rule_has_a_guard() -> None:
    assert all(rule.guard in FEATURES for rule in RULESET.rules)


@pytest.mark.parametrize("rule", RULESET.rules, ids=lambda r: r.identifier)
def test_a_rule_whose_guarded_feature_is_absent_never_fires_whatever_else_is_present(rule: Rule) -> None:
    guard = rule.guard
    others = [k for k in FEATURES if k != guard]
    for size in (0, 1, len(others)):
        for present in itertools.combinations(others, size):
            for release in ("tests", "checkins"):
                value = rule.compiled(_context(set(present), release))
                assert boolsiness(value) is False


def test_guards_are_found_only_where_the_logic_proves_them() -> None:
    assert guard_of({"and": [{"var": "arrival.active"}, True]}) == "arrival"
    assert guard_of({"===": [{"var": "peer.color"}, "red"]}) == "peer"
    assert guard_of({"===": [{"var": "peer.color"}, None]}) is None  # null === null would be true
    assert guard_of({"or": [{"var": "arrival.active"}, True]}) is None
    assert guard_of({"and": [True, {"var": "arrival.active"}]}) is None
    assert guard_of({"and": [{"var": "now"}, True]}) is None  # not a feature path
    assert guard_of({"if": [{"var": "case.active"}, True, False]}) is None
