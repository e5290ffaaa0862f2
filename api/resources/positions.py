from __future__ import annotations

from flask.views import MethodView

from api import deps
from api.resources import Blueprint
from api.schemas.positions import AccountPositionsSchema
from brokers import get_broker, traits_of
from core.models import from_iso

blp = Blueprint("positions", __name__, url_prefix="/api/v1/groups", description="Positions")


@blp.route("/<string:group>/positions")
class Positions(MethodView):
    @blp.response(200, AccountPositionsSchema(many=True))
    @blp.alt_response(404, description="No such group")
    def get(self, group):
        """Positions of every account of the group (paper: live ledger; others: last holdings read)."""
        deps.groups().get(group)
        ledgers = {}  # brokerage -> adapter, for brokerages whose ledger is read live
        views = []
        for account in deps.accounts().list_group(group):
            if traits_of(account.brokerage).keeps_ledger:
                if account.brokerage not in ledgers:
                    ledgers[account.brokerage] = get_broker(
                        account.brokerage,
                        connection=deps.connection(),
                        settings=deps.settings(),
                        group=group,
                    )
                views.append(ledgers[account.brokerage].account_holdings(account.name))
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
