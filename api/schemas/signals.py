"""Strategy subscriptions and signals (``api.resources.signals``)."""

from __future__ import annotations

import marshmallow as ma

from api.schemas.common import DecimalNumber, StrictSchema, Symbol
from core import money
from core.models import NAME_PATTERN, NAME_RULE
from ingest.providers.base import INTERVALS


class SubscriptionCreateSchema(StrictSchema):
    strategy = ma.fields.String(required=True, metadata={"example": "sma_cross"})
    params = ma.fields.Dict(keys=ma.fields.String(), load_default=dict)
    symbols = ma.fields.List(Symbol(), required=True, validate=ma.validate.Length(min=1, max=100))
    interval = ma.fields.String(required=True, validate=ma.validate.OneOf(INTERVALS))
    auto_trade = ma.fields.Boolean(
        load_default=False, metadata={"description": "submit an order on each buy/sell signal"}
    )
    quantity = DecimalNumber(
        load_default=None,
        allow_none=True,
        places=money.QUANTITY_PLACES,
        validate=ma.validate.Range(min=0, min_inclusive=False, error="must be above 0"),
        metadata={"description": "shares per account of each order (default 1)"},
    )
    dry_run = ma.fields.Boolean(load_default=True)


class SubscriptionSchema(ma.Schema):
    id = ma.fields.String(required=True)
    group = ma.fields.String(required=True)
    strategy = ma.fields.String(required=True)
    params = ma.fields.Dict()
    symbols = ma.fields.List(ma.fields.String())
    interval = ma.fields.String()
    auto_trade = ma.fields.Boolean()
    quantity = ma.fields.String()
    dry_run = ma.fields.Boolean()
    created_at = ma.fields.String()


class SignalQuerySchema(StrictSchema):
    group = ma.fields.String(
        validate=ma.validate.Regexp(NAME_PATTERN, error=f"must be {NAME_RULE}"),
        metadata={"description": "default: every group with subscriptions"},
    )
    symbol = Symbol()
    limit = ma.fields.Integer(load_default=100, validate=ma.validate.Range(min=1, max=1000))


class SignalSchema(ma.Schema):
    id = ma.fields.String(required=True)
    subscription = ma.fields.String()
    group = ma.fields.String()
    strategy = ma.fields.String()
    symbol = ma.fields.String()
    interval = ma.fields.String()
    bar = ma.fields.String(metadata={"description": "the bar's start (UTC)"})
    close = ma.fields.Float()
    action = ma.fields.String(metadata={"description": "buy, sell, hold or warmup"})
    target = ma.fields.Integer(metadata={"description": "the strategy's target: 1, 0, -1"})
    previous = ma.fields.Integer()
    auto_trade = ma.fields.Boolean()
    outcome = ma.fields.String(metadata={"description": "recorded, submitted, refused, failed"})
    job_id = ma.fields.String()
    detail = ma.fields.String()
    risk = ma.fields.Dict(metadata={"description": "the refusing rule, its limit and value"})
    at = ma.fields.String()
