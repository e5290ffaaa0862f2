"""The watchlist: which symbols and bar intervals beat pulls, kept in Redis.

Beat reads it at every run of the market entries, so ``PUT /api/v1/watchlist``
takes effect on the running beat without a restart. Until one is set, the
``WATCHLIST_SYMBOLS`` / ``WATCHLIST_INTERVALS`` settings are the watchlist.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import redis

from core import keys
from core.errors import InvalidRequest
from core.quotes import clean_symbol

# Bar intervals beat can pull (the providers' ``ingest.providers.base.INTERVALS``).
INTERVALS = ("1m", "5m", "15m", "30m", "1h", "1d")
MAX_SYMBOLS = 200


@dataclass(frozen=True)
class Watchlist:
    symbols: tuple[str, ...]
    intervals: tuple[str, ...]

    def to_dict(self) -> dict:
        return {"symbols": list(self.symbols), "intervals": list(self.intervals)}


def check(symbols, intervals) -> Watchlist:
    """A watchlist from what a user sent: symbols upper-cased, duplicates dropped.

    Raises:
        InvalidRequest: a symbol is not a ticker, an interval is unknown, too many symbols.
    """
    errors: dict[str, list[str]] = {}
    clean = []
    for symbol in symbols:
        text = clean_symbol(symbol)
        if text is None:
            errors.setdefault("symbols", []).append(f"{symbol!r} is not a ticker")
        elif text not in clean:
            clean.append(text)
    if len(clean) > MAX_SYMBOLS:
        errors.setdefault("symbols", []).append(f"at most {MAX_SYMBOLS} symbols")
    bad = [i for i in intervals if i not in INTERVALS]
    if bad:
        errors["intervals"] = [f"unknown {bad!r}: must be among {', '.join(INTERVALS)}"]
    if errors:
        raise InvalidRequest("invalid watchlist", errors=errors)
    return Watchlist(tuple(clean), tuple(dict.fromkeys(intervals)))


class WatchlistStore:
    def __init__(self, connection: redis.Redis, default: Watchlist) -> None:
        self.connection = connection
        self.default = default

    def get(self) -> Watchlist:
        data = self.connection.hgetall(keys.watchlist())
        if not data:
            return self.default
        return Watchlist(
            tuple(json.loads(data.get("symbols", "[]"))),
            tuple(json.loads(data.get("intervals", "[]"))),
        )

    def set(self, watchlist: Watchlist) -> Watchlist:
        self.connection.hset(
            keys.watchlist(),
            mapping={
                "symbols": json.dumps(list(watchlist.symbols)),
                "intervals": json.dumps(list(watchlist.intervals)),
            },
        )
        return watchlist
