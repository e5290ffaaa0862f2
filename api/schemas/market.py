"""Schemas of stored bars and the watchlist (the quote's are in ``api.schemas.market_data``)."""

from __future__ import annotations

from datetime import UTC, datetime

import marshmallow as ma

from api.schemas.common import DecimalNumber, StrictSchema, Symbol
from core.watchlist import INTERVALS, MAX_SYMBOLS

# What InfluxDB can store (timestamps are int64 nanoseconds: 1677-09-21 to 2262-04-11).
EARLIEST = datetime(1678, 1, 1, tzinfo=UTC)
LATEST = datetime(2262, 1, 1, tzinfo=UTC)
_IN_RANGE = ma.validate.Range(min=EARLIEST, max=LATEST)


class BarQuerySchema(StrictSchema):
    interval = ma.fields.String(
        load_default="1m", validate=ma.validate.OneOf(INTERVALS), metadata={"example": "1m"}
    )
    start = ma.fields.AwareDateTime(
        default_timezone=UTC,
        validate=_IN_RANGE,
        metadata={"description": "default: a day before end"},
    )
    end = ma.fields.AwareDateTime(
        default_timezone=UTC, validate=_IN_RANGE, metadata={"description": "default: now"}
    )


class BarSchema(ma.Schema):
    symbol = ma.fields.String(required=True)
    interval = ma.fields.String(required=True)
    start = ma.fields.DateTime(required=True, metadata={"description": "the bar's opening time"})
    open = DecimalNumber(required=True)
    high = DecimalNumber(required=True)
    low = DecimalNumber(required=True)
    close = DecimalNumber(required=True)
    volume = ma.fields.Integer(required=True)
    source = ma.fields.String(required=True)


class WatchlistSchema(StrictSchema):
    symbols = ma.fields.List(
        Symbol(),
        required=True,
        validate=ma.validate.Length(max=MAX_SYMBOLS),
        metadata={"example": ["SPY", "AAPL"]},
    )
    intervals = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(INTERVALS)),
        required=True,
        validate=ma.validate.Length(min=1),
        metadata={"example": ["1m", "5m"]},
    )
