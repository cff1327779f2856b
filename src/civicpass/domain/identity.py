"""Identity documents: types, normalisation and validation.

- Mainland resident identity card number: GB 11643-1999, 17 digits and an ISO 7064 MOD 11-2 check
  character (``0``-``9`` or ``X``; a lower-case ``x`` is accepted and normalised).
- Mainland Travel Permit for Hong Kong and Macao Residents (港澳居民来往内地通行证): ``H`` or ``M`` and
  8 digits (10 digits in older permits).
- Mainland Travel Permit for Taiwan Residents (台湾居民来往大陆通行证): 8 digits (older: 10).
- Passport: 5-20 letters and digits, with the holder's nationality as ISO 3166-1 alpha-3 (GB/T 2659).
- Foreign permanent residence ID (外国人永久居留身份证): the 2017 format is 15 characters (3 letters,
  12 digits); the 2023 format is 18 characters with a GB 11643 check character and leading ``9``.
- No document: only for dependents linked to a guardian.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from civicpass.domain.errors import FieldError, InvalidInput, Message
from civicpass.domain.iso3166 import ALPHA3


class DocumentType(StrEnum):
    RESIDENT_ID = "resident_id"
    HK_MACAO_PERMIT = "hk_macao_permit"
    TAIWAN_PERMIT = "taiwan_permit"
    PASSPORT = "passport"
    FOREIGN_PERMANENT_RESIDENCE = "foreign_permanent_residence"
    NONE = "none"


_TYPES: dict[object, DocumentType] = {t.value: t for t in DocumentType}

_CHECK = "10X98765432"
RESIDENT_ID_NATIONALITY = "CHN"
"""The nationality of every resident ID number's holder (a number's own field is not read)."""


def gb11643_check_character(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character of the first 17 digits of a GB 11643 number."""
    if len(first17) != 17 or not (first17.isascii() and first17.isdigit()):
        raise ValueError("expected 17 digits")  # also what keeps int() below from signs, blanks and "_"
    # The weights are 2**17 .. 2**1 modulo 11, so the sum is 2 * (the digits read in base 2) modulo 11,
    # and 13 = 2 modulo 11: reading them in base 13 gives the same remainder, in C (a feed checks one
    # number per record: 0.15 against 0.63 us for the weighted sum).
    return _CHECK[2 * int(first17, 13) % 11]


_RESIDENT_ID = re.compile(r"[0-9]{17}[0-9X]")
_HK_MACAO = re.compile(r"[HM][0-9]{8}([0-9]{2})?")
_TAIWAN = re.compile(r"[0-9]{8}([0-9]{2})?")
_PASSPORT = re.compile(r"[A-Z0-9]{5,20}")
_FPR_2017 = re.compile(r"[A-Z]{3}[0-9]{12}")
_FPR_2023 = re.compile(r"9[0-9]{16}[0-9X]")


def index_material(doc_type: DocumentType, number: str) -> str:
    """What a document's blind index is computed over: its type, a colon and its number (type-scoped, so
    equal numbers of two types differ). A valid document's, from a type and a normalised number."""
    return f"{doc_type}:{number}"  # a StrEnum formats as its value


@dataclass(frozen=True)
class Document:
    """A validated, normalised identity document. ``number`` is ``None`` only for ``NONE``."""

    type: DocumentType
    number: str | None
    nationality: str | None = None

    @property  # not cached_property: on Python 3.11 its lock made a first access cost more than 3 of these
    def index_material(self) -> str:
        """The string a blind index is computed over (``index_material``)."""
        if self.number is None:
            raise ValueError("a document of type none has no index")
        return index_material(self.type, self.number)

    def birth_date(self) -> date | None:
        """The birth date a resident ID number encodes (positions 7-14), if any."""
        if self.type is not DocumentType.RESIDENT_ID or self.number is None:
            return None
        return _parse_yyyymmdd(self.number[6:14])


