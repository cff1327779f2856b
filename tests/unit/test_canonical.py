"""Canonical JSON (domain/canonical.py): byte for byte what the rfc8785 library writes, errors included."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from civicpass.domain import canonical
from civicpass.domain.canonical import canonical_json

SAFE = 2**53 - 1

texts = st.text(st.characters(codec=None, categories=None), max_size=12) | st.sampled_from(
    [
        "",
        "a\x00b",
        "\x7f",
        "\u2028\u2029",
        "\ud800",
        "\udfff x",
        "\U0001f600",
        "\ue000",
        '"\\/\b\f\n\r\t',
        "郑州",
    ]
)
keys = texts | st.sampled_from(["a", "b", "aa", "B", "\U0001f600", "\ue000", "é", "\u20ac"])
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-SAFE - 2, max_value=SAFE + 2)
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | texts
)
documents = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.tuples(inner, inner) | st.dictionaries(keys, inner, max_size=5)
    ),
    max_leaves=20,
)


def _outcome(write: Any, value: Any) -> tuple[str, Any]:
    try:
        return "bytes", write(value)
    except (rfc8785.CanonicalizationError, UnicodeEncodeError) as exc:  # the library's own refusals
        return "refused", type(exc)


@settings(max_examples=600, deadline=None)
@given(documents)
def test_every_document_serialises_as_rfc8785_does_or_is_refused_the_same_way(document: Any) -> None:
    assert _outcome(canonical_json, document) == _outcome(rfc8785.dumps, document)


class Color(StrEnum):
    RED = "red"


@pytest.mark.parametrize(
    ("document", "plain"),
    [
        (
            {"name": "status:resident:changed", "event": 7, "data": {"rules": ["R1"], "ok": True, "x": None}},
            True,
        ),
        ({"text": "郑州\n\x01", "n": -SAFE}, True),
        ({"n": SAFE + 1}, False),
        ({"f": 1.0}, False),
        ({"é": 1}, False),
        ({"color": Color.RED}, False),
        ({1: "a"}, False),
    ],
)
def test_plain_documents_take_the_standard_encoder_and_the_rest_the_library(
    document: Any, plain: bool
) -> None:
    assert canonical._plain(document) is plain
    assert _outcome(canonical_json, document) == _outcome(rfc8785.dumps, document)


def test_the_rfc8785_examples_come_out_as_the_rfc_prints_them() -> None:
    # RFC 8785 section 3.2.3 (sorting by UTF-16 code units) and 3.2.2.2 (string escapes).
    sorting = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    assert canonical_json(sorting).decode() == (
        '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis",'
        '"\u20ac":"Euro Sign","\U0001f600":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}'
    )
    assert (
        canonical_json({"s": '\u20ac$\u000f\nA\'B"\\\\"/'})
        == b'{"s":"\xe2\x82\xac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    )
