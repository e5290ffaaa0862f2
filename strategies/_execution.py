"""The order simulation behind :mod:`strategies.backtest`, vectorised across parameter sets.

Semantics (backtesting.py's ``_Broker`` with ``spread=0``, ``margin=1``, ``hedging=False``,
market orders only), reproduced operation for operation so results agree to the last bit:

* A target decided on bar *i* (``i >= start``) that differs from the position held is an
  order: close the open trade, then open one in the new direction (if not flat). It fills at
  bar *i + 1*'s open. Decisions on the last bar fill only with ``finalize``.
* Sizing is all in, whole units: ``int(cash * (1 - eps) // (open + commission per unit))``.
  An order that cannot buy one unit is cancelled and the target is tried again next bar.
* ``commission`` (relative, per side) is taken from cash at entry and at exit.
* Equity at a bar is ``cash + (close * size - size * entry_price)`` after that bar's fills.
  If it reaches 0 or less the open trade is closed at that close, equity is 0 from there on
  and the run stops (backtesting.py's ``_OutOfMoneyError``).
* ``finalize``: after the last bar, the trade still open is closed at the last bar's
  **open** (backtesting.py re-runs its broker on the last bar) and counted; an order decided
  on the last bar then opens a trade that stays open and is not counted.

:func:`simulate` runs every row at once, looping over the k-th position change of all rows
(a few hundred iterations at most) instead of over bars. Rows it cannot do exactly that way
(an order cancelled for want of cash, or equity reaching 0) are re-run by
:func:`simulate_row`, a plain bar-by-bar loop that is also the reference the tests compare
:func:`simulate` with.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np

#: backtesting.py's ``_FULL_EQUITY`` order size: all in, as a fraction just below 1.
FULL = 1 - sys.float_info.epsilon

# Up to this many rows, the k-loop runs row by row on Python floats (less overhead).
_SCALAR_ROWS = 4


@dataclass
class Fills:
    """Trades of ``rows`` parameter sets, padded to the same length ``K``.

    Every array but ``equity`` has shape ``(rows, K)``; ``closed`` marks trades that were
    closed and so count in the statistics, ``is_open`` the one trade (at most) left open.
    """

    equity: np.ndarray  # (rows, n)
    entry_bar: np.ndarray
    exit_bar: np.ndarray
    size: np.ndarray
    entry_price: np.ndarray
    exit_price: np.ndarray
    commission: np.ndarray
    closed: np.ndarray
    is_open: np.ndarray


def decisions(targets: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Targets with every bar before ``start`` (per row) flat: no decision is made there."""
    n = targets.shape[1]
    return np.where(np.arange(n) >= start[:, None], targets, 0).astype(np.int8)


def _commission_per_unit(price: np.ndarray, commission: float) -> np.ndarray:
    # _Broker: adjusted_price + self._commission(order.size, price) / abs(order.size)
    return price + (0 + (FULL * price) * commission) / FULL


