"""Identity documents: GB 11643 resident ID numbers and the other document types (domain/identity.py)."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from civicpass.domain.errors import InvalidInput
from civicpass.domain.identity import Document, DocumentType, gb11643_check_character, parse_document


def _reason(doc_type: str, number: str | None, nationality: str | None = None) -> str:
    with pytest.raises(InvalidInput) as caught:
        parse_document(doc_type, number, nationality)
    return caught.value.reason


def _resident_id(first17: str) -> str:
    return first17 + gb11643_check_character(first17)


# --- GB 11643 check character ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first17", "check"),
    [
        ("11010519491231002", "X"),  # the worked example of GB 11643-1999
        ("44052418800101001", "4"),  # the second example of the standard
        ("00000000000000000", "1"),  # a weighted sum of 0 gives check character 1
    ],
)
def test_check_character_matches_the_examples_of_the_standard(first17: str, check: str) -> None:
    assert gb11643_check_character(first17) == check


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "1101051949123100",
        "110105194912310021",
        "1101051949123100X",
        "1101051949123100\u0663",
        # what int() would take as a number
        " 1101051949123100",
        "+1101051949123100",
        "1_010519491231000",
    ],
)
def test_check_character_needs_exactly_seventeen_ascii_digits(bad: str) -> None:
    with pytest.raises(ValueError, match="17 digits"):
        gb11643_check_character(bad)


@given(st.text(alphabet="0123456789", min_size=17, max_size=17))
def test_check_character_is_iso_7064_mod_11_2_computed_digit_by_digit(first17: str) -> None:
    # ISO 7064 MOD 11-2 as its recursive definition states it, independent of the weights table
    p = 0
    for digit in first17:
        p = (p + int(digit)) * 2 % 11
    assert gb11643_check_character(first17) == "0123456789X"[(12 - p) % 11]


@pytest.mark.parametrize("number", ["11010519491231002X", "440524188001010014", "440106198001011230"])
def test_valid_resident_id_numbers_are_accepted(number: str) -> None:
    document = parse_document("resident_id", number)
    assert document == Document(DocumentType.RESIDENT_ID, number, "CHN")


def test_resident_id_with_a_wrong_check_digit_is_refused_with_check_digit_reason() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_document("resident_id", "110105194912310021")
    error = caught.value
    assert error.reason == "resident_id_check_digit"
    assert [(e.path, e.reason) for e in error.errors] == [(("document", "number"), "resident_id_check_digit")]
    assert "X" in error.message.en


def test_lower_case_x_check_character_is_accepted_and_normalised_to_upper_case() -> None:
    document = parse_document("resident_id", "11010519491231002x")
    assert document.number == "11010519491231002X"


def test_spaces_inside_a_resident_id_number_are_removed() -> None:
    assert parse_document("resident_id", " 110105 19491231 002x ").number == "11010519491231002X"


@pytest.mark.parametrize(
    "number",
    [
        "11010519491231002",  # 17 characters
        "11010519491231002XX",  # 19 characters
        "1101051949123100X2",  # X not in last place
        "11010519491231002Y",  # check character neither digit nor X
        "A10105194912310021",
    ],
)
def test_resident_id_of_the_wrong_shape_is_refused_with_format_reason(number: str) -> None:
    assert _reason("resident_id", number) == "resident_id_format"


@pytest.mark.parametrize("birth", ["19990230", "20011301", "19990000", "00000101"])
def test_resident_id_with_an_impossible_birth_date_is_refused(birth: str) -> None:
    assert _reason("resident_id", _resident_id("110105" + birth + "123")) == "resident_id_birth_date"


def test_resident_id_birth_date_of_february_29_is_accepted_in_a_leap_year_only() -> None:
    assert parse_document("resident_id", _resident_id("11010520000229123")).birth_date() == date(2000, 2, 29)
    assert _reason("resident_id", _resident_id("11010519000229123")) == "resident_id_birth_date"


def test_resident_id_document_reports_the_birth_date_it_encodes() -> None:
    assert parse_document("resident_id", "11010519491231002X").birth_date() == date(1949, 12, 31)


def test_documents_other_than_resident_id_encode_no_birth_date() -> None:
    assert parse_document("passport", "E12345678", "CHN").birth_date() is None
    assert parse_document("none", None).birth_date() is None


@pytest.mark.parametrize("number", [None, ""])
def test_resident_id_without_a_number_is_refused_as_missing(number: str | None) -> None:
    assert _reason("resident_id", number) == "document_number_missing"


# --- the property of the check character -------------------------------------------------------

_digits = st.text(alphabet="0123456789", min_size=1, max_size=1)
_first17_with_real_birth_date = st.builds(
    lambda area, born, serial: f"{area}{born:%Y%m%d}{serial}",
    st.text(alphabet="0123456789", min_size=6, max_size=6),
    st.dates(min_value=date(1800, 1, 1), max_value=date(2099, 12, 31)),
    st.text(alphabet="0123456789", min_size=3, max_size=3),
)


@settings(database=None, max_examples=300)
@given(_first17_with_real_birth_date)
def test_appending_the_check_character_gives_a_number_parse_document_accepts(first17: str) -> None:
    number = first17 + gb11643_check_character(first17)
    assert parse_document("resident_id", number).number == number


@settings(database=None, max_examples=300)
@given(first17=st.text(alphabet="0123456789", min_size=17, max_size=17), data=st.data())
def test_any_other_check_character_is_refused_with_check_digit_reason(
    first17: str, data: st.DataObject
) -> None:
    right = gb11643_check_character(first17)
    wrong = data.draw(st.sampled_from([c for c in "0123456789X" if c != right]))
    assert _reason("resident_id", first17 + wrong) == "resident_id_check_digit"


@settings(database=None, max_examples=300)
@given(st.text(alphabet="0123456789", min_size=17, max_size=17))
def test_a_correct_check_character_is_never_reported_as_a_wrong_check_digit(first17: str) -> None:
    number = first17 + gb11643_check_character(first17)
    reasons = []
    try:
        parse_document("resident_id", number)
    except InvalidInput as error:
        reasons.append(error.reason)
    assert reasons in ([], ["resident_id_birth_date"])


# --- other document types ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "normal"),
    [("H12345678", "H12345678"), ("m1234567890", "M1234567890"), ("H 1234 5678", "H12345678")],
)
def test_hong_kong_and_macao_permits_of_eight_or_ten_digits_are_accepted(number: str, normal: str) -> None:
    assert parse_document("hk_macao_permit", number) == Document(DocumentType.HK_MACAO_PERMIT, normal, None)


@pytest.mark.parametrize(
    "number", ["K12345678", "H1234567", "H123456789", "H123456789012", "12345678", "HH2345678"]
)
def test_hong_kong_and_macao_permits_of_another_shape_are_refused(number: str) -> None:
    assert _reason("hk_macao_permit", number) == "hk_macao_permit_invalid"


@pytest.mark.parametrize("number", ["12345678", "1234567890"])
def test_taiwan_permits_of_eight_or_ten_digits_are_accepted(number: str) -> None:
    assert parse_document("taiwan_permit", number) == Document(DocumentType.TAIWAN_PERMIT, number, None)


@pytest.mark.parametrize("number", ["1234567", "123456789", "12345678901", "T1234567", "H12345678"])
def test_taiwan_permits_of_another_shape_are_refused(number: str) -> None:
    assert _reason("taiwan_permit", number) == "taiwan_permit_invalid"


def test_passport_is_accepted_with_an_iso_alpha3_nationality_normalised_to_upper_case() -> None:
    assert parse_document("passport", "e1234 5678", " gbr ") == Document(
        DocumentType.PASSPORT, "E12345678", "GBR"
    )


@pytest.mark.parametrize("nationality", [None, ""])
def test_passport_without_nationality_is_refused(nationality: str | None) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_document("passport", "E12345678", nationality)
    assert caught.value.reason == "nationality_missing"
    assert caught.value.errors[0].path == ("document", "nationality")


@pytest.mark.parametrize("nationality", ["ZZZ", "GB", "UK", "CN", "GBRR"])
def test_passport_with_a_nationality_that_is_not_iso_alpha3_is_refused(nationality: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_document("passport", "E12345678", nationality)
    assert caught.value.reason == "nationality_unknown"
    assert caught.value.errors[0].path == ("document", "nationality")


@pytest.mark.parametrize("number", ["E123", "A" * 21, "E1234-5678", "E1234_5678", "护照12345"])
def test_passport_numbers_outside_five_to_twenty_letters_or_digits_are_refused(number: str) -> None:
    assert _reason("passport", number, "CHN") == "passport_number_invalid"


def test_passport_numbers_of_five_and_twenty_characters_are_accepted() -> None:
    assert parse_document("passport", "E1234", "FRA").number == "E1234"
    assert parse_document("passport", "A" * 20, "FRA").number == "A" * 20


def test_foreign_permanent_residence_id_in_the_2017_format_is_accepted() -> None:
    document = parse_document("foreign_permanent_residence", "usa123456789012")
    assert document == Document(DocumentType.FOREIGN_PERMANENT_RESIDENCE, "USA123456789012", None)


def test_foreign_permanent_residence_id_in_the_2023_format_is_accepted() -> None:
    number = _resident_id("93310000500101123")
    document = parse_document("foreign_permanent_residence", number, "DEU")
    assert document == Document(DocumentType.FOREIGN_PERMANENT_RESIDENCE, number, "DEU")


@pytest.mark.parametrize(
    "number",
    [
        "US123456789012",  # 2 letters
        "USA12345678901",  # 11 digits
        "USA1234567890123",  # 13 digits
        "833100005001011237",  # 18 characters not starting with 9
    ],
)
def test_foreign_permanent_residence_ids_of_another_shape_are_refused(number: str) -> None:
    assert _reason("foreign_permanent_residence", number) == "permanent_residence_id_invalid"


def test_foreign_permanent_residence_id_of_2023_with_a_wrong_check_character_is_refused() -> None:
    first17 = "93310000500101123"
    wrong = "0" if gb11643_check_character(first17) != "0" else "1"
    assert _reason("foreign_permanent_residence", first17 + wrong) == "permanent_residence_id_invalid"


def test_foreign_permanent_residence_id_with_an_unknown_nationality_is_refused() -> None:
    assert _reason("foreign_permanent_residence", "USA123456789012", "XXX") == "nationality_unknown"


@pytest.mark.parametrize("number", [None, ""])
def test_no_document_is_accepted_only_without_a_number(number: str | None) -> None:
    assert parse_document("none", number) == Document(DocumentType.NONE, None, None)


def test_no_document_with_a_number_is_refused() -> None:
    assert _reason("none", "11010519491231002X") == "document_number_unexpected"


@pytest.mark.parametrize("doc_type", ["driving_licence", "RESIDENT_ID", "", "Passport"])
def test_unknown_document_type_is_refused_on_the_type_field(doc_type: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_document(doc_type, "E12345678", "CHN")
    assert caught.value.reason == "document_type_unknown"
    assert caught.value.errors[0].path == ("document", "type")


@pytest.mark.parametrize(
    "doc_type", ["hk_macao_permit", "taiwan_permit", "passport", "foreign_permanent_residence"]
)
def test_every_type_with_a_number_refuses_a_missing_number(doc_type: str) -> None:
    assert _reason(doc_type, None, "CHN") == "document_number_missing"


def test_index_material_is_scoped_by_type_so_equal_numbers_of_two_types_differ() -> None:
    taiwan = parse_document("taiwan_permit", "12345678")
    passport = parse_document("passport", "12345678", "CHN")
    assert taiwan.index_material == "taiwan_permit:12345678"
    assert passport.index_material == "passport:12345678"


def test_a_person_without_a_document_has_no_index_material() -> None:
    with pytest.raises(ValueError, match="no index"):
        _ = parse_document("none", None).index_material


@pytest.mark.parametrize(
    ("doc_type", "number", "ascii_number"),
    [
        ("resident_id", "１１０１０５１９４９１２３１００２X", "11010519491231002X"),
        ("resident_id", "١١٠١٠٥١٩٤٩١٢٣١٠٠٢X", "11010519491231002X"),
        ("hk_macao_permit", "H１２３４５６７８", "H12345678"),
        ("taiwan_permit", "١٢٣٤٥٦٧٨", "12345678"),
        ("foreign_permanent_residence", "USA１２３４５６７８９０１２", "USA123456789012"),
    ],
)
def test_a_number_in_non_ascii_digits_is_normalised_to_ascii_or_refused(
    doc_type: str, number: str, ascii_number: str
) -> None:
    try:
        document = parse_document(doc_type, number)
    except InvalidInput:
        return
    assert document.number == ascii_number
