"""The backtest record's options survive Redis's flat hash, and old records read as before."""

from __future__ import annotations

from strategies.backtest_runs import BacktestRun, run_options


def test_record_keeps_spread_and_margin_through_its_hash():
    run = BacktestRun(
        id="r1", strategy="sma_cross", kind="single", commission=0.002, spread=0.0002, margin=0.02
    )
    raw = run.to_hash()
    assert (raw["spread"], raw["margin"]) == ("0.0002", "0.02")
    back = BacktestRun.from_hash(raw)
    assert (back.spread, back.margin, back.commission) == (0.0002, 0.02, 0.002)
    assert run_options(back) == {
        "cash": 10_000.0,
        "commission": 0.002,
        "finalize_trades": False,
        "spread": 0.0002,
        "margin": 0.02,
        "stop_loss": None,
        "take_profit": None,
    }


def test_record_written_before_spread_and_margin_reads_without_them():
    raw = BacktestRun(id="r2", strategy="sma_cross", kind="single").to_hash()
    del raw["spread"], raw["margin"]
    old = BacktestRun.from_hash(raw)
    assert (old.spread, old.margin) == (0.0, 1.0)


def test_record_keeps_stops_through_its_hash_and_off_as_empty():
    run = BacktestRun(id="r3", strategy="sma_cross", kind="grid", stop_loss=0.05, take_profit=0.1)
    raw = run.to_hash()
    assert (raw["stop_loss"], raw["take_profit"]) == ("0.05", "0.1")
    back = BacktestRun.from_hash(raw)
    assert run_options(back)["stop_loss"] == 0.05 and run_options(back)["take_profit"] == 0.1
    off = BacktestRun(id="r4", strategy="sma_cross", kind="single", stop_loss=0.02).to_hash()
    assert off["take_profit"] == ""
    back = BacktestRun.from_hash(off)
    assert (back.stop_loss, back.take_profit) == (0.02, None)


def test_record_written_before_stops_reads_with_them_off():
    raw = BacktestRun(id="r5", strategy="sma_cross", kind="single").to_hash()
    del raw["stop_loss"], raw["take_profit"]
    old = BacktestRun.from_hash(raw)
    assert (old.stop_loss, old.take_profit) == (None, None)
