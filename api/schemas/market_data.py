from __future__ import annotations

import marshmallow as ma

from api.schemas.common import StrictSchema
from core.quotes import MAX_PRICE


class QuoteUpdateSchema(StrictSchema):
    price = ma.fields.Decimal(
        required=True,
        allow_nan=False,
        as_string=True,
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
    price = ma.fields.Decimal(as_string=True, required=True)
    as_of = ma.fields.DateTime(required=True)
