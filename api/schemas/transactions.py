from __future__ import annotations

import marshmallow as ma

from api.schemas.common import (
    BrokerageName,
    QuantityOrAll,
    StrictSchema,
    Symbol,
    price_field,
)
from core import money
from core.models import NAME_PATTERN, NAME_RULE

MAX_QUANTITY = 1_000_000
MAX_SYMBOLS = 20


class TransactionCreateSchema(StrictSchema):
    action = ma.fields.String(
        required=True, validate=ma.validate.OneOf(["buy", "sell"], error="must be buy or sell")
    )
    symbols = ma.fields.List(
        Symbol(),
        required=True,
        validate=ma.validate.Length(min=1, max=MAX_SYMBOLS, error="must list 1 to 20 symbols"),
        metadata={"example": ["AAPL"]},
    )
    quantity = QuantityOrAll(
        required=True,
        places=money.QUANTITY_PLACES,
        validate=QuantityOrAll.Range(
            min=0,
            min_inclusive=False,
            max=MAX_QUANTITY,
            error=f"must be above 0 and at most {MAX_QUANTITY}",
        ),
        metadata={
            "example": 1,
            "description": 'shares per account and symbol; "all" on a sell: what each '
            "account holds (an account holding none is skipped)",
        },
    )
    dry_run = ma.fields.Boolean(
        load_default=True,
        metadata={"description": "true (the default) checks the order without placing it"},
    )
    order_type = ma.fields.String(
        load_default="market",
        validate=ma.validate.OneOf(["market", "limit"], error="must be market or limit"),
    )
    limit_price = price_field(load_default=None, allow_none=True)
    brokerages = ma.fields.List(
        BrokerageName(),
        load_default=list,
        metadata={"description": "only accounts of these brokerages, any case (default: all)"},
    )
    accounts = ma.fields.List(
        ma.fields.String(validate=ma.validate.Regexp(NAME_PATTERN, error=f"must be {NAME_RULE}")),
        load_default=list,
        metadata={"description": "only these accounts (default: every active account)"},
    )

    @ma.validates_schema
    def _all_only_on_sells(self, data, **_kwargs):
        if data.get("quantity") == "all" and data.get("action") != "sell":
            raise ma.ValidationError('"all" is for sells only', field_name="quantity")

    @ma.validates_schema
    def _limit_price_matches_type(self, data, **_kwargs):
        if data.get("order_type") == "limit" and data.get("limit_price") is None:
            raise ma.ValidationError("required for a limit order", field_name="limit_price")
        if data.get("order_type") != "limit" and data.get("limit_price") is not None:
            raise ma.ValidationError("only allowed with order_type limit", field_name="limit_price")


class IdempotencyHeaderSchema(ma.Schema):
    class Meta:
        unknown = ma.EXCLUDE

    idempotency_key = ma.fields.String(
        data_key="Idempotency-Key",
        load_default=None,
        validate=ma.validate.Regexp(
            r"^[A-Za-z0-9_.:-]{1,128}$",
            error="must be 1-128 of letters, digits, '_', '.', ':', '-'",
        ),
        metadata={"description": "a repeated POST with the same key returns the first job"},
    )