def simulate(
    open_: np.ndarray,
    close: np.ndarray,
    targets: np.ndarray,
    start: np.ndarray,
    *,
    cash: float,
    commission: float,
    finalize: bool,
    reentries: np.ndarray | None = None,
) -> Fills:
    """Simulate every row of ``targets`` (shape ``(rows, n)``); see the module docstring.

    ``reentries`` (same shape, optional) marks bars where a non-flat target closes and
    re-opens the trade even when it equals the position held.
    """
    rows, n = targets.shape
    d = decisions(targets, start)
    again = None
    if reentries is not None:
        again = reentries & (d != 0) & (np.arange(n) >= start[:, None])
    change = np.zeros((rows, n), dtype=bool)
    change[:, 1:] = d[:, 1:] != d[:, :-1]
    if again is not None:
        change |= again
    last = change[:, n - 1].copy()
    change[:, n - 1] = False
    direction = d.copy()
    if finalize:
        # The finalize pass: an order decided on the last bar, else a close of what is open.
        force = ~last & (d[:, n - 1] != 0) & (start < n)
        direction[force, n - 1] = 0
        change[:, n - 1] = last | force
    row_of, bar_of = np.nonzero(change)
    counts = np.bincount(row_of, minlength=rows)
    k_max = int(counts.max()) if rows and len(row_of) else 0
    offsets = np.concatenate(([0], np.cumsum(counts)[:-1]))
    rank = np.arange(len(row_of)) - offsets[row_of]
    fill = np.minimum(bar_of + 1, n - 1)

    valid = np.zeros((rows, k_max), dtype=bool)
    fill_bar = np.zeros((rows, k_max), dtype=np.int64)
    new_dir = np.zeros((rows, k_max), dtype=np.int8)
    valid[row_of, rank] = True
    fill_bar[row_of, rank] = fill
    new_dir[row_of, rank] = direction[row_of, bar_of]

    shape = (rows, k_max)
    t_size = np.zeros(shape)
    t_entry = np.zeros(shape)
    t_exit_bar = np.full(shape, -1, dtype=np.int64)
    t_exit = np.zeros(shape)
    t_comm = np.zeros(shape)
    cash_after = np.zeros(shape)
    failed = np.zeros(rows, dtype=bool)

    if rows <= _SCALAR_ROWS:
        for row in range(rows):
            failed[row] = _changes_scalar(
                open_,
                int(counts[row]),
                fill_bar[row],
                new_dir[row],
                cash,
                commission,
                (
                    t_size[row],
                    t_entry[row],
                    t_exit_bar[row],
                    t_exit[row],
                    t_comm[row],
                    cash_after[row],
                ),
            )
        k_max_loop = 0
    else:
        k_max_loop = k_max
    money = np.full(rows, float(cash))
    size = np.zeros(rows)
    entry = np.zeros(rows)
    held = np.full(rows, -1, dtype=np.int64)  # k of the open trade, -1 when flat
    every = np.arange(rows)
    for k in range(k_max_loop):
        v = valid[:, k]
        price = open_[fill_bar[:, k]]
        closing = v & (held >= 0)
        if closing.any():
            at = every[closing]
            s, p, e = size[closing], price[closing], entry[closing]
            exit_fee = 0 + (np.abs(s) * p) * commission
            money[closing] = money[closing] + ((s * (p - e) - 0) - exit_fee)
            k_open = held[closing]
            t_exit_bar[at, k_open] = fill_bar[closing, k]
            t_exit[at, k_open] = p
            t_comm[at, k_open] = exit_fee + (0 + (np.abs(s) * e) * commission)
            size[closing] = 0.0
            entry[closing] = 0.0
            held[closing] = -1
        opening = v & (new_dir[:, k] != 0)
        if opening.any():
            p = price[opening]
            units = (np.maximum(0.0, money[opening]) * 1.0 * FULL) // _commission_per_unit(
                p, commission
            )
            failed[opening] |= units < 1
            s = new_dir[opening, k] * units
            money[opening] = money[opening] - (0 + (np.abs(s) * p) * commission)
            size[opening] = s
            entry[opening] = p
            held[opening] = k
            t_size[opening, k] = s
            t_entry[opening, k] = p
        cash_after[:, k] = money

    # Equity: the state after the latest change filled at or before each bar.
    filled = np.zeros((rows, n + 1), dtype=np.int64)
    np.add.at(filled, (row_of, fill), 1)
    segment = np.cumsum(filled[:, :n], axis=1) - 1
    flat = segment < 0
    if k_max:
        linear = (np.maximum(segment, 0) + (np.arange(rows) * k_max)[:, None]).ravel()
        seg_cash = cash_after.ravel()[linear].reshape(rows, n)
        seg_size = t_size.ravel()[linear].reshape(rows, n)
        seg_entry = t_entry.ravel()[linear].reshape(rows, n)
    else:
        seg_cash, seg_size, seg_entry = (np.zeros((rows, n)) for _ in range(3))
    seg_cash[flat] = cash
    seg_size[flat] = 0.0
    seg_entry[flat] = 0.0
    equity = seg_cash + (close * seg_size - seg_size * seg_entry)
    # Before its first decision backtesting.py back-fills the first equity it recorded; that
    # differs from cash only when the finalize pass fills on the first decision bar itself.
    for row in np.flatnonzero(start == n - 1):
        equity[row, : n - 1] = equity[row, n - 1]

    traded = t_size != 0
    fills = Fills(
        equity=equity,
        entry_bar=np.where(traded, fill_bar, -1),
        exit_bar=t_exit_bar,
        size=t_size,
        entry_price=t_entry,
        exit_price=t_exit,
        commission=t_comm,
        closed=traded & (t_exit_bar >= 0),
        is_open=traded & (t_exit_bar < 0),
    )
    broke = failed | ((equity <= 0) & (np.arange(n) >= start[:, None])).any(axis=1)
    if finalize and k_max:
        # The last bar's equity before the finalize pass (which the curve no longer shows):
        # backtesting.py stops there if it is 0 or less.
        before = segment[:, n - 1] - change[:, n - 1]
        at = np.maximum(before, 0)
        pick = np.arange(rows)
        s_, e_ = t_size[pick, at], t_entry[pick, at]
        value = np.where(before >= 0, cash_after[pick, at] + (close[n - 1] * s_ - s_ * e_), cash)
        broke |= value <= 0
    for row in np.flatnonzero(broke):
        _replace_row(
            fills,
            row,
            simulate_row(
                open_,
                close,
                d[row],
                int(start[row]),
                cash=cash,
                commission=commission,
                finalize=finalize,
                reentries=None if again is None else again[row],
            ),
        )
    return fills


def _changes_scalar(open_, count, fill_bar, new_dir, cash, commission, out) -> bool:
    """The k-loop of :func:`simulate` for one row, on Python floats (same arithmetic, less
    overhead for a single run). Returns whether an order could not buy one unit."""
    t_size, t_entry, t_exit_bar, t_exit, t_comm, cash_after = out
    opens = open_.tolist()
    bars = fill_bar[:count].tolist()
    dirs = new_dir[:count].tolist()
    money = float(cash)
    size = entry = 0.0
    held = -1
    failed = False
    for k in range(count):
        bar = bars[k]
        price = opens[bar]
        if held >= 0:
            exit_fee = 0 + (abs(size) * price) * commission
            money = money + ((size * (price - entry) - 0) - exit_fee)
            t_exit_bar[held] = bar
            t_exit[held] = price
            t_comm[held] = exit_fee + (0 + (abs(size) * entry) * commission)
            size = entry = 0.0
            held = -1
        if dirs[k]:
            units = (max(0.0, money) * 1.0 * FULL) // (
                price + (0 + (FULL * price) * commission) / FULL
            )
            failed |= units < 1
            size = dirs[k] * units
            money = money - (0 + (abs(size) * price) * commission)
            entry = price
            held = k
            t_size[k] = size
            t_entry[k] = price
        cash_after[k] = money
    return failed


@dataclass
class RowFills:
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
) -> RowFills:
    """One row, bar by bar, exactly as backtesting.py's broker steps (the reference)."""
    n = len(close)
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
            per_unit = price + (0 + (FULL * price) * commission) / FULL
            units = (max(0.0, money) * 1.0 * FULL) // per_unit
            if units >= 1:
                size = target * units
                entry = price
                entry_bar = bar
                money -= 0 + (abs(size) * price) * commission

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


def _replace_row(fills: Fills, row: int, result: RowFills) -> None:
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
