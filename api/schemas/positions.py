from __future__ import annotations

import marshmallow as ma


class PositionSchema(ma.Schema):
    symbol = ma.fields.String(required=True)
    quantity = ma.fields.String(required=True)
    price = ma.fields.String(allow_none=True)
    value = ma.fields.String(allow_none=True)


class AccountPositionsSchema(ma.Schema):
    account = ma.fields.String(required=True)
    brokerage = ma.fields.String(required=True)
    cash = ma.fields.String(allow_none=True)
    total = ma.fields.String(allow_none=True)
    masked_numbers = ma.fields.List(ma.fields.String())
    positions = ma.fields.List(ma.fields.Nested(PositionSchema), required=True)
    as_of = ma.fields.DateTime(allow_none=True)
