"""Live signals: a group's strategy subscriptions, and the signals they gave."""

from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView

from api import deps
from api.resources import Blueprint
from api.schemas.signals import (
    SignalQuerySchema,
    SignalSchema,
    SubscriptionCreateSchema,
    SubscriptionSchema,
)
from strategies.signals import SignalBook, SubscriptionBook

blp = Blueprint(
    "signals",
    __name__,
    url_prefix="/api/v1",
    description="Strategies subscribed by groups, evaluated after each bar pull",
)


@blp.route("/groups/<string:group>/strategies")
class SubscriptionList(MethodView):
    @blp.response(200, SubscriptionSchema(many=True))
    @blp.alt_response(404, description="No such group")
    def get(self, group):
        """The group's strategy subscriptions."""
        deps.groups().get(group)
        return SubscriptionBook(deps.connection()).list_group(group)

    @blp.arguments(SubscriptionCreateSchema)
    @blp.response(201, SubscriptionSchema)
    @blp.alt_response(404, description="No such group")
    def post(self, data, group):
        """Subscribe a strategy to symbols at an interval; it is evaluated after each pull of
        their bars (the watchlist must hold them). With `auto_trade`, each buy or sell
        signal submits an order (once per bar; the group's risk rules apply)."""
        deps.groups().get(group)
        quantity = data.pop("quantity") or "1"
        return SubscriptionBook(deps.connection()).create(group, quantity=quantity, **data)

    @blp.response(204)
    @blp.alt_response(404, description="No such group")
    def delete(self, group):
        """Delete every strategy subscription of the group."""
        deps.groups().get(group)
        SubscriptionBook(deps.connection()).delete(group)


@blp.route("/groups/<string:group>/strategies/<string:subscription_id>")
class SubscriptionItem(MethodView):
    @blp.response(200, SubscriptionSchema)
    @blp.alt_response(404, description="No such group or subscription")
    def get(self, group, subscription_id):
        """One strategy subscription."""
        return SubscriptionBook(deps.connection()).get(group, subscription_id)

    @blp.response(204)
    @blp.alt_response(404, description="No such group or subscription")
    def delete(self, group, subscription_id):
        """Delete one strategy subscription (its signals stay listed)."""
        SubscriptionBook(deps.connection()).delete(group, subscription_id)


@blp.route("/signals")
class SignalList(MethodView):
    @blp.arguments(SignalQuerySchema, location="query", unknown=ma.RAISE)
    @blp.response(200, SignalSchema(many=True))
    def get(self, query):
        """Signals, newest bar first, of one group (or every subscribed group), optionally
        of one symbol."""
        book = SignalBook(deps.connection())
        groups = [query["group"]] if query.get("group") else book.groups()
        return book.list(groups, query.get("symbol"), query["limit"])
