from __future__ import annotations

import marshmallow as ma


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
    results = ma.fields.List(ma.fields.Nested(ResultSchema), required=True)
    created_at = ma.fields.DateTime(required=True)
    started_at = ma.fields.DateTime(allow_none=True)
    finished_at = ma.fields.DateTime(allow_none=True)
