"""Vectorised indicators over numpy arrays: one value per bar, NaN while undefined."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def rsi(close: np.ndarray, period: int) -> np.ndarray:
    """Wilder's relative strength index (0-100) of ``close``; defined from bar ``period``.

    Average gain and loss start as the plain mean of the first ``period`` changes, then
    follow Wilder's smoothing ``avg = (avg * (period - 1) + x) / period``. With no loss the
    RSI is 100, with no gain 0, and 50 while the price does not move at all.
    """
    close = np.asarray(close, dtype=np.float64)
    n = len(close)
    out = np.full(n, np.nan)
    if n <= period:
        return out
    change = np.diff(close)
    gains = np.maximum(change, 0.0).tolist()
    losses = np.maximum(-change, 0.0).tolist()
    gain = sum(gains[:period]) / period
    loss = sum(losses[:period]) / period
    avg_gain = [gain]
    avg_loss = [loss]
    for g, lo in zip(gains[period:], losses[period:], strict=True):
        gain = (gain * (period - 1) + g) / period
        loss = (loss * (period - 1) + lo) / period
        avg_gain.append(gain)
        avg_loss.append(loss)
    up = np.array(avg_gain)
    down = np.array(avg_loss)
    total = up + down
    with np.errstate(invalid="ignore", divide="ignore"):
        out[period:] = np.where(total > 0, 100.0 * up / total, 50.0)
    return out


def highest(values: np.ndarray, window: int) -> np.ndarray:
    """The highest of the ``window`` values *before* each bar (the bar itself excluded);
    defined from bar ``window``."""
    return _prior(values, window, np.max)


def lowest(values: np.ndarray, window: int) -> np.ndarray:
    """The lowest of the ``window`` values before each bar; defined from bar ``window``."""
    return _prior(values, window, np.min)


def _prior(values: np.ndarray, window: int, reduce) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    out = np.full(len(values), np.nan)
    if 1 <= window < len(values):
        out[window:] = reduce(sliding_window_view(values, window), axis=1)[:-1]
    return out


def hold(events: np.ndarray, values: np.ndarray, first: int | np.ndarray = 0) -> np.ndarray:
    """Forward-fill: at each bar, ``values`` at the latest bar where ``events`` is true
    (0 before the first event), as ``int8``. Works along the last axis of 1-D or 2-D arrays.

    Events before bar ``first`` (an int, or one per row) are ignored: pass the first
    decision bar (warm-up + 1), since backtesting.py's ``next()`` never sees earlier bars.
    """
    events = np.asarray(events, dtype=bool)
    first = np.asarray(first)
    if first.ndim:
        first = first[:, None]
    shape = events.shape
    n = shape[-1]
    if not events.size:
        return np.zeros(shape, dtype=np.int8)
    events = (events & (np.arange(n) >= first)).reshape(-1, n)
    rows = len(events)
    values = np.broadcast_to(values, shape).reshape(-1, n)
    # Each row is a run of 0 up to its first event, then one run per event up to the next
    # one (or the row's end): lay the runs out in order and repeat each value its length.
    row_of, bar_of = np.nonzero(events)
    counts = np.bincount(row_of, minlength=rows)
    lead = np.cumsum(counts) - counts + np.arange(rows)  # where each row's runs begin
    at = np.arange(len(row_of)) + row_of + 1
    held = np.zeros(len(row_of) + rows, dtype=np.int8)
    held[at] = values[row_of, bar_of].astype(np.int8)
    begin = np.empty(len(held), dtype=np.int64)
    begin[lead] = 0
    begin[at] = bar_of
    end = np.empty(len(held), dtype=np.int64)
    end[:-1] = begin[1:]
    end[lead[1:] - 1] = n  # a row's last run ends with the row
    end[-1] = n
    return np.repeat(held, end - begin).reshape(shape)


def sma(values: np.ndarray, window: int) -> np.ndarray:
    """Simple moving average of the last ``window`` values; defined from bar ``window - 1``.

    Vectorised (a sum per window); it can differ from pandas' rolling mean in the last bit
    (see :func:`sma_exact`)."""
    values = np.asarray(values, dtype=np.float64)
    out = np.full(len(values), np.nan)
    if 1 <= window <= len(values):
        out[window - 1 :] = sliding_window_view(values, window).sum(axis=1) / window
    return out


def sma_exact(values: np.ndarray, window: int) -> np.ndarray:
    """:func:`sma` as pandas' ``Series.rolling(window).mean()`` (and so backtesting.py's
    ``SMA``) computes it, bit for bit.

    pandas keeps one running sum, Kahan-compensated separately for the values added and
    removed, and gives a window of equal values exactly that value. A plain sliding sum
    differs in the last bit, which is enough to see a cross where pandas sees two equal
    averages (EURUSD, 15/45, bar 4091). The running sum is a Python loop (each step needs
    the one before); the division and the equal-window rule are vectorised.
    """
    xs = np.asarray(values, dtype=np.float64)
    n = len(xs)
    out = np.full(n, np.nan)
    if not 1 <= window <= n:
        return out
    items = xs.tolist()
    totals = [0.0] * n
    total = comp_add = comp_remove = 0.0
    for i in range(window):
        y = items[i] - comp_add
        t = total + y
        comp_add = t - total - y
        total = t
        totals[i] = total
    for i in range(window, n):
        y = -items[i - window] - comp_remove
        t = total + y
        comp_remove = t - total - y
        total = t
        y = items[i] - comp_add
        t = total + y
        comp_add = t - total - y
        total = t
        totals[i] = total
    means = np.array(totals[window - 1 :]) / window
    # A window of ``window`` equal values averages to that value exactly: no value in it
    # differs from the one before (breaks counts such changes up to each bar).
    breaks = np.cumsum(np.r_[True, xs[1:] != xs[:-1]])
    equal = breaks[window - 1 :] == breaks[: n - window + 1]
    out[window - 1 :] = np.where(equal, xs[window - 1 :], means)
    return out
