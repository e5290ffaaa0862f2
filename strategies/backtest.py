"""Backtests: what a strategy would have done on past bars, as backtesting.py computes it.

:func:`run_backtest` (or ``Backtest(bars, strategy_cls, ...).run(**params)``) reproduces
``backtesting.Backtest(data, strategy, cash=..., commission=..., spread=..., margin=...,
finalize_trades=...).run()`` for a strategy that, on each bar, closes its position and opens
one in the target direction when the target changes (with ``stop_loss``/``take_profit``, its
entries are ``buy(sl=..., tp=...)``): the same trades (entry and exit bar, prices, sizes), the
same equity curve and statistics. The trading semantics:

* **Fills at the next bar's open.** A target decided on bar *i*'s close fills at bar
  *i + 1*'s open. There are no limit or stop entry orders.
* **Stop-loss and take-profit** (off by default). ``stop_loss=0.05`` closes a long when the
  price falls to 5 % below the close of the bar that decided the entry (a short: 5 %
  above), ``take_profit=0.1`` when it rises 10 % above it (a short: falls 10 % below). They
  are checked on every bar from the entry bar on, filling at the stop or take-profit price,
  or at the open when the bar gaps through it; the stop wins when one bar reaches both.
  After such an exit the position stays flat until the strategy's target changes: the same
  signal does not re-enter. A target change closes the trade at the next open as usual
  (the stops are cancelled). :mod:`strategies._broker` has the details.
* **Spread once per trade.** ``spread`` is the bid-ask spread as a fraction of the price
  (``0.0002`` is 2 pips on EURUSD at 1.0): a long enters at ``open * (1 + spread)``, a short
  at ``open * (1 - spread)``, and both exit at the plain open. A trade's ``entry_price`` is
  the adjusted price, so its PnL and return include the spread.
* **Commission per side.** ``commission`` is relative (``0.002`` is 0.2 %), charged on the
  order's value at entry (at the adjusted entry price) *and* at exit; a trade's PnL is net
  of both.
* **All-in, whole units, with leverage.** Each entry buys (or sells short) as many whole
  units as the cash times the leverage ``1 / margin`` pays for at the adjusted price plus
  the commission per unit (``margin=0.02`` is 50:1; ``1``, the default, no leverage). One
  that cannot pay for one unit is cancelled and retried on the next bar while the target
  holds. The margin is the only requirement: there is no separate maintenance margin and no
  margin call short of the out-of-money stop below, as in backtesting.py.
* **Exclusive positions.** Long, short or flat: reversing closes the trade first, at the
  same open.
* **Warm-up.** No decision before ``1 +`` the first bar at which every indicator of the
  strategy is defined (see :mod:`strategies.base`).
* **finalize_trades.** False (the default): a trade still open at the end is left out of
  the statistics (its value is in the equity). True: it is closed at the last bar's open
  and counted.
* **Out of money.** If equity falls to 0 or below (with leverage, a fall of ``margin``
  against the trade is enough), the trade is closed at that bar's close and the run stops
  with equity 0; the loss beyond 0 is not carried.
* **Exit reasons.** Each closed trade says why it left: ``signal`` (the target changed),
  ``stop_loss``, ``take_profit``, ``end`` (closed by ``finalize_trades``) or
  ``out_of_money``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from strategies._execution import ExitReason, Fills, simulate
from strategies._stats import compute_stats, trade_pnl
from strategies.bars import Bars, as_bars
from strategies.base import Strategy, evaluate
from strategies.errors import InvalidBacktest


@dataclass(frozen=True)
class Trade:
    """One trade. Bars are 0-based positions in the data; ``size`` is negative when short;
    ``pnl`` is net of both commissions and ``return_pct`` relative to the entry value;
    ``exit_reason`` is ``signal``, ``stop_loss``, ``take_profit``, ``end`` or
    ``out_of_money`` (None while open; see the module docstring)."""

    entry_bar: int
    exit_bar: int | None
    size: int
    entry_price: float
    exit_price: float | None
    pnl: float | None
    return_pct: float | None
    commission: float | None
    entry_time: np.datetime64 | None = None
    exit_time: np.datetime64 | None = None
    exit_reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (times as ISO-8601 strings)."""
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        for key in ("entry_time", "exit_time"):
            out[key] = None if out[key] is None else str(out[key])
        return out


@dataclass(frozen=True)
class BacktestResult:
    """``stats`` (see :mod:`strategies._stats` for each key), closed ``trades`` in order,
    the trade left ``open_trade`` (if any, never in the stats) and the ``equity`` per bar."""

    strategy: str
    params: dict[str, Any]
    stats: dict[str, Any]
    trades: list[Trade]
    equity: np.ndarray
    open_trade: Trade | None = None
    time: np.ndarray | None = field(default=None, repr=False)


