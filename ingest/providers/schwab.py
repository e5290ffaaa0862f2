"""The ``schwab`` provider: bars from Schwab's price history, quotes from its quotes call.

It uses :class:`brokers.schwab.SchwabClient`, which reads the access token the
beat refresher keeps in Redis (never refreshing one itself), shares one rate
bucket with every worker and retries 429/5xx within bounds. Schwab has no
hourly candles: ``1h`` bars are built from 30-minute candles. Daily candles,
stamped at midnight in New York or Chicago, are aligned to the UTC day like
every other provider's. Schwab keeps 1-minute candles for about 48 days and 5-
to 30-minute ones for about nine months: older parts of a range come back empty.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal

import redis

import brokers.schwab
from brokers.schwab import (
    Candle,
    SchwabClient,
    SchwabNotAuthorized,
    SchwabRequestError,
    SchwabUnavailable,
)
from core import money
from core.connection import redis_client
from core.quotes import Quote
from core.settings import Settings
from ingest.providers.base import Bar, ProviderError, ProviderUnavailable, align, check_interval

NAME = "schwab"
_PRICE_STEP = Decimal(1).scaleb(-money.PRICE_PLACES)
# Our interval -> Schwab's candles it is made of.
_CANDLES = {"1m": "1m", "5m": "5m", "15m": "15m", "30m": "30m", "1h": "30m", "1d": "daily"}


def _price(value: Decimal) -> Decimal:
    return value.quantize(_PRICE_STEP, rounding=ROUND_HALF_EVEN)


class SchwabProvider:
    name = NAME

    def __init__(self, client: SchwabClient) -> None:
        self.client = client

    def bars(self, symbol: str, interval: str, start: datetime, end: datetime) -> list[Bar]:
        """Bars of ``symbol`` whose start lies in ``[start, end)``, oldest first.

        Raises:
            ProviderError: an interval Schwab cannot serve, or Schwab refused the request.
            ProviderUnavailable: no access token, or Schwab did not answer: retry later.
        """
        check_interval(interval)
        candles = self._call(
            self.client.price_history, symbol, _CANDLES[interval], align(start, interval), end
        )
        bars = _merge(symbol, interval, candles)
        return [bar for bar in bars if start <= bar.start < end]

    def quote(self, symbol: str) -> Quote:
        """Schwab's last trade price of ``symbol``.

        Raises:
            ProviderError: Schwab does not know the symbol.
            ProviderUnavailable: as for :meth:`bars`.
        """
        found = self._call(self.client.quotes, [symbol])
        quote = found.get(symbol)
        if quote is None:
            raise ProviderError(
                f"Schwab has no quote for {symbol!r}", errors={"symbol": ["unknown to Schwab"]}
            )
        return Quote(symbol=symbol, price=_price(quote.price), as_of=quote.as_of, source=NAME)

    @staticmethod
    def _call(method, *args):
        try:
            return method(*args)
        except (SchwabUnavailable, SchwabNotAuthorized) as exc:
            raise ProviderUnavailable(exc.message) from None
        except SchwabRequestError as exc:
            raise ProviderError(exc.message) from None


def _merge(symbol: str, interval: str, candles: Iterable[Candle]) -> list[Bar]:
    """One bar per ``interval`` from candles (several per bar for ``1h``), oldest first."""
    bars: dict[datetime, Bar] = {}
    for candle in candles:
        moment = align(candle.start, interval)
        bar = bars.get(moment)
        if bar is None:
            bars[moment] = Bar(
                symbol=symbol,
                interval=interval,
                start=moment,
                open=_price(candle.open),
                high=_price(candle.high),
                low=_price(candle.low),
                close=_price(candle.close),
                volume=candle.volume,
                source=NAME,
            )
        else:
            bars[moment] = Bar(
                symbol=symbol,
                interval=interval,
                start=moment,
                open=bar.open,
                high=max(bar.high, _price(candle.high)),
                low=min(bar.low, _price(candle.low)),
                close=_price(candle.close),
                volume=bar.volume + candle.volume,
                source=NAME,
            )
    return [bars[moment] for moment in sorted(bars)]


def create(settings: Settings, connection: redis.Redis | None = None) -> SchwabProvider:
    connection = connection or redis_client(settings.redis_url)
    return SchwabProvider(brokers.schwab.market_client(connection, settings))