def _parse_yyyymmdd(text: str) -> date | None:
    try:
        return date(int(text[0:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return None


def _invalid(
    reason: str, en: str, zh: str, path: tuple[str | int, ...] = ("document", "number")
) -> InvalidInput:
    return InvalidInput(reason, Message(en, zh), errors=[FieldError(path, reason, en)])


def parse_document(doc_type: str, number: str | None, nationality: str | None = None) -> Document:
    """Validate and normalise a document; raise ``InvalidInput`` with a specific reason code otherwise."""
    kind = _TYPES.get(doc_type)  # not DocumentType(doc_type): a feed batch asks for each document
    if kind is None:
        raise _invalid(
            "document_type_unknown",
            f"unknown document type {doc_type!r}",
            "不支持的证件类型",
            ("document", "type"),
        )
    if kind is DocumentType.NONE:
        if number:
            raise _invalid(
                "document_number_unexpected",
                "a person without a document has no number",
                "无证件人员不应填写证件号码",
            )
        return Document(kind, None, None)
    if not number:
        raise _invalid("document_number_missing", "the document number is required", "请填写证件号码")
    normal = number.upper() if number.isascii() and number.isalnum() else _normalise(number)
    if kind is DocumentType.RESIDENT_ID:
        return Document(kind, _check_resident_id(normal), RESIDENT_ID_NATIONALITY)
    if kind is DocumentType.HK_MACAO_PERMIT:
        _match(
            _HK_MACAO,
            normal,
            "hk_macao_permit_invalid",
            "an H or M and 8 or 10 digits",
            "H或M开头加8位或10位数字",
        )
        return Document(kind, normal, None)
    if kind is DocumentType.TAIWAN_PERMIT:
        _match(_TAIWAN, normal, "taiwan_permit_invalid", "8 or 10 digits", "8位或10位数字")
        return Document(kind, normal, None)
    nat = _check_nationality(nationality, required=kind is DocumentType.PASSPORT)
    if kind is DocumentType.PASSPORT:
        _match(_PASSPORT, normal, "passport_number_invalid", "5 to 20 letters or digits", "5至20位字母或数字")
        return Document(kind, normal, nat)
    if _FPR_2017.fullmatch(normal):
        return Document(kind, normal, nat)
    if _FPR_2023.fullmatch(normal) and gb11643_check_character(normal[:17]) == normal[17]:
        return Document(kind, normal, nat)
    raise _invalid(
        "permanent_residence_id_invalid",
        "a foreign permanent residence ID has 15 characters (3 letters, 12 digits) or 18 (starting with 9, valid check digit)",
        "外国人永久居留身份证应为15位（3个字母加12位数字）或以9开头且校验位正确的18位",
    )


def _normalise(number: str) -> str:
    """Full-width forms (NFKC) folded, whitespace dropped, upper case; ASCII letters and digits need none
    of it (the common case, checked first by the caller)."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", number)).upper()


def _match(pattern: re.Pattern[str], value: str, reason: str, en_shape: str, zh_shape: str) -> None:
    if not pattern.fullmatch(value):
        raise _invalid(reason, f"the number must be {en_shape}", f"证件号码格式应为{zh_shape}")


def _check_resident_id(normal: str) -> str:
    if not _RESIDENT_ID.fullmatch(normal):
        raise _invalid(
            "resident_id_format",
            "a resident ID number has 17 digits and a digit or X",
            "居民身份证号码应为17位数字加1位数字或X",
        )
    expected = gb11643_check_character(normal[:17])
    if normal[17] != expected:
        raise _invalid(
            "resident_id_check_digit",
            f"the check character is {normal[17]} but the first 17 digits give {expected}",
            "居民身份证号码校验位不正确",
        )
    if _parse_yyyymmdd(normal[6:14]) is None:
        raise _invalid(
            "resident_id_birth_date",
            "the birth date in the number is not a real date",
            "居民身份证号码中的出生日期无效",
        )
    return normal


def _check_nationality(nationality: str | None, *, required: bool) -> str | None:
    if not nationality:
        if required:
            raise _invalid(
                "nationality_missing",
                "a passport needs the holder's nationality",
                "护照须填写国籍",
                ("document", "nationality"),
            )
        return None
    code = nationality.strip().upper()
    if code not in ALPHA3:
        raise _invalid(
            "nationality_unknown",
            f"{nationality!r} is not an ISO 3166-1 alpha-3 country code",
            "国籍代码不是有效的ISO 3166-1三字母代码",
            ("document", "nationality"),
        )
    return code
