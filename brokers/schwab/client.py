"""The Schwab market-data client: price history and quotes with the stored access token.

It never refreshes a token: it reads the one the refresher keeps in Redis
(:class:`~brokers.schwab.tokens.TokenStore`). A 401 drops that token (unless
the refresher already replaced it) and tries once more with whatever Redis
holds then; without a token it raises :class:`SchwabNotAuthorized`. Every call
takes a token from the shared :class:`~brokers.schwab.ratelimit.TokenBucket`;
429 and 5xx answers are retried after ``Retry-After`` (or an exponential
backoff), within bounds, then raise :class:`SchwabUnavailable`.
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import requests

from brokers.schwab import pricehistory
from brokers.schwab.errors import (
    SchwabNotAuthorized,
    SchwabRequestError,
    SchwabUnavailable,
)
from brokers.schwab.pricehistory import CANDLES, from_epoch_ms
from brokers.schwab.ratelimit import TokenBucket
from brokers.schwab.tokens import TokenStore

log = logging.getLogger(__name__)

TIMEOUT = (5, 30)  # connect, read (s)
MAX_ATTEMPTS = 5  # per request, counting the first
MAX_RETRY_AFTER = 60.0  # a longer Retry-After is not waited for: the call fails at once
BACKOFF_BASE = 0.5  # s, doubled per attempt when Schwab sends no Retry-After
BACKOFF_CAP = 8.0


@dataclass(frozen=True)
class Candle:
    """One price-history candle; ``start`` is its opening time as Schwab sent it (UTC)."""

    start: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: int


@dataclass(frozen=True)
class SchwabQuote:
    symbol: str
    price: Decimal
    as_of: datetime


def retry_after(response: requests.Response) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date), if any."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


def _decimal(value) -> Decimal:
    return Decimal(str(value))


class SchwabClient:
    """Market data from Schwab for every worker, under one rate and one token."""

    def __init__(
        self,
        base_url: str,
        store: TokenStore,
        bucket: TokenBucket,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.store = store
        self.bucket = bucket
        self.session = session or requests.Session()
        self.sleep = sleep

    # Calls -----------------------------------------------------------------

    def price_history(
        self,
        symbol: str,
        candles: str,
        start: datetime,
        end: datetime,
        *,
        extended_hours: bool = False,
    ) -> list[Candle]:
        """Candles of ``symbol`` starting in ``[start, end)``, oldest first, each once.

        ``candles`` is a key of :data:`~brokers.schwab.pricehistory.CANDLES`
        (``1m``, ``5m``, ``10m``, ``15m``, ``30m``, ``daily``, ``weekly``,
        ``monthly``). A long range becomes several requests; the part of it
        older than Schwab keeps is left out.

        Raises:
            SchwabRequestError: an unknown ``candles``, or Schwab refused the request.
            SchwabNotAuthorized: no access token, or Schwab refused it.
            SchwabUnavailable: Schwab did not answer within the retries.
        """
        frequency = CANDLES.get(candles)
        if frequency is None:
            raise SchwabRequestError(
                f"Schwab has no {candles!r} candles (one of {', '.join(CANDLES)})"
            )
        windows = pricehistory.plan(frequency, start, end)
        if not windows:
            log.info("schwab: %s %s candles before %s are not kept", symbol, candles, end)
        seen: dict[datetime, Candle] = {}
        for window in windows:
            body = self._get(
                "/marketdata/v1/pricehistory",
                window.params(symbol, frequency, extended_hours=extended_hours),
            )
            for raw in body.get("candles") or ():
                candle = self._candle(raw)
                if window.start <= candle.start < window.end:
                    seen.setdefault(candle.start, candle)
        return [seen[moment] for moment in sorted(seen)]

    def quotes(self, symbols: Iterable[str]) -> dict[str, SchwabQuote]:
        """The latest quote of each symbol Schwab knows (unknown ones are left out).

        Raises:
            SchwabNotAuthorized, SchwabUnavailable, SchwabRequestError: as for price history.
        """
        wanted = list(symbols)
        body = self._get("/marketdata/v1/quotes", {"symbols": ",".join(wanted), "fields": "quote"})
        found = {}
        for symbol in wanted:
            entry = body.get(symbol)
            quote = entry.get("quote") if isinstance(entry, dict) else None
            if not isinstance(quote, dict):
                continue
            price = quote.get("lastPrice") or quote.get("mark")
            moment = quote.get("tradeTime") or quote.get("quoteTime")
            if price is None or moment is None:
                continue
            found[symbol] = SchwabQuote(symbol, _decimal(price), from_epoch_ms(moment))
        return found

    # Transport ---------------------------------------------------------------

    @staticmethod
    def _candle(raw: dict) -> Candle:
        try:
            return Candle(
                start=from_epoch_ms(raw["datetime"]),
                open=_decimal(raw["open"]),
                high=_decimal(raw["high"]),
                low=_decimal(raw["low"]),
                close=_decimal(raw["close"]),
                volume=int(raw.get("volume") or 0),
            )
        except (KeyError, TypeError, ValueError, ArithmeticError):
            raise SchwabUnavailable("Schwab sent a malformed candle") from None

    def _get(self, path: str, params: dict) -> dict:
        """GET with the stored token, the shared bucket and bounded retries."""
        url = self.base_url + path
        tried_new_token = False
        attempt = 0
        while True:
            token, sealed = self.store.read_access()
            self.bucket.take()
            try:
                response = self.session.get(
                    url,
                    params=params,
                    headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
                    timeout=TIMEOUT,
                )
            except requests.RequestException as exc:
                response = None
                problem = type(exc).__name__
            else:
                problem = f"HTTP {response.status_code}"
            if response is not None and response.status_code == 200:
                try:
                    return response.json()
                except ValueError:
                    raise SchwabUnavailable(f"Schwab answered {path} with no JSON") from None
            if response is not None and response.status_code == 401:
                self.store.drop_access(sealed)
                if tried_new_token:
                    self.store.record_error(f"market data: access token refused ({path})")
                    raise SchwabNotAuthorized(
                        "Schwab refused the access token twice: the refresher replaces it "
                        "within a minute; `GET /api/v1/brokers/schwab/status` tells whether "
                        "a login is needed"
                    )
                tried_new_token = True
                continue  # whatever Redis holds now: the refresher may have replaced it
            retriable = (
                response is None or response.status_code == 429 or response.status_code >= 500
            )
            if not retriable:
                raise SchwabRequestError(f"Schwab refused {path}: {problem}")
            attempt += 1
            wait = retry_after(response) if response is not None else None
            if wait is None:
                wait = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempt - 1))
            if attempt >= MAX_ATTEMPTS or wait > MAX_RETRY_AFTER:
                raise SchwabUnavailable(
                    f"Schwab answered {path} with {problem} {attempt} times"
                    + (f" and asks to wait {wait:g}s" if wait > MAX_RETRY_AFTER else "")
                    + ": try again later"
                )
            log.info("schwab: %s answered %s; retrying in %.1fs", path, problem, wait)
            self.sleep(wait)
