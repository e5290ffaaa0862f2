"""Bars: the OHLCV arrays a strategy and the backtester read.

:func:`as_bars` accepts what callers have at hand: a pandas DataFrame with ``Open``,
``High``, ``Low``, ``Close`` (and optionally ``Volume``) columns in either case and a
datetime index or a ``time`` column, as backtesting.py takes, or a mapping of arrays. It is
duck-typed, so this package never imports pandas.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from strategies.errors import InvalidBacktest

_OHLC = ("open", "high", "low", "close")


@dataclass(frozen=True, eq=False)
class Bars:
    """OHLCV as float64 arrays of one length, oldest first.

    ``time`` is ``datetime64[ns]`` (wall-clock time of the data's own time zone) or ``None``
    when bars are plain periods; statistics that need a calendar (Sharpe, CAGR) are NaN then.
    """

    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    time: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.close)


def as_bars(data: Any, *, argument: str = "bars") -> Bars:
    """Validate ``data`` and return it as :class:`Bars`.

    Raises:
        InvalidBacktest: no rows, a missing column, NaN or non-positive prices, or times
            that repeat; the message names ``argument`` and the column.
    """
    if isinstance(data, Bars):
        return data
    columns, time = _columns(data, argument)
    n = len(columns["close"])
    if n == 0:
        raise InvalidBacktest(f"{argument} is empty", errors={argument: "no rows"})
    arrays = {}
    for name in (*_OHLC, "volume"):
        values = columns.get(name)
        if values is None:
            if name == "volume":
                arrays[name] = np.full(n, np.nan)
                continue
            raise InvalidBacktest(
                f"{argument} has no {name!r} column (need open, high, low, close)",
                errors={argument: f"missing column {name}"},
            )
        try:
            array = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError):
            raise InvalidBacktest(
                f"{argument}: column {name!r} is not numeric", errors={argument: name}
            ) from None
        if array.shape != (n,):
            raise InvalidBacktest(
                f"{argument}: column {name!r} has {array.shape} values, expected {n}",
                errors={argument: name},
            )
        if name != "volume":
            if np.isnan(array).any():
                first = int(np.flatnonzero(np.isnan(array))[0])
                raise InvalidBacktest(
                    f"{argument}: {name!r} is missing (NaN) at row {first}; drop or fill "
                    "those rows first",
                    errors={argument: f"NaN in {name}"},
                )
            if not np.isfinite(array).all() or (array <= 0).any():
                raise InvalidBacktest(
                    f"{argument}: {name!r} must hold finite prices above 0",
                    errors={argument: f"bad {name}"},
                )
        arrays[name] = array
    if time is not None:
        if len(time) != n:
            raise InvalidBacktest(f"{argument}: time has {len(time)} values, expected {n}")
        order = np.argsort(time, kind="stable")
        if (np.diff(time.astype(np.int64)) < 0).any():
            warnings.warn(f"{argument} is not sorted by time; sorting it", stacklevel=3)
            time = time[order]
            arrays = {k: v[order] for k, v in arrays.items()}
        if (np.diff(time.astype(np.int64)) == 0).any():
            raise InvalidBacktest(
                f"{argument}: two bars share a time", errors={argument: "duplicate time"}
            )
    return Bars(time=time, **arrays)


def _columns(data: Any, argument: str) -> tuple[dict[str, Any], np.ndarray | None]:
    if hasattr(data, "columns") and hasattr(data, "index"):  # a pandas DataFrame
        columns = {str(c).lower(): data[c].to_numpy() for c in data.columns}
        time = columns.pop("time", None)
        if time is None:
            time = _index_times(data.index)
        return columns, _as_times(time, argument)
    if isinstance(data, Mapping):
        columns = {str(k).lower(): v for k, v in data.items()}
        if "close" not in columns:
            raise InvalidBacktest(
                f"{argument} has no 'close' column", errors={argument: "missing column close"}
            )
        return columns, _as_times(columns.pop("time", None), argument)
    raise InvalidBacktest(
        f"{argument} must be a DataFrame or a mapping of columns, got {type(data).__name__}",
        errors={argument: "not a table"},
    )


def _index_times(index: Any) -> Any:
    if getattr(index, "dtype", None) is not None and str(index.dtype).startswith("datetime64"):
        if getattr(index, "tz", None) is not None:
            index = index.tz_localize(None)  # wall-clock time, as pandas resamples it
        return index.to_numpy()
    return None


def _as_times(values: Any, argument: str) -> np.ndarray | None:
    if values is None:
        return None
    if getattr(values, "tz", None) is not None:  # pandas Series/Index with a zone
        values = values.tz_localize(None)
    try:
        return np.asarray(values, dtype="datetime64[ns]")
    except (TypeError, ValueError):
        raise InvalidBacktest(
            f"{argument}: time must be datetimes", errors={argument: "bad time"}
        ) from None
