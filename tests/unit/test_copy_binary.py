"""Rows of COPY's binary format made column by column by Arrow (``pg_hot.binary_rows``) are, byte for byte,
each row's fields joined in Python in the order given: any text (lengths in bytes, not characters), empty
values, one value for every row or many."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from civicpass.adapters.db import pg_hot

texts = st.text(st.characters(exclude_categories=["Cs"]), max_size=20)


@given(
    st.lists(
        st.tuples(texts, texts, st.sampled_from(["test_result", "vaccination", "x"])), min_size=1, max_size=40
    ),
    st.randoms(use_true_random=False),
)
def test_rows_joined_by_arrow_are_the_fields_joined_row_by_row_in_order(
    rows: list[tuple[str, str, str]], rng: random.Random
) -> None:
    firsts, seconds, kinds = (list(column) for column in zip(*rows, strict=True))
    order = list(range(len(rows)))
    rng.shuffle(order)
    count = pg_hot.binary_count(4)
    fields = [
        count,
        pg_hot.binary_texts(firsts),
        pg_hot.binary_coded(kinds, pg_hot.binary_text),
        pg_hot.BINARY_NULL,
        pg_hot.binary_texts(seconds),
    ]
    expected = b"".join(
        count
        + pg_hot.binary_text(firsts[n])
        + pg_hot.binary_text(kinds[n])
        + pg_hot.BINARY_NULL
        + pg_hot.binary_text(seconds[n])
        for n in order
    )
    assert bytes(pg_hot.binary_rows(fields, order)) == expected


def test_a_text_field_counts_its_length_in_bytes() -> None:
    made = bytes(pg_hot.binary_rows([pg_hot.binary_texts(["郑州", "", "a"])], [0, 1, 2]))
    assert made == b"\x00\x00\x00\x06" + "郑州".encode() + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x01a"


def test_a_column_of_one_value_is_one_field_for_every_row() -> None:
    made: list[str] = []
    field = pg_hot.binary_coded(["k"] * 3, lambda v: made.append(v) or v.encode())
    assert field == b"k"
    assert made == ["k"]  # made once
    assert bytes(pg_hot.binary_rows([field, pg_hot.binary_texts(["a", "b", "c"])], [2, 0, 1])) == (
        b"k\x00\x00\x00\x01c" + b"k\x00\x00\x00\x01a" + b"k\x00\x00\x00\x01b"
    )


def test_no_rows_make_no_bytes() -> None:
    fields = [pg_hot.binary_count(2), pg_hot.binary_coded([], pg_hot.binary_text), pg_hot.binary_texts([])]
    assert bytes(pg_hot.binary_rows(fields, [])) == b""


def test_rows_without_an_order_come_as_their_columns_hold_them() -> None:
    made = bytes(pg_hot.binary_rows([b"\x00\x01", pg_hot.binary_texts(["x", "yz"])]))
    assert made == b"\x00\x01\x00\x00\x00\x01x" + b"\x00\x01\x00\x00\x00\x02yz"
