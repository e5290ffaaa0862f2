"""Notification targets: webhooks, Discord and Telegram, per group or fleet-wide."""

from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView

from api import deps
from api.resources import Blueprint
from api.schemas.notifications import (
    NotificationCreatedSchema,
    NotificationCreateSchema,
    NotificationQuerySchema,
    NotificationSchema,
    NotificationTestSchema,
)
from core.notifications import Destination, Event, Target, TargetKind, TargetRegistry
from tasks import notify, routing

blp = Blueprint(
    "notifications",
    __name__,
    url_prefix="/api/v1/notifications",
    description="Where job ends, unknown outcomes and failed accounts are announced",
)


def _targets() -> TargetRegistry:
    return notify.targets(deps.connection(), deps.settings())


def _view(target: Target) -> dict:
    return {
        "id": target.id,
        "kind": target.kind.value,
        "group": target.group or None,
        "events": [e.value for e in target.events],
        "destination": target.destination,
        "created_at": target.created_at,
    }


@blp.route("")
class NotificationList(MethodView):
    @blp.arguments(NotificationQuerySchema, location="query", unknown=ma.RAISE)
    @blp.response(200, NotificationSchema(many=True))
    def get(self, query):
        """Every target (``?group=g``: that group's; ``?group=``: the fleet-wide ones)."""
        return [_view(t) for t in _targets().list_all(query.get("group"))]

    @blp.arguments(NotificationCreateSchema)
    @blp.response(201, NotificationCreatedSchema)
    def post(self, data):
        """Add a target. A webhook's ``signing_secret`` is in this answer only: keep it."""
        target, signing_secret = _targets().create(
            TargetKind(data["kind"]),
            Destination(
                url=data.get("url", ""),
                bot_token=data.get("bot_token", ""),
                chat_id=data.get("chat_id", ""),
            ),
            events=tuple(Event(e) for e in data["events"]),
            group=data["group"],
        )
        view = _view(target)
        if signing_secret:
            view["signing_secret"] = signing_secret
        return view


@blp.route("/<string:target_id>")
class NotificationItem(MethodView):
    @blp.response(200, NotificationSchema)
    @blp.alt_response(404, description="No such target")
    def get(self, target_id):
        """One target (its destination masked)."""
        return _view(_targets().get(target_id))

    @blp.response(204)
    @blp.alt_response(404, description="No such target")
    def delete(self, target_id):
        """Remove a target; deliveries already queued for it are dropped."""
        _targets().delete(target_id)


@blp.route("/<string:target_id>/test")
class NotificationTest(MethodView):
    @blp.response(202, NotificationTestSchema)
    @blp.alt_response(404, description="No such target")
    def post(self, target_id):
        """Queue a test message to the target (delivered like any other, with retries)."""
        delivery_id = notify.send_test(_targets().get(target_id))
        return {"delivery": delivery_id, "queue": routing.NOTIFICATIONS_QUEUE}
