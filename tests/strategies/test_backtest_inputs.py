"""Validation at the boundary: each error names the argument and what is wrong."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from backtesting.test import GOOG

from strategies import (
    Backtest,
    InvalidBacktest,
    chunks,
    get_strategy,
    grid_combinations,
    registry,
    run_backtest,
    run_grid,
)

SMA = get_strategy("sma_cross")


def test_registry_has_the_builtins():
    assert registry.names() == ["buy_and_hold", "donchian_breakout", "rsi_reversion", "sma_cross"]
    with pytest.raises(InvalidBacktest, match="unknown strategy 'nope' \\(known: buy_and_hold"):
        get_strategy("nope")


@pytest.mark.parametrize(
    ("bars", "message"),
    [
        (GOOG.iloc[:0], "bars is empty"),
        (GOOG.drop(columns="Low"), "bars has no 'low' column"),
        (
            GOOG.assign(Close=GOOG.Close.where(GOOG.index != GOOG.index[7])),
            "'close' is missing \\(NaN\\) at row 7",
        ),
        (GOOG.assign(Open=-1.0), "'open' must hold finite prices above 0"),
        ([1, 2, 3], "bars must be a DataFrame or a mapping of columns, got list"),
        (
            {"open": [1, 2], "high": [1, 2], "low": [1, 2], "close": [1]},
            "column 'open' has \\(2,\\) values, expected 1",
        ),
    ],
    ids=["empty", "missing-column", "nan", "negative", "not-a-table", "ragged"],
)
def test_bad_bars_are_refused(bars, message):
    with pytest.raises(InvalidBacktest, match=message):
        run_backtest(bars, SMA)


def test_bars_as_a_mapping_and_in_lower_case_work():
    frame = GOOG.rename(columns=str.lower)
    mapping = {c: frame[c].to_numpy() for c in frame} | {"time": GOOG.index.to_numpy()}
    a = run_backtest(frame, SMA).stats
    b = run_backtest(mapping, SMA).stats
    assert a == b


def test_unsorted_bars_are_sorted_with_a_warning():
    with pytest.warns(UserWarning, match="not sorted"):
        shuffled = run_backtest(GOOG.iloc[::-1], SMA)
    assert shuffled.stats == run_backtest(GOOG, SMA).stats


def test_bars_without_times_have_no_calendar_stats():
    result = run_backtest(GOOG.reset_index(drop=True), SMA)
    assert result.stats["equity_final"] == run_backtest(GOOG, SMA).stats["equity_final"]
    assert np.isnan(result.stats["sharpe"]) and result.trades[0].entry_time is None


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"fast": 1}, "parameter fast must be between 2 and 500, got 1"),
        ({"fast": 2.5}, "parameter fast must be a whole number, got 2.5"),
        ({"fast": "ten"}, "parameter fast must be a number, got 'ten'"),
        ({"long_only": "maybe"}, "parameter long_only must be true or false"),
        ({"fast": 30, "slow": 20}, "fast \\(30\\) must be below slow \\(20\\)"),
        ({"speed": 3}, "sma_cross has no parameter speed \\(it has: fast, slow, long_only\\)"),
    ],
)
def test_bad_params_are_refused_naming_the_parameter(params, message):
    with pytest.raises(InvalidBacktest, match=message) as caught:
        run_backtest(GOOG, SMA, params)
    assert caught.value.errors


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"cash": 0}, "cash must be above 0"),
        ({"cash": "lots"}, "cash must be a number"),
        ({"commission": 0.5}, "commission is a fraction per side between -0.1 and 0.1"),
        ({"spread": -0.001}, "spread is a fraction of the price between 0 and 0.1"),
        ({"spread": 0.1}, "spread is a fraction of the price between 0 and 0.1"),
        ({"spread": "wide"}, "spread must be a number"),
        ({"margin": 0}, "margin is the fraction of a position's value held as margin"),
        ({"margin": 1.5}, "margin is the fraction of a position's value held as margin"),
        ({"margin": float("nan")}, "margin is the fraction"),
        ({"margin": None}, "margin must be a number"),
    ],
)
def test_bad_options_are_refused(options, message):
    with pytest.raises(InvalidBacktest, match=message) as caught:
        Backtest(GOOG, SMA, **options)
    assert set(caught.value.errors) == set(options)  # names the field
    with pytest.raises(InvalidBacktest, match=message):
        run_grid(GOOG, SMA, {"fast": [10]}, **options)


def test_strategy_must_be_a_class():
    with pytest.raises(InvalidBacktest, match="strategy_cls must be a Strategy subclass"):
        run_backtest(GOOG, "sma_cross")


def test_grid_combinations_skip_what_the_constraint_rejects_and_chunk():
    sets = grid_combinations(SMA, {"fast": range(5, 101, 5), "slow": range(5, 101, 5)})
    assert len(sets) == 190
    assert all(p["fast"] < p["slow"] and p["long_only"] is False for p in sets)
    parts = list(chunks(sets, 50))
    assert [len(p) for p in parts] == [50, 50, 50, 40]
    whole = run_grid(GOOG, SMA, param_sets=sets)
    split = [row for part in parts for row in run_grid(GOOG, SMA, param_sets=part)]
    assert [p for p, _ in whole] == [p for p, _ in split]
    for (_, a), (_, b) in zip(whole, split, strict=True):
        assert a == pytest.approx(b, rel=1e-12, nan_ok=True)


def test_grid_errors_name_the_parameter():
    with pytest.raises(InvalidBacktest, match="sma_cross has no parameter speed"):
        run_grid(GOOG, SMA, {"speed": [1]})
    with pytest.raises(InvalidBacktest, match="grid: fast has no values"):
        run_grid(GOOG, SMA, {"fast": []})
    with pytest.raises(InvalidBacktest, match="parameter slow must be between 2 and 1000"):
        run_grid(GOOG, SMA, {"slow": [5000]})
    assert run_grid(GOOG, SMA, {"fast": [50], "slow": [20]}) == []


def test_result_shapes_for_callers():
    result = run_backtest(pd.DataFrame(GOOG), SMA, {"fast": 10, "slow": 20}, finalize_trades=True)
    assert len(result.equity) == len(GOOG) and result.open_trade is None
    first = result.trades[0].to_dict()
    assert set(first) >= {
        "entry_bar",
        "exit_bar",
        "entry_time",
        "exit_time",
        "size",
        "entry_price",
        "exit_price",
        "pnl",
    }
    assert first["entry_time"].startswith("2004-")
    assert {
        "trades",
        "equity_final",
        "return_pct",
        "max_drawdown_pct",
        "win_rate_pct",
        "sharpe",
    } <= set(result.stats)
