from __future__ import annotations

import marshmallow as ma

from api.schemas.common import DecimalNumber, StrictSchema, Symbol
from core import money

_LIMIT = {"min": 0, "min_inclusive": False, "error": "must be above 0"}


class RiskRulesSchema(StrictSchema):
    """A group's risk rules; a rule left out (or null) does not apply."""

    allowed_symbols = ma.fields.List(
        Symbol(),
        load_default=list,
        validate=ma.validate.Length(max=500, error="must list at most 500 symbols"),
        metadata={"description": "only these symbols may be traded (empty: any)"},
    )
    blocked_symbols = ma.fields.List(
        Symbol(),
        load_default=list,
        validate=ma.validate.Length(max=500, error="must list at most 500 symbols"),
        metadata={"description": "these symbols may not be traded"},
    )
    max_quantity = DecimalNumber(
        load_default=None,
        allow_none=True,
        places=money.QUANTITY_PLACES,
        validate=ma.validate.Range(**_LIMIT),
        metadata={"description": "shares per account and symbol in one order"},
    )
    max_notional = DecimalNumber(
        load_default=None,
        allow_none=True,
        places=2,
        validate=ma.validate.Range(**_LIMIT),
        metadata={"description": "quantity times the last quote, per account and symbol"},
    )
    max_orders_per_day = ma.fields.Integer(
        load_default=None,
        allow_none=True,
        strict=True,
        validate=ma.validate.Range(min=1, max=1_000_000, error="must be 1 to 1000000"),
        metadata={"description": "orders placed for real (dry_run false) per UTC day"},
    )
    max_daily_loss = DecimalNumber(
        load_default=None,
        allow_none=True,
        places=2,
        validate=ma.validate.Range(**_LIMIT),
        metadata={
            "description": "how far the group's paper accounts may fall in value (cash plus "
            "positions at the last quotes) since their first check of the UTC day"
        },
    )
    trading_hours = ma.fields.String(
        load_default="always",
        validate=ma.validate.Length(min=1, max=16, error="must be 1 to 16 characters"),
        metadata={
            "description": "'always', or an exchange calendar ('XNYS': US equities): "
            "orders only while that exchange is open"
        },
    )
    kill_switch = ma.fields.Boolean(
        load_default=False,
        metadata={"description": "true refuses every new order of the group, dry runs too"},
    )


class RiskEventSchema(ma.Schema):
    rule = ma.fields.String(required=True)
    limit = ma.fields.String(required=True)
    value = ma.fields.String(required=True)
    message = ma.fields.String(required=True)
    where = ma.fields.String(
        required=True, metadata={"description": "api (at submission) or worker (before a leg)"}
    )
    job_id = ma.fields.String(required=True)
    at = ma.fields.String(required=True)
