"""The ``synthetic`` provider: seeded random-walk bars and quotes, no account needed.

Prices are a deterministic function of (seed, symbol, time): a sum of value-noise
walks at five time scales (five minutes to a month) around a base price taken
from the symbol. So the same bar asked for twice is the same bar (a re-pull
writes nothing new), quotes move continuously and agree with the bars, and two
processes with the same ``MARKET_SEED`` see the same market. Every bar and
quote is tagged ``source=synthetic``.
"""

from __future__ import annotations

import hashlib
import math
import struct
from datetime import datetime, timedelta
from decimal import Decimal

import redis

from core.models import utcnow
from core.quotes import Quote
from core.settings import Settings
from ingest.providers.base import Bar, align, check_interval

NAME = "synthetic"
CENT = Decimal("0.01")
# (period in seconds, amplitude in log-price) of each walk component.
_SCALES = ((300, 0.002), (3600, 0.006), (86400, 0.015), (7 * 86400, 0.03), (30 * 86400, 0.06))
# Price samples per bar for its high and low.
_SAMPLES = 4


def _unit(*parts: object) -> float:
    """A deterministic number in [-1, 1) from ``parts``."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return struct.unpack(">Q", digest)[0] / 2**63 - 1.0


class SyntheticProvider:
    """Deterministic random-walk market data (see the module docstring)."""

    name = NAME

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self._knots: dict[tuple[str, int, int], float] = {}

    def base_price(self, symbol: str) -> float:
        """Between 20 and 500, fixed per symbol and seed."""
        return 20.0 + (_unit(self.seed, symbol, "base") + 1.0) * 240.0

    def _knot(self, symbol: str, scale: int, index: int) -> float:
        key = (symbol, scale, index)
        value = self._knots.get(key)
        if value is None:
            if len(self._knots) > 100_000:
                self._knots.clear()
            value = self._knots[key] = _unit(self.seed, symbol, scale, index)
        return value

    def price_at(self, symbol: str, moment: datetime) -> float:
        t = moment.timestamp()
        log_move = 0.0
        for period, amplitude in _SCALES:
            x = t / period
            i = math.floor(x)
            f = x - i
            f = f * f * (3.0 - 2.0 * f)  # smoothstep between knots
            a, b = self._knot(symbol, period, i), self._knot(symbol, period, i + 1)
            log_move += amplitude * (a + (b - a) * f)
        return self.base_price(symbol) * math.exp(log_move)

    def bars(self, symbol: str, interval: str, start: datetime, end: datetime) -> list[Bar]:
        step = check_interval(interval)
        moment = align(start, interval)
        if moment < start:
            moment += step
        found = []
        while moment < end:
            found.append(self._bar(symbol, interval, moment, step))
            moment += step
        return found

    def _bar(self, symbol: str, interval: str, start: datetime, step: timedelta) -> Bar:
        samples = [
            self.price_at(symbol, start + step * (k / _SAMPLES)) for k in range(_SAMPLES + 1)
        ]
        wick = 1.0 + abs(_unit(self.seed, symbol, interval, start.timestamp(), "wick")) * 0.001
        open_, close = samples[0], samples[-1]
        high, low = max(samples) * wick, min(samples) / wick
        minutes = max(1.0, step.total_seconds() / 60)
        volume = int((1.5 + _unit(self.seed, symbol, start.timestamp(), "vol")) * 10_000 * minutes)
        return Bar(
            symbol=symbol,
            interval=interval,
            start=start,
            open=_cents(open_),
            high=_cents(high),
            low=_cents(low),
            close=_cents(close),
            volume=volume,
            source=NAME,
        )

    def quote(self, symbol: str) -> Quote:
        now = utcnow()
        return Quote(
            symbol=symbol, price=_cents(self.price_at(symbol, now)), as_of=now, source=NAME
        )


def _cents(value: float) -> Decimal:
    return Decimal(repr(value)).quantize(CENT)


def create(settings: Settings, connection: redis.Redis | None = None) -> SyntheticProvider:
    return SyntheticProvider(seed=settings.market_seed)
