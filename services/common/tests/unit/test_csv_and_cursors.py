import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.csv_export import line
from common.cursors import InvalidCursor
from common.cursors import decode as decode_cursor
from common.cursors import encode as encode_cursor
from contracts.money import decimal_string


@pytest.mark.parametrize(("minor", "currency", "shown"), [
    (4_000, "EUR", "40.00"), (5, "EUR", "0.05"), (0, "USD", "0.00"), (-1_234, "GBP", "-12.34"),
    (500, "JPY", "500"), (1_234, "KWD", "1.234"),
])
def test_amounts_are_decimal_strings_in_the_currency_s_minor_unit(minor, currency, shown):
    assert decimal_string(minor, currency) == shown


@given(st.integers(-10**12, 10**12))
def test_a_decimal_string_reads_back_to_the_same_minor_units(minor):
    whole, fraction = decimal_string(minor, "EUR").lstrip("-").split(".")
    assert (-1 if minor < 0 else 1) * (int(whole) * 100 + int(fraction)) == minor


def test_a_line_quotes_as_csv_and_neutralises_formulas_but_not_numbers():
    assert line(["a,b", None, "=1+1", "-12.34", "@x", 7]) == '"a,b",,\'=1+1,-12.34,\'@x,7\r\n'


def test_a_cursor_reads_back_for_its_own_sort_only():
    row_id, at = uuid.uuid4(), datetime(2026, 3, 1, tzinfo=UTC)
    assert decode_cursor(encode_cursor("created_at", "desc", at, row_id), "created_at", "desc") == (at, row_id)
    assert decode_cursor(encode_cursor("amount", "asc", 4_000, row_id), "amount", "asc") == (4_000, row_id)
    with pytest.raises(InvalidCursor):
        decode_cursor(encode_cursor("amount", "asc", 4_000, row_id), "amount", "desc")


@pytest.mark.parametrize("cursor", ["", "%%%", "not base64 !", "\u00e9\u00e9\u00e9\u00e9", "bm90IGEgY3Vyc29y",
                                    "WyJhbW91bnQiLCAiYXNjIiwgIngiLCAieSJd"])
def test_a_made_up_cursor_is_invalid(cursor):
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor, "amount", "asc")


def test_a_cursor_with_a_naive_time_is_not_one_we_issue():
    naive = encode_cursor("created_at", "desc", datetime(2026, 3, 1), uuid.uuid4())
    with pytest.raises(InvalidCursor):
        decode_cursor(naive, "created_at", "desc")