def check_options(
    cash: float,
    commission: float,
    spread: float = 0.0,
    margin: float = 1.0,
    stop_loss: float | None = None,
    take_profit: float | None = None,
) -> tuple[float, float, float, float, float | None, float | None]:
    """``(cash, commission, spread, margin, stop_loss, take_profit)`` as floats (the stops
    None when off), or :class:`InvalidBacktest` naming the bad one: cash above 0,
    commission in [-0.1, 0.1), spread in [0, 0.1), margin in (0, 1], stop_loss in (0, 1),
    take_profit above 0 and above the spread (backtesting.py refuses a take-profit a long's
    spread-adjusted price already passes)."""
    try:
        cash_f = float(cash)
    except (TypeError, ValueError):
        raise InvalidBacktest(
            f"cash must be a number, got {cash!r}", errors={"cash": "number"}
        ) from None
    if not cash_f > 0 or not math.isfinite(cash_f):
        raise InvalidBacktest(f"cash must be above 0, got {cash!r}", errors={"cash": "> 0"})
    try:
        comm = float(commission)
    except (TypeError, ValueError):
        raise InvalidBacktest(
            f"commission must be a number, got {commission!r}", errors={"commission": "number"}
        ) from None
    if not -0.1 <= comm < 0.1:
        raise InvalidBacktest(
            f"commission is a fraction per side between -0.1 and 0.1 (0.002 is 0.2 %), "
            f"got {commission!r}",
            errors={"commission": "between -0.1 and 0.1"},
        )
    spread_f = _number("spread", spread)
    if not 0 <= spread_f < 0.1:
        raise InvalidBacktest(
            f"spread is a fraction of the price between 0 and 0.1 (0.0002 is 0.02 %), "
            f"got {spread!r}",
            errors={"spread": "at least 0 and below 0.1"},
        )
    margin_f = _number("margin", margin)
    if not 0 < margin_f <= 1:
        raise InvalidBacktest(
            f"margin is the fraction of a position's value held as margin, above 0 and at "
            f"most 1 (0.02 is 50:1 leverage), got {margin!r}",
            errors={"margin": "above 0 and at most 1"},
        )
    stop_f = None if stop_loss is None else _number("stop_loss", stop_loss)
    if stop_f is not None and not 0 < stop_f < 1:
        raise InvalidBacktest(
            f"stop_loss is a fraction of the entry decision's close, above 0 and below 1 "
            f"(0.05 closes a long 5 % below it), got {stop_loss!r}",
            errors={"stop_loss": "above 0 and below 1"},
        )
    take_f = None if take_profit is None else _number("take_profit", take_profit)
    if take_f is not None and not (spread_f < take_f and math.isfinite(take_f)):
        raise InvalidBacktest(
            f"take_profit is a fraction of the entry decision's close, above 0 and above "
            f"the spread (0.1 closes a long 10 % above it), got {take_profit!r}",
            errors={"take_profit": "above 0 and above the spread"},
        )
    return cash_f, comm, spread_f, margin_f, stop_f, take_f


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool):
        raise InvalidBacktest(f"{name} must be a number, got {value!r}", errors={name: "number"})
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InvalidBacktest(
            f"{name} must be a number, got {value!r}", errors={name: "number"}
        ) from None


def check_strategy(strategy_cls: Any) -> type[Strategy]:
    if not (isinstance(strategy_cls, type) and issubclass(strategy_cls, Strategy)):
        raise InvalidBacktest(
            f"strategy_cls must be a Strategy subclass, got {strategy_cls!r}",
            errors={"strategy_cls": "not a Strategy"},
        )
    return strategy_cls


