from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView

from api import deps
from api.resources import Blueprint
from api.schemas.positions import (
    AccountPositionsSchema,
    HoldingsQuerySchema,
    PositionsQuerySchema,
    SymbolHoldingsSchema,
)
from brokers.holdings_view import HoldingsView

blp = Blueprint("positions", __name__, url_prefix="/api/v1", description="Positions and holdings")


@blp.route("/groups/<string:group>/positions")
class Positions(MethodView):
    @blp.arguments(PositionsQuerySchema, location="query", unknown=ma.RAISE)
    @blp.response(200, AccountPositionsSchema(many=True))
    @blp.alt_response(404, description="No such group")
    def get(self, query, group):
        """Positions of every account of the group (paper: live ledger; others: last holdings
        read, with its time); `?symbol=` shows only that symbol's."""
        deps.groups().get(group)
        return HoldingsView(deps.connection(), deps.settings()).group_positions(
            group, query["symbol"]
        )


@blp.route("/holdings")
class Holdings(MethodView):
    @blp.arguments(HoldingsQuerySchema, location="query", unknown=ma.RAISE)
    @blp.response(200, SymbolHoldingsSchema(many=True))
    @blp.alt_response(404, description="No such group")
    def get(self, query):
        """Who holds what across the fleet: per symbol the total quantity and value and every
        account holding it (group, account, brokerage, quantity, price, where it was read and
        when); with `?symbol=`, also the active accounts that hold none of it."""
        if query["group"]:
            deps.groups().get(query["group"])
        return HoldingsView(deps.connection(), deps.settings()).fleet(
            symbol=query["symbol"], group=query["group"]
        )
