"""Rule-set documents and their dual-control lifecycle (domain/rulesets.py): any doubt refuses the set."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from civicpass.adapters.files import bundled_ruleset
from civicpass.domain.errors import Conflict, InvalidInput, PermissionDenied
from civicpass.domain.rulesets import (
    DEFAULT_COLORS,
    RuleSetState,
    RuleSetVersion,
    approve_version,
    parse_ruleset,
    reject_version,
)

NOW = datetime(2022, 5, 3, 8, 0, tzinfo=UTC)
BUNDLED = bundled_ruleset()


def _document(change: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    document = copy.deepcopy(BUNDLED)
    if change is not None:
        change(document)
    return document


def _refusal(document: dict[str, Any]) -> set[tuple[tuple[str | int, ...], str]]:
    with pytest.raises(InvalidInput) as raised:
        parse_ruleset(document)
    assert raised.value.reason == "ruleset_invalid"
    return {(e.path, e.reason) for e in raised.value.errors}


def _proposal(state: RuleSetState = RuleSetState.PROPOSED, by: str | None = "cdc-1") -> RuleSetVersion:
    return RuleSetVersion(2, state, parse_ruleset(BUNDLED), by, NOW)


# --- parsing --------------------------------------------------------------------------------------


def test_the_bundled_rule_set_parses_with_its_colors_parameters_and_15_compiled_rules() -> None:
    rules = parse_ruleset(BUNDLED)
    assert rules.identifier == "civicpass-default"
    assert rules.colors == DEFAULT_COLORS == ("green", "yellow", "red")
    assert rules.default_color == "green"
    assert [rules.rank(c) for c in rules.colors] == [0, 1, 2]
    assert len(rules.rules) == 15
    assert rules.parameters["release_checkin_days"] == 7
    assert rules.document == BUNDLED
    assert all(r.valid_from.tzinfo is not None and r.valid_to is None for r in rules.rules)


def test_parsing_does_not_change_the_document_it_was_given() -> None:
    document = _document()
    parse_ruleset(document)
    assert document == BUNDLED


def test_a_rule_set_without_rules_is_refused() -> None:
    assert _refusal(_document(lambda d: d.update(rules=[]))) == {(("rules",), "rules_missing")}


def test_a_rule_set_whose_rules_are_not_a_list_is_refused() -> None:
    assert (("rules",), "rules_missing") in _refusal(_document(lambda d: d.update(rules="RED")))


def test_a_rule_with_a_color_outside_the_sets_colors_is_refused() -> None:
    def purple(d: dict[str, Any]) -> None:
        d["rules"][3]["color"] = "purple"

    assert _refusal(_document(purple)) == {(("rules", 3, "color"), "color_unknown")}


def test_colors_must_be_distinct() -> None:
    problems = _refusal(_document(lambda d: d.update(colors=["green", "red", "red"])))
    assert (("colors",), "colors_invalid") in problems


def test_a_rule_set_with_two_rules_of_the_same_identifier_is_refused() -> None:
    def duplicate(d: dict[str, Any]) -> None:
        d["rules"][1]["identifier"] = d["rules"][0]["identifier"]

    assert _refusal(_document(duplicate)) == {(("rules",), "rule_identifier_duplicate")}


@pytest.mark.parametrize("language", ["zh-CN", "en"])
@pytest.mark.parametrize("text", ["description", "release"])
def test_a_rule_text_without_both_languages_is_refused(text: str, language: str) -> None:
    def drop(d: dict[str, Any]) -> None:
        del d["rules"][0][text][language]

    assert _refusal(_document(drop)) == {(("rules", 0, text), "text_missing")}


def test_a_rule_set_name_without_both_languages_is_refused() -> None:
    def drop(d: dict[str, Any]) -> None:
        del d["name"]["zh-CN"]

    assert _refusal(_document(drop)) == {(("name",), "text_missing")}


@pytest.mark.parametrize(
    "logic",
    [
        {"no_such_operator": [1, 2]},
        {"var": 3},
        {"if": [True, 1]},
        None,
    ],
    ids=["unknown-operator", "bad-var", "wrong-arity", "missing"],
)
def test_a_rule_whose_logic_is_not_valid_certlogic_is_refused(logic: Any) -> None:
    def replace_logic(d: dict[str, Any]) -> None:
        d["rules"][2]["logic"] = logic

    assert _refusal(_document(replace_logic)) == {(("rules", 2, "logic"), "logic_invalid")}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("valid_from", "2020-02-11T00:00:00"),
        ("valid_from", "2020-02-11"),
        ("valid_from", "soon"),
        ("valid_to", "2030-01-01T00:00:00"),
        ("valid_from", "0001-01-01T00:00:00+08:00"),  # no UTC at all: it had raised OverflowError
        ("valid_from", "1899-12-31T23:59:59Z"),
        ("valid_to", "2200-01-01T00:00:00Z"),
        ("valid_to", "9999-12-31T23:59:59-08:00"),
    ],
)
def test_a_rule_validity_time_without_an_offset_or_outside_1900_to_2200_is_refused(
    field: str, value: str
) -> None:
    def set_time(d: dict[str, Any]) -> None:
        d["rules"][0][field] = value

    assert _refusal(_document(set_time)) == {(("rules", 0, field), "time_invalid")}


@pytest.mark.parametrize("field", ["identifier", "version", "reason_code"])
def test_a_rule_without_its_identifier_version_or_reason_code_is_refused(field: str) -> None:
    def drop(d: dict[str, Any]) -> None:
        del d["rules"][5][field]

    assert (("rules", 5, field), "rule_field_missing") in _refusal(_document(drop))


def test_a_rule_set_without_an_identifier_or_with_odd_parameters_is_refused() -> None:
    def spoil(d: dict[str, Any]) -> None:
        del d["identifier"]
        d["parameters"] = ["tests"]

    assert _refusal(_document(spoil)) == {
        (("identifier",), "identifier_missing"),
        (("parameters",), "parameters_invalid"),
    }


def test_every_problem_of_a_refused_rule_set_is_reported_at_once() -> None:
    def spoil(d: dict[str, Any]) -> None:
        d["rules"][0]["color"] = "blue"
        d["rules"][1]["valid_from"] = "2020-02-11T00:00:00"
        d["rules"][2]["logic"] = {"nope": []}

    assert _refusal(_document(spoil)) == {
        (("rules", 0, "color"), "color_unknown"),
        (("rules", 1, "valid_from"), "time_invalid"),
        (("rules", 2, "logic"), "logic_invalid"),
    }


def test_a_rule_that_is_not_an_object_is_refused() -> None:
    def spoil(d: dict[str, Any]) -> None:
        d["rules"].append("RED-EVERYONE")

    assert _refusal(_document(spoil)) == {(("rules", 15), "rule_invalid")}


# --- dual control ---------------------------------------------------------------------------------


def test_another_cdc_member_approves_a_proposal_which_becomes_active_and_signed() -> None:
    approved = approve_version(_proposal(), "cdc-2", NOW, "sig")
    assert approved.state is RuleSetState.ACTIVE
    assert (approved.proposed_by, approved.approved_by, approved.approved_at) == ("cdc-1", "cdc-2", NOW)
    assert approved.signature == "sig"


def test_the_author_of_a_proposal_cannot_approve_it() -> None:
    with pytest.raises(PermissionDenied) as raised:
        approve_version(_proposal(), "cdc-1", NOW, "sig")
    assert raised.value.reason == "own_proposal"
    assert raised.value.extra == {"reasons": ["own_proposal"]}


@pytest.mark.parametrize("state", [RuleSetState.ACTIVE, RuleSetState.SUPERSEDED, RuleSetState.REJECTED])
def test_only_a_proposal_can_be_approved(state: RuleSetState) -> None:
    with pytest.raises(Conflict) as raised:
        approve_version(_proposal(state), "cdc-2", NOW, "sig")
    assert raised.value.reason == "ruleset_not_proposed"


@pytest.mark.parametrize("state", [RuleSetState.ACTIVE, RuleSetState.SUPERSEDED, RuleSetState.REJECTED])
def test_only_a_proposal_can_be_rejected(state: RuleSetState) -> None:
    with pytest.raises(Conflict) as raised:
        reject_version(_proposal(state), "cdc-2", NOW)
    assert raised.value.reason == "ruleset_not_proposed"


@pytest.mark.parametrize("decider", ["cdc-1", "cdc-2"])
def test_a_proposal_may_be_rejected_by_anyone_including_its_author(decider: str) -> None:
    rejected = reject_version(_proposal(), decider, NOW)
    assert rejected.state is RuleSetState.REJECTED
    assert (rejected.approved_by, rejected.approved_at, rejected.signature) == (decider, NOW, None)
