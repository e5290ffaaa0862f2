"""Pulling bars and quotes from a provider into the store and the quote cache.

* :func:`pull_bars` is what beat runs per watchlist symbol and interval: it
  resumes after the newest stored bar, so a beat that was down fills the gap
  (up to ``MAX_GAP_BARS`` bars), and asks only for complete bars.
* :func:`refresh_quotes` puts each symbol's latest quote into the Redis quote
  cache (published on pub/sub) and, with a store, into ``quotes``.
* :func:`backfill` fetches a long range in chunks with a progress callback; its
  progress is kept in Redis, so a run that was stopped resumes where it was,
  and since the store's writes are idempotent a repeat writes nothing new.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import redis

from core import keys
from core.models import from_iso, to_iso, utcnow
from core.quotes import Quote, QuoteBook
from ingest.providers.base import Provider, ProviderError, align, check_interval
from ingest.store import MarketStore

log = logging.getLogger(__name__)

FIRST_PULL_BARS = 500  # a symbol and interval never pulled before starts this far back
MAX_GAP_BARS = 20_000  # the most one pull fills after an outage
BACKFILL_CHUNK_BARS = 5_000
PULL_LOCK_SECONDS = 300


@dataclass(frozen=True)
class PullResult:
    symbol: str
    interval: str
    start: datetime | None  # first bar asked for (None: nothing to do)
    end: datetime | None
    written: int

    def to_dict(self) -> dict:
        return {
            "symbol": self.symbol,
            "interval": self.interval,
            "start": to_iso(self.start),
            "end": to_iso(self.end),
            "written": self.written,
        }


def pull_bars(
    provider: Provider,
    store: MarketStore,
    connection: redis.Redis,
    symbol: str,
    interval: str,
    *,
    now: datetime | None = None,
) -> PullResult:
    """Fetch the complete bars since the newest stored one and write them.

    Raises:
        ProviderError: the provider cannot serve this symbol or interval.
        InfluxError: the store refused the write (or is unavailable).
    """
    step = check_interval(interval)
    end = align(now or utcnow(), interval)  # the bar in progress is not complete yet
    lock = keys.market_pull(symbol, interval)
    if not connection.set(lock, "1", nx=True, ex=PULL_LOCK_SECONDS):
        log.info("pull %s %s: another pull is running", symbol, interval)
        return PullResult(symbol, interval, None, None, 0)
    try:
        last = store.last_bar_start(symbol, interval)
        start = end - step * FIRST_PULL_BARS if last is None else last + step
        start = max(start, end - step * MAX_GAP_BARS)
        if start >= end:
            return PullResult(symbol, interval, start, end, 0)
        bars = provider.bars(symbol, interval, start, end)
        written = store.write_bars(bars)
        if bars:
            connection.set(keys.market_last_bar(symbol, interval), to_iso(bars[-1].start))
        return PullResult(symbol, interval, start, end, written)
    finally:
        connection.delete(lock)


def refresh_quotes(
    provider: Provider,
    connection: redis.Redis,
    symbols: list[str],
    store: MarketStore | None = None,
) -> list[Quote]:
    """Latest quote of each symbol into the quote cache (and the store, when there is one).

    A symbol the provider cannot serve is logged and skipped.
    """
    quotes = []
    for symbol in symbols:
        try:
            quotes.append(provider.quote(symbol))
        except ProviderError as exc:
            log.warning("quote %s from %s: %s", symbol, provider.name, exc.message)
    if quotes:
        QuoteBook(connection).set_many(quotes)
        if store is not None:
            store.write_quotes(quotes)
    return quotes


def backfill(
    provider: Provider,
    store: MarketStore,
    connection: redis.Redis,
    symbol: str,
    interval: str,
    start: datetime,
    end: datetime,
    *,
    progress: Callable[[int, int], None] | None = None,
    chunk_bars: int = BACKFILL_CHUNK_BARS,
) -> int:
    """Fetch and store every bar starting in ``[start, end)``; returns bars written.

    ``progress(done, total)`` is called after each chunk, in bar slots. A run over
    the same range that was interrupted resumes after its last finished chunk.

    Raises:
        ProviderError, InfluxError: as :func:`pull_bars`.
    """
    step = check_interval(interval)
    first = align(start, interval)
    if first < start:
        first += step
    total = max(0, -(-(end - first) // step))
    marker = keys.market_backfill(
        provider.name, symbol, interval, int(start.timestamp()), int(end.timestamp())
    )
    resume = from_iso(connection.get(marker))
    cursor = max(first, resume) if resume else first
    written = 0
    if progress:
        progress(int((cursor - first) / step), total)
    while cursor < end:
        upper = min(end, cursor + step * chunk_bars)
        written += store.write_bars(provider.bars(symbol, interval, cursor, upper))
        cursor = upper
        connection.set(marker, to_iso(cursor), ex=30 * 86400)
        if progress:
            progress(int((cursor - first) / step), total)
    return written
