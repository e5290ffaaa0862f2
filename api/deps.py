"""Per-app resources for request handlers: settings, Redis, registries."""

from __future__ import annotations

import redis
from flask import Flask, current_app

from core.accounts import AccountRegistry
from core.apikeys import ApiKeyStore
from core.codes import CodeRelay
from core.connection import redis_client
from core.groups import GroupRegistry
from core.jobs import JobRegistry
from core.quotes import QuoteBook
from core.settings import Settings
from core.vault import Vault
from core.watchlist import Watchlist, WatchlistStore
from ingest.store import MarketStore, open_store
from tasks.operations import Operations

_EXTENSION = "tradefleet"


def init_app(app: Flask, settings: Settings) -> None:
    app.extensions[_EXTENSION] = settings


def settings() -> Settings:
    return current_app.extensions[_EXTENSION]


def connection() -> redis.Redis:
    return redis_client(settings().redis_url)


def groups() -> GroupRegistry:
    return GroupRegistry(connection())


def accounts() -> AccountRegistry:
    return AccountRegistry(connection())


def jobs() -> JobRegistry:
    return JobRegistry(connection())


def code_relay() -> CodeRelay:
    return CodeRelay(connection())


def vault() -> Vault:
    return Vault(connection(), settings().secret_keys)


def quotes() -> QuoteBook:
    return QuoteBook(connection())


def watchlist() -> WatchlistStore:
    current = settings()
    return WatchlistStore(
        connection(), Watchlist(current.watchlist_symbols, current.watchlist_intervals)
    )


def market_store() -> MarketStore | None:
    """The InfluxDB store (``None`` when ``INFLUX_URL`` is unset), opened once per app.

    Raises:
        InfluxUnavailable: configured but not answering (the API answers 503).
    """
    cache = current_app.extensions.setdefault(_EXTENSION + ".market", {})
    if "store" not in cache:
        cache["store"] = open_store(settings())
    return cache["store"]


def operations() -> Operations:
    """What clients can ask of the fleet (shared with beat and strategies)."""
    return Operations(connection(), settings())


def api_keys() -> ApiKeyStore:
    return ApiKeyStore(connection())
