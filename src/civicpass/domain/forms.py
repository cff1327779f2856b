"""Declaration forms as versioned data: a JSON Schema (draft 2020-12), UI hints and zh-CN/en labels.

Forms follow the data groups of GB/T 38962 (basic, health, trip, health-certificate information). A
published version never changes; a new version is published beside it, and every submission keeps the
version it answered, so old submissions stay valid and readable.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import SchemaError, ValidationError

from civicpass.domain.errors import FieldError, FormValidationFailed, InvalidInput, Message
from civicpass.domain.facts import EARLIEST_TIME, END_OF_TIMES
from civicpass.domain.iso3166 import ALPHA3
from civicpass.domain.regions import is_region_code

_KEY = re.compile(r"[a-z][a-z0-9_]{1,39}")

FORMAT_CHECKER = FormatChecker()


@FORMAT_CHECKER.checks("gb2260")
def _is_gb2260(value: object) -> bool:
    return not isinstance(value, str) or is_region_code(value)


@FORMAT_CHECKER.checks("iso3166-alpha3")
def _is_alpha3(value: object) -> bool:
    return not isinstance(value, str) or value in ALPHA3


_FULL_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@FORMAT_CHECKER.checks("date", raises=ValueError)
def _is_date(value: object) -> bool:
    """An RFC 3339 full-date (as JSON Schema's own check), in a year ``in_time_range`` takes: a trip's days
    become times that the status engine reckons from (a trip in the year 1 had failed its declaration)."""
    if not isinstance(value, str):
        return True
    return bool(_FULL_DATE.fullmatch(value)) and (
        EARLIEST_TIME.year <= date.fromisoformat(value).year < END_OF_TIMES.year
    )


@FORMAT_CHECKER.checks("place")
def _is_place(value: object) -> bool:
    """A place visited: a GB/T 2260 region code (inside China) or an ISO 3166 alpha-3 country code."""
    return not isinstance(value, str) or is_region_code(value) or value in ALPHA3


@dataclass(frozen=True)
class FormVersion:
    key: str
    version: int
    title: Mapping[str, str]
    schema: Mapping[str, Any]
    ui: Mapping[str, Any]
    labels: Mapping[str, Any]
    published_at: datetime
    published_by: str | None

    def as_document(self) -> dict[str, Any]:
        """The form as it is published and stored (the seed-file format)."""
        return {
            "key": self.key,
            "version": self.version,
            "title": dict(self.title),
            "schema": self.schema,
            "ui": self.ui,
            "labels": self.labels,
        }


def check_form_definition(key: str, title: Mapping[str, str], schema: Mapping[str, Any]) -> None:
    """A form must have a valid key, both titles and a valid draft 2020-12 object schema."""
    problems: list[FieldError] = []
    if not _KEY.fullmatch(key):
        problems.append(FieldError(("key",), "form_key_invalid", "2-40 of a-z 0-9 _ starting with a letter"))
    for lang in ("zh-CN", "en"):
        if not isinstance(title.get(lang), str) or not title[lang]:
            problems.append(FieldError(("title", lang), "title_missing", f"a {lang} title is required"))
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        problems.append(FieldError(("schema", *exc.absolute_path), "schema_invalid", exc.message))
    else:
        if schema.get("type") != "object":
            problems.append(
                FieldError(("schema", "type"), "schema_not_object", "a form's schema describes an object")
            )
    if problems:
        raise InvalidInput(
            "form_definition_invalid",
            Message("the form definition is not valid", "表单定义无效"),
            errors=problems,
        )


def validate_answers(form: FormVersion, answers: Any) -> None:
    """Check answers against the form version's schema; raise with one field error per problem."""
    validator = Draft202012Validator(form.schema, format_checker=FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(answers), key=lambda e: [str(p) for p in e.absolute_path])
    if errors:
        raise FormValidationFailed(
            "declaration_invalid",
            Message(
                f"the answers do not match form {form.key} version {form.version}",
                f"申报内容不符合表单 {form.key} 第{form.version}版的要求",
            ),
            errors=[field_error for e in errors for field_error in _field_errors(e)],
            extra={"form_key": form.key, "form_version": form.version},
        )


def _field_errors(error: ValidationError) -> list[FieldError]:
    """One field error per problem; an unknown field is reported at its own path, not at its parent."""
    path = ("answers", *error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = set(error.schema.get("properties", {})) if isinstance(error.schema, dict) else set()
        unknown = sorted(str(key) for key in error.instance if key not in known)
        if unknown:
            return [
                FieldError((*path, key), "schema_additionalProperties", f"unknown field {key!r}")
                for key in unknown
            ]
    return [FieldError(path, f"schema_{error.validator}", error.message)]