def run_backtest(
    bars: Any,
    strategy_cls: type[Strategy],
    params: Mapping[str, Any] | None = None,
    *,
    cash: float = 10_000,
    commission: float = 0.0,
    finalize_trades: bool = False,
    spread: float = 0.0,
    margin: float = 1.0,
    stop_loss: float | None = None,
    take_profit: float | None = None,
) -> BacktestResult:
    """Backtest one parameter set of ``strategy_cls`` on ``bars``.

    Args:
        bars: OHLC(V) bars (see :func:`strategies.bars.as_bars`), oldest first.
        strategy_cls: a :class:`Strategy` subclass (not an instance).
        params: parameter values; missing ones take their defaults.
        cash: starting cash.
        commission: relative commission per side (``0.002`` = 0.2 %).
        finalize_trades: close and count the trade still open at the end.
        spread: bid-ask spread as a fraction of the price, paid once at entry.
        margin: margin ratio, ``1 / leverage`` (``0.02`` is 50:1; ``1`` no leverage).
        stop_loss: close a trade this fraction against the close that decided it
            (``0.05``: 5 %); None, the default, places no stop.
        take_profit: close a trade this fraction in its favour (``0.1``: 10 %); None, off.

    Raises:
        InvalidBacktest: bad bars, parameters or options (the message names which).
        StrategyError: the strategy's own code failed.
    """
    strategy_cls = check_strategy(strategy_cls)
    data = as_bars(bars)
    cash_f, comm, spread_f, margin_f, stop_f, take_f = check_options(
        cash, commission, spread, margin, stop_loss, take_profit
    )
    strategy = strategy_cls(**dict(params or {}))
    targets, warmup, reentries = evaluate(strategy, data)
    fills = simulate(
        data.open,
        data.close,
        targets[None, :],
        np.array([warmup + 1]),
        cash=cash_f,
        commission=comm,
        finalize=bool(finalize_trades),
        reentries=None if reentries is None else reentries[None, :],
        spread=spread_f,
        margin=margin_f,
        high=data.high,
        low=data.low,
        stop_loss=stop_f,
        take_profit=take_f,
    )
    stats = compute_stats(fills, data.close, data.time, np.array([warmup]), cash_f)[0]
    return result_of(strategy_cls, strategy.p, fills, 0, stats, data)


def result_of(
    strategy_cls: type[Strategy],
    params: dict[str, Any],
    fills: Fills,
    row: int,
    stats: dict[str, Any],
    data: Bars,
) -> BacktestResult:
    """The :class:`BacktestResult` of row ``row`` of ``fills``."""
    pnl, ret = trade_pnl(fills)
    time = data.time

    def at(bar: int) -> np.datetime64 | None:
        return None if time is None else time[bar]

    trades = []
    for k in np.flatnonzero(fills.closed[row]):
        entry_bar, exit_bar = int(fills.entry_bar[row, k]), int(fills.exit_bar[row, k])
        trades.append(
            Trade(
                entry_bar=entry_bar,
                exit_bar=exit_bar,
                size=int(fills.size[row, k]),
                entry_price=float(fills.entry_price[row, k]),
                exit_price=float(fills.exit_price[row, k]),
                pnl=float(pnl[row, k]),
                return_pct=float(ret[row, k] * 100),
                commission=float(fills.commission[row, k]),
                entry_time=at(entry_bar),
                exit_time=at(exit_bar),
                exit_reason=ExitReason(int(fills.exit_reason[row, k])).label,
            )
        )
    open_trade = None
    for k in np.flatnonzero(fills.is_open[row]):
        bar = int(fills.entry_bar[row, k])
        open_trade = Trade(
            entry_bar=bar,
            exit_bar=None,
            size=int(fills.size[row, k]),
            entry_price=float(fills.entry_price[row, k]),
            exit_price=None,
            pnl=None,
            return_pct=None,
            commission=None,
            entry_time=at(bar),
        )
    return BacktestResult(
        strategy=strategy_cls.name,
        params=dict(params),
        stats=stats,
        trades=trades,
        equity=fills.equity[row].copy(),
        open_trade=open_trade,
        time=time,
    )


class Backtest:
    """A backtest of ``strategy_cls`` on ``bars`` with fixed options; see the module docstring.

    ``Backtest(bars, SmaCross, cash=10_000, commission=0.002, spread=0.0002,
    margin=0.5, stop_loss=0.05).run(fast=10, slow=20)``. Bars and options are validated
    here, once.
    """

    def __init__(
        self,
        bars: Any,
        strategy_cls: type[Strategy],
        *,
        cash: float = 10_000,
        commission: float = 0.0,
        finalize_trades: bool = False,
        spread: float = 0.0,
        margin: float = 1.0,
        stop_loss: float | None = None,
        take_profit: float | None = None,
    ) -> None:
        self.strategy_cls = check_strategy(strategy_cls)
        self.bars = as_bars(bars)
        (
            self.cash,
            self.commission,
            self.spread,
            self.margin,
            self.stop_loss,
            self.take_profit,
        ) = check_options(cash, commission, spread, margin, stop_loss, take_profit)
        self.finalize_trades = bool(finalize_trades)

    def run(self, **params: Any) -> BacktestResult:
        """Backtest one parameter set (keywords are strategy parameters)."""
        return run_backtest(
            self.bars,
            self.strategy_cls,
            params,
            cash=self.cash,
            commission=self.commission,
            finalize_trades=self.finalize_trades,
            spread=self.spread,
            margin=self.margin,
            stop_loss=self.stop_loss,
            take_profit=self.take_profit,
        )
