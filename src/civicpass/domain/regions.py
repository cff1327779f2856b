"""Administrative divisions (GB/T 2260 six-digit codes) and jurisdiction containment.

A GB/T 2260 code is hierarchical: ``PPCCDD``. ``PP0000`` is a province-level division and contains every
code starting ``PP``; ``PPCC00`` is a prefecture-level division and contains every code starting ``PPCC``;
any other code is county-level and contains only itself. Containment therefore needs no table look-up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from civicpass.domain.errors import FieldError, InvalidInput, Message

_CODE = re.compile(r"[1-9][0-9]{5}")


class RegionLevel(StrEnum):
    PROVINCE = "province"
    CITY = "city"
    DISTRICT = "district"


@dataclass(frozen=True)
class Region:
    code: str
    parent: str | None
    level: RegionLevel
    name_zh: str
    name_en: str


def is_region_code(code: str) -> bool:
    return bool(_CODE.fullmatch(code))


def level_of(code: str) -> RegionLevel:
    if code.endswith("0000"):
        return RegionLevel.PROVINCE
    if code.endswith("00"):
        return RegionLevel.CITY
    return RegionLevel.DISTRICT


def prefix_of(code: str) -> str:
    """The code prefix every division inside ``code`` shares."""
    level = level_of(code)
    if level is RegionLevel.PROVINCE:
        return code[:2]
    if level is RegionLevel.CITY:
        return code[:4]
    return code


def contains(outer: str, inner: str) -> bool:
    """True when division ``inner`` lies inside (or is) division ``outer``."""
    if not (is_region_code(outer) and is_region_code(inner)):
        return False
    return inner.startswith(prefix_of(outer))


def check_region_code(code: str, field: str = "region_code") -> str:
    if not is_region_code(code):
        raise InvalidInput(
            "region_code_invalid",
            Message(
                f"{code!r} is not a GB/T 2260 six-digit region code", "行政区划代码应为六位GB/T 2260代码"
            ),
            errors=[FieldError((field,), "region_code_invalid", "six digits, GB/T 2260")],
        )
    return code
