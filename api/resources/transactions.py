from __future__ import annotations

from flask.views import MethodView

from api import deps
from api.resources import Blueprint, accepted
from api.schemas.common import JobAcceptedSchema
from api.schemas.transactions import IdempotencyHeaderSchema, TransactionCreateSchema
from core.models import OrderRequest

blp = Blueprint(
    "transactions",
    __name__,
    url_prefix="/api/v1/groups/<string:group>",
    description="Orders and holdings of a group",
)


@blp.route("/transactions")
class Transactions(MethodView):
    @blp.arguments(TransactionCreateSchema)
    @blp.arguments(IdempotencyHeaderSchema, location="headers")
    @blp.response(202, JobAcceptedSchema)
    @blp.alt_response(404, description="No such group")
    def post(self, data, headers, group):
        """Queue an order on every active account of the group.

        `dry_run` defaults to **true**: send `"dry_run": false` to place real
        orders. With an `Idempotency-Key` header, repeating the request returns
        the first job instead of queueing another.
        """
        submitted = deps.operations().submit_order(
            group, OrderRequest.from_dict(data), headers.get("idempotency_key")
        )
        return accepted(submitted)


@blp.route("/holdings/refresh")
class HoldingsRefresh(MethodView):
    @blp.response(202, JobAcceptedSchema)
    @blp.alt_response(404, description="No such group")
    def post(self, group):
        """Queue a holdings read of every active account."""
        return accepted(deps.operations().refresh_holdings(group))
