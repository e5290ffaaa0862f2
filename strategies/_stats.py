"""Backtest statistics, computed as backtesting.py's ``_stats.compute_stats`` does them.

Vectorised across parameter sets (one row per set). Names and conventions:

* ``return_pct``: ``(equity_final - cash) / cash * 100``.
* ``max_drawdown_pct``: the deepest fall of equity from its running peak, **negative**
  (``-47.98`` is a 47.98 % drawdown), as backtesting.py prints it.
* ``win_rate_pct``: closed trades with a PnL above 0 (after commissions); NaN with none.
* ``sharpe``: annualised compound return over annualised volatility of the day-end equity
  returns (``resample('D').last()``, or weekly/monthly/yearly for such bars), 252 trading
  days a year (365 when a fair share of bars fall on weekends), risk-free rate 0: NaN for
  bars without times. It is *not* empyrical's arithmetic Sharpe.
* Only closed trades count: a trade still open at the end shows in the equity alone unless
  the backtest ran with ``finalize_trades``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from strategies._fills import Fills
from strategies._pairwise import segment_sums

_DAY_NS = 86_400 * 10**9

STAT_KEYS = (
    "trades",
    "equity_final",
    "equity_peak",
    "return_pct",
    "buy_hold_return_pct",
    "return_ann_pct",
    "volatility_ann_pct",
    "cagr_pct",
    "sharpe",
    "sortino",
    "calmar",
    "max_drawdown_pct",
    "exposure_time_pct",
    "win_rate_pct",
    "best_trade_pct",
    "worst_trade_pct",
    "avg_trade_pct",
    "profit_factor",
    "expectancy_pct",
    "sqn",
    "commissions",
)


def trade_pnl(fills: Fills) -> tuple[np.ndarray, np.ndarray]:
    """``(pnl, return)`` of every trade slot (meaningless where not ``closed``)."""
    s, entry, exit_ = fills.size, fills.entry_price, fills.exit_price
    pnl = s * (exit_ - entry) - fills.commission
    with np.errstate(invalid="ignore", divide="ignore"):
        gross = np.copysign(1.0, s) * (exit_ / entry - 1)
        ret = gross - fills.commission / (np.abs(s) * entry)
    return pnl, ret


def compute_stats(
    fills: Fills,
    close: np.ndarray,
    time: np.ndarray | None,
    warmups: np.ndarray,
    cash: float,
) -> list[dict[str, Any]]:
    """One dict of :data:`STAT_KEYS` per row of ``fills``.

    Every statistic is computed for all rows at once, with the operations (and, for sums,
    the order of the additions, see :mod:`strategies._pairwise`) that backtesting.py's
    per-run code applies, so each row equals a backtest of that set alone, to the bit.
    """
    equity = fills.equity
    n = equity.shape[1]
    first, final = equity[:, 0], equity[:, -1]
    column: dict[str, np.ndarray] = {}
    column["equity_final"] = final
    column["equity_peak"] = equity.max(axis=1)
    column["return_pct"] = (final - first) / first * 100
    start_close = close[np.asarray(warmups, dtype=np.int64)]
    column["buy_hold_return_pct"] = (close[-1] - start_close) / start_close * 100

    annualized, vol, sortino = _period_stats(equity, time)
    column["return_ann_pct"] = annualized * 100
    column["volatility_ann_pct"] = vol
    column["cagr_pct"] = _cagr(final, first, time)
    # ``x / (y or nan)``: a zero volatility or drawdown gives NaN, not a division error.
    column["sharpe"] = column["return_ann_pct"] / np.where(vol == 0, math.nan, vol)
    column["sortino"] = sortino

    # The deepest drawdown, max(1 - equity / peak), is 1 - min(equity / peak): 1 - x
    # rounds monotonically, so both pick the same bar and give the same float.
    ratio = np.maximum.accumulate(equity, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        np.divide(equity, ratio, out=ratio)
        max_dd = np.nan_to_num(1 - ratio.min(axis=1))
        column["calmar"] = annualized / np.where(max_dd == 0, math.nan, max_dd)
    column["max_drawdown_pct"] = -max_dd * 100
    column["exposure_time_pct"] = _exposed_bars(fills) / n * 100
    column.update(_trade_stats(fills))

    trades = fills.closed.sum(axis=1).tolist()
    names = [k for k in STAT_KEYS if k != "trades"]
    values = zip(*(column[k].tolist() for k in names), strict=True)
    return [
        {"trades": t, **dict(zip(names, v, strict=True))}
        for t, v in zip(trades, values, strict=True)
    ]


def _exposed_bars(fills: Fills) -> np.ndarray:
    """Per row, the bars from entry to exit (both included) of some closed trade.

    Trades follow one another: one enters at or after the bar the one before left, and a
    reversal enters on the exit bar itself, which then counts once.
    """
    closed = fills.closed
    rows = np.nonzero(closed)[0]
    entry, exit_ = fills.entry_bar[closed], fills.exit_bar[closed]
    span = np.bincount(rows, weights=exit_ - entry + 1, minlength=len(closed))
    shared = (rows[1:] == rows[:-1]) & (entry[1:] == exit_[:-1])
    return span - np.bincount(rows[1:][shared], minlength=len(closed))


def _trade_stats(fills: Fills) -> dict[str, np.ndarray]:
    """The statistics of each row's closed trades (NaN for a row without any)."""
    closed = fills.closed
    rows = len(closed)
    count = closed.sum(axis=1)
    pnl, ret = trade_pnl(fills)
    # Each row's closed trades, in order, one row after the other: the arrays that
    # ``pnl[row][closed[row]]`` would give, laid end to end.
    row_of = np.nonzero(closed)[0]
    p, r, fee = pnl[closed], ret[closed], fills.commission[closed]
    with np.errstate(invalid="ignore", divide="ignore"):
        growth = r + 1
        log_growth = np.log(growth)
    gains, losses = r > 0, r < 0
    runs = [log_growth, r[gains], r[losses], r, p, fee]
    lengths = [
        count,
        np.bincount(row_of[gains], minlength=rows),
        np.bincount(row_of[losses], minlength=rows),
        count,
        count,
        count,
    ]
    log_sum, gain_sum, loss_sum, r_sum, p_sum, fee_sum = _sums(runs, lengths)
    none = count == 0
    with np.errstate(invalid="ignore", divide="ignore"):
        p_mean = p_sum / count
        deviation = p - p_mean[row_of]
        (square_sum,) = _sums([deviation * deviation], [count])
        std = np.where(count > 1, np.sqrt(square_sum / (count - 1)), math.nan)
        ruined = np.bincount(row_of[growth <= 0], minlength=rows) > 0
        geometric = np.where(ruined, 0.0, np.exp(log_sum / count) - 1)
        loss_total = np.abs(loss_sum)
        best = np.where(closed, ret, -np.inf).max(axis=1, initial=-np.inf)
        worst = np.where(closed, ret, np.inf).min(axis=1, initial=np.inf)
        stats = {
            "win_rate_pct": np.bincount(row_of[p > 0], minlength=rows) / count * 100,
            "best_trade_pct": best * 100,
            "worst_trade_pct": worst * 100,
            "avg_trade_pct": geometric * 100,
            "profit_factor": gain_sum / np.where(loss_total == 0, math.nan, loss_total),
            "expectancy_pct": r_sum / count * 100,
            "sqn": np.sqrt(count) * p_mean / np.where(std == 0, math.nan, std),
        }
    for name, value in stats.items():
        stats[name] = np.where(none, math.nan, value)
    stats["commissions"] = fee_sum
    return stats


