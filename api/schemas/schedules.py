from __future__ import annotations

import marshmallow as ma

from api.schemas.transactions import TransactionCreateSchema


class ScheduleCreateSchema(TransactionCreateSchema):
    """An order (as for POST /transactions) and when to place it."""

    at = ma.fields.String(
        load_default=None,
        metadata={"description": "one time, ISO 8601 with its zone", "example": None},
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
    next_at = ma.fields.String(metadata={"description": "the next occurrence (UTC); '' if none"})
    created_at = ma.fields.String()
    runs = ma.fields.List(ma.fields.Nested(ScheduleRunSchema))
