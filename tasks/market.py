"""Market-data tasks: bar pulls per watchlist symbol and interval, quotes, operations metrics.

Beat has one entry per kind of work (``tasks.beat``); the bar entry fans out over
the watchlist read from Redis when it runs, so ``PUT /api/v1/watchlist`` takes
effect on the running beat without a restart. Everything runs on the ``market``
queue; the work itself is in ``ingest.pulls`` and ``ingest.metrics``.
"""

from __future__ import annotations

import functools
import logging

from core.settings import Settings
from core.watchlist import Watchlist, WatchlistStore
from ingest import metrics, pulls
from ingest.providers.base import Provider, ProviderUnavailable, get_provider
from ingest.store import InfluxUnavailable, MarketStore, open_store
from tasks import context, names, routing
from tasks.celery import app

log = logging.getLogger(__name__)

MARKET_QUEUE = "market"


def watchlist_store() -> WatchlistStore:
    settings = context.settings()
    default = Watchlist(settings.watchlist_symbols, settings.watchlist_intervals)
    return WatchlistStore(context.connection(), default)


@functools.cache
def _provider(name: str) -> Provider:
    return get_provider(name, context.settings(), context.connection())


def provider(settings: Settings) -> Provider:
    return _provider(settings.market_provider)


_store: MarketStore | None = None


def store() -> MarketStore | None:
    """This process's store (``None`` without ``INFLUX_URL``); opened once it answers."""
    global _store
    if _store is None:
        _store = open_store(context.settings())
    return _store


@app.task(name=names.PULL_WATCHLIST, ignore_result=True)
def pull_watchlist() -> int:
    """Send one bar pull per watchlist symbol and interval; returns how many were sent."""
    if not context.settings().influx_url:
        return 0  # no store: bars have nowhere to go (quotes still refresh)
    watchlist = watchlist_store().get()
    sent = 0
    for symbol in watchlist.symbols:
        for interval in watchlist.intervals:
            app.send_task(names.PULL_BARS, args=[symbol, interval], queue=MARKET_QUEUE, expires=300)
            sent += 1
    return sent


@app.task(
    name=names.PULL_BARS,
    ignore_result=True,
    autoretry_for=(ProviderUnavailable, InfluxUnavailable),
    retry_backoff=True,
    max_retries=3,
)
def pull_bars(symbol: str, interval: str) -> dict:
    """Pull one symbol and interval's bars since the newest stored one."""
    market_store = store()
    if market_store is None:
        return {}
    settings = context.settings()
    result = pulls.pull_bars(
        provider(settings), market_store, context.connection(), symbol, interval
    )
    if result.written:  # new bars: the strategies subscribed to them decide (tasks.signals)
        app.send_task(names.EVALUATE_SIGNALS, args=[symbol, interval], queue="strategies")
    return result.to_dict()


@app.task(name=names.REFRESH_QUOTES, ignore_result=True, expires=30)
def refresh_quotes() -> int:
    """Every watchlist symbol's latest quote into the quote cache (and InfluxDB)."""
    settings = context.settings()
    market_store = None
    if settings.influx_url:
        try:
            market_store = store()
        except InfluxUnavailable as exc:
            log.warning("quotes: InfluxDB unavailable, cache only: %s", exc.message)
    quotes = pulls.refresh_quotes(
        provider(settings),
        context.connection(),
        list(watchlist_store().get().symbols),
        market_store,
    )
    return len(quotes)


@app.task(
    name=names.WRITE_METRICS,
    ignore_result=True,
    expires=60,
    autoretry_for=(InfluxUnavailable,),
    max_retries=1,
)
def write_metrics() -> int:
    """Operations metrics (jobs, results, queue depths, latency) into InfluxDB."""
    market_store = store()
    if market_store is None:
        return 0
    points = metrics.collect(
        context.connection(),
        queue_prefixes=(routing.GROUP_PREFIX, routing.BROKERAGE_PREFIX),
        static_queues=routing.STATIC_QUEUES,
    )
    return market_store.write_lines(points, "s")
