from __future__ import annotations

from decimal import Decimal

from flask.views import MethodView

from api import deps
from api.resources import Blueprint
from api.schemas.positions import AccountPositionsSchema
from brokers.paper import PaperBroker
from core.models import from_iso

blp = Blueprint("positions", __name__, url_prefix="/api/v1/groups", description="Positions")


@blp.route("/<string:group>/positions")
class Positions(MethodView):
    @blp.response(200, AccountPositionsSchema(many=True))
    @blp.alt_response(404, description="No such group")
    def get(self, group):
        """Positions of every account of the group (paper: live ledger; others: last holdings read)."""
        deps.groups().get(group)
        settings = deps.settings()
        paper = PaperBroker(
            deps.connection(), group, default_starting_cash=Decimal(settings.paper_starting_cash)
        )
        views = []
        for account in deps.accounts().list_group(group):
            if account.brokerage == "paper":
                views.append(paper.account_holdings(account.name))
            elif account.details.get("holdings"):
                held = account.details["holdings"]
                views.append(
                    {
                        "account": account.name,
                        "brokerage": account.brokerage,
                        **held,
                        "as_of": from_iso(held.get("as_of")),
                    }
                )
            else:
                views.append(
                    {"account": account.name, "brokerage": account.brokerage, "positions": []}
                )
        return views
