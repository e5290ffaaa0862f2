from __future__ import annotations

import marshmallow as ma

from api.schemas.common import JobAcceptedSchema, StrictSchema
from core.codes import MAX_CODE_LENGTH


class ResultSchema(ma.Schema):
    account = ma.fields.String(required=True)
    brokerage = ma.fields.String(required=True)
    symbol = ma.fields.String(allow_none=True)
    status = ma.fields.Function(lambda r: r.status.value, required=True)
    detail = ma.fields.String()
    quantity = ma.fields.String(allow_none=True)
    price = ma.fields.String(allow_none=True)
    at = ma.fields.DateTime()


class WaitingSchema(ma.Schema):
    account = ma.fields.String(required=True)
    brokerage = ma.fields.String(required=True)
    kind = ma.fields.Function(
        lambda w: w.kind.value,
        required=True,
        metadata={"description": "code: post it to /codes; approval: approve in the app"},
    )
    prompt = ma.fields.String(required=True, metadata={"description": "what AutoRSA asked"})
    deadline = ma.fields.DateTime(required=True, metadata={"description": "then the run stops"})
    captcha = ma.fields.Boolean(
        required=True, metadata={"description": "an image to read: GET /captcha?account="}
    )


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
    waiting = ma.fields.List(
        ma.fields.Nested(WaitingSchema),
        metadata={"description": "accounts whose login waits for a 2FA code or approval now"},
    )
    group_deleted = ma.fields.Boolean(
        metadata={"description": "its group was deleted; the job stays readable for a while"}
    )
    retry_of = ma.fields.String(metadata={"description": "the job this one retries"})
    origin = ma.fields.String(
        metadata={
            "description": "what placed it, when not a request: schedule:<id> (see the "
            "group's schedules) or signal:<id> (see /signals)"
        }
    )
    retried_by = ma.fields.List(
        ma.fields.String(), metadata={"description": "the jobs that retried this one"}
    )
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


class CodeSchema(StrictSchema):
    account = ma.fields.String(required=True, metadata={"example": "chase1"})
    # Checked again by core.codes.check_code; a bad code is never echoed back.
    code = ma.fields.String(
        required=True,
        load_only=True,
        validate=ma.validate.Regexp(
            rf"\A *[ -~]{{1,{MAX_CODE_LENGTH}}} *\Z",
            error=f"must be one line of 1 to {MAX_CODE_LENGTH} printable characters",
        ),
        metadata={"example": "123456"},
    )


class CodeAcceptedSchema(ma.Schema):
    account = ma.fields.String(required=True)
    delivered = ma.fields.Boolean(required=True)


class CaptchaQuerySchema(ma.Schema):
    account = ma.fields.String(required=True)
