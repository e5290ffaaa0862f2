"""The order simulation behind :mod:`strategies.backtest`, vectorised across parameter sets.

Semantics (backtesting.py's ``_Broker`` with ``hedging=False``, market orders only),
reproduced operation for operation so results agree to the last bit:

* A target decided on bar *i* (``i >= start``) that differs from the position held is an
  order: close the open trade, then open one in the new direction (if not flat). It fills at
  bar *i + 1*'s open. Decisions on the last bar fill only with ``finalize``.
* ``spread`` moves the entry against the trader: a long enters at ``open * (1 + spread)``,
  a short at ``open * (1 - spread)`` (backtesting.py's ``_adjusted_price``). Exits fill at
  the plain open (or close), so the spread is paid once per trade.
* Sizing is all in, whole units, on the cash times the leverage ``1 / margin``:
  ``int(cash * leverage * (1 - eps) // (entry + open * commission))``, where ``entry`` is
  the spread-adjusted price and the commission per unit is on the plain open. The open
  trade is always closed first, so no margin is in use when an entry is sized.
  An order that cannot buy one unit is cancelled and the target is tried again next bar.
* ``commission`` (relative, per side) is taken from cash at entry (on the adjusted entry
  price) and at exit (on the exit price).
* Equity at a bar is ``cash + (close * size - size * entry_price)`` after that bar's fills.
  If it reaches 0 or less the open trade is closed at that close, equity is 0 from there on
  and the run stops (backtesting.py's ``_OutOfMoneyError``). That is backtesting.py's only
  margin call: with leverage a trade is not liquidated while equity stays above 0.
* ``finalize``: after the last bar, the trade still open is closed at the last bar's
  **open** (backtesting.py re-runs its broker on the last bar) and counted; an order decided
  on the last bar then opens a trade that stays open and is not counted.

:func:`simulate` runs every row at once, looping over the k-th position change of all rows
(a few hundred iterations at most) instead of over bars; only the cash, carried from one
trade to the next, needs that loop: exits, commissions and the equity per bar follow from
it as whole arrays. Rows it cannot do exactly that way (an order cancelled for want of
cash, or equity reaching 0) are re-run by :func:`strategies._broker.simulate_row`, a plain
bar-by-bar loop that is also the reference the tests compare :func:`simulate` with.

With a ``stop_loss`` or ``take_profit`` every row runs through :func:`simulate_row`, which
holds the stop semantics (see :mod:`strategies._broker`): a stop can end a trade on any bar,
so trades no longer follow from the position changes alone. Without them nothing here
changes, not one operation.
"""

from __future__ import annotations

import numpy as np

from strategies._broker import RowFills, fills_of, replace_row, simulate_row
from strategies._fills import FULL, ExitReason, Fills

__all__ = ["FULL", "ExitReason", "Fills", "RowFills", "decisions", "simulate", "simulate_row"]

# Up to this many rows, the k-loop runs row by row on Python floats (less overhead).
_SCALAR_ROWS = 4


