"""The ``csv`` provider: OHLCV files people already have, one file per symbol.

Files live in ``MARKET_CSV_DIR``: ``<SYMBOL>.<interval>.csv`` when there is one
(``SPY.1m.csv``), else ``<SYMBOL>.csv`` (either case). The header names the
columns in any common spelling (``Date``/``Datetime``/``Timestamp``/``time``,
``Open``/``o``, ``Adj Close`` only when there is no ``Close``, ``Volume``/``vol``
...), with a separate ``Date`` and ``Time`` allowed. Times are ISO 8601 (naive
means UTC), a bare date, or epoch seconds or milliseconds. Rows finer than the
asked interval are rolled up into its bars (first open, highest high, lowest
low, last close, summed volume). A bad row stops the read with a
:class:`ProviderError` naming the file and line. The quote is the last close,
as of the end of the last bar, tagged ``source=csv``.
"""

from __future__ import annotations

import csv as csvlib
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

import redis

from core.quotes import Quote
from core.settings import Settings
from ingest.providers.base import Bar, ProviderError, align, check_interval

NAME = "csv"

_SPELLINGS = {
    "time": ("datetime", "timestamp", "time", "date", "date_time", "ts", "t"),
    "open": ("open", "o", "open_price"),
    "high": ("high", "h", "high_price"),
    "low": ("low", "l", "low_price"),
    "close": ("close", "c", "close_price", "last", "adj_close", "adjclose", "adjusted_close"),
    "volume": ("volume", "vol", "v", "qty"),
}


def _norm(name: str) -> str:
    return name.strip().lower().replace(" ", "_").replace("-", "_").lstrip("\ufeff<").rstrip(">")


def _columns(header: list[str], path: Path) -> dict[str, int]:
    names = [_norm(h) for h in header]
    found: dict[str, int] = {}
    for column, spellings in _SPELLINGS.items():
        for spelling in spellings:  # earlier spellings win: close before adj_close
            if spelling in names:
                found[column] = names.index(spelling)
                break
    if "date" in names and "time" in names:  # separate date and time columns
        found["date"], found["time"] = names.index("date"), names.index("time")
    missing = [c for c in ("time", "open", "high", "low", "close") if c not in found]
    if missing:
        raise ProviderError(
            f"{path}:1: no {', '.join(missing)} column in the header {header!r}",
            errors={"file": ["columns needed: time, open, high, low, close (volume optional)"]},
        )
    return found


def _parse_time(text: str) -> datetime:
    text = text.strip()
    try:
        number = float(text)
    except ValueError:
        pass
    else:
        seconds = number / 1000 if number > 10**11 else number
        return datetime.fromtimestamp(seconds, UTC)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("/", "-"))
    if isinstance(moment, date) and not isinstance(moment, datetime):
        moment = datetime(moment.year, moment.month, moment.day)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class CsvProvider:
    """Bars and quotes read from CSV files (see the module docstring)."""

    name = NAME

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def path_for(self, symbol: str, interval: str | None = None) -> Path:
        """The file for ``symbol``.

        Raises:
            ProviderError: there is none.
        """
        names = ([f"{symbol}.{interval}.csv"] if interval else []) + [f"{symbol}.csv"]
        for name in names:
            for candidate in (name, name.lower()):
                path = self.directory / candidate
                if path.is_file():
                    return path
        raise ProviderError(f"no CSV file for {symbol}: expected {self.directory / names[-1]}")

    def rows(self, path: Path) -> list[Bar]:
        """Every row of ``path`` as an unaggregated bar (interval ``""``), oldest first.

        Raises:
            ProviderError: naming the file and line of the first bad row.
        """
        symbol = path.name.split(".")[0].upper()
        found = []
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csvlib.reader(handle)
            header = next(reader, None)
            if not header:
                raise ProviderError(f"{path}:1: the file is empty (a header row is needed)")
            columns = _columns(header, path)
            for row in reader:
                if not row or not any(cell.strip() for cell in row):
                    continue
                try:
                    found.append(self._bar(symbol, row, columns))
                except (ValueError, IndexError, InvalidOperation) as exc:
                    raise ProviderError(
                        f"{path}:{reader.line_num}: bad row {row!r}: {exc or type(exc).__name__}"
                    ) from None
        found.sort(key=lambda bar: bar.start)
        return found

    @staticmethod
    def _bar(symbol: str, row: list[str], columns: dict[str, int]) -> Bar:
        stamp = row[columns["time"]]
        if "date" in columns:
            stamp = f"{row[columns['date']].strip()}T{stamp.strip()}"
        prices = {c: Decimal(row[columns[c]].strip()) for c in ("open", "high", "low", "close")}
        for column, value in prices.items():
            if not value.is_finite() or value <= 0:
                raise ValueError(f"{column} must be a positive number, got {value}")
        if prices["high"] < max(prices["open"], prices["close"], prices["low"]):
            raise ValueError("high is below open, low or close")
        if prices["low"] > min(prices["open"], prices["close"]):
            raise ValueError("low is above open or close")
        volume_text = row[columns["volume"]].strip() if "volume" in columns else ""
        volume = int(Decimal(volume_text)) if volume_text else 0
        if volume < 0:
            raise ValueError("volume is negative")
        return Bar(symbol, "", _parse_time(stamp), **prices, volume=volume, source=NAME)

    def bars(self, symbol: str, interval: str, start: datetime, end: datetime) -> list[Bar]:
        check_interval(interval)
        rolled: dict[datetime, Bar] = {}
        for row in self.rows(self.path_for(symbol, interval)):
            if not start <= row.start < end:
                continue
            key = align(row.start, interval)
            bar = rolled.get(key)
            if bar is None:
                rolled[key] = Bar(
                    symbol, interval, key, row.open, row.high, row.low, row.close,
                    row.volume, NAME,
                )  # fmt: skip
            else:
                rolled[key] = Bar(
                    symbol, interval, key, bar.open, max(bar.high, row.high),
                    min(bar.low, row.low), row.close, bar.volume + row.volume, NAME,
                )  # fmt: skip
        return [rolled[k] for k in sorted(rolled)]

    def quote(self, symbol: str) -> Quote:
        found = self.rows(self.path_for(symbol))
        if not found:
            raise ProviderError(f"{self.path_for(symbol)}: no rows")
        last = found[-1]
        return Quote(symbol=symbol, price=last.close, as_of=last.start, source=NAME)


def create(settings: Settings, connection: redis.Redis | None = None) -> CsvProvider:
    return CsvProvider(settings.market_csv_dir)
