"""Precision rules (core.money)."""

from decimal import Decimal

import pytest

from core import money
from core.errors import InvalidRequest


@pytest.mark.parametrize(
    ("text", "places"),
    [
        ("1", 0),
        ("1.5", 1),
        ("1.50", 1),  # trailing zeros are not places
        ("1.0000000", 0),
        ("0.000001", 6),
        ("1E-31", 31),
        ("1E+6", 0),
        ("1000000." + "0" * 25 + "1", 26),  # 33 digits: counted exactly, not at 28
        ("0", 0),
        ("0.000", 0),
    ],
)
def test_decimal_places_counts_significant_fraction_digits(text, places):
    assert money.decimal_places(Decimal(text)) == places


def test_fits_places_and_check_places_name_the_field_and_rule():
    assert money.fits_places(Decimal("1.123456"), money.QUANTITY_PLACES)
    assert not money.fits_places(Decimal("1.1234567"), money.QUANTITY_PLACES)
    assert money.check_places(Decimal("2.5"), money.PRICE_PLACES, "price") == Decimal("2.5")
    with pytest.raises(InvalidRequest) as refused:
        money.check_places(Decimal("2.12345"), money.PRICE_PLACES, "limit_price")
    assert refused.value.errors == {"limit_price": ["must have at most 4 decimal places"]}


def test_the_rules_are_six_four_and_two_places():
    assert (money.QUANTITY_PLACES, money.PRICE_PLACES, money.CASH_PLACES) == (6, 4, 2)
    assert money.places_rule(6) == "at most 6 decimal places"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("1E-9", "0.000000001"),
        ("1E-31", "0.0000000000000000000000000000001"),
        ("1E+6", "1000000"),
        ("1.50", "1.5"),
        ("2", "2"),
        ("0E-8", "0"),
        ("-0", "0"),
        ("-1.2500", "-1.25"),
    ],
)
def test_format_decimal_is_plain_and_normalised(text, shown):
    assert money.format_decimal(Decimal(text)) == shown


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("190.00", "190.00"),
        ("400", "400.00"),
        ("400.000", "400.00"),
        ("1E+2", "100.00"),
        ("5E-4", "0.0005"),
        ("401.25", "401.25"),
        ("1.2340", "1.234"),
        ("190.5", "190.50"),
    ],
)
def test_format_price_has_at_least_two_places_and_no_trailing_zeros_beyond(text, shown):
    assert money.format_price(Decimal(text)) == shown


@pytest.mark.parametrize(
    ("text", "shown"), [("5", "5.00"), ("1E+3", "1000.00"), ("0E-10", "0.00"), ("9.5", "9.50")]
)
def test_format_cash_shows_two_places(text, shown):
    assert money.format_cash(Decimal(text)) == shown


@pytest.mark.parametrize(
    ("amount", "cost", "proceeds"),
    [
        ("0.0000000001", "0.01", "0.00"),
        ("10.001", "10.01", "10.00"),
        ("10.009", "10.01", "10.00"),
        ("10.005", "10.01", "10.00"),  # never half-up or half-even
        ("31.50", "31.50", "31.50"),  # whole cents stay as they are
        ("0", "0.00", "0.00"),
    ],
)
def test_cash_costs_round_up_and_proceeds_round_down(amount, cost, proceeds):
    assert money.round_cash_cost(Decimal(amount)) == Decimal(cost)
    assert money.round_cash_proceeds(Decimal(amount)) == Decimal(proceeds)
    assert str(money.round_cash_cost(Decimal(amount))) == cost


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_values_are_refused(bad):
    with pytest.raises(ValueError):
        money.decimal_places(Decimal(bad))
    with pytest.raises(ValueError):
        money.format_decimal(Decimal(bad))
