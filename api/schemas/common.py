"""Fields shared by several resources."""

from __future__ import annotations

import re
from decimal import Decimal

import marshmallow as ma

from brokers.credentials import brokerage_names
from core import money
from core.models import NAME_PATTERN, NAME_RULE
from core.quotes import MAX_PRICE, SYMBOL_INPUT_PATTERN, SYMBOL_RULE, clean_symbol

DECIMAL_STRING = re.compile(r"^[0-9]+(\.[0-9]+)?$")


class StrictSchema(ma.Schema):
    """Unknown fields are an error, named in the response."""

    class Meta:
        unknown = ma.RAISE


def name_field(**kwargs) -> ma.fields.String:
    return ma.fields.String(
        required=True,
        validate=ma.validate.Regexp(NAME_PATTERN, error=f"must be {NAME_RULE}"),
        metadata={"example": "family"},
        **kwargs,
    )


class JobAcceptedSchema(ma.Schema):
    job_id = ma.fields.String(required=True)
    status_url = ma.fields.String(required=True)
    state = ma.fields.String(required=True)
    dispatch = ma.fields.String(
        required=True,
        metadata={
            "description": "sent: handed to the workers. delayed: saved, and it will run, "
            "but the message broker is unreachable; it starts once the broker is back. "
            "Either way the job exists: never submit it again"
        },
    )
    message = ma.fields.String(metadata={"description": "why dispatch is delayed"})


class DecimalNumber(ma.fields.Decimal):
    """A finite decimal, sent as a JSON number or a plain decimal string (``"190.00"``).

    It is shown as a string, so nothing is rounded. Strings must be digits with an
    optional fraction: Python's ``Decimal`` would also read ``"1_000"``, ``" 5 "`` or
    ``"1e3"``, which the OpenAPI document does not promise. JSON numbers arrive as
    ``Decimal`` (the app's JSON provider), never through float.

    Args:
        places: refuse values with more decimal places than this (trailing zeros do
            not count; see ``core.money``). Unlike marshmallow's own ``places``,
            nothing is rounded.
    """

    default_error_messages = {"places": "must have {rule}"}

    def __init__(self, *, places: int | None = None, formatter=None, **kwargs) -> None:
        super().__init__(allow_nan=False, as_string=True, **kwargs)
        self.max_places = places
        self.formatter = formatter

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None or self.formatter is None:
            return super()._serialize(value, attr, obj, **kwargs)
        return self.formatter(Decimal(value))

    def _deserialize(self, value, attr, data, **kwargs) -> Decimal:
        # A negative decimal string reaches the range check, whose message says the bound.
        if isinstance(value, str) and not DECIMAL_STRING.fullmatch(value.removeprefix("-")):
            raise self.make_error("invalid")
        number = super()._deserialize(value, attr, data, **kwargs)
        if self.max_places is not None and not money.fits_places(number, self.max_places):
            raise self.make_error("places", rule=money.places_rule(self.max_places))
        return number


class QuantityOrAll(DecimalNumber):
    """A quantity, or ``"all"``: whatever each account holds (sells only)."""

    class Range(ma.validate.Range):
        """The quantity's range; ``"all"`` is not a number and passes."""

        def __call__(self, value):
            return value if value == "all" else super().__call__(value)

    def _deserialize(self, value, attr, data, **kwargs):
        if value == "all":
            return value
        return super()._deserialize(value, attr, data, **kwargs)


SYMBOL_INPUT_DOCUMENTED = rf"^[ \t\n\r\f\v]*{SYMBOL_INPUT_PATTERN.pattern}[ \t\n\r\f\v]*$"


class Symbol(ma.fields.String):
    """A ticker, checked as sent and then upper-cased (``core.quotes.clean_symbol``).

    Checking before upper-casing matters: ``"\u017fpy".upper()`` is ``"SPY"``.
    """

    default_error_messages = {"symbol": f"must be {SYMBOL_RULE}"}

    def __init__(self, **kwargs) -> None:
        # What is accepted as sent (any case, ASCII whitespace around), not the stored form.
        kwargs.setdefault("metadata", {}).setdefault("pattern", SYMBOL_INPUT_DOCUMENTED)
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        symbol = clean_symbol(super()._deserialize(value, attr, data, **kwargs))
        if symbol is None:
            raise self.make_error("symbol")
        return symbol


def _json_number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def decimal2properties(self, field: ma.fields.Field, ret: dict, **_kwargs) -> dict:
    """OpenAPI for a :class:`DecimalNumber`: a number in its range, or a decimal string.

    An apispec attribute function: apispec alone would write the bounds as strings
    (the field dumps strings) and drop whether they are exclusive.
    """
    if not isinstance(field, DecimalNumber):
        return {}
    number: dict = {"type": "number"}
    for validator in field.validators:
        if isinstance(validator, ma.validate.Range):
            if validator.min is not None:
                number["minimum"] = _json_number(Decimal(validator.min))
                if not validator.min_inclusive:
                    number["exclusiveMinimum"] = True
            if validator.max is not None:
                number["maximum"] = _json_number(Decimal(validator.max))
                if not validator.max_inclusive:
                    number["exclusiveMaximum"] = True
    for key in ("type", "format", "minimum", "maximum"):
        ret.pop(key, None)
    documented = {"anyOf": [number, {"type": "string", "pattern": DECIMAL_STRING.pattern}]}
    if isinstance(field, QuantityOrAll):
        documented["anyOf"].append({"type": "string", "enum": ["all"]})
    if field.max_places is not None:
        # A description, not ``multipleOf``: validators test multiples of 0.000001 in
        # binary floating point and refuse numbers the API accepts.
        rule = f"Must have {money.places_rule(field.max_places)} (trailing zeros do not count)."
        documented["description"] = " ".join(filter(None, [ret.get("description"), rule]))
    return documented


class BrokerageName(ma.fields.String):
    """A brokerage, in any case (``"Chase"``); loaded as its canonical name (``"chase"``)."""

    default_error_messages = {"brokerage": "must be one of: {choices}"}

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("metadata", {}).setdefault("example", "paper")
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        name = super()._deserialize(value, attr, data, **kwargs).strip().lower()
        if name not in brokerage_names():
            raise self.make_error("brokerage", choices=", ".join(brokerage_names()))
        return name


def price_field(**kwargs) -> DecimalNumber:
    """A price: above 0, below ``core.quotes.MAX_PRICE``, at most 4 decimal places.

    Answers show it in the one price format (``core.money.format_price``).
    """
    return DecimalNumber(
        places=money.PRICE_PLACES,
        formatter=money.format_price,
        validate=ma.validate.Range(
            min=0,
            min_inclusive=False,
            max=MAX_PRICE,
            max_inclusive=False,
            error=f"must be above 0 and below {MAX_PRICE}",
        ),
        **kwargs,
    )
