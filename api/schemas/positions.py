from __future__ import annotations

import marshmallow as ma

from api.schemas.common import Symbol

_SOURCE = {
    "description": "ledger: read live from the brokerage's own ledger (paper); last_read: "
    "the account's last holdings read (see as_of); none: never read"
}


class PositionSchema(ma.Schema):
    symbol = ma.fields.String(required=True)
    quantity = ma.fields.String(required=True)
    price = ma.fields.String(allow_none=True)
    value = ma.fields.String(allow_none=True)


class AccountPositionsSchema(ma.Schema):
    account = ma.fields.String(required=True)
    brokerage = ma.fields.String(required=True)
    state = ma.fields.String()
    source = ma.fields.String(metadata=_SOURCE)
    cash = ma.fields.String(allow_none=True)
    total = ma.fields.String(allow_none=True)
    masked_numbers = ma.fields.List(ma.fields.String())
    positions = ma.fields.List(ma.fields.Nested(PositionSchema), required=True)
    as_of = ma.fields.DateTime(allow_none=True)


class PositionsQuerySchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    symbol = Symbol(load_default=None, metadata={"description": "only this symbol's positions"})


class HoldingsQuerySchema(PositionsQuerySchema):
    group = ma.fields.String(load_default=None, metadata={"description": "only this group"})


class HolderSchema(ma.Schema):
    group = ma.fields.String(required=True)
    account = ma.fields.String(required=True)
    brokerage = ma.fields.String(required=True)
    quantity = ma.fields.String(required=True)
    price = ma.fields.String(allow_none=True)
    value = ma.fields.String(allow_none=True)
    source = ma.fields.String(required=True, metadata=_SOURCE)
    as_of = ma.fields.DateTime(allow_none=True)


class IdleAccountSchema(ma.Schema):
    group = ma.fields.String(required=True)
    account = ma.fields.String(required=True)
    brokerage = ma.fields.String(required=True)


class SymbolHoldingsSchema(ma.Schema):
    symbol = ma.fields.String(required=True)
    quantity = ma.fields.String(required=True, metadata={"description": "total held"})
    value = ma.fields.String(
        allow_none=True, metadata={"description": "total value; null when a price is unknown"}
    )
    holders = ma.fields.List(ma.fields.Nested(HolderSchema), required=True)
    not_holding = ma.fields.List(
        ma.fields.Nested(IdleAccountSchema),
        metadata={"description": "with ?symbol=: the active accounts that hold none of it"},
    )
