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

from strategies._execution import Fills

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
    """One dict of :data:`STAT_KEYS` per row of ``fills``."""
    equity = fills.equity
    rows, n = equity.shape
    closed = fills.closed
    pnl, ret = trade_pnl(fills)
    n_trades = closed.sum(axis=1)

    peak = np.maximum.accumulate(equity, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        dd = 1 - equity / peak
    max_dd = np.nan_to_num(dd.max(axis=1))

    # Exposure: bars from entry to exit (inclusive) of closed trades.
    marks = np.zeros((rows, n + 1), dtype=np.int64)
    r_idx, k_idx = np.nonzero(closed)
    np.add.at(marks, (r_idx, fills.entry_bar[r_idx, k_idx]), 1)
    np.add.at(marks, (r_idx, fills.exit_bar[r_idx, k_idx] + 1), -1)
    exposure = (np.cumsum(marks[:, :n], axis=1) > 0).mean(axis=1) * 100

    day, annual = _calendar(time)
    clean = np.zeros(rows, dtype=bool)
    if day is not None and len(day) > 2:
        # Day-end returns of all rows at once; rows with a NaN return (0 / 0 after ruin)
        # drop it and go through the per-row code below.
        with np.errstate(all="ignore"):
            values = equity[:, day]
            returns = values[:, 1:] / values[:, :-1] - 1
            clean = ~np.isnan(returns).any(axis=1)
            count = returns.shape[1]
            growth = returns + 1
            g_all = np.where(
                (growth <= 0).any(axis=1), 0.0, np.exp(np.log(growth).sum(axis=1) / count) - 1
            )
            avg = returns.sum(axis=1) / count
            var_all = ((avg[:, None] - returns) ** 2).sum(axis=1) / (count - 1)
            vol_all = np.sqrt((var_all + (1 + g_all) ** 2) ** annual - (1 + g_all) ** (2 * annual))
            vol_all = vol_all * 100
            ann_all = (1 + g_all) ** annual - 1
            down_all = np.sqrt(np.mean(np.clip(returns, -np.inf, 0) ** 2, axis=1))
            sortino_all = ann_all / (down_all * np.sqrt(annual))
    out = []
    for row in range(rows):
        e = equity[row]
        m = closed[row]
        p = pnl[row][m]
        r = ret[row][m]
        count = int(n_trades[row])
        w = int(warmups[row])
        s: dict[str, Any] = {"trades": count}
        s["equity_final"] = float(e[-1])
        s["equity_peak"] = float(e.max())
        s["return_pct"] = float((e[-1] - e[0]) / e[0] * 100)
        s["buy_hold_return_pct"] = float((close[-1] - close[w]) / close[w] * 100)
        g, vol, day_returns = np.float64(0.0), math.nan, np.array([])
        with np.errstate(all="ignore"):  # numpy floats: overflow gives inf, as in pandas
            if clean[row]:
                vol, annualized = float(vol_all[row]), float(ann_all[row])
            elif day is not None:
                values = e[day]
                day_returns = values[1:] / values[:-1] - 1
                day_returns = day_returns[~np.isnan(day_returns)]
                g = np.float64(_geometric_mean(day_returns))
                var = np.float64(_var(day_returns, 1))
                vol = float(np.sqrt((var + (1 + g) ** 2) ** annual - (1 + g) ** (2 * annual)) * 100)
            if not clean[row]:
                annualized = float((1 + g) ** annual - 1) if day is not None else 0.0
        s["return_ann_pct"] = annualized * 100
        s["volatility_ann_pct"] = vol
        s["cagr_pct"] = _cagr(e, time)
        s["sharpe"] = s["return_ann_pct"] / (vol or math.nan)
        if clean[row]:
            s["sortino"] = float(sortino_all[row])
        elif len(day_returns):
            with np.errstate(divide="ignore", invalid="ignore"):
                downside = np.sqrt(np.mean(np.clip(day_returns, -np.inf, 0) ** 2))
                s["sortino"] = float(annualized / (downside * np.sqrt(annual)))
        else:
            s["sortino"] = math.nan
        s["calmar"] = annualized / (float(max_dd[row]) or math.nan)
        s["max_drawdown_pct"] = float(-max_dd[row] * 100)
        s["exposure_time_pct"] = float(exposure[row])
        win = (p > 0).mean() if count else math.nan
        s["win_rate_pct"] = float(win * 100)
        s["best_trade_pct"] = float(r.max() * 100) if count else math.nan
        s["worst_trade_pct"] = float(r.min() * 100) if count else math.nan
        s["avg_trade_pct"] = _geometric_mean(r) * 100 if count else math.nan
        losses = abs(r[r < 0].sum())
        s["profit_factor"] = float(r[r > 0].sum() / (losses or math.nan)) if count else math.nan
        s["expectancy_pct"] = float(r.mean() * 100) if count else math.nan
        std = float(p.std(ddof=1)) if count > 1 else math.nan
        s["sqn"] = float(math.sqrt(count) * p.mean() / (std or math.nan)) if count else math.nan
        s["commissions"] = float(fills.commission[row][m].sum())
        out.append(s)
    return out


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


def _cagr(equity: np.ndarray, time: np.ndarray | None) -> float:
    if time is None:
        return math.nan
    span = int(time[-1].astype(np.int64) - time[0].astype(np.int64))
    days, rest = divmod(span, _DAY_NS)
    years = (days + (rest // 10**9) / 86400) / 365.25
    if not years:
        return math.nan
    return float(((equity[-1] / equity[0]) ** (1 / years) - 1) * 100)


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
