from __future__ import annotations

import marshmallow as ma

from api.schemas.common import JobAcceptedSchema, StrictSchema


class ResultSchema(ma.Schema):
    account = ma.fields.String(required=True)
    brokerage = ma.fields.String(required=True)
    symbol = ma.fields.String(allow_none=True)
    status = ma.fields.Function(lambda r: r.status.value, required=True)
    detail = ma.fields.String()
    quantity = ma.fields.String(allow_none=True)
    price = ma.fields.String(allow_none=True)
    at = ma.fields.DateTime()


class JobSchema(ma.Schema):
    id = ma.fields.String(required=True)
    kind = ma.fields.Function(lambda j: j.kind.value, required=True)
    group = ma.fields.String(required=True)
    state = ma.fields.Function(lambda j: j.state.value, required=True)
    account = ma.fields.String()
    order = ma.fields.Function(lambda j: j.order.to_dict() if j.order else None, allow_none=True)
    error = ma.fields.String()
    legs = ma.fields.Function(
        lambda j: {brokerage: state.value for brokerage, state in sorted(j.leg_states.items())},
        metadata={
            "description": "each brokerage leg's progress: pending, sent, running or reported"
        },
    )
    results = ma.fields.List(ma.fields.Nested(ResultSchema), required=True)
    created_at = ma.fields.DateTime(required=True)
    started_at = ma.fields.DateTime(allow_none=True)
    finished_at = ma.fields.DateTime(allow_none=True)


class RetrySchema(StrictSchema):
    statuses = ma.fields.List(
        ma.fields.String(
            validate=ma.validate.OneOf(
                ["failed", "unknown", "rejected"], error="must be failed, unknown or rejected"
            )
        ),
        load_default=lambda: ["failed"],
        validate=ma.validate.Length(min=1, max=3, error="must list 1 to 3 statuses"),
        metadata={"description": "which results to retry (default: failed)"},
    )
    checked_brokerage = ma.fields.Boolean(
        load_default=False,
        metadata={
            "description": "required true to retry unknown results: you checked the brokerage"
        },
    )


class RetryAcceptedSchema(ma.Schema):
    jobs = ma.fields.List(ma.fields.Nested(JobAcceptedSchema), required=True)
