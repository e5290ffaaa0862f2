"""Stop-loss and take-profit against backtesting.py: every built-in on GOOG (daily) and
EURUSD (hourly), with the oracle strategies of :data:`tests.strategies.oracle.STOPS`
(``buy(sl=..., tp=...)`` on the decision bar's close, flat after a stop exit until the
state changes); with and without commission, finalize_trades, spread and margin; and the
bars that decide the fill rules: a gap through the stop, a stop on the entry bar, a bar
that reaches both the stop and the take-profit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from backtesting.test import EURUSD, GOOG

from strategies import InvalidBacktest, get_strategy, run_backtest, run_grid
from tests.strategies.oracle import STOPS, assert_exit_reasons, assert_matches, oracle_run
from tests.strategies.test_backtest_oracle import CASES, DATA

# (stop_loss, take_profit) per data set: daily GOOG moves percents, hourly EURUSD tenths.
STOP_SETS = {
    "GOOG": [(0.05, None), (None, 0.1), (0.03, 0.06), (0.1, 1.5)],  # 1.5: no short TP
    "EURUSD": [(0.002, None), (None, 0.004), (0.003, 0.002)],
}
STOP_CASES = [
    pytest.param(*case.values, sl, tp, id=f"{case.id}-sl{sl}-tp{tp}")
    for case in CASES
    for sl, tp in STOP_SETS[case.values[0]]
]


def _both(data, name, params, sl, tp, **options):
    bars = DATA[data]
    ours = run_backtest(bars, get_strategy(name), params, stop_loss=sl, take_profit=tp, **options)
    finalize = options.pop("finalize_trades", False)
    theirs = oracle_run(
        bars, STOPS[name], {**params, "stop_loss": sl, "take_profit": tp}, finalize=finalize,
        **options,
    )  # fmt: skip
    assert_matches(ours, theirs)
    return ours, assert_exit_reasons(ours, theirs, bars)


@pytest.mark.parametrize(("commission", "finalize"), [(0.0, False), (0.002, True)])
@pytest.mark.parametrize(("data", "name", "params", "sl", "tp"), STOP_CASES)
def test_stops_match_backtesting_py(data, name, params, sl, tp, commission, finalize):
    _both(data, name, params, sl, tp, commission=commission, finalize_trades=finalize)


# (spread, margin, commission, finalize), as in test_backtest_oracle.COSTS.
COSTS = [(0.001, 1.0, 0.0, False), (0.0002, 0.1, 0.001, True), (0.0005, 0.02, 0.0, False)]


@pytest.mark.parametrize(("spread", "margin", "commission", "finalize"), COSTS)
@pytest.mark.parametrize(("data", "name", "params"), CASES)
def test_stops_with_spread_and_margin_match_backtesting_py(
    data, name, params, spread, margin, commission, finalize
):
    sl, tp = STOP_SETS[data][2]
    _both(
        data, name, params, sl, tp, commission=commission, finalize_trades=finalize,
        spread=spread, margin=margin,
    )  # fmt: skip


def test_stops_exit_trades_on_real_data():
    """The cases above exercise stops: both exit reasons occur, and most trades on GOOG
    with tight stops leave by them."""
    ours, reasons = _both("GOOG", "donchian_breakout", {"period": 20}, 0.02, 0.04)
    assert reasons["stop_loss"] > 10 and reasons["take_profit"] > 10
    plain = run_backtest(GOOG, get_strategy("donchian_breakout"), {"period": 20})
    assert ours.stats["equity_final"] != plain.stats["equity_final"]


def test_no_re_entry_after_a_stop_until_the_target_changes():
    """buy_and_hold's target never changes: once stopped out it stays flat to the end."""
    ours, reasons = _both("GOOG", "buy_and_hold", {}, 0.05, None)
    assert reasons == {"stop_loss": 1} and ours.open_trade is None
    assert (ours.equity[ours.trades[0].exit_bar :] == ours.equity[-1]).all()


