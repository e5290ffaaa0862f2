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


def pytest_approx(value):
    import pytest

    return pytest.approx(value, rel=1e-9, abs=1e-9, nan_ok=True)
