"""The market-data store in InfluxDB: bars, quotes and operations points.

Measurements:

* ``bars``: tags ``symbol``, ``interval``, ``source``; fields ``open``, ``high``,
  ``low``, ``close`` (floats) and ``volume`` (integer); timestamp = the bar's start.
  The same bar written twice is one point (same series, same timestamp).
* ``quotes``: tags ``symbol``, ``source``; field ``price``; timestamp = ``as_of`` (ms).
* operations measurements (``ingest.metrics``): ``jobs``, ``results``, ``queues``,
  ``latency``.

Writes go out in batches of ``batch_size`` lines; reads are InfluxQL, which runs
on 1.x, 2.x (DBRP) and 3.x alike.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal

from core.quotes import Quote
from ingest.providers.base import Bar
from ingest.store import lines
from ingest.store.wire import Wire

DEFAULT_BATCH = 5000


def quote_literal(text: str) -> str:
    """An InfluxQL string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _time(moment: datetime) -> str:
    return f"{int(moment.timestamp())}s"


def _decimal(value) -> Decimal:
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


class MarketStore:
    """Bars, quotes and operations points in one InfluxDB database or bucket."""

    def __init__(self, wire: Wire, *, batch_size: int = DEFAULT_BATCH) -> None:
        self.wire = wire
        self.batch_size = batch_size

    @property
    def version(self) -> str:
        return self.wire.version

    # Writes -----------------------------------------------------------------

    def write_lines(self, points: Iterable[str], precision: str = "s") -> int:
        """Write line protocol in batches; returns how many lines were written."""
        written = 0
        points = iter(points)
        while batch := list(itertools.islice(points, self.batch_size)):
            self.wire.write(batch, precision)
            written += len(batch)
        return written

    def write_bars(self, bars: Iterable[Bar]) -> int:
        """Write bars (idempotent: a bar written again replaces itself)."""
        return self.write_lines(map(lines.bar_line, bars), "s")

    def write_quotes(self, quotes: Iterable[Quote]) -> int:
        return self.write_lines(
            (
                lines.point(
                    lines.QUOTES,
                    {"symbol": q.symbol, "source": q.source},
                    {"price": q.price},
                    lines.epoch_ms(q.as_of),
                )
                for q in quotes
            ),
            "ms",
        )

    # Reads ------------------------------------------------------------------

    def _bar_filter(self, symbol: str, interval: str, start=None, end=None) -> str:
        where = f'"symbol" = {quote_literal(symbol)} AND "interval" = {quote_literal(interval)}'
        if start is not None:
            where += f" AND time >= {_time(start)}"
        if end is not None:
            where += f" AND time < {_time(end)}"
        return where

    def bars(
        self,
        symbol: str,
        interval: str,
        start: datetime | None = None,
        end: datetime | None = None,
        *,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Bar]:
        """Stored bars whose start lies in ``[start, end)``, oldest first."""
        query = (
            'SELECT "open", "high", "low", "close", "volume", "source" FROM "bars" '
            f"WHERE {self._bar_filter(symbol, interval, start, end)} ORDER BY time ASC"
        )
        if limit is not None:
            query += f" LIMIT {int(limit)}"
        if offset:
            query += f" OFFSET {int(offset)}"
        found = []
        for series in self.wire.query(query):
            columns = series["columns"]
            for row in series["values"]:
                record = dict(zip(columns, row, strict=True))
                found.append(
                    Bar(
                        symbol=symbol,
                        interval=interval,
                        start=datetime.fromtimestamp(record["time"], UTC),
                        open=_decimal(record["open"]),
                        high=_decimal(record["high"]),
                        low=_decimal(record["low"]),
                        close=_decimal(record["close"]),
                        volume=int(record["volume"]),
                        source=record.get("source") or "",
                    )
                )
        return found

    def count_bars(
        self,
        symbol: str,
        interval: str,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> int:
        query = (
            f'SELECT count("close") FROM "bars" '
            f"WHERE {self._bar_filter(symbol, interval, start, end)}"
        )
        series = self.wire.query(query)
        return int(series[0]["values"][0][1]) if series else 0

    def last_bar_start(self, symbol: str, interval: str) -> datetime | None:
        """The start of the newest stored bar (where a pull resumes), or ``None``."""
        query = f'SELECT last("close") FROM "bars" WHERE {self._bar_filter(symbol, interval)}'
        series = self.wire.query(query)
        if not series or not series[0]["values"]:
            return None
        return datetime.fromtimestamp(series[0]["values"][0][0], UTC)

    def query(self, influxql: str) -> list[dict]:
        """Raw InfluxQL (what Grafana's panels run)."""
        return self.wire.query(influxql)

    def close(self) -> None:
        self.wire.close()
