"""backtesting.py's broker stepped bar by bar, for one row: the reference.

:func:`simulate_row` is a plain loop over bars with the trading semantics that
:mod:`strategies._execution` describes. :func:`strategies._execution.simulate` hands it
the rows it cannot do by position changes (an order cancelled for want of cash, equity
reaching 0), and the tests compare the vectorised simulation with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import copysign
from typing import TYPE_CHECKING

import numpy as np

from strategies._fills import FULL

if TYPE_CHECKING:
    from strategies._fills import Fills


@dataclass
class RowFills:
    """One row's equity per bar, its closed trades in order, and the trade left open."""

    equity: np.ndarray
    trades: list[tuple[int, int, float, float, float, float]]  # entry/exit bar, size, prices, fee
    open_trade: tuple[int, float, float] | None  # entry bar, size, entry price


def simulate_row(
    open_: np.ndarray,
    close: np.ndarray,
    decided: np.ndarray,
    start: int,
    *,
    cash: float,
    commission: float,
    finalize: bool,
    reentries: np.ndarray | None = None,
    spread: float = 0.0,
    margin: float = 1.0,
) -> RowFills:
    """One row, bar by bar, exactly as backtesting.py's broker steps (the reference).

    An entry fills at the open moved by ``spread`` against the trader and is sized on the
    cash times ``1 / margin``; exits fill at the plain price.
    """
    n = len(close)
    leverage = 1 / margin
    equity = np.full(n, np.nan)
    trades: list[tuple[int, int, float, float, float, float]] = []
    money = float(cash)
    size = 0.0
    entry = 0.0
    entry_bar = -1
    pending: int | None = None

    def close_at(price: float, bar: int) -> None:
        nonlocal money, size, entry
        exit_fee = 0 + (abs(size) * price) * commission
        money = money + ((size * (price - entry) - 0) - exit_fee)
        trades.append(
            (entry_bar, bar, size, entry, price, exit_fee + (0 + (abs(size) * entry) * commission))
        )
        size = 0.0
        entry = 0.0

    def fill(target: int, bar: int) -> None:
        nonlocal money, size, entry, entry_bar
        price = float(open_[bar])
        if size:
            close_at(price, bar)
        if target:
            adjusted = price * (1 + copysign(spread, target))
            per_unit = adjusted + (0 + (FULL * price) * commission) / FULL
            units = (max(0.0, money) * leverage * FULL) // per_unit
            if units >= 1:
                size = target * units
                entry = adjusted
                entry_bar = bar
                money -= 0 + (abs(size) * adjusted) * commission

    broke = False
    for i in range(start, n):
        if pending is not None:
            fill(pending, i)
            pending = None
        value = money + (float(close[i]) * size - size * entry)
        equity[i] = value
        if value <= 0:
            if size:
                close_at(float(close[i]), i)
            money = 0.0
            equity[i:] = 0.0
            broke = True
            break
        held = int(np.sign(size))
        if decided[i] != held or (reentries is not None and reentries[i] and decided[i] != 0):
            pending = int(decided[i])
    if not broke and finalize and start < n:
        if size:
            close_at(float(open_[n - 1]), n - 1)
        if pending:
            fill(pending, n - 1)
        value = money + (float(close[n - 1]) * size - size * entry)
        equity[n - 1] = value
        if value <= 0:
            if size:
                close_at(float(close[n - 1]), n - 1)
            equity[n - 1] = 0.0
    defined = np.flatnonzero(~np.isnan(equity))
    if len(defined):
        equity[: defined[0]] = equity[defined[0]]
        # backtesting.py back-fills gaps; none arise here except before start
    else:
        equity[:] = money
    open_trade = (entry_bar, size, entry) if size else None
    return RowFills(equity, trades, open_trade)


def replace_row(fills: Fills, row: int, result: RowFills) -> None:
    """Overwrite row ``row`` of ``fills`` with ``result`` (padding every row if it has more
    trades than ``fills`` has room for)."""
    count = len(result.trades) + (1 if result.open_trade else 0)
    k_max = fills.size.shape[1]
    if count > k_max:
        grow = count - k_max
        for name in (
            "entry_bar",
            "exit_bar",
            "size",
            "entry_price",
            "exit_price",
            "commission",
            "closed",
            "is_open",
        ):
            array = getattr(fills, name)
            pad = -1 if name in ("entry_bar", "exit_bar") else 0
            setattr(fills, name, np.pad(array, ((0, 0), (0, grow)), constant_values=pad))
    fills.equity[row] = result.equity
    for name in ("entry_bar", "exit_bar"):
        getattr(fills, name)[row] = -1
    for name in ("size", "entry_price", "exit_price", "commission"):
        getattr(fills, name)[row] = 0
    fills.closed[row] = False
    fills.is_open[row] = False
    for k, (eb, xb, s, ep, xp, fee) in enumerate(result.trades):
        fills.entry_bar[row, k], fills.exit_bar[row, k] = eb, xb
        fills.size[row, k], fills.entry_price[row, k] = s, ep
        fills.exit_price[row, k], fills.commission[row, k] = xp, fee
        fills.closed[row, k] = True
    if result.open_trade:
        k = len(result.trades)
        eb, s, ep = result.open_trade
        fills.entry_bar[row, k], fills.size[row, k], fills.entry_price[row, k] = eb, s, ep
        fills.is_open[row, k] = True
