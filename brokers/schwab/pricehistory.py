"""Which price-history requests Schwab accepts, and how a long range is split into them.

``GET /marketdata/v1/pricehistory`` takes a ``periodType`` and a
``frequencyType``/``frequency`` from a fixed table (:data:`VALID`), and
``startDate``/``endDate`` in epoch milliseconds. Minute candles come with
``periodType=day`` (whose longest period is 10 days), so a minute range is
asked for in windows of at most 10 days; daily, weekly and monthly candles with
``periodType=year`` in windows of at most 20 years. Schwab keeps 1-minute
candles for about 48 days and 5- to 30-minute candles for about nine months:
a range reaching further back is clipped to what exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

# periodType -> (valid periods, valid frequencyTypes), from Schwab's market-data OpenAPI.
VALID: dict[str, tuple[tuple[int, ...], tuple[str, ...]]] = {
    "day": ((1, 2, 3, 4, 5, 10), ("minute",)),
    "month": ((1, 2, 3, 6), ("daily", "weekly")),
    "year": ((1, 2, 3, 5, 10, 15, 20), ("daily", "weekly", "monthly")),
    "ytd": ((1,), ("daily", "weekly")),
}
FREQUENCIES: dict[str, tuple[int, ...]] = {
    "minute": (1, 5, 10, 15, 30),
    "daily": (1,),
    "weekly": (1,),
    "monthly": (1,),
}


@dataclass(frozen=True)
class Frequency:
    """How Schwab is asked for one kind of candle."""

    period_type: str
    frequency_type: str
    frequency: int
    window: timedelta  # the longest range one request may cover
    reach: timedelta | None  # how far back Schwab keeps these candles (None: decades)


MINUTE_WINDOW = timedelta(days=10)
YEAR_WINDOW = timedelta(days=365 * 20)
ONE_MINUTE_REACH = timedelta(days=48)
INTRADAY_REACH = timedelta(days=270)

CANDLES: dict[str, Frequency] = {
    "1m": Frequency("day", "minute", 1, MINUTE_WINDOW, ONE_MINUTE_REACH),
    "5m": Frequency("day", "minute", 5, MINUTE_WINDOW, INTRADAY_REACH),
    "10m": Frequency("day", "minute", 10, MINUTE_WINDOW, INTRADAY_REACH),
    "15m": Frequency("day", "minute", 15, MINUTE_WINDOW, INTRADAY_REACH),
    "30m": Frequency("day", "minute", 30, MINUTE_WINDOW, INTRADAY_REACH),
    "daily": Frequency("year", "daily", 1, YEAR_WINDOW, None),
    "weekly": Frequency("year", "weekly", 1, YEAR_WINDOW, None),
    "monthly": Frequency("year", "monthly", 1, YEAR_WINDOW, None),
}


def is_valid(
    period_type: str, frequency_type: str, frequency: int, period: int | None = None
) -> bool:
    """Whether Schwab accepts this combination."""
    if period_type not in VALID:
        return False
    periods, frequency_types = VALID[period_type]
    return (
        frequency_type in frequency_types
        and frequency in FREQUENCIES[frequency_type]
        and (period is None or period in periods)
    )


def epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def from_epoch_ms(ms: int | float) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


@dataclass(frozen=True)
class Window:
    """One request: candles starting in ``[start, end)``."""

    start: datetime
    end: datetime

    def params(self, symbol: str, candles: Frequency, *, extended_hours: bool) -> dict:
        return {
            "symbol": symbol,
            "periodType": candles.period_type,
            "frequencyType": candles.frequency_type,
            "frequency": candles.frequency,
            "startDate": epoch_ms(self.start),
            "endDate": epoch_ms(self.end),
            "needExtendedHoursData": "true" if extended_hours else "false",
            "needPreviousClose": "false",
        }


def plan(
    candles: Frequency, start: datetime, end: datetime, now: datetime | None = None
) -> list[Window]:
    """The requests that cover ``[start, end)``, oldest first; none when nothing exists there.

    The start is clipped to how far back Schwab keeps these candles, the end to now.
    """
    now = now or datetime.now(UTC)
    end = min(end, now)
    if candles.reach is not None:
        start = max(start, now - candles.reach)
    windows = []
    while start < end:
        upto = min(end, start + candles.window)
        windows.append(Window(start, upto))
        start = upto
    return windows
