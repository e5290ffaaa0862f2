"""Symbols and prices as they enter (core.quotes), without Redis."""

from decimal import Decimal

import pytest

from core.errors import InvalidRequest
from core.quotes import clean_symbol, normalise_symbol, parse_price


@pytest.mark.parametrize(
    ("sent", "symbol"),
    [("spy", "SPY"), ("SPY", "SPY"), (" brk.b\t", "BRK.B"), ("\nqqq\r\n", "QQQ"), ("a1-b", "A1-B")],
)
def test_symbols_are_upper_cased_after_the_ascii_check(sent, symbol):
    assert normalise_symbol(sent) == symbol
    assert clean_symbol(sent) == symbol


@pytest.mark.parametrize(
    "sent",
    [
        "\u017fpy",  # long s: Python upper-cases it to "S"
        "\ufb00",  # ff ligature: upper-cases to "FF"
        "\u0131bm",  # dotless i: upper-cases to "I"
        "\u212a",  # Kelvin sign
        "\uff33\uff30\uff39",  # fullwidth SPY
        "\u00a0SPY",  # no-break space is not stripped
        "SPY\u2003",
        "ÄAPL",
        "",
        "   ",
        "1SPY",
        "A" * 16,
        "SP Y",
        None,
        5,
    ],
)
def test_non_ascii_and_malformed_symbols_are_refused(sent):
    assert clean_symbol(sent) is None
    with pytest.raises(InvalidRequest) as refused:
        normalise_symbol(sent)
    assert "symbol" in refused.value.errors


def test_parse_price_refuses_more_than_four_places():
    assert parse_price("190.1234") == Decimal("190.1234")
    assert parse_price("190.10000") == Decimal("190.10000")  # trailing zeros are not places
    with pytest.raises(InvalidRequest) as refused:
        parse_price("190.12345", field="limit_price")
    assert refused.value.errors == {"limit_price": ["must have at most 4 decimal places"]}
