"""Masked display of names, document numbers and phones for staff listings (domain/masking.py)."""

from __future__ import annotations

import pytest

from civicpass.domain.masking import mask_document, mask_name, mask_phone
from civicpass.domain.phone import local_part


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("张三", "张*"),
        ("张小三", "张*三"),
        ("欧阳小明", "欧**明"),
        ("John Smith", "J********h"),
        ("  张小三  ", "张*三"),
    ],
)
def test_a_name_keeps_its_first_and_last_character_and_two_character_names_keep_the_first(
    name: str, masked: str
) -> None:
    assert mask_name(name) == masked


@pytest.mark.parametrize("name", ["", "王", "  王  "])
def test_a_name_of_one_character_or_less_is_fully_masked(name: str) -> None:
    assert mask_name(name) == "*"


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("11010519491231002X", "1101**********002X"),  # resident ID: first 4 and last 4
        ("USA123456789012", "USA1*******9012"),  # permanent residence ID, 15 characters
        ("USA123456789", "USA1****6789"),  # exactly 12 characters counts as long
        ("H12345678", "*******78"),  # permits and passports: last 2
        ("12345", "***45"),
        ("1234", "****"),  # 4 or fewer: nothing shown
        ("", ""),
    ],
)
def test_a_document_number_shows_only_its_ends(number: str, masked: str) -> None:
    assert mask_document(number) == masked
    assert len(mask_document(number) or "") == len(number)


def test_a_missing_document_number_stays_missing() -> None:
    assert mask_document(None) is None


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("13800138000", "138****8000"),
        (" 13800138000 ", "138****8000"),
        ("+442071838750", "*********8750"),
        ("12345", "*2345"),
        ("1234", "****"),
    ],
)
def test_a_mobile_number_shows_its_prefix_and_last_four_and_others_only_the_last_four(
    phone: str, masked: str
) -> None:
    assert mask_phone(phone) == masked


def test_a_stored_mainland_phone_is_masked_in_the_local_form_residents_read() -> None:
    assert mask_phone(local_part("+8613800138000")) == "138****8000"
