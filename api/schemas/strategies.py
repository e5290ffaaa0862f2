from __future__ import annotations

import marshmallow as ma


class StrategyParamSchema(ma.Schema):
    name = ma.fields.String(required=True)
    type = ma.fields.String(required=True, metadata={"description": "int, float or bool"})
    default = ma.fields.Raw(required=True)
    low = ma.fields.Float(allow_none=True, metadata={"description": "inclusive; none: unbounded"})
    high = ma.fields.Float(allow_none=True)
    help = ma.fields.String()


class StrategySchema(ma.Schema):
    name = ma.fields.String(required=True, metadata={"example": "sma_cross"})
    description = ma.fields.String()
    params = ma.fields.List(ma.fields.Nested(StrategyParamSchema), required=True)
