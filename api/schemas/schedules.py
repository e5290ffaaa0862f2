from __future__ import annotations

import marshmallow as ma

from api.schemas.transactions import TransactionCreateSchema


class ScheduleCreateSchema(TransactionCreateSchema):
    """An order (as for POST /transactions) and when to place it."""

    at = ma.fields.String(
        load_default=None,
        metadata={
            "description": "one time: ISO 8601 with its zone, or a moment of the next US "
            "equity session: open, close, open+1m, close-10m",
            "example": None,
        },
    )
    cron = ma.fields.String(
        load_default=None,
        metadata={
            "description": "'minute hour * * day-of-week' in `timezone`, e.g. '31 9 * * 1-5'"
        },
    )
    timezone = ma.fields.String(
        load_default="UTC", metadata={"description": "IANA zone of `cron`, e.g. America/New_York"}
    )
    market_days_only = ma.fields.Boolean(
        load_default=False, metadata={"description": "skip days the exchange (XNYS) is closed"}
    )
    every_session = ma.fields.Boolean(
        load_default=False,
        metadata={
            "description": "with `at` a session moment (open+1m, close-10m): place the order "
            "at that moment of every session, not only the next"
        },
    )


class ScheduleRunSchema(ma.Schema):
    occurrence = ma.fields.String()
    at = ma.fields.String()
    outcome = ma.fields.String(
        metadata={"description": "submitted, missed, skipped: ..., refused: ..., already run"}
    )
    job = ma.fields.String()


class ScheduleSchema(ma.Schema):
    id = ma.fields.String(required=True)
    group = ma.fields.String(required=True)
    order = ma.fields.Dict(required=True)
    at = ma.fields.String()
    cron = ma.fields.String()
    timezone = ma.fields.String()
    market_days_only = ma.fields.Boolean()
    session = ma.fields.String(
        metadata={"description": "the session moment `at` was resolved from, e.g. open+1m"}
    )
    every_session = ma.fields.Boolean(
        metadata={"description": "`session` repeats at each following session"}
    )
    next_at = ma.fields.String(metadata={"description": "the next occurrence (UTC); '' if none"})
    created_at = ma.fields.String()
    runs = ma.fields.List(ma.fields.Nested(ScheduleRunSchema))
