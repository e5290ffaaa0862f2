"""Market data: last quotes, stored bars, and the watchlist beat pulls."""

from __future__ import annotations

from datetime import timedelta

from flask.views import MethodView
from flask_smorest import Page

from api import deps
from api.resources import Blueprint
from api.schemas.market import BarQuerySchema, BarSchema, WatchlistSchema
from api.schemas.market_data import QuoteSchema, QuoteUpdateSchema
from core import watchlist
from core.errors import InvalidRequest, ServiceUnavailable
from core.models import utcnow
from core.quotes import normalise_symbol

blp = Blueprint(
    "market_data",
    __name__,
    url_prefix="/api/v1",
    description="Last quotes, stored bars and the watchlist",
)

HISTORY_OFF = (
    "market history is off: set INFLUX_URL (make up starts a private influxd when the "
    "binary is installed; docker compose runs InfluxDB 2)"
)


@blp.route("/market-data")
class QuoteList(MethodView):
    @blp.response(200, QuoteSchema(many=True))
    def get(self):
        """Every symbol's last quote, by symbol."""
        return deps.quotes().all()


@blp.route("/market-data/<string:symbol>")
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
        """Set the symbol's last quote by hand (paper orders fill at it; source `manual`)."""
        return deps.quotes().set(normalise_symbol(symbol), data["price"])


class _StoredBars:
    """Bars in InfluxDB that flask-smorest's ``Page`` can count and slice lazily."""

    def __init__(self, store, symbol: str, query: dict) -> None:
        self.store, self.symbol, self.interval = store, symbol, query["interval"]
        self.end = query.get("end") or utcnow()
        self.start = query.get("start") or self.end - timedelta(days=1)
        if self.start >= self.end:
            raise InvalidRequest("start must be before end", errors={"start": ["after end"]})
        self._count: int | None = None

    def __len__(self) -> int:
        if self._count is None:
            self._count = self.store.count_bars(self.symbol, self.interval, self.start, self.end)
        return self._count

    def __getitem__(self, window: slice):
        first = window.start or 0
        if first >= len(self):
            return []
        return self.store.bars(
            self.symbol,
            self.interval,
            self.start,
            self.end,
            limit=(window.stop or first) - first,
            offset=first,
        )


@blp.route("/market-data/<string:symbol>/bars")
class BarList(MethodView):
    @blp.arguments(BarQuerySchema, location="query")
    @blp.response(200, BarSchema(many=True))
    @blp.paginate(Page, page_size=100, max_page_size=5000)
    @blp.alt_response(503, description="Market history is off (no INFLUX_URL) or unreachable")
    def get(self, query, symbol):
        """Stored bars of the symbol starting in `[start, end)` (default: the last day), oldest first."""
        store = deps.market_store()
        if store is None:
            raise ServiceUnavailable(HISTORY_OFF)
        return _StoredBars(store, normalise_symbol(symbol), query)


@blp.route("/watchlist")
class WatchlistItem(MethodView):
    @blp.response(200, WatchlistSchema)
    def get(self):
        """The symbols and bar intervals beat pulls (quotes: every symbol)."""
        return deps.watchlist().get().to_dict()

    @blp.arguments(WatchlistSchema)
    @blp.response(200, WatchlistSchema)
    @blp.alt_response(422, description="A symbol is not a ticker, or an interval is unknown")
    def put(self, data):
        """Replace the watchlist; the running beat uses it from its next pull."""
        checked = watchlist.check(data["symbols"], data["intervals"])
        return deps.watchlist().set(checked).to_dict()
