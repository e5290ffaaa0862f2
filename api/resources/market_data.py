from __future__ import annotations

from flask.views import MethodView

from api import deps
from api.resources import Blueprint
from api.schemas.market_data import QuoteSchema, QuoteUpdateSchema
from core.quotes import normalise_symbol

blp = Blueprint(
    "market_data", __name__, url_prefix="/api/v1/market-data", description="Last quotes"
)


@blp.route("/<string:symbol>")
class QuoteItem(MethodView):
    @blp.response(200, QuoteSchema)
    @blp.alt_response(404, description="No quote for the symbol yet")
    @blp.alt_response(422, description="The symbol is not a ticker")
    def get(self, symbol):
        """The symbol's last quote."""
        return deps.quotes().get(symbol)

    @blp.arguments(QuoteUpdateSchema)
    @blp.response(200, QuoteSchema)
    def put(self, data, symbol):
        """Set the symbol's last quote (paper orders fill at it)."""
        return deps.quotes().set(normalise_symbol(symbol), data["price"])
