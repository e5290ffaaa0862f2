from __future__ import annotations

import marshmallow as ma

from api.schemas.common import DecimalNumber, StrictSchema, price_field
from core import money


class QuoteUpdateSchema(StrictSchema):
    price = price_field(required=True, metadata={"example": "190.12"})


class QuoteSchema(ma.Schema):
    symbol = ma.fields.String(required=True)
    price = DecimalNumber(required=True, formatter=money.format_price)
    as_of = ma.fields.DateTime(required=True)
    source = ma.fields.String(
        required=True, metadata={"description": "manual (PUT), synthetic, csv or schwab"}
    )
