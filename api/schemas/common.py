"""Fields shared by several resources."""

from __future__ import annotations

import marshmallow as ma

from core.models import NAME_PATTERN, NAME_RULE


class StrictSchema(ma.Schema):
    """Unknown fields are an error, named in the response."""

    class Meta:
        unknown = ma.RAISE


def name_field(**kwargs) -> ma.fields.String:
    return ma.fields.String(
        required=True,
        validate=ma.validate.Regexp(NAME_PATTERN, error=f"must be {NAME_RULE}"),
        metadata={"example": "family"},
        **kwargs,
    )


class JobAcceptedSchema(ma.Schema):
    job_id = ma.fields.String(required=True)
    status_url = ma.fields.String(required=True)
    state = ma.fields.String(required=True)
