"""backtesting.py's broker stepped bar by bar, for one row: the reference, and the stops.

:func:`simulate_row` is a plain loop over bars with the trading semantics that
:mod:`strategies._execution` describes. :func:`strategies._execution.simulate` hands it
the rows it cannot do by position changes (an order cancelled for want of cash, equity
reaching 0, and every row of a run with a stop-loss or take-profit), and the tests compare
the vectorised simulation with it.

Stop-loss and take-profit are backtesting.py's contingent orders, placed as its documented
idiom ``self.buy(sl=close * (1 - stop_loss), tp=close * (1 + take_profit))`` places them:

* **Prices from the decision bar.** An entry decided on bar *i* carries a stop at
  ``close[i] * (1 - stop_loss)`` and a take-profit at ``close[i] * (1 + take_profit)`` for a
  long; ``close[i] * (1 + stop_loss)`` and ``close[i] * (1 - take_profit)`` for a short. They
  are fixed then, not moved to the fill (the open of *i + 1*, with the spread).
* **Checked on every bar the trade is open, its entry bar included**, before the decision
  of that bar (backtesting.py processes orders before ``next()``, and re-processes the new
  contingent orders right after a market entry fills). A long's stop fills when
  ``low <= stop`` at ``min(open, stop)``: a gap through the stop fills at the open, worse
  than the stop. Otherwise its take-profit fills when ``high >= tp`` at ``max(open, tp)``.
  A short mirrors it: stop when ``high >= stop`` at ``max(open, stop)``, take-profit when
  ``low <= tp`` at ``min(open, tp)``. When both are reached in one bar the stop fills (it
  is first in backtesting.py's order queue: the pessimistic reading of the bar).
* **A target change comes first.** A trade whose target changed leaves at the next open
  as without stops; its stop and take-profit are cancelled with it, unchecked on that bar.
* **No re-entry after a stop.** After a stop or take-profit exit the position stays flat
  until the strategy's target changes (or it signals a re-entry): a target that still says
  long does not buy again on the next bar.
* Exits pay the commission on their fill price (the spread was paid at entry); with
  ``finalize`` an entry filled in the finalize pass can reach its stop on that last bar,
  and is then a closed trade. A short's take-profit at or below 0 (``take_profit >= 1``)
  is not placed (backtesting.py takes no such price); it could never fill anyway.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import copysign

import numpy as np

from strategies._fills import FULL, ExitReason, Fills

# A closed trade: entry bar, exit bar, size, entry price, exit price, commission, reason.
Closed = tuple[int, int, float, float, float, float, int]


@dataclass
class RowFills:
    """One row's equity per bar, its closed trades in order, and the trade left open."""

    equity: np.ndarray
    trades: list[Closed]
    open_trade: tuple[int, float, float] | None  # entry bar, size, entry price


def bracket(
    direction: int, close: float, stop_loss: float | None, take_profit: float | None
) -> tuple[float | None, float | None]:
    """``(stop, take_profit)`` prices of an entry in ``direction`` decided at ``close``
    (``None`` where there is none), with backtesting.py's arithmetic."""
    if direction > 0:
        stop = None if stop_loss is None else close * (1 - stop_loss)
        take = None if take_profit is None else close * (1 + take_profit)
    else:
        stop = None if stop_loss is None else close * (1 + stop_loss)
        take = None if take_profit is None else close * (1 - take_profit)
        if take is not None and take <= 0:
            take = None
    return stop, take


