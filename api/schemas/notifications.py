from __future__ import annotations

import re

import marshmallow as ma

from api.schemas.common import StrictSchema
from core.models import NAME_PATTERN, NAME_RULE
from core.notifications import Event, TargetKind

KINDS = [k.value for k in TargetKind]
EVENTS = [e.value for e in Event]
# code_needed is accepted (and stored) but not sent yet; see the README.
DEFAULT_EVENTS = [Event.JOB_FINISHED.value, Event.UNKNOWN_RESULT.value, Event.ACCOUNT_FAILED.value]
BOT_TOKEN = re.compile(r"^[0-9]{1,20}:[A-Za-z0-9_-]{20,100}$")
CHAT_ID = re.compile(r"^(-?[0-9]{1,20}|@[A-Za-z][A-Za-z0-9_]{4,31})$")
_NEEDS = {
    TargetKind.WEBHOOK.value: ("url",),
    TargetKind.DISCORD.value: ("url",),
    TargetKind.TELEGRAM.value: ("bot_token", "chat_id"),
}
_DESTINATION_FIELDS = ("url", "bot_token", "chat_id")


class ChatId(ma.fields.String):
    """A Telegram chat id: an integer (JSON number or string) or an ``@channel`` name."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        return super()._deserialize(value, attr, data, **kwargs)


class NotificationCreateSchema(StrictSchema):
    kind = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(KINDS),
        metadata={"description": "webhook (signed JSON POST), discord or telegram"},
    )
    group = ma.fields.String(
        load_default="",
        validate=ma.validate.Regexp(NAME_PATTERN, error=f"must be {NAME_RULE}"),
        metadata={"description": "the group whose events it gets; omit for the whole fleet"},
    )
    events = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(EVENTS)),
        load_default=lambda: list(DEFAULT_EVENTS),
        validate=ma.validate.Length(min=1, error="name at least one event"),
        metadata={"description": f"default: {', '.join(DEFAULT_EVENTS)}"},
    )
    url = ma.fields.Url(
        schemes={"http", "https"},
        require_tld=False,
        validate=ma.validate.Length(max=2000),
        metadata={"description": "webhook and discord: where to POST (kept encrypted)"},
    )
    bot_token = ma.fields.String(
        validate=ma.validate.Regexp(BOT_TOKEN, error="must look like 123456:ABC-DEF… (BotFather)"),
        metadata={"description": "telegram: the bot's token (kept encrypted)"},
    )
    chat_id = ChatId(
        validate=ma.validate.Regexp(CHAT_ID, error="must be a chat's number or an @channel name"),
        metadata={"description": "telegram: the chat to write to"},
    )

    @ma.validates_schema
    def _fields_of_kind(self, data, **_kwargs) -> None:
        needed = _NEEDS.get(data.get("kind"))
        if needed is None:
            return  # the kind's own error says what is wrong
        errors = {name: ["required for this kind"] for name in needed if not data.get(name)}
        errors |= {
            name: [f"not used by {data['kind']} targets"]
            for name in _DESTINATION_FIELDS
            if name not in needed and name in data
        }
        if errors:
            raise ma.ValidationError(errors)


class NotificationQuerySchema(StrictSchema):
    group = ma.fields.String(
        metadata={"description": "only this group's targets; empty for the fleet-wide ones"}
    )


class NotificationSchema(ma.Schema):
    id = ma.fields.String(required=True)
    kind = ma.fields.String(required=True)
    group = ma.fields.String(allow_none=True, metadata={"description": "null: fleet-wide"})
    events = ma.fields.List(ma.fields.String(), required=True)
    destination = ma.fields.String(
        required=True, metadata={"description": "masked: the URL's host, an id's last characters"}
    )
    created_at = ma.fields.DateTime(required=True)


class NotificationCreatedSchema(NotificationSchema):
    signing_secret = ma.fields.String(
        metadata={
            "description": "webhook only, shown this once: verify X-Tradefleet-Signature "
            "(t=<unix>,v1=<hex HMAC-SHA256 of '<t>.<body>'>) with it"
        }
    )


class NotificationTestSchema(ma.Schema):
    delivery = ma.fields.String(required=True, metadata={"description": "the delivery's id"})
    queue = ma.fields.String(required=True)
