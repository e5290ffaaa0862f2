"""Brokerages and the credential fields each one takes (read-only)."""

from __future__ import annotations

import marshmallow as ma


class CredentialFieldSchema(ma.Schema):
    name = ma.fields.String(
        required=True, metadata={"description": "the field's key in `credentials`"}
    )
    required = ma.fields.Boolean(required=True)
    secret = ma.fields.Boolean(
        required=True, metadata={"description": "a password or token: mask it when typed"}
    )
    rule = ma.fields.String(
        required=True, metadata={"description": "what the value must be, in words"}
    )


class BrokerageSchema(ma.Schema):
    name = ma.fields.String(required=True, metadata={"description": "e.g. `robinhood`, `paper`"})
    display_name = ma.fields.String(required=True)
    browser = ma.fields.Boolean(
        required=True, metadata={"description": "the worker drives a browser for it"}
    )
    description = ma.fields.String(required=True)
    fields = ma.fields.List(ma.fields.Nested(CredentialFieldSchema), required=True)
