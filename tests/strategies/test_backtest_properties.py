"""Invariants on random price series (hypothesis): equity is cash plus the position's value,
no trade before the warm-up, fills at the next open, a grid row equals the single run, the
vectorised simulation equals the bar-by-bar reference, and backtesting.py agrees, including
orders it cancels for want of cash and runs that go out of money; with and without spread,
leverage (margin), stop-loss and take-profit (fills where backtesting.py's rule puts them,
never earlier than the first bar that reaches them)."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from strategies import get_strategy, run_backtest, run_grid
from strategies._broker import simulate_row
from strategies._execution import decisions, simulate
from strategies.bars import as_bars
from tests.strategies.oracle import ORACLES, RETRYING, STOPS, assert_matches, oracle_run

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def price_frames(draw, min_bars=30, max_bars=250):
    n = draw(st.integers(min_bars, max_bars))
    start = draw(st.floats(1.0, 3000.0))
    moves = draw(st.lists(st.floats(-0.25, 0.25), min_size=n, max_size=n).map(np.array))
    gaps = draw(st.lists(st.floats(-0.05, 0.05), min_size=n, max_size=n).map(np.array))
    wick = draw(st.lists(st.floats(0, 0.05), min_size=n, max_size=n).map(np.array))
    close = np.round(start * np.exp(np.cumsum(moves)), 4) + 0.01
    prev = np.r_[close[0], close[:-1]]
    open_ = np.round(prev * (1 + gaps), 4) + 0.01
    high = np.maximum(open_, close) * (1 + wick)
    low = np.minimum(open_, close) / (1 + wick)
    index = pd.date_range("2020-01-01", periods=n, freq="D")
    return pd.DataFrame({"Open": open_, "High": high, "Low": low, "Close": close}, index=index)


CHOICES = st.sampled_from(
    [
        ("sma_cross", {"fast": 3, "slow": 8}),
        ("sma_cross", {"fast": 2, "slow": 5, "long_only": True}),
        ("rsi_reversion", {"period": 5, "lower": 40, "upper": 60}),
        ("donchian_breakout", {"period": 4}),
        ("donchian_breakout", {"period": 6, "long_only": True}),
        ("buy_and_hold", {}),
    ]
)
OPTIONS = st.tuples(st.sampled_from([0.0, 0.001, 0.01]), st.booleans())
# (spread, margin): none half the time, else spread, leverage or both (10:1 ruins often).
COSTS = st.sampled_from([(0.0, 1.0), (0.0, 1.0), (0.001, 1.0), (0.0, 0.5), (0.002, 0.1)])
# (stop_loss, take_profit): off half the time (the vectorised path), else the bar loop.
STOP_OPTIONS = st.sampled_from(
    [(None, None), (None, None), (0.03, None), (None, 0.05), (0.02, 0.04), (0.1, 1.2)]
)


@SETTINGS
@given(frame=price_frames(), choice=CHOICES, options=OPTIONS, costs=COSTS, stops=STOP_OPTIONS)
def test_equity_is_cash_plus_position_value(frame, choice, options, costs, stops):
    name, params = choice
    commission, finalize = options
    spread, margin = costs
    stop_loss, take_profit = stops
    result = run_backtest(
        frame,
        get_strategy(name),
        params,
        commission=commission,
        finalize_trades=finalize,
        spread=spread,
        margin=margin,
        stop_loss=stop_loss,
        take_profit=take_profit,
    )
    if result.equity[-1] == 0:
        return  # out of money: equity is 0 from there on
    value = 10_000 + sum(t.pnl for t in result.trades)
    if result.open_trade:
        t = result.open_trade
        value += t.size * (frame.Close.iloc[-1] - t.entry_price)
        value -= abs(t.size) * t.entry_price * commission
    assert result.equity[-1] == pytest.approx(value, rel=1e-9, abs=1e-6)
    assert result.stats["equity_final"] == result.equity[-1]


@SETTINGS
@given(frame=price_frames(), choice=CHOICES, options=OPTIONS, costs=COSTS)
def test_no_trade_before_warmup_and_fills_at_next_open(frame, choice, options, costs):
    name, params = choice
    commission, finalize = options
    spread, margin = costs
    cls = get_strategy(name)
    result = run_backtest(
        frame,
        cls,
        params,
        commission=commission,
        finalize_trades=finalize,
        spread=spread,
        margin=margin,
    )
    from strategies.base import evaluate

    warmup = evaluate(cls(**params), as_bars(frame)).warmup
    opens = frame.Open.to_numpy()
    closes = frame.Close.to_numpy()
    trades = result.trades + ([result.open_trade] if result.open_trade else [])
    for t in trades:
        assert t.entry_bar >= warmup + 2  # decided at warm-up + 1 at the earliest
        # The spread is paid at entry: a long a fraction above the open, a short below.
        assert t.entry_price == opens[t.entry_bar] * (1 + np.copysign(spread, t.size))
        if t.exit_bar is not None:
            at_open = t.exit_price == opens[t.exit_bar]
            out_of_money = t.exit_price == closes[t.exit_bar] and result.equity[-1] == 0
            assert at_open or out_of_money
            assert t.exit_bar >= t.entry_bar
    for a, b in itertools.pairwise(trades):
        assert b.entry_bar >= a.exit_bar  # exclusive: one trade at a time


@SETTINGS
@given(frame=price_frames(), options=OPTIONS, costs=COSTS, stops=STOP_OPTIONS, data=st.data())
def test_grid_row_equals_single_run(frame, options, costs, stops, data):
    commission, finalize = options
    spread, margin = costs
    costs_kw = {"spread": spread, "margin": margin}
    costs_kw.update(stop_loss=stops[0], take_profit=stops[1])
    name = data.draw(st.sampled_from(["sma_cross", "rsi_reversion", "donchian_breakout"]))
    grid = {
        "sma_cross": {"fast": [2, 3, 5], "slow": [4, 8, 13], "long_only": [False, True]},
        "rsi_reversion": {"period": [3, 6], "lower": [30, 45], "upper": [55, 70]},
        "donchian_breakout": {"period": [3, 5, 8], "long_only": [False, True]},
    }[name]
    cls = get_strategy(name)
    results = run_grid(
        frame, cls, grid, commission=commission, finalize_trades=finalize, keep=True, **costs_kw
    )
    for result in results:
        single = run_backtest(
            frame, cls, result.params, commission=commission, finalize_trades=finalize, **costs_kw
        )
        assert single.trades == result.trades
        np.testing.assert_array_equal(single.equity, result.equity)
        for key, value in single.stats.items():
            assert result.stats[key] == pytest.approx(value, rel=1e-12, nan_ok=True), key


@SETTINGS
@given(
    frame=price_frames(min_bars=10, max_bars=120),
    seed=st.integers(0, 2**32 - 1),
    options=OPTIONS,
    costs=COSTS,
)
def test_vectorised_simulation_equals_bar_by_bar_reference(frame, seed, options, costs):
    commission, finalize = options
    spread, margin = costs
    rng = np.random.default_rng(seed)
    rows, n = 6, len(frame)
    targets = rng.choice(np.array([-1, 0, 1], dtype=np.int8), size=(rows, n), p=[0.3, 0.3, 0.4])
    targets = np.where(rng.random((rows, n)) < 0.7, np.roll(targets, 1, axis=1), targets)
    reentries = rng.random((rows, n)) < 0.05
    start = rng.integers(1, n + 2, size=rows)
    o, c = frame.Open.to_numpy(), frame.Close.to_numpy()
    fills = simulate(
        o,
        c,
        targets,
        start,
        cash=10_000,
        commission=commission,
        finalize=finalize,
        reentries=reentries,
        spread=spread,
        margin=margin,
    )
    d = decisions(targets, start)
    for row in range(rows):
        ref = simulate_row(
            o,
            c,
            d[row],
            int(start[row]),
            cash=10_000,
            commission=commission,
            finalize=finalize,
            reentries=reentries[row] & (d[row] != 0),
            spread=spread,
            margin=margin,
        )
        np.testing.assert_array_equal(fills.equity[row], ref.equity)
        m = fills.closed[row]
        got = list(
            zip(
                fills.entry_bar[row][m].tolist(),
                fills.exit_bar[row][m].tolist(),
                fills.size[row][m].tolist(),
                fills.entry_price[row][m].tolist(),
                fills.exit_price[row][m].tolist(),
                fills.commission[row][m].tolist(),
                fills.exit_reason[row][m].tolist(),
                strict=True,
            )
        )
        assert got == [tuple(t) for t in ref.trades]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    frame=price_frames(max_bars=150),
    choice=CHOICES,
    options=OPTIONS,
    costs=COSTS,
    cash=st.sampled_from([10_000, 2_000]),
    stops=STOP_OPTIONS,
)
def test_random_series_match_backtesting_py(frame, choice, options, costs, cash, stops):
    """Prices up to 3,000 against 2,000 of cash: cancelled orders and ruin happen here."""
    name, params = choice
    commission, finalize = options
    spread, margin = costs
    stop_loss, take_profit = stops
    ours = run_backtest(
        frame,
        get_strategy(name),
        params,
        cash=cash,
        commission=commission,
        finalize_trades=finalize,
        spread=spread,
        margin=margin,
        stop_loss=stop_loss,
        take_profit=take_profit,
    )
    if stop_loss is None and take_profit is None:
        oracle_cls = RETRYING.get(name, ORACLES[name])
    else:
        oracle_cls = STOPS[name]  # retries a cancelled entry, as tradefleet does
        params = {**params, "stop_loss": stop_loss, "take_profit": take_profit}
    theirs = oracle_run(
        frame,
        oracle_cls,
        params,
        cash=cash,
        commission=commission,
        finalize=finalize,
        spread=spread,
        margin=margin,
    )
    assert_matches(ours, theirs)


@SETTINGS
@given(
    frame=price_frames(),
    choice=CHOICES,
    options=OPTIONS,
    costs=COSTS,
    stops=STOP_OPTIONS.filter(lambda s: s != (None, None)),
)
def test_stop_and_take_profit_fill_by_backtesting_py_rule(frame, choice, options, costs, stops):
    """Prices come from the decision bar's close (the bar before the entry). A long's stop
    fills at ``min(open, stop)`` (so at most the stop, less on a gap), its take-profit at
    ``max(open, tp)``; a short mirrors both. No bar of the trade before its exit bar reached
    either (it would have left there), and after a stop exit the next entry comes only
    after a target change, never at the next bar's open on the same signal."""
    name, params = choice
    commission, finalize = options
    spread, margin = costs
    stop_loss, take_profit = stops
    result = run_backtest(
        frame,
        get_strategy(name),
        params,
        commission=commission,
        finalize_trades=finalize,
        spread=spread,
        margin=margin,
        stop_loss=stop_loss,
        take_profit=take_profit,
    )
    o, h, lo, c = (frame[k].to_numpy() for k in ("Open", "High", "Low", "Close"))
    trades = result.trades + ([result.open_trade] if result.open_trade else [])
    for t in trades:
        if finalize and t.entry_bar == len(frame) - 1:
            continue  # decided on the bar before, or on this one for the finalize pass
        long = t.size > 0
        decided = c[t.entry_bar - 1]
        stop = take = None
        if stop_loss is not None:
            stop = decided * (1 - stop_loss) if long else decided * (1 + stop_loss)
        if take_profit is not None:
            take = decided * (1 + take_profit) if long else decided * (1 - take_profit)
        last = t.exit_bar if t.exit_bar is not None else len(frame)
        for b in range(t.entry_bar, last):  # never reached before the exit bar
            if stop is not None:
                assert (lo[b] > stop) if long else (h[b] < stop), (t, b)
            if take is not None and take > 0:
                assert (h[b] < take) if long else (lo[b] > take), (t, b)
        if t.exit_reason == "stop_loss":
            assert t.exit_price == (min(o[t.exit_bar], stop) if long else max(o[t.exit_bar], stop))
            assert t.exit_price <= stop if long else t.exit_price >= stop
        elif t.exit_reason == "take_profit":
            assert t.exit_price == (max(o[t.exit_bar], take) if long else min(o[t.exit_bar], take))
            assert t.exit_price >= take if long else t.exit_price <= take
            if stop is not None:  # the stop was not reached on that bar: it would win
                assert (lo[t.exit_bar] > stop) if long else (h[t.exit_bar] < stop)
        elif t.exit_reason in ("signal", "end"):
            assert t.exit_price == o[t.exit_bar]
    from strategies.base import evaluate

    signals = evaluate(get_strategy(name)(**params), as_bars(frame))
    again = signals.reentries
    for a, b in itertools.pairwise(trades):
        if a.exit_reason in ("stop_loss", "take_profit"):
            # Decided on b.entry_bar - 1 (or on the last bar itself, for the finalize pass):
            # some bar from the exit on said something else.
            span = range(a.exit_bar, b.entry_bar + (finalize and b.entry_bar == len(frame) - 1))
            side = 1 if a.size > 0 else -1
            changed = [
                j for j in span if signals.targets[j] != side or (again is not None and again[j])
            ]
            assert changed, (a, b)