def _sums(runs: list[np.ndarray], lengths: list[np.ndarray]) -> list[np.ndarray]:
    """Per row, the sum of its values in each of ``runs`` (one call for all of them)."""
    flat = np.concatenate(runs)
    counts = np.concatenate(lengths)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    return np.split(segment_sums(flat, starts, counts), len(runs))


def _period_stats(
    equity: np.ndarray, time: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(annualized return, annual volatility %, sortino)`` per row, from the returns of
    the equity at each period's last bar (day, week, month or year; see :func:`_calendar`)."""
    rows = len(equity)
    day, annual = _calendar(time)
    annualized = np.zeros(rows)
    vol = np.full(rows, math.nan)
    sortino = np.full(rows, math.nan)
    if day is None:
        return annualized, vol, sortino
    clean = np.zeros(rows, dtype=bool)
    if len(day) > 2:
        # Day-end returns of all rows at once; rows with a NaN return (0 / 0 after ruin)
        # drop it and go through the per-row code below.
        # Whole-array passes dominate here, so they are few and in place. ``values`` is
        # column-major (numpy lays out ``equity[:, day]`` so), and the sums below keep that
        # layout: it decides the order of the additions, and so the last bit.
        with np.errstate(all="ignore"):
            values = equity[:, day]
            returns = np.divide(values[:, 1:], values[:, :-1])
            np.subtract(returns, 1, out=returns)
            count = returns.shape[1]
            total = returns.sum(axis=1)
            clean = ~np.isnan(total)  # a NaN return makes the sum NaN
            avg = total / count
            work = np.add(returns, 1)  # growth
            ruined = work.min(axis=1) <= 0
            np.log(work, out=work)
            g_all = np.where(ruined, 0.0, np.exp(work.sum(axis=1) / count) - 1)
            np.subtract(avg[:, None], returns, out=work)
            np.square(work, out=work)
            var_all = work.sum(axis=1) / (count - 1)
            vol_all = np.sqrt((var_all + (1 + g_all) ** 2) ** annual - (1 + g_all) ** (2 * annual))
            ann_all = (1 + g_all) ** annual - 1
            np.clip(returns, -np.inf, 0, out=work)
            np.square(work, out=work)
            down_all = np.sqrt(np.mean(work, axis=1))
            sortino_all = ann_all / (down_all * np.sqrt(annual))
        annualized[clean] = ann_all[clean]
        vol[clean] = vol_all[clean] * 100
        sortino[clean] = sortino_all[clean]
    for row in np.flatnonzero(~clean):
        annualized[row], vol[row], sortino[row] = _period_stats_row(equity[row], day, annual)
    return annualized, vol, sortino


def _period_stats_row(e: np.ndarray, day: np.ndarray, annual: float) -> tuple[float, float, float]:
    """:func:`_period_stats` for one row whose returns include a NaN (they are dropped)."""
    with np.errstate(all="ignore"):  # numpy floats: overflow gives inf, as in pandas
        values = e[day]
        day_returns = values[1:] / values[:-1] - 1
        day_returns = day_returns[~np.isnan(day_returns)]
        g = np.float64(_geometric_mean(day_returns))
        var = np.float64(_var(day_returns, 1))
        vol = float(np.sqrt((var + (1 + g) ** 2) ** annual - (1 + g) ** (2 * annual)) * 100)
        annualized = float((1 + g) ** annual - 1)
        sortino = math.nan
        if len(day_returns):
            downside = np.sqrt(np.mean(np.clip(day_returns, -np.inf, 0) ** 2))
            sortino = float(annualized / (downside * np.sqrt(annual)))
    return annualized, vol, sortino


def _geometric_mean(returns: np.ndarray) -> float:
    growth = returns + 1
    if np.any(growth <= 0):
        return 0.0
    if not len(growth):
        return math.nan
    return float(np.exp(np.log(growth).sum() / len(growth)) - 1)


def _var(values: np.ndarray, ddof: int) -> float:
    # pandas' nanvar: mean, then the sum of squared deviations over count - ddof
    count = len(values)
    if count - ddof <= 0:
        return math.nan
    avg = values.sum() / count
    return float(((avg - values) ** 2).sum() / (count - ddof))


def _cagr(final: np.ndarray, first: np.ndarray, time: np.ndarray | None) -> np.ndarray:
    """Compound annual growth, %, per row; NaN without times or over no time at all."""
    if time is None:
        return np.full(len(final), math.nan)
    span = int(time[-1].astype(np.int64) - time[0].astype(np.int64))
    days, rest = divmod(span, _DAY_NS)
    years = (days + (rest // 10**9) / 86400) / 365.25
    if not years:
        return np.full(len(final), math.nan)
    # A power per row on numpy scalars, as one run computes it: an array power may take
    # another (SIMD) code path, which can differ in the last bit.
    ratio = final / first
    return np.array([((x ** (1 / years)) - 1) * 100 for x in ratio])


def _calendar(time: np.ndarray | None) -> tuple[np.ndarray | None, float]:
    """Indices of the last bar of each period (day, week, month or year) and the periods
    a year, as backtesting.py picks them from the bars' median spacing."""
    if time is None or len(time) < 2:
        return (None, math.nan) if time is None else (np.array([0]), 252.0)
    ns = time.astype("datetime64[ns]").astype(np.int64)
    spacing = np.diff(ns[-100:])
    freq_days = int(np.median(spacing) // _DAY_NS) if len(spacing) else 0
    days = ns // _DAY_NS
    weekday = (days + 3) % 7  # 1970-01-01 was a Thursday; Monday is 0
    weekends = np.isin(weekday, (5, 6)).mean() > 2 / 7 * 0.6
    annual = {7: 52, 31: 12, 365: 1}.get(freq_days, 365 if weekends else 252)
    if freq_days == 7:
        key = days - weekday  # weeks Monday to Sunday (pandas 'W' = W-SUN)
    elif freq_days == 31:
        key = time.astype("datetime64[M]").astype(np.int64)
    elif freq_days == 365:
        key = time.astype("datetime64[Y]").astype(np.int64)
    else:
        key = days
    ends = np.flatnonzero(np.r_[key[1:] != key[:-1], True])
    return ends, float(annual)
