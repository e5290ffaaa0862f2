"""backtesting.py (AGPL, a dev dependency) as the oracle: each built-in written again as a
backtesting.py ``Strategy``, bar by bar in ``next()``, with its indicators computed
independently (pandas), so the oracle shares no code with ``strategies/``."""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pandas as pd
from backtesting import Backtest as OracleBacktest
from backtesting import Strategy as OracleStrategy
from backtesting.lib import crossover


def sma(values, n):
    return pd.Series(values).rolling(n).mean().to_numpy()


def rsi(close, period):
    close = list(map(float, close))
    out = [math.nan] * len(close)
    if len(close) <= period:
        return np.array(out)
    changes = [b - a for a, b in itertools.pairwise(close)]
    gain = sum(max(c, 0.0) for c in changes[:period]) / period
    loss = sum(max(-c, 0.0) for c in changes[:period]) / period

    def value(g, lo):
        return 100.0 * g / (g + lo) if g + lo > 0 else 50.0

    out[period] = value(gain, loss)
    for i, c in enumerate(changes[period:], start=period + 1):
        gain = (gain * (period - 1) + max(c, 0.0)) / period
        loss = (loss * (period - 1) + max(-c, 0.0)) / period
        out[i] = value(gain, loss)
    return np.array(out)


class _Follow(OracleStrategy):
    """Holds ``self.state`` (+1/0/-1): closes and re-opens when it changes."""

    def follow(self, state):
        held = int(np.sign(self.position.size))
        if state != held:
            self.position.close()
            if state > 0:
                self.buy()
            elif state < 0:
                self.sell()


class SmaCrossFollow(_Follow):
    """sma_cross as a state, so that an entry cancelled for want of cash is retried on the
    next bar (tradefleet's rule); every cross re-enters, as in the example."""

    fast = 10
    slow = 20
    long_only = False

    def init(self):
        self.sma1 = self.I(sma, self.data.Close, self.fast)
        self.sma2 = self.I(sma, self.data.Close, self.slow)
        self.state = 0

    def next(self):
        cross = True
        if crossover(self.sma1, self.sma2):
            self.state = 1
        elif crossover(self.sma2, self.sma1):
            self.state = 0 if self.long_only else -1
        else:
            cross = False
        if self.state != int(np.sign(self.position.size)) or (cross and self.state):
            self.position.close()
            if self.state > 0:
                self.buy()
            elif self.state < 0:
                self.sell()


class SmaCrossExample(OracleStrategy):
    """backtesting.py's own README example, verbatim but for the names and ``long_only``."""

    fast = 10
    slow = 20
    long_only = False

    def init(self):
        self.sma1 = self.I(sma, self.data.Close, self.fast)
        self.sma2 = self.I(sma, self.data.Close, self.slow)

    def next(self):
        if crossover(self.sma1, self.sma2):
            self.position.close()
            self.buy()
        elif crossover(self.sma2, self.sma1):
            self.position.close()
            if not self.long_only:
                self.sell()


class RsiReversionOracle(_Follow):
    period = 14
    lower = 30.0
    upper = 70.0
    long_only = False

    def init(self):
        self.rsi = self.I(rsi, self.data.Close, self.period)
        self.state = 0

    def next(self):
        if self.rsi[-1] < self.lower:
            self.state = 1
        elif self.rsi[-1] > self.upper:
            self.state = 0 if self.long_only else -1
        self.follow(self.state)


class DonchianBreakoutOracle(_Follow):
    period = 20
    long_only = False

    def init(self):
        high = pd.Series(self.data.High)
        low = pd.Series(self.data.Low)
        self.upper = self.I(lambda: high.rolling(self.period).max().shift(1).to_numpy())
        self.lower = self.I(lambda: low.rolling(self.period).min().shift(1).to_numpy())
        self.state = 0

    def next(self):
        if self.data.Close[-1] > self.upper[-1]:
            self.state = 1
        elif self.data.Close[-1] < self.lower[-1]:
            self.state = 0 if self.long_only else -1
        self.follow(self.state)


class BuyAndHoldOracle(_Follow):
    def init(self):
        pass

    def next(self):
        self.follow(1)


class _Stops:
    """Mixin: every entry is ``buy(sl=..., tp=...)`` / ``sell(...)`` priced on this bar's
    close (backtesting.py's documented idiom), and after a trade leaves by its stop or
    take-profit the strategy stays flat until its state changes (or a re-entry signal).

    ``stop_loss`` and ``take_profit`` are fractions (None: off). A trade the strategy did not
    close itself (``self._ours``) left by its SL or TP."""

    stop_loss = None
    take_profit = None

    def init(self):
        super().init()
        self._ours = set()  # ids of trades this strategy closed
        self._seen = 0  # closed trades looked at
        self._blocked = 0  # direction stopped out of

    def follow(self, state, again=False):
        for trade in self.closed_trades[self._seen :]:
            if id(trade) not in self._ours:
                self._blocked = int(np.sign(trade.size))
        self._seen = len(self.closed_trades)
        if self._blocked:
            if state == self._blocked and not (again and state):
                return
            self._blocked = 0
        held = int(np.sign(self.position.size))
        if state != held or (again and state):
            self._ours.update(id(t) for t in self.trades)
            self.position.close()
            close = self.data.Close[-1]
            sl, tp = self.stop_loss, self.take_profit
            if state > 0:
                self.buy(
                    sl=None if sl is None else close * (1 - sl),
                    tp=None if tp is None else close * (1 + tp),
                )
            elif state < 0:
                short_tp = None if tp is None else close * (1 - tp)
                self.sell(
                    sl=None if sl is None else close * (1 + sl),
                    tp=short_tp if short_tp is not None and short_tp > 0 else None,
                )