def decisions(targets: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Targets with every bar before ``start`` (per row) flat: no decision is made there."""
    n = targets.shape[1]
    return np.where(np.arange(n) >= start[:, None], targets, 0).astype(np.int8)


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
    spread: float = 0.0,
    margin: float = 1.0,
    high: np.ndarray | None = None,
    low: np.ndarray | None = None,
    stop_loss: float | None = None,
    take_profit: float | None = None,
) -> Fills:
    """Simulate every row of ``targets`` (shape ``(rows, n)``); see the module docstring.

    ``reentries`` (same shape, optional) marks bars where a non-flat target closes and
    re-opens the trade even when it equals the position held. ``spread``, ``margin``,
    ``stop_loss`` and ``take_profit`` are checked by the caller
    (:func:`strategies.backtest.check_options`); stops need ``high`` and ``low``.
    """
    leverage = 1 / margin
    rows, n = targets.shape
    d = decisions(targets, start)
    again = None
    if reentries is not None:
        again = reentries & (d != 0) & (np.arange(n) >= start[:, None])

    def by_bars(row: int) -> RowFills:
        """The row run bar by bar (the reference loop), with every option."""
        return simulate_row(
            open_,
            close,
            d[row],
            int(start[row]),
            cash=cash,
            commission=commission,
            finalize=finalize,
            reentries=None if again is None else again[row],
            spread=spread,
            margin=margin,
            high=high,
            low=low,
            stop_loss=stop_loss,
            take_profit=take_profit,
        )

    if stop_loss is not None or take_profit is not None:
        return fills_of([by_bars(row) for row in range(rows)], n)
    change = np.zeros((rows, n), dtype=bool)
    np.not_equal(d[:, 1:], d[:, :-1], out=change[:, 1:])
    if again is not None:
        change |= again
    last = change[:, n - 1].copy()
    change[:, n - 1] = False
    if finalize:
        # The finalize pass: an order decided on the last bar, else a close of what is open.
        force = ~last & (d[:, n - 1] != 0) & (start < n)
        change[:, n - 1] = last | force
    row_of, bar_of = np.nonzero(change)
    direction = d[row_of, bar_of]
    # A change on the last bar that no decision made is the finalize pass closing the trade.
    forced_at = np.zeros(len(row_of), dtype=bool)
    if finalize:
        direction[bar_of == n - 1] = np.where(last, d[:, n - 1], 0)[row_of[bar_of == n - 1]]
        forced_at = (bar_of == n - 1) & ~last[row_of]
    counts = np.bincount(row_of, minlength=rows)
    k_max = int(counts.max()) if rows and len(row_of) else 0
    offsets = np.concatenate(([0], np.cumsum(counts)[:-1]))
    rank = np.arange(len(row_of)) - offsets[row_of]
    fill = np.minimum(bar_of + 1, n - 1)

    # Slot k of a row is its k-th position change: it closes the trade the slot before
    # opened (if any) and opens one in ``new_dir`` (if not flat), at ``price``.
    shape = (rows, k_max)
    valid = np.zeros(shape, dtype=bool)
    fill_bar = np.zeros(shape, dtype=np.int64)
    new_dir = np.zeros(shape, dtype=np.int8)
    valid[row_of, rank] = True
    forced = np.zeros(shape, dtype=bool)
    forced[row_of, rank] = forced_at
    fill_bar[row_of, rank] = fill
    new_dir[row_of, rank] = direction
    price = open_[fill_bar]
    entry = price if spread == 0 else adjusted(price, new_dir, spread)
    opened = valid & (new_dir != 0)
    closes = np.zeros(shape, dtype=bool)  # slot k closes the trade of slot k - 1
    closes[:, 1:] = opened[:, :-1] & valid[:, 1:]

    if rows <= _SCALAR_ROWS:
        t_size, cash_after, failed = _cash_scalar(
            price, entry, opened, closes, new_dir, counts, cash, commission, leverage
        )
    else:
        t_size, cash_after, failed = _cash(
            price, entry, opened, new_dir, cash, commission, leverage
        )

    # Exits: slot k's trade leaves at slot k + 1's fill (at the plain open), both
    # commissions then known.
    t_entry = np.where(opened, entry, 0.0)
    t_exit_bar = np.full(shape, -1, dtype=np.int64)
    t_exit = np.zeros(shape)
    t_comm = np.zeros(shape)
    t_reason = np.zeros(shape, dtype=np.int8)
    if k_max > 1:
        leaves = closes[:, 1:]
        s, e, p = t_size[:, :-1], t_entry[:, :-1], price[:, 1:]
        exit_fee = 0 + (np.abs(s) * p) * commission
        t_exit_bar[:, :-1] = np.where(leaves, fill_bar[:, 1:], -1)
        t_exit[:, :-1] = np.where(leaves, p, 0.0)
        t_comm[:, :-1] = np.where(leaves, exit_fee + (0 + (np.abs(s) * e) * commission), 0.0)
        reason = np.where(forced[:, 1:], ExitReason.END, ExitReason.SIGNAL)
        t_reason[:, :-1] = np.where(leaves, reason, ExitReason.NONE)

    equity = _equity(close, fill_bar, valid, counts, cash_after, t_size, t_entry, cash)
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
        exit_reason=t_reason,  # set only where a trade left (a row with an empty slot is re-run)
    )
    # Equity is cash (above 0) until the first fill, after start: no need to mask bars.
    broke = failed | (equity <= 0).any(axis=1)
    if finalize and k_max:
        # The last bar's equity before the finalize pass (which the curve no longer shows):
        # backtesting.py stops there if it is 0 or less.
        before = counts - 1 - change[:, n - 1]
        at = np.maximum(before, 0)
        pick = np.arange(rows)
        s_, e_ = t_size[pick, at], t_entry[pick, at]
        value = np.where(before >= 0, cash_after[pick, at] + (close[n - 1] * s_ - s_ * e_), cash)
        broke |= value <= 0
    for row in np.flatnonzero(broke):
        replace_row(fills, row, by_bars(row))
    return fills


def adjusted(price: np.ndarray, direction: np.ndarray, spread: float) -> np.ndarray:
    """Entry prices with the spread: ``price * (1 + copysign(spread, direction))``, a long
    a fraction above ``price`` and a short below it (backtesting.py's ``_adjusted_price``)."""
    return price * (1 + np.copysign(spread, direction.astype(np.float64)))


def _cash(
    price: np.ndarray,
    entry_price: np.ndarray,
    opened: np.ndarray,
    new_dir: np.ndarray,
    cash: float,
    commission: float,
    leverage: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(size, cash after, failed)`` of every slot: the k-loop, all rows at once.

    Only the cash carries from one slot to the next (each entry is sized on it), so only
    it is computed here, with _Broker's arithmetic, operation for operation (``x * 1.0``
    and ``x - 0``, which give x itself in IEEE arithmetic, are left out; ``0 + x``, which
    turns -0.0 into 0.0, is kept). The loop runs on slot-major copies, so that each step
    reads and writes contiguous rows, in place.

    Every row takes every step, masks aside: a slot that opens nothing has size 0.0, so
    the next step's PnL and commission are zero and the cash stays what it was (but for
    the sign of a zero cash, and a row whose cash reaches 0 is re-run bar by bar anyway);
    the steps after a row's last slot fill slots that nothing reads. With no commission
    the commission terms, 0.0 each time, are left out as well, and so is the leverage
    when it is 1.0. ``entry_price`` is ``price`` with the spread (``price`` itself without).
    """
    price_k = np.ascontiguousarray(price.T)
    entry_k = price_k if entry_price is price else np.ascontiguousarray(entry_price.T)
    dir_k = np.ascontiguousarray(new_dir.T, dtype=np.float64)
    k_max, rows = price_k.shape
    # _Broker: adjusted_price + self._commission(order.size, price) / abs(order.size)
    per_unit = entry_k + (0 + (FULL * price_k) * commission) / FULL
    charged = commission != 0
    levered = leverage != 1
    sizes = np.zeros((k_max, rows))
    units = np.zeros((k_max, rows))
    after = np.zeros((k_max, rows))
    money = np.full(rows, float(cash))
    size = np.zeros(rows)  # of the trade the slot before opened (0 if none)
    entry = np.zeros(rows)
    a, b = np.empty(rows), np.empty(rows)
    for k in range(k_max):
        p = price_k[k]
        # Close the trade held: its PnL, size * (p - entry), less the exit commission.
        np.subtract(p, entry, out=a)
        np.multiply(size, a, out=a)
        if charged:
            np.abs(size, out=b)
            np.multiply(b, p, out=b)
            np.multiply(b, commission, out=b)
            np.add(b, 0, out=b)
            np.subtract(a, b, out=a)
        np.add(money, a, out=money)
        # Open all in, whole units, on what the cash (times the leverage) pays for with
        # the entry commission: margin_available * leverage * FULL.
        np.maximum(0.0, money, out=a)
        if levered:
            np.multiply(a, leverage, out=a)
        np.multiply(a, FULL, out=a)
        np.floor_divide(a, per_unit[k], out=units[k])
        size = sizes[k]
        np.multiply(dir_k[k], units[k], out=size)  # 0.0 where the slot opens nothing
        if charged:
            np.abs(size, out=b)
            np.multiply(b, entry_k[k], out=b)
            np.multiply(b, commission, out=b)
            np.add(b, 0, out=b)
            np.subtract(money, b, out=money)
        after[k] = money
        entry = entry_k[k]
    failed = (opened & (units.T < 1)).any(axis=1)
    return np.ascontiguousarray(sizes.T), np.ascontiguousarray(after.T), failed


def _cash_scalar(
    price: np.ndarray,
    entry_price: np.ndarray,
    opened: np.ndarray,
    closes: np.ndarray,
    new_dir: np.ndarray,
    counts: np.ndarray,
    cash: float,
    commission: float,
    leverage: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_cash` row by row on Python floats: the same arithmetic, less overhead for a
    single run (a numpy call per slot costs more than the slot's few operations)."""
    rows, k_max = price.shape
    t_size = np.zeros((rows, k_max))
    cash_after = np.zeros((rows, k_max))
    failed = np.zeros(rows, dtype=bool)
    for row in range(rows):
        count = int(counts[row])
        prices = price[row, :count].tolist()
        entries = entry_price[row, :count].tolist()
        opens = opened[row, :count].tolist()
        closing = closes[row, :count].tolist()
        dirs = new_dir[row, :count].tolist()
        money = float(cash)
        size = entry = 0.0
        sizes, after = [], []
        for k in range(count):
            p, e = prices[k], entries[k]
            if closing[k]:
                money = money + ((size * (p - entry) - 0) - (0 + (abs(size) * p) * commission))
            size = 0.0
            if opens[k]:
                per_unit = e + (0 + (FULL * p) * commission) / FULL
                u = (max(0.0, money) * leverage * FULL) // per_unit
                failed[row] |= u < 1
                size = dirs[k] * u
                money = money - (0 + (abs(size) * e) * commission)
            entry = e
            sizes.append(size)
            after.append(money)
        t_size[row, :count] = sizes
        cash_after[row, :count] = after
    return t_size, cash_after, failed


def _equity(
    close: np.ndarray,
    fill_bar: np.ndarray,
    valid: np.ndarray,
    counts: np.ndarray,
    cash_after: np.ndarray,
    t_size: np.ndarray,
    t_entry: np.ndarray,
    cash: float,
) -> np.ndarray:
    """Equity per bar: ``cash + (close * size - size * entry)`` of the state after the
    latest change filled at or before the bar (flat, with ``cash``, before the first)."""
    rows, k_max = fill_bar.shape
    n = len(close)
    # Per row: a flat stretch up to the first fill, then one stretch per slot up to the
    # next slot's fill (none if both fill on the same bar), the last to the end.
    stretch = np.zeros((rows, k_max + 1), dtype=np.int64)
    until = np.where(valid, fill_bar, n)
    stretch[:, 0] = until[:, 0] if k_max else n
    if k_max:
        nxt = np.concatenate((until[:, 1:], np.full((rows, 1), n)), axis=1)
        stretch[:, 1:] = np.where(valid, nxt - fill_bar, 0)
    money = np.concatenate((np.full((rows, 1), float(cash)), cash_after), axis=1)
    size = np.concatenate((np.zeros((rows, 1)), t_size), axis=1)
    entry = np.concatenate((np.zeros((rows, 1)), t_entry), axis=1)
    lengths = stretch.ravel()
    # Per stretch, size * entry, the same product for every bar of it.
    value = np.repeat((size * entry).ravel(), lengths).reshape(rows, n)
    equity = np.repeat(money.ravel(), lengths).reshape(rows, n)
    held = np.repeat(size.ravel(), lengths).reshape(rows, n)
    np.multiply(close, held, out=held)
    np.subtract(held, value, out=held)
    np.add(equity, held, out=equity)
    return equity
