"""Declaration forms: definitions and answers checked against the bundled JSON Schemas (domain/forms.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from importlib import resources
from typing import Any

import pytest

from civicpass.domain.errors import FieldError, FormValidationFailed, InvalidInput
from civicpass.domain.forms import FormVersion, check_form_definition, validate_answers

FORMS_DIR = resources.files("civicpass") / "data" / "forms"
DOCUMENTS: dict[str, dict[str, Any]] = {
    f.name.removesuffix(".json"): json.loads(f.read_text(encoding="utf-8"))
    for f in FORMS_DIR.iterdir()
    if f.name.endswith(".json")
}
TITLE = {"zh-CN": "表单", "en": "A form"}
OBJECT_SCHEMA = {"type": "object", "properties": {"a": {"type": "string"}}}


def _form(key: str) -> FormVersion:
    doc = DOCUMENTS[key]
    return FormVersion(
        doc["key"],
        1,
        doc["title"],
        doc["schema"],
        doc["ui"],
        doc["labels"],
        datetime(2022, 5, 1, tzinfo=UTC),
        None,
    )


def _errors(key: str, answers: Any) -> list[tuple[tuple[str | int, ...], str]]:
    with pytest.raises(FormValidationFailed) as caught:
        validate_answers(_form(key), answers)
    error = caught.value
    assert error.reason == "declaration_invalid"
    assert error.extra == {"form_key": key, "form_version": 1}
    return [(e.path, e.reason) for e in error.errors]


def _health(**changes: Any) -> dict[str, Any]:
    answers: dict[str, Any] = {
        "temperature_c": 36.6,
        "symptoms": [],
        "contact_history": {
            "confirmed_case": False,
            "suspected_case": False,
            "high_risk_area_visitor": False,
            "fever_cluster": False,
        },
    }
    answers.update(changes)
    return answers


def _trip(**place: Any) -> dict[str, Any]:
    visit = {"place": "440106", "from": "2022-04-20", "to": "2022-04-25"} | place
    return {"places": [visit]}


# --- definitions ---------------------------------------------------------------------------------


def test_the_bundled_forms_are_health_trip_and_daily_checkin() -> None:
    assert set(DOCUMENTS) == {"health", "trip", "daily_checkin"}


@pytest.mark.parametrize("key", sorted(DOCUMENTS))
def test_every_bundled_form_is_a_valid_definition_named_after_its_file(key: str) -> None:
    doc = DOCUMENTS[key]
    assert doc["key"] == key
    check_form_definition(doc["key"], doc["title"], doc["schema"])


def _definition_problems(
    key: str, title: dict[str, Any], schema: dict[str, Any]
) -> list[tuple[tuple[str | int, ...], str]]:
    with pytest.raises(InvalidInput) as caught:
        check_form_definition(key, title, schema)
    assert caught.value.reason == "form_definition_invalid"
    return [(e.path, e.reason) for e in caught.value.errors]


@pytest.mark.parametrize(
    "key", ["", "h", "Health", "1health", "_health", "health-check", "health check", "a" * 41, "健康"]
)
def test_a_form_key_other_than_two_to_forty_lower_case_letters_digits_or_underscores_is_refused(
    key: str,
) -> None:
    assert _definition_problems(key, TITLE, OBJECT_SCHEMA) == [(("key",), "form_key_invalid")]


def test_a_form_key_with_a_trailing_newline_is_refused() -> None:
    assert _definition_problems("health\n", TITLE, OBJECT_SCHEMA) == [(("key",), "form_key_invalid")]


@pytest.mark.parametrize("key", ["ab", "a" * 40, "health_2", "x9"])
def test_form_keys_at_the_length_limits_are_accepted(key: str) -> None:
    check_form_definition(key, TITLE, OBJECT_SCHEMA)


@pytest.mark.parametrize(
    ("title", "missing"),
    [
        ({"en": "A form"}, ["zh-CN"]),
        ({"zh-CN": "表单"}, ["en"]),
        ({"zh-CN": "", "en": "A form"}, ["zh-CN"]),
        ({"zh-CN": "表单", "en": 5}, ["en"]),
        ({}, ["zh-CN", "en"]),
    ],
)
def test_a_form_needs_a_non_empty_title_in_both_languages(title: dict[str, Any], missing: list[str]) -> None:
    assert _definition_problems("health", title, OBJECT_SCHEMA) == [
        (("title", lang), "title_missing") for lang in missing
    ]


def test_an_invalid_json_schema_is_refused_with_the_path_inside_the_schema() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "strin"}}}
    problems = _definition_problems("health", TITLE, schema)
    assert len(problems) == 1
    path, reason = problems[0]
    assert reason == "schema_invalid"
    assert path[:4] == ("schema", "properties", "a", "type")


@pytest.mark.parametrize("schema", [{"type": "array"}, {"type": "string"}, {}, {"properties": {"a": {}}}])
def test_a_schema_that_does_not_describe_an_object_is_refused(schema: dict[str, Any]) -> None:
    assert _definition_problems("health", TITLE, schema) == [(("schema", "type"), "schema_not_object")]


def test_every_problem_of_a_definition_is_reported_at_once() -> None:
    problems = _definition_problems("Bad Key", {"en": ""}, {"type": "array"})
    assert problems == [
        (("key",), "form_key_invalid"),
        (("title", "zh-CN"), "title_missing"),
        (("title", "en"), "title_missing"),
        (("schema", "type"), "schema_not_object"),
    ]


def test_a_form_version_serialises_to_the_seed_file_format() -> None:
    form = _form("trip")
    assert form.as_document() == {"version": 1} | DOCUMENTS["trip"]


# --- answers: accepted ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "answers",
    [
        _health(),
        _health(
            temperature_c=34.0, symptoms=["fever", "cough"], symptom_onset="2022-05-01", notes="自测抗原阴性"
        ),
        _health(temperature_c=43),
    ],
)
def test_valid_health_answers_pass(answers: dict[str, Any]) -> None:
    validate_answers(_form("health"), answers)


@pytest.mark.parametrize(
    "answers",
    [
        _trip(),
        {
            "places": [
                {"place": "JPN", "from": "2022-04-01", "to": "2022-04-10"},
                {"place": "310101", "from": "2022-04-10", "to": "2022-04-12"},
            ]
        },
        _trip()
        | {
            "planned_arrival": {
                "region": "440100",
                "date": "2022-05-04",
                "transport": "train",
                "transport_number": "G79",
            }
        },
    ],
)
def test_valid_trip_answers_pass(answers: dict[str, Any]) -> None:
    validate_answers(_form("trip"), answers)


@pytest.mark.parametrize(
    "answers",
    [
        {"temperature_c": 36.5, "feels_well": True},
        {"temperature_c": 37.9, "feels_well": False, "symptoms": ["headache"], "location_region": "440106"},
    ],
)
def test_valid_daily_checkin_answers_pass(answers: dict[str, Any]) -> None:
    validate_answers(_form("daily_checkin"), answers)


# --- answers: refused, each error pointing at its field --------------------------------------------


@pytest.mark.parametrize(
    ("key", "answers", "expected"),
    [
        ("health", _health(temperature_c="36.6"), [(("answers", "temperature_c"), "schema_type")]),
        ("health", _health(temperature_c=True), [(("answers", "temperature_c"), "schema_type")]),
        ("health", _health(symptoms="fever"), [(("answers", "symptoms"), "schema_type")]),
        ("health", _health(notes=5), [(("answers", "notes"), "schema_type")]),
        (
            "daily_checkin",
            {"temperature_c": 36.5, "feels_well": "yes"},
            [(("answers", "feels_well"), "schema_type")],
        ),
        (
            "health",
            _health(
                contact_history={
                    "confirmed_case": "no",
                    "suspected_case": False,
                    "high_risk_area_visitor": False,
                    "fever_cluster": False,
                }
            ),
            [(("answers", "contact_history", "confirmed_case"), "schema_type")],
        ),
        (
            "trip",
            {"places": [{"place": 440106, "from": "2022-04-20", "to": "2022-04-25"}]},
            [(("answers", "places", 0, "place"), "schema_type")],
        ),
        ("trip", {"places": {"place": "440106"}}, [(("answers", "places"), "schema_type")]),
    ],
)
def test_an_answer_of_the_wrong_type_is_refused_at_its_field(
    key: str, answers: dict[str, Any], expected: list[Any]
) -> None:
    assert _errors(key, answers) == expected


@pytest.mark.parametrize("answers", [[], "36.6", None, 36.6])
def test_answers_that_are_not_an_object_are_refused_at_the_root(answers: Any) -> None:
    assert _errors("health", answers) == [(("answers",), "schema_type")]


@pytest.mark.parametrize(
    ("temperature", "reason"),
    [(33.9, "schema_minimum"), (43.1, "schema_maximum"), (-1, "schema_minimum"), (100, "schema_maximum")],
)
def test_a_temperature_outside_34_to_43_degrees_is_refused(temperature: float, reason: str) -> None:
    assert _errors("health", _health(temperature_c=temperature)) == [(("answers", "temperature_c"), reason)]
    assert _errors("daily_checkin", {"temperature_c": temperature, "feels_well": True}) == [
        (("answers", "temperature_c"), reason)
    ]


@pytest.mark.parametrize(
    ("key", "answers"),
    [
        ("health", _health(mood="good")),
        ("daily_checkin", {"temperature_c": 36.5, "feels_well": True, "mood": "good"}),
    ],
)
def test_an_unknown_field_is_refused_and_named(key: str, answers: dict[str, Any]) -> None:
    with pytest.raises(FormValidationFailed) as caught:
        validate_answers(_form(key), answers)
    [error] = caught.value.errors
    assert error.reason == "schema_additionalProperties"
    assert "mood" in error.message


def test_an_unknown_nested_field_is_refused_inside_its_object() -> None:
    extra = _health(contact_history=_health()["contact_history"] | {"pets": True})
    [(path, reason)] = _errors("health", extra)
    assert reason == "schema_additionalProperties"
    assert path[:2] == ("answers", "contact_history")


def test_an_unknown_field_error_points_at_the_unknown_field() -> None:
    assert _errors("health", _health(mood="good")) == [(("answers", "mood"), "schema_additionalProperties")]


@pytest.mark.parametrize("place", ["XYZ", "chn", "China", "44010", "4401060", "044010", "", "CN"])
def test_a_place_that_is_neither_a_region_code_nor_an_alpha3_country_is_refused(place: str) -> None:
    assert _errors("trip", _trip(place=place)) == [(("answers", "places", 0, "place"), "schema_format")]


@pytest.mark.parametrize("place", ["440106", "110000", "CHN", "USA", "GBR"])
def test_a_place_may_be_a_region_code_or_an_alpha3_country(place: str) -> None:
    validate_answers(_form("trip"), _trip(place=place))


def test_the_failing_place_is_located_by_its_index_in_the_list() -> None:
    answers = {
        "places": [
            {"place": "440106", "from": "2022-04-20", "to": "2022-04-25"},
            {"place": "Mars", "from": "2022-04-26", "to": "2022-04-27"},
        ]
    }
    assert _errors("trip", answers) == [(("answers", "places", 1, "place"), "schema_format")]


@pytest.mark.parametrize(
    "bad_date",
    ["2022-02-30", "2022-13-01", "2022/04/20", "20220420", "yesterday", "2022-4-20", "2022-04-20T10:00:00"],
)
def test_a_date_that_is_not_a_real_iso_calendar_date_is_refused(bad_date: str) -> None:
    assert _errors("trip", _trip(to=bad_date)) == [(("answers", "places", 0, "to"), "schema_format")]
    assert _errors("health", _health(symptom_onset=bad_date)) == [
        (("answers", "symptom_onset"), "schema_format")
    ]


@pytest.mark.parametrize("region", ["ABC", "CHN", "4401", "000000"])
def test_a_daily_checkin_location_must_be_a_region_code_not_a_country(region: str) -> None:
    answers = {"temperature_c": 36.5, "feels_well": True, "location_region": region}
    assert _errors("daily_checkin", answers) == [(("answers", "location_region"), "schema_format")]


def test_a_planned_arrival_region_must_be_a_region_code() -> None:
    answers = _trip() | {"planned_arrival": {"region": "JPN", "date": "2022-05-04"}}
    assert _errors("trip", answers) == [(("answers", "planned_arrival", "region"), "schema_format")]


def test_missing_required_fields_are_refused() -> None:
    problems = _errors("health", {"temperature_c": 36.6})
    assert problems == [(("answers",), "schema_required"), (("answers",), "schema_required")]


def test_a_symptom_outside_the_list_is_refused_at_its_index() -> None:
    assert _errors("health", _health(symptoms=["cough", "hiccups"])) == [
        (("answers", "symptoms", 1), "schema_enum")
    ]


def test_a_symptom_may_be_given_only_once() -> None:
    assert _errors("health", _health(symptoms=["cough", "cough"])) == [
        (("answers", "symptoms"), "schema_uniqueItems")
    ]


def test_a_trip_needs_at_least_one_place() -> None:
    assert _errors("trip", {"places": []}) == [(("answers", "places"), "schema_minItems")]


def test_every_wrong_field_is_reported_in_path_order() -> None:
    answers = _health(temperature_c=50, symptom_onset="soon", notes="x" * 501)
    assert _errors("health", answers) == [
        (("answers", "notes"), "schema_maxLength"),
        (("answers", "symptom_onset"), "schema_format"),
        (("answers", "temperature_c"), "schema_maximum"),
    ]


def test_field_errors_render_as_json_pointers() -> None:
    error = FieldError(("answers", "places", 0, "place"), "schema_format", "bad place")
    assert error.as_dict() == {
        "path": "/answers/places/0/place",
        "reason": "schema_format",
        "message": "bad place",
    }
