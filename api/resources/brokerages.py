"""The brokerages and their credential schemas, so clients (the dashboard) can build forms."""

from __future__ import annotations

import inspect
from collections.abc import Callable

import marshmallow as ma
from flask.views import MethodView

from api.resources import Blueprint
from api.schemas.brokerages import BrokerageSchema
from brokers.credentials import BROKERAGES, BrokerageInfo
from brokers.credentials.schemas import MAX_STARTING_CASH, MAX_VALUE_LENGTH

blp = Blueprint(
    "brokerages",
    __name__,
    url_prefix="/api/v1/brokerages",
    description="Brokerages and the credential fields of each",
)

# Field names that hold a secret: typed into a masked input.
_SECRET_WORDS = ("password", "secret", "token", "pin")


@blp.route("/")
class BrokerageList(MethodView):
    @blp.response(200, BrokerageSchema(many=True))
    def get(self):
        """Every brokerage with its credential fields: name, required, secret, rule."""
        return [describe(info) for _, info in sorted(BROKERAGES.items())]


def describe(info: BrokerageInfo) -> dict:
    schema = info.schema()
    return {
        "name": info.name,
        "display_name": info.display_name,
        "browser": info.browser,
        "description": inspect.cleandoc(info.schema.__doc__ or "")
        .replace("\n", " ")
        .replace("``", ""),
        "fields": [_field(name, schema.fields[name]) for name in info.fields],
    }


def _field(name: str, field: ma.fields.Field) -> dict:
    rules = [m for m in map(_message, _validators(field)) if m]
    if isinstance(field, ma.fields.Decimal):
        rules.insert(0, f"a decimal number above 0 and at most {MAX_STARTING_CASH}")
    else:
        rules.append(f"at most {MAX_VALUE_LENGTH} characters, no ':' or ','")
    rules.insert(0, "required" if field.required else "optional")
    return {
        "name": name,
        "required": field.required,
        "secret": any(word in name for word in _SECRET_WORDS),
        "rule": "; ".join(rules),
    }


def _validators(field: ma.fields.Field) -> list[Callable]:
    return list(getattr(field, "validators", []) or [])


def _message(validator: Callable) -> str:
    """The fixed message of a ``brokers.credentials.schemas._rule`` validator, if it has one."""
    try:
        message = inspect.getclosurevars(validator).nonlocals.get("message")
    except TypeError:
        return ""
    return message if isinstance(message, str) else ""
