"""GB/T 2260 region codes and jurisdiction containment (domain/regions.py)."""

from __future__ import annotations

import pytest

from civicpass.adapters.files import read_regions
from civicpass.domain.errors import InvalidInput
from civicpass.domain.regions import (
    RegionLevel,
    check_region_code,
    contains,
    is_region_code,
    level_of,
    prefix_of,
)

GUANGDONG, GUANGZHOU, TIANHE, YUEXIU, SHENZHEN, BEIJING, DONGCHENG = (
    "440000",
    "440100",
    "440106",
    "440104",
    "440300",
    "110000",
    "110101",
)
BUNDLED = list(read_regions())


@pytest.mark.parametrize(
    ("code", "level", "prefix"),
    [
        (GUANGDONG, RegionLevel.PROVINCE, "44"),
        (GUANGZHOU, RegionLevel.CITY, "4401"),
        (TIANHE, RegionLevel.DISTRICT, TIANHE),
    ],
)
def test_the_level_and_prefix_of_a_code_follow_its_trailing_zeros(
    code: str, level: RegionLevel, prefix: str
) -> None:
    assert level_of(code) is level
    assert prefix_of(code) == prefix


@pytest.mark.parametrize("inner", [GUANGDONG, GUANGZHOU, TIANHE, YUEXIU, SHENZHEN, "440303"])
def test_a_province_contains_itself_its_cities_and_their_districts(inner: str) -> None:
    assert contains(GUANGDONG, inner)


@pytest.mark.parametrize("inner", [GUANGZHOU, TIANHE, YUEXIU, "440118"])
def test_a_city_contains_itself_and_its_districts(inner: str) -> None:
    assert contains(GUANGZHOU, inner)


@pytest.mark.parametrize("inner", [GUANGDONG, SHENZHEN, "440303", BEIJING])
def test_a_city_does_not_contain_its_province_or_other_cities(inner: str) -> None:
    assert not contains(GUANGZHOU, inner)


def test_a_district_contains_only_itself() -> None:
    assert contains(TIANHE, TIANHE)
    assert not contains(TIANHE, YUEXIU)
    assert not contains(TIANHE, GUANGZHOU)
    assert not contains(TIANHE, GUANGDONG)


@pytest.mark.parametrize("inner", [BEIJING, DONGCHENG, "310000", "310101"])
def test_a_province_does_not_contain_divisions_of_other_provinces(inner: str) -> None:
    assert not contains(GUANGDONG, inner)


def test_a_municipality_contains_its_districts_directly() -> None:
    assert contains(BEIJING, DONGCHENG)
    assert not contains(DONGCHENG, BEIJING)


def test_every_bundled_division_lies_inside_its_parent_and_its_province() -> None:
    assert len(BUNDLED) > 500
    for region in BUNDLED:
        assert is_region_code(region.code), region
        assert contains(region.code[:2] + "0000", region.code), region
        if region.parent is not None:
            assert contains(region.parent, region.code), region
            assert not contains(region.code, region.parent) or region.code == region.parent, region


def test_no_bundled_province_contains_a_division_of_another_province() -> None:
    provinces = [r.code for r in BUNDLED if r.level is RegionLevel.PROVINCE]
    assert len(provinces) >= 30
    for province in provinces:
        for region in BUNDLED:
            assert contains(province, region.code) == (region.code[:2] == province[:2])


@pytest.mark.parametrize(
    "code", ["", "44", "4401", "44010", "4401060", "044010", "000000", "44010a", "abcdef", " 440106"]
)
def test_malformed_codes_are_not_region_codes(code: str) -> None:
    assert not is_region_code(code)


@pytest.mark.parametrize(
    ("outer", "inner"),
    [("44", TIANHE), ("4401", TIANHE), ("", TIANHE), (GUANGDONG, "4401"), (GUANGDONG, "44")],
)
def test_containment_with_an_invalid_code_on_either_side_is_false(outer: str, inner: str) -> None:
    assert not contains(outer, inner)


def test_a_valid_region_code_passes_the_check_unchanged() -> None:
    assert check_region_code(TIANHE) == TIANHE


@pytest.mark.parametrize("code", ["4401", "abcdef", "044010", ""])
def test_an_invalid_region_code_is_refused_on_the_named_field(code: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_region_code(code, "jurisdiction")
    assert caught.value.reason == "region_code_invalid"
    assert [(e.path, e.reason) for e in caught.value.errors] == [(("jurisdiction",), "region_code_invalid")]


@pytest.mark.parametrize("code", ["440106\n", "4４０１０６"])
def test_a_code_with_a_trailing_newline_or_non_ascii_digits_is_not_a_region_code(code: str) -> None:
    assert not is_region_code(code)