class SmaCrossStops(_Stops, SmaCrossFollow):
    """sma_cross with stops: a cross is a re-entry signal, as in the README example."""

    def next(self):
        cross = True
        if crossover(self.sma1, self.sma2):
            self.state = 1
        elif crossover(self.sma2, self.sma1):
            self.state = 0 if self.long_only else -1
        else:
            cross = False
        self.follow(self.state, again=cross)


class RsiReversionStops(_Stops, RsiReversionOracle):
    pass


class DonchianBreakoutStops(_Stops, DonchianBreakoutOracle):
    pass


class BuyAndHoldStops(_Stops, BuyAndHoldOracle):
    pass


#: The built-ins with ``stop_loss`` and ``take_profit`` parameters.
STOPS = {
    "sma_cross": SmaCrossStops,
    "rsi_reversion": RsiReversionStops,
    "donchian_breakout": DonchianBreakoutStops,
    "buy_and_hold": BuyAndHoldStops,
}

#: For random series, where entries get cancelled for want of cash.
RETRYING = {"sma_cross": SmaCrossFollow}

ORACLES = {
    "sma_cross": SmaCrossExample,
    "rsi_reversion": RsiReversionOracle,
    "donchian_breakout": DonchianBreakoutOracle,
    "buy_and_hold": BuyAndHoldOracle,
}


def oracle_run(
    data, oracle_cls, params, *, cash=10_000, commission=0.0, finalize=False, spread=0.0, margin=1.0
):
    """backtesting.py's result; stop classes take ``stop_loss``/``take_profit`` in ``params``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bt = OracleBacktest(
            data,
            oracle_cls,
            cash=cash,
            commission=commission,
            finalize_trades=finalize,
            spread=spread,
            margin=margin,
        )
        return bt.run(**params)


# Our stat key -> backtesting.py's
STATS = {
    "equity_final": "Equity Final [$]",
    "equity_peak": "Equity Peak [$]",
    "return_pct": "Return [%]",
    "buy_hold_return_pct": "Buy & Hold Return [%]",
    "return_ann_pct": "Return (Ann.) [%]",
    "volatility_ann_pct": "Volatility (Ann.) [%]",
    "cagr_pct": "CAGR [%]",
    "sharpe": "Sharpe Ratio",
    "sortino": "Sortino Ratio",
    "calmar": "Calmar Ratio",
    "max_drawdown_pct": "Max. Drawdown [%]",
    "exposure_time_pct": "Exposure Time [%]",
    "win_rate_pct": "Win Rate [%]",
    "best_trade_pct": "Best Trade [%]",
    "worst_trade_pct": "Worst Trade [%]",
    "avg_trade_pct": "Avg. Trade [%]",
    "profit_factor": "Profit Factor",
    "expectancy_pct": "Expectancy [%]",
    "sqn": "SQN",
}


def assert_matches(ours, theirs, *, stats=STATS):
    """Same trades, equity bar for bar, the final equity to the cent and every statistic."""
    tr = theirs["_trades"]
    expected = list(
        zip(
            tr["EntryBar"].tolist(),
            tr["ExitBar"].tolist(),
            tr["Size"].tolist(),
            tr["EntryPrice"].tolist(),
            tr["ExitPrice"].tolist(),
            strict=True,
        )
    )
    got = [(t.entry_bar, t.exit_bar, t.size, t.entry_price, t.exit_price) for t in ours.trades]
    assert got == expected
    assert [t.pnl for t in ours.trades] == pytest_approx(tr["PnL"].tolist())
    assert ours.stats["trades"] == theirs["# Trades"]
    assert abs(ours.stats["equity_final"] - float(theirs["Equity Final [$]"])) < 0.005  # the cent
    equity = theirs["_equity_curve"]["Equity"].to_numpy()
    np.testing.assert_allclose(ours.equity, equity, rtol=1e-12, atol=1e-9)
    for key, their_key in stats.items():
        if their_key not in theirs:
            continue
        a, b = float(ours.stats[key]), float(theirs[their_key])
        assert (math.isnan(a) and math.isnan(b)) or a == pytest_approx(b), (key, a, b)
    if "Commissions [$]" in theirs:
        assert ours.stats["commissions"] == pytest_approx(theirs["Commissions [$]"])


def assert_exit_reasons(ours, theirs, data):
    """Each trade's ``exit_reason`` agrees with where it left, given backtesting.py's own
    SL and TP prices of that trade: a stop fills at ``min(open, sl)`` for a long, a
    take-profit at ``max(open, tp)`` (mirrored for a short), a signal or finalize at the
    open, an out-of-money close at the close. Returns how many trades left by each reason."""
    tr = theirs["_trades"]
    o, h = data.Open.to_numpy(), data.High.to_numpy()
    lo, c = data.Low.to_numpy(), data.Close.to_numpy()
    count = {}
    for t, sl, tp in zip(ours.trades, tr["SL"].tolist(), tr["TP"].tolist(), strict=True):
        bar, long = t.exit_bar, t.size > 0
        reason = t.exit_reason
        count[reason] = count.get(reason, 0) + 1
        if reason == "stop_loss":
            assert (lo[bar] <= sl) if long else (h[bar] >= sl), t
            assert t.exit_price == (min(o[bar], sl) if long else max(o[bar], sl)), t
        elif reason == "take_profit":
            assert (h[bar] >= tp) if long else (lo[bar] <= tp), t
            assert t.exit_price == (max(o[bar], tp) if long else min(o[bar], tp)), t
        elif reason in ("signal", "end"):
            assert t.exit_price == o[bar], t
        else:
            assert reason == "out_of_money" and t.exit_price == c[bar], t
    return count


def pytest_approx(value):
    import pytest

    return pytest.approx(value, rel=1e-9, abs=1e-9, nan_ok=True)
