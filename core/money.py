"""Precision of quantities, prices and cash: the one place these rules live.

Rules:

* **Quantities** (shares per account and symbol) have at most
  ``QUANTITY_PLACES`` = 6 decimal places.
* **Prices** (quotes, limit prices) have at most ``PRICE_PLACES`` = 4 decimal
  places.
* **Cash** is kept to the cent (``CASH_PLACES`` = 2).

Places are counted on the value, so trailing zeros do not count (``"0.50000000"``
is 1 place); a value with too many places is refused, never rounded. Within
these rules a fill's amount (at most 1,000,000 shares times a price below
100,000,000) has at most 24 significant digits, so ``Decimal``'s default
28-digit arithmetic computes it exactly.

Paper cash is rounded to the cent in the direction that never credits money
that did not exist: the **cost of a buy rounds up** (``ROUND_CEILING``) and the
**proceeds of a sell round down** (``ROUND_FLOOR``). A buy of 0.000001 shares at
0.0001 costs 0.01; selling them back credits 0.00. Valuations that are only
shown (a position's value, an account's total) are rounded half-even.

Output is plain decimal notation, never an exponent (``Decimal("1E-9")`` prints
as ``"0.000000001"``): quantities are normalised without trailing zeros; prices
show at least 2 places and no trailing zeros beyond them (``"400"`` and
``"400.000"`` show as ``"400.00"``, ``"1.2340"`` as ``"1.234"``), in every response
and message; cash always shows 2 places.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Context, Decimal

from core.errors import InvalidRequest

QUANTITY_PLACES = 6
PRICE_PLACES = 4
CASH_PLACES = 2

CENT = Decimal(1).scaleb(-CASH_PLACES)
# Enough digits that rounding to the cent never overflows (cash is far below 10**60).
_CASH_CONTEXT = Context(prec=64)


def decimal_places(value: Decimal) -> int:
    """How many decimal places ``value`` has, not counting trailing zeros.

    Counted on the digits as given, so no context precision rounds the answer.

    Raises:
        ValueError: ``value`` is not finite.
    """
    _finite(value)
    _sign, digits, exponent = value.as_tuple()
    significant = len(digits)
    while significant > 1 and digits[significant - 1] == 0:
        significant -= 1
    if significant == 1 and digits[0] == 0:
        return 0
    return max(0, -(exponent + len(digits) - significant))


def places_rule(places: int) -> str:
    """The rule as users read it: ``"at most 6 decimal places"``."""
    return f"at most {places} decimal places"


def fits_places(value: Decimal, places: int) -> bool:
    """Whether ``value`` has at most ``places`` decimal places."""
    return decimal_places(value) <= places


def check_places(value: Decimal, places: int, field: str) -> Decimal:
    """Return ``value`` if it has at most ``places`` decimal places.

    Raises:
        InvalidRequest: naming ``field`` and the rule.
    """
    if not fits_places(value, places):
        raise InvalidRequest(
            f"invalid {field}", errors={field: [f"must have {places_rule(places)}"]}
        )
    return value


def format_decimal(value: Decimal) -> str:
    """A quantity as text: plain notation without trailing zeros (``"0.000001"``, ``"10"``).

    Raises:
        ValueError: ``value`` is not finite.
    """
    text = format(_finite(value), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def format_price(value: Decimal) -> str:
    """A price as text: at least 2 places, no trailing zeros beyond (``"190.00"``, ``"1.234"``).

    The one format of prices in answers, whatever form they were sent in.

    Raises:
        ValueError: ``value`` is not finite.
    """
    whole, _, fraction = format_decimal(value).partition(".")
    return f"{whole}.{fraction.ljust(2, '0')}"


def format_cash(value: Decimal) -> str:
    """Cash as text with 2 places; a value finer than a cent is rounded half-even (display only)."""
    cents = _finite(value).quantize(CENT, rounding=ROUND_HALF_EVEN, context=_CASH_CONTEXT)
    return format(cents + 0, "f")  # + 0 turns -0.00 into 0.00


def round_cash_cost(amount: Decimal) -> Decimal:
    """What a buy of ``amount`` costs in cash: rounded up to the cent."""
    return _finite(amount).quantize(CENT, rounding=ROUND_CEILING, context=_CASH_CONTEXT)


def round_cash_proceeds(amount: Decimal) -> Decimal:
    """What a sell of ``amount`` credits in cash: rounded down to the cent."""
    return _finite(amount).quantize(CENT, rounding=ROUND_FLOOR, context=_CASH_CONTEXT)


def _finite(value: Decimal) -> Decimal:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise ValueError(f"not a finite decimal: {value!r}")
    return value