def stop_exit(
    direction: int, stop: float | None, take: float | None, open_: float, high: float, low: float
) -> tuple[float, ExitReason] | None:
    """``(price, reason)`` if the stop or take-profit of a trade in ``direction`` fills on a
    bar with this open, high and low, else None (the stop first when both are reached)."""
    if direction > 0:
        if stop is not None and low <= stop:
            return min(open_, stop), ExitReason.STOP_LOSS
        if take is not None and high >= take:
            return max(open_, take), ExitReason.TAKE_PROFIT
    else:
        if stop is not None and high >= stop:
            return max(open_, stop), ExitReason.STOP_LOSS
        if take is not None and low <= take:
            return min(open_, take), ExitReason.TAKE_PROFIT
    return None


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
    high: np.ndarray | None = None,
    low: np.ndarray | None = None,
    stop_loss: float | None = None,
    take_profit: float | None = None,
) -> RowFills:
    """One row, bar by bar, exactly as backtesting.py's broker steps (the reference).

    An entry fills at the open moved by ``spread`` against the trader and is sized on the
    cash times ``1 / margin``; exits fill at the plain price. ``stop_loss`` and
    ``take_profit`` (fractions, checked by the caller) need ``high`` and ``low``; see the
    module docstring.
    """
    stops = stop_loss is not None or take_profit is not None
    if stops and (high is None or low is None):
        raise ValueError("a stop-loss or take-profit needs the bars' high and low")
    n = len(close)
    leverage = 1 / margin
    # Python floats (the same values) make the loop cheaper than numpy scalars.
    opens, closes = open_.tolist(), close.tolist()
    highs = high.tolist() if stops else []
    lows = low.tolist() if stops else []
    targets = decided.tolist()
    again = None if reentries is None else reentries.tolist()
    equity = np.full(n, np.nan)
    trades: list[Closed] = []
    money = float(cash)
    size = 0.0
    entry = 0.0
    entry_bar = -1
    stop: float | None = None  # the open trade's contingent prices
    take: float | None = None
    pending: int | None = None
    pending_close = 0.0  # the close of the bar that decided ``pending``
    blocked = 0  # the direction a stop or take-profit just closed; no re-entry in it

    def close_at(price: float, bar: int, reason: ExitReason) -> None:
        nonlocal money, size, entry, stop, take
        exit_fee = 0 + (abs(size) * price) * commission
        money = money + ((size * (price - entry) - 0) - exit_fee)
        fee = exit_fee + (0 + (abs(size) * entry) * commission)
        trades.append((entry_bar, bar, size, entry, price, fee, int(reason)))
        size = 0.0
        entry = 0.0
        stop = take = None

    def fill(target: int, bar: int) -> None:
        nonlocal money, size, entry, entry_bar, stop, take
        price = opens[bar]
        if size:
            close_at(price, bar, ExitReason.SIGNAL)
        if target:
            adjusted = price * (1 + copysign(spread, target))
            per_unit = adjusted + (0 + (FULL * price) * commission) / FULL
            units = (max(0.0, money) * leverage * FULL) // per_unit
            if units >= 1:
                size = target * units
                entry = adjusted
                entry_bar = bar
                money -= 0 + (abs(size) * adjusted) * commission
                if stops:
                    stop, take = bracket(target, pending_close, stop_loss, take_profit)

    def check_stops(bar: int) -> int:
        """Fill the open trade's stop or take-profit on ``bar`` if reached; returns the
        direction of the trade it closed (0 if none)."""
        direction = 1 if size > 0 else -1
        hit = stop_exit(direction, stop, take, opens[bar], highs[bar], lows[bar])
        if hit is None:
            return 0
        close_at(hit[0], bar, hit[1])
        return direction

    broke = False
    for i in range(start, n):
        stopped = 0
        if pending is not None:
            fill(pending, i)
            pending = None
            if size and stops:
                stopped = check_stops(i)  # the re-processed orders of a fresh entry
        elif size and stops:
            stopped = check_stops(i)
        value = money + (closes[i] * size - size * entry)
        equity[i] = value
        if value <= 0:
            if size:
                close_at(closes[i], i, ExitReason.OUT_OF_MONEY)
            money = 0.0
            equity[i:] = 0.0
            broke = True
            break
        target = targets[i]
        signalled = again is not None and again[i] and target != 0
        if stopped:
            blocked = stopped
        if blocked:
            if target == blocked and not signalled:
                continue  # flat until the target changes
            blocked = 0
        held = (size > 0) - (size < 0)
        if target != held or signalled:
            pending = target
            pending_close = closes[i]
    if not broke and finalize and start < n:
        last = n - 1
        if size:
            # Closed by the finalize pass, unless the last bar's decision closes it anyway.
            reason = ExitReason.SIGNAL if pending is not None else ExitReason.END
            close_at(opens[last], last, reason)
        if pending:
            fill(pending, last)
            if size and stops:
                check_stops(last)
        value = money + (closes[last] * size - size * entry)
        equity[last] = value
        if value <= 0:
            if size:
                close_at(closes[last], last, ExitReason.OUT_OF_MONEY)
            equity[last] = 0.0
    defined = np.flatnonzero(~np.isnan(equity))
    if len(defined):
        equity[: defined[0]] = equity[defined[0]]
        # backtesting.py back-fills gaps; none arise here except before start
    else:
        equity[:] = money
    open_trade = (entry_bar, size, entry) if size else None
    return RowFills(equity, trades, open_trade)


def fills_of(results: list[RowFills], n: int) -> Fills:
    """The :class:`Fills` of rows simulated one by one."""
    k = max((len(r.trades) + (1 if r.open_trade else 0) for r in results), default=0)
    fills = Fills.empty(len(results), n, k)
    for row, result in enumerate(results):
        replace_row(fills, row, result)
    return fills


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
            "exit_reason",
        ):
            array = getattr(fills, name)
            pad = -1 if name in ("entry_bar", "exit_bar") else 0
            setattr(fills, name, np.pad(array, ((0, 0), (0, grow)), constant_values=pad))
    fills.equity[row] = result.equity
    for name in ("entry_bar", "exit_bar"):
        getattr(fills, name)[row] = -1
    for name in ("size", "entry_price", "exit_price", "commission", "exit_reason"):
        getattr(fills, name)[row] = 0
    fills.closed[row] = False
    fills.is_open[row] = False
    for k, (eb, xb, s, ep, xp, fee, reason) in enumerate(result.trades):
        fills.entry_bar[row, k], fills.exit_bar[row, k] = eb, xb
        fills.size[row, k], fills.entry_price[row, k] = s, ep
        fills.exit_price[row, k], fills.commission[row, k] = xp, fee
        fills.exit_reason[row, k] = reason
        fills.closed[row, k] = True
    if result.open_trade:
        k = len(result.trades)
        eb, s, ep = result.open_trade
        fills.entry_bar[row, k], fills.size[row, k], fills.entry_price[row, k] = eb, s, ep
        fills.is_open[row, k] = True
