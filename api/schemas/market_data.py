from __future__ import annotations

import marshmallow as ma

from api.schemas.common import DecimalNumber, StrictSchema
from core.quotes import MAX_PRICE


class QuoteUpdateSchema(StrictSchema):
    price = DecimalNumber(
        required=True,
        validate=ma.validate.Range(
            min=0,
            min_inclusive=False,
            max=MAX_PRICE,
            max_inclusive=False,
            error=f"must be a positive number below {MAX_PRICE}",
        ),
        metadata={"example": "190.12"},
    )


class QuoteSchema(ma.Schema):
    symbol = ma.fields.String(required=True)
    price = DecimalNumber(required=True)
    as_of = ma.fields.DateTime(required=True)