def _frame(rows):
    """Bars from (open, high, low, close) rows, daily from 2020-01-01."""
    frame = pd.DataFrame(rows, columns=["Open", "High", "Low", "Close"], dtype=float)
    frame.index = pd.date_range("2020-01-01", periods=len(frame), freq="D")
    return frame


# buy_and_hold decides on bar 1 (close 100) and enters at bar 2's open: stop 95, TP 110.
FLAT = [(100, 101, 99, 100)] * 2


def _hold(rows, sl=0.05, tp=0.1, finalize=False):
    frame = _frame(rows)
    cls = get_strategy("buy_and_hold")
    ours = run_backtest(frame, cls, {}, stop_loss=sl, take_profit=tp, finalize_trades=finalize)
    theirs = oracle_run(
        frame, STOPS["buy_and_hold"], {"stop_loss": sl, "take_profit": tp}, finalize=finalize
    )
    assert_matches(ours, theirs)
    assert_exit_reasons(ours, theirs, frame)
    return ours


def test_gap_through_the_stop_fills_at_the_open():
    ours = _hold([*FLAT, (100, 102, 98, 101), (90, 92, 88, 91), (91, 92, 90, 91)])
    (trade,) = ours.trades
    assert (trade.exit_bar, trade.exit_price, trade.exit_reason) == (3, 90.0, "stop_loss")


def test_stop_reached_within_a_bar_fills_at_the_stop():
    ours = _hold([*FLAT, (100, 102, 98, 101), (99, 100, 94, 96), (96, 97, 95, 96)])
    (trade,) = ours.trades
    assert (trade.exit_bar, trade.exit_price, trade.exit_reason) == (3, 95.0, "stop_loss")


def test_stop_and_take_profit_in_one_bar_fill_the_stop():
    ours = _hold([*FLAT, (100, 102, 98, 101), (100, 111, 94, 105), (105, 106, 104, 105)])
    (trade,) = ours.trades
    assert (trade.exit_bar, trade.exit_price, trade.exit_reason) == (3, 95.0, "stop_loss")


def test_take_profit_gapped_fills_at_the_better_open():
    ours = _hold([*FLAT, (100, 102, 98, 101), (115, 116, 114, 115), (115, 116, 114, 115)])
    (trade,) = ours.trades
    assert (trade.exit_bar, trade.exit_price, trade.exit_reason) == (3, 115.0, "take_profit")


def test_stop_on_the_entry_bar():
    """backtesting.py re-processes the new stop right after a market entry fills."""
    ours = _hold([*FLAT, (100, 101, 93, 96), (96, 97, 95, 96)])
    (trade,) = ours.trades
    assert (trade.entry_bar, trade.exit_bar, trade.exit_price) == (2, 2, 95.0)
    assert trade.exit_reason == "stop_loss"


def test_entry_gapping_below_the_stop_leaves_at_once():
    """The stop comes from the decision bar's close: an entry opening below it is out
    at that same open."""
    ours = _hold([*FLAT, (90, 91, 89, 90), (90, 91, 89, 90)])
    (trade,) = ours.trades
    assert (trade.entry_bar, trade.exit_bar) == (2, 2)
    assert trade.entry_price == trade.exit_price == 90.0 and trade.pnl == 0


def test_entry_on_the_last_bar_can_stop_out():
    """An entry decided on the second-to-last bar, filled on the last, stopped there."""
    ours = _hold([*FLAT, (100, 101, 90, 92)])
    (trade,) = ours.trades
    assert (trade.entry_bar, trade.exit_bar, trade.exit_reason) == (2, 2, "stop_loss")


def test_finalize_pass_entry_can_stop_out():
    """Decided on the last bar (close 92: stop 87.4), filled by the finalize pass at that
    bar's open and stopped on the same bar: a closed trade, counted."""
    ours = _hold([(100, 101, 99, 100), (100, 101, 85, 92)], finalize=True)
    (trade,) = ours.trades
    assert (trade.entry_bar, trade.exit_bar, trade.exit_reason) == (1, 1, "stop_loss")
    assert trade.exit_price == 92 * (1 - 0.05) and ours.stats["trades"] == 1


