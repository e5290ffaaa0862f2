from __future__ import annotations

import marshmallow as ma

from api.schemas.common import BrokerageName, StrictSchema, name_field


class AccountCreateSchema(StrictSchema):
    name = name_field()
    brokerage = BrokerageName(required=True)
    credentials = ma.fields.Dict(
        keys=ma.fields.String(),
        required=True,
        load_only=True,
        metadata={
            "description": "Fields of the brokerage (see the README); write-only, encrypted at rest",
            "example": {"starting_cash": "10000"},
        },
    )


class AccountBulkSchema(StrictSchema):
    accounts = ma.fields.List(
        ma.fields.Dict(keys=ma.fields.String()),
        required=True,
        load_only=True,
        validate=ma.validate.Length(min=1, max=1000, error="must list 1 to 1000 accounts"),
        metadata={
            "description": "rows of {name, brokerage, credentials}: all are checked first, and "
            "nothing is imported when any is wrong (errors name the row, from 1, and field)"
        },
    )


class AccountSchema(ma.Schema):
    """An account as the API shows it: never its credentials."""

    group = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    brokerage = ma.fields.String(required=True)
    state = ma.fields.Function(lambda a: a.state.value, required=True)
    last_error = ma.fields.String()
    details = ma.fields.Dict()
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()
