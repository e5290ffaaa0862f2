"""Bars in and out of text: CSV a client sends, the bars store's rows, and the JSON that
carries a backtest's bars to its workers (``bars_to_json`` / ``bars_from_json``, times as
epoch nanoseconds, a missing volume as ``null``).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np

from strategies.bars import Bars, as_bars
from strategies.errors import InvalidBacktest

CSV_COLUMNS = ("time", "open", "high", "low", "close", "volume")


def bars_from_csv(text: str, *, argument: str = "data") -> Bars:
    """Bars from CSV text with a ``time,open,high,low,close,volume`` header (``volume``
    optional). Times are ISO 8601 (a date, or a date and time; one with a zone is taken
    in UTC) or epoch seconds.

    Raises:
        InvalidBacktest: no header, a missing column, or a row that does not parse
            (the message names the row).
    """
    try:
        return _parse_csv(text, argument)
    except csv.Error as error:  # e.g. a carriage return inside a field
        raise InvalidBacktest(
            f"{argument}: not CSV ({error})", errors={argument: "not CSV"}
        ) from None


def _parse_csv(text: str, argument: str) -> Bars:
    reader = csv.reader(io.StringIO(text.strip()))
    header = [h.strip().lower() for h in next(reader, [])]
    missing = [c for c in CSV_COLUMNS[:5] if c not in header]
    if missing:
        raise InvalidBacktest(
            f"{argument}: the CSV header needs time,open,high,low,close[,volume]; "
            f"missing {', '.join(missing)}",
            errors={argument: f"missing column {', '.join(missing)}"},
        )
    where = {c: header.index(c) for c in CSV_COLUMNS if c in header}
    columns: dict[str, list] = {c: [] for c in where}
    for number, row in enumerate(reader, start=2):
        if not row or not any(cell.strip() for cell in row):
            continue
        try:
            for name, at in where.items():
                cell = row[at].strip()
                columns[name].append(_time(cell) if name == "time" else float(cell or "nan"))
        except (IndexError, ValueError):
            raise InvalidBacktest(
                f"{argument}: line {number} does not parse ({','.join(row)[:80]!r})",
                errors={argument: f"line {number}"},
            ) from None
    times = columns.pop("time")
    return as_bars({**columns, "time": np.array(times, dtype="datetime64[ns]")}, argument=argument)


def _time(cell: str) -> np.datetime64:
    try:
        seconds = float(cell)
    except ValueError:
        moment = datetime.fromisoformat(cell.replace("Z", "+00:00"))
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
        return np.datetime64(moment, "ns")
    return np.datetime64(int(seconds * 1e9), "ns")


def bars_from_store(bars: Sequence[Any]) -> Bars:
    """:class:`Bars` from the store's ``ingest.providers.base.Bar`` rows (times in UTC)."""
    if not bars:
        raise InvalidBacktest("no bars", errors={"symbol": "no bars stored in that range"})
    return as_bars(
        {
            "open": [float(b.open) for b in bars],
            "high": [float(b.high) for b in bars],
            "low": [float(b.low) for b in bars],
            "close": [float(b.close) for b in bars],
            "volume": [float(b.volume) for b in bars],
            "time": np.array(
                [b.start.astimezone(UTC).replace(tzinfo=None) for b in bars],
                dtype="datetime64[ns]",
            ),
        }
    )


def bars_to_json(bars: Bars) -> str:
    """``bars`` as JSON arrays (see :func:`bars_from_json`)."""
    data = {
        name: getattr(bars, name).tolist() for name in ("open", "high", "low", "close", "volume")
    }
    data["volume"] = [None if math.isnan(v) else v for v in data["volume"]]
    data["time"] = None if bars.time is None else bars.time.astype(np.int64).tolist()
    return json.dumps(data)


def bars_from_json(text: str) -> Bars:
    """The bars :func:`bars_to_json` wrote."""
    data = json.loads(text)
    time = data.pop("time")
    data["volume"] = [np.nan if v is None else v for v in data["volume"]]
    if time is not None:
        data["time"] = np.array(time, dtype=np.int64).astype("datetime64[ns]")
    return as_bars(data)
