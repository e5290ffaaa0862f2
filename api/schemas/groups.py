from __future__ import annotations

import marshmallow as ma

from api.schemas.common import StrictSchema, name_field


class GroupCreateSchema(StrictSchema):
    name = name_field()


class GroupSchema(ma.Schema):
    name = ma.fields.String(required=True)
    queue = ma.fields.String(required=True, metadata={"description": "Celery queue of the group"})
    accounts = ma.fields.List(ma.fields.String(), required=True)
    created_at = ma.fields.DateTime(required=True)
