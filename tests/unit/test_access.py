"""The stated purpose every staff read of personal data needs (domain/access.py)."""

from __future__ import annotations

import pytest

from civicpass.domain.access import MIN_PURPOSE_TEXT, Purpose, StatedPurpose, check_purpose
from civicpass.domain.errors import InvalidInput


@pytest.mark.parametrize("code", [p.value for p in Purpose])
def test_every_purpose_code_is_accepted_with_a_reason(code: str) -> None:
    assert check_purpose(code, "called about a fever report") == StatedPurpose(
        Purpose(code), "called about a fever report"
    )


def test_the_reason_text_has_its_whitespace_collapsed() -> None:
    assert check_purpose("follow_up", "  called   about\n fever\t") == StatedPurpose(
        Purpose.FOLLOW_UP, "called about fever"
    )


def test_a_four_character_chinese_reason_is_enough() -> None:
    assert MIN_PURPOSE_TEXT == 4
    assert check_purpose("quarantine_check", "隔离核查").text == "隔离核查"


@pytest.mark.parametrize("text", ["", "   ", "abc", "核酸查", "a  b", "\n\t a b \n"])
def test_a_reason_shorter_than_four_characters_after_collapsing_whitespace_is_refused(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_purpose("follow_up", text)
    assert caught.value.reason == "purpose_required"
    assert caught.value.errors[0].path == ("purpose", "text")


@pytest.mark.parametrize("code", ["curiosity", "", "FOLLOW_UP", "follow up"])
def test_an_unknown_purpose_code_is_refused_and_the_error_lists_the_known_ones(code: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_purpose(code, "a perfectly good reason")
    assert caught.value.reason == "purpose_unknown"
    error = caught.value.errors[0]
    assert error.path == ("purpose", "code")
    assert all(p.value in error.message for p in Purpose)