def test_finalize_closes_the_trade_with_reason_end():
    ours = _hold([*FLAT, (100, 102, 98, 101), (101, 103, 100, 102)], finalize=True)
    (trade,) = ours.trades
    assert (trade.exit_bar, trade.exit_price, trade.exit_reason) == (3, 101.0, "end")


def test_signal_exit_comes_before_the_stop():
    """A target change closes at the next open; the stop is cancelled, not checked on that
    bar, though the bar reaches it (sma_cross on a made-up series, against the oracle)."""
    rng = np.random.default_rng(7)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, 400)))
    open_ = np.r_[close[0], close[:-1]]
    frame = _frame(
        np.c_[open_, np.maximum(open_, close) * 1.02, np.minimum(open_, close) * 0.98, close]
    )
    stops = {"stop_loss": 0.03, "take_profit": 0.05}
    cls = get_strategy("sma_cross")
    ours = run_backtest(frame, cls, {"fast": 3, "slow": 8}, **stops)
    theirs = oracle_run(frame, STOPS["sma_cross"], {"fast": 3, "slow": 8, **stops})
    assert_matches(ours, theirs)
    reasons = assert_exit_reasons(ours, theirs, frame)
    assert reasons["signal"] > 0 and reasons["stop_loss"] > 0 and reasons["take_profit"] > 0
    sl = theirs["_trades"]["SL"].to_numpy()
    low, high = frame.Low.to_numpy(), frame.High.to_numpy()
    reached = [
        t for t, stop in zip(ours.trades, sl, strict=True)
        if t.exit_reason == "signal"
        and (low[t.exit_bar] <= stop if t.size > 0 else high[t.exit_bar] >= stop)
    ]  # fmt: skip
    assert reached and all(t.exit_price == frame.Open.iloc[t.exit_bar] for t in reached)


@pytest.mark.parametrize("name", ["sma_cross", "rsi_reversion", "donchian_breakout"])
def test_grid_rows_with_stops_match_backtesting_py(name):
    grids = {
        "sma_cross": {"fast": [5, 10, 30], "slow": [20, 60], "long_only": [False, True]},
        "rsi_reversion": {"period": [7, 14], "lower": [30, 40], "upper": [60, 70]},
        "donchian_breakout": {"period": [10, 20, 30], "long_only": [False, True]},
    }
    options = {"commission": 0.001, "spread": 0.0002, "margin": 0.5}
    stops = {"stop_loss": 0.003, "take_profit": 0.002}
    results = run_grid(EURUSD, get_strategy(name), grids[name], keep=True, **options, **stops)
    assert len(results) > 4
    for result in results:
        single = run_backtest(EURUSD, get_strategy(name), result.params, **options, **stops)
        assert single.trades == result.trades
        theirs = oracle_run(EURUSD, STOPS[name], {**result.params, **stops}, **options)
        assert_matches(result, theirs)


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"stop_loss": 0}, "stop_loss"),
        ({"stop_loss": 1}, "stop_loss"),
        ({"stop_loss": -0.1}, "stop_loss"),
        ({"stop_loss": "tight"}, "stop_loss"),
        ({"take_profit": 0}, "take_profit"),
        ({"take_profit": float("inf")}, "take_profit"),
        ({"take_profit": 0.001, "spread": 0.002}, "take_profit"),
        ({"take_profit": True}, "take_profit"),
    ],
)
def test_bad_stops_name_the_option(options, field):
    with pytest.raises(InvalidBacktest) as info:
        run_backtest(GOOG, get_strategy("sma_cross"), {}, **options)
    assert field in info.value.errors and field in info.value.message


def test_trades_say_why_they_left():
    without = run_backtest(GOOG, get_strategy("sma_cross"), {}, finalize_trades=True)
    assert {t.exit_reason for t in without.trades} == {"signal", "end"}
    assert without.trades[-1].exit_reason == "end"
    assert without.trades[0].to_dict()["exit_reason"] == "signal"
