"""Backtests as jobs: through the API and real workers (one run, one with spread and
leverage, a grid with stop-loss and take-profit, a grid over two workers), bad input, and
the in-process CLI."""

from __future__ import annotations

import pytest

from strategies import get_strategy, run_backtest, run_grid
from strategies.backtest_runs import bars_from_csv, plain, rank
from tests.conftest import wait_for, worker_env
from tests.processes import CeleryWorker

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def goog_csv() -> str:
    from backtesting.test import GOOG

    frame = GOOG.copy()
    frame.columns = [c.lower() for c in frame.columns]
    return frame.to_csv(index_label="time")


def _finished(api, backtest_id: str, timeout: float = 60) -> dict:
    def done():
        body = api.get(f"/api/v1/backtests/{backtest_id}").json()
        return body if body["state"] in ("succeeded", "failed") else None

    return wait_for(done, timeout, f"backtest {backtest_id} did not finish")


def test_backtest_job_equals_run_backtest_in_process(api, goog_csv):
    spec = {"fast": 10, "slow": 20}
    response = api.post(
        "/api/v1/backtests",
        json={"strategy": "sma_cross", "params": spec, "commission": 0.002, "data": goog_csv},
    )
    assert response.status_code == 202, response.text
    accepted = response.json()
    assert accepted["status_url"] == f"/api/v1/backtests/{accepted['backtest_id']}"
    body = _finished(api, accepted["backtest_id"])
    assert body["state"] == "succeeded", body
    assert body["progress"] == {"done": 1, "total": 1, "chunks_done": 1, "chunks": 1, "pct": 100.0}

    local = run_backtest(bars_from_csv(goog_csv), get_strategy("sma_cross"), spec, commission=0.002)
    assert body["stats"] == plain(local.stats)
    assert body["stats"]["trades"] == len(local.trades) > 0
    assert [
        (t["entry_bar"], t["exit_bar"], t["size"], t["entry_price"], t["exit_price"], t["pnl"])
        for t in body["trades"]
    ] == [
        (t.entry_bar, t.exit_bar, t.size, t.entry_price, t.exit_price, t.pnl) for t in local.trades
    ]
    assert body["trades"][0]["entry_time"].startswith("2004-")

    png = api.get(accepted["equity_url"])
    assert png.status_code == 200
    assert png.headers["Content-Type"] == "image/png"
    assert png.content.startswith(b"\x89PNG\r\n\x1a\n")


def test_backtest_job_with_spread_and_margin_equals_run_backtest(api, goog_csv):
    """The options reach the worker and the record: the same trades as in-process, and
    not those of a run without them."""
    spec = {"fast": 10, "slow": 20}
    costs = {"spread": 0.001, "margin": 0.5, "commission": 0.001}
    response = api.post(
        "/api/v1/backtests",
        json={"strategy": "sma_cross", "params": spec, "data": goog_csv, **costs},
    )
    assert response.status_code == 202, response.text
    body = _finished(api, response.json()["backtest_id"])
    assert body["state"] == "succeeded", body
    assert (body["spread"], body["margin"], body["commission"]) == (0.001, 0.5, 0.001)

    bars = bars_from_csv(goog_csv)
    local = run_backtest(bars, get_strategy("sma_cross"), spec, **costs)
    assert body["stats"] == plain(local.stats)
    assert [(t["entry_bar"], t["size"], t["entry_price"], t["pnl"]) for t in body["trades"]] == [
        (t.entry_bar, t.size, t.entry_price, t.pnl) for t in local.trades
    ]
    without = run_backtest(bars, get_strategy("sma_cross"), spec, commission=0.001)
    assert body["trades"][0]["entry_price"] != without.trades[0].entry_price  # the spread
    assert abs(body["trades"][0]["size"]) > abs(without.trades[0].size)  # the leverage


def test_backtest_grid_with_stops_reaches_the_worker(api, goog_csv):
    """stop_loss and take_profit reach the worker's grid chunk and the best set's run: the
    same ranking and trades as in-process, each trade saying why it left."""
    grid = {"fast": [5, 10], "slow": [20, 40]}
    stops = {"stop_loss": 0.05, "take_profit": 0.1}
    response = api.post(
        "/api/v1/backtests",
        json={"strategy": "sma_cross", "grid": grid, "data": goog_csv, **stops},
    )
    assert response.status_code == 202, response.text
    body = _finished(api, response.json()["backtest_id"])
    assert body["state"] == "succeeded", body
    assert (body["stop_loss"], body["take_profit"], body["spread"]) == (0.05, 0.1, 0.0)
    bars = bars_from_csv(goog_csv)
    expected = rank(run_grid(bars, get_strategy("sma_cross"), grid, **stops), "sharpe")
    assert body["best_params"] == expected[0]["params"]
    local = run_backtest(bars, get_strategy("sma_cross"), body["best_params"], **stops)
    assert body["trades"] == [plain(t.to_dict()) for t in local.trades]
    reasons = {t["exit_reason"] for t in body["trades"]}
    assert {"stop_loss", "take_profit"} <= reasons <= {"signal", "stop_loss", "take_profit"}
    plain_run = api.post(
        "/api/v1/backtests", json={"strategy": "sma_cross", "params": {}, "data": goog_csv}
    )
    off = _finished(api, plain_run.json()["backtest_id"])
    assert (off["stop_loss"], off["take_profit"]) == (None, None)
    assert {t["exit_reason"] for t in off["trades"]} == {"signal"}


@pytest.fixture(scope="module")
def second_worker(redis_server):
    """Serves only the strategies queue (no group, no brokerage)."""
    env = worker_env(TRADEFLEET_WORKER_GROUPS="-", TRADEFLEET_WORKER_BROKERAGES="-")
    with CeleryWorker(env, queues="strategies", concurrency=2) as running:
        yield running


def test_grid_fans_out_over_two_workers_and_ranks(api, second_worker, goog_csv):
    grid = {"fast": list(range(5, 55, 5)), "slow": list(range(10, 110, 10))}
    response = api.post(
        "/api/v1/backtests",
        json={"strategy": "sma_cross", "grid": grid, "data": goog_csv, "rank_by": "return_pct"},
    )
    assert response.status_code == 202, response.text
    body = _finished(api, response.json()["backtest_id"])
    assert body["state"] == "succeeded", body
    local = run_grid(bars_from_csv(goog_csv), get_strategy("sma_cross"), grid)
    assert body["progress"]["done"] == body["progress"]["total"] == len(local)
    assert body["progress"]["chunks"] == body["progress"]["chunks_done"] > 2
    assert len(body["workers"]) >= 2, body["workers"]  # the chunks ran on both workers
    expected = rank(local, "return_pct")
    # Sums of floats in another order (a chunk, one set) may differ in the last digit.
    shown = expected[: len(body["ranked"])]
    assert [r["params"] for r in body["ranked"]] == [r["params"] for r in shown]
    for got, want in zip(body["ranked"], shown, strict=True):
        assert got["stats"] == pytest.approx(want["stats"], rel=1e-9, nan_ok=True)
    assert body["best_params"] == expected[0]["params"]
    assert body["stats"] == pytest.approx(expected[0]["stats"], rel=1e-9, nan_ok=True)
    returns = [r["stats"]["return_pct"] for r in body["ranked"]]
    assert returns == sorted(returns, reverse=True)
    assert api.get(f"/api/v1/backtests/{body['id']}/equity.png").status_code == 200


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"strategy": "nope"}, "strategy"),
        ({"params": {"fast": "x"}}, "params"),
        ({"params": {"nope": 1}}, "params"),
        ({"grid": {"fast": [0]}}, "grid"),
        ({"grid": {"fast": [5]}, "params": {"fast": 5}}, "grid"),
        ({"cash": -5}, "cash"),
        ({"commission": 0.5}, "commission"),
        ({"spread": -0.001}, "spread"),
        ({"spread": 0.5}, "spread"),
        ({"spread": "wide"}, "spread"),
        ({"margin": 0}, "margin"),
        ({"margin": 1.5}, "margin"),
        ({"stop_loss": 0}, "stop_loss"),
        ({"stop_loss": 1}, "stop_loss"),
        ({"stop_loss": -0.05}, "stop_loss"),
        ({"stop_loss": "tight"}, "stop_loss"),
        ({"take_profit": 0}, "take_profit"),
        ({"take_profit": -0.1}, "take_profit"),
        ({"take_profit": "high"}, "take_profit"),
        ({"take_profit": 0.001, "spread": 0.002}, "take_profit"),  # inside the spread
        ({"rank_by": "luck"}, "rank_by"),
        ({"data": "when,price\n1,2\n"}, "data"),
        ({"data": "time,open,high,low,close\n2024-01-02,1,1,1,x\n"}, "data"),
        ({"data": "time,open,high,low,close\n2024-01-02,1\r,1,1,1\n"}, "data"),  # fuzzer: a 500
        ({"data": None, "symbol": "SPY"}, "interval"),
        ({"data": None}, "data"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_backtest_input_is_422_naming_the_field(api, payload, field):
    body = {
        "strategy": "sma_cross",
        "data": "time,open,high,low,close\n2024-01-02,1,1,1,1\n",
        **payload,
    }
    body = {k: v for k, v in body.items() if v is not None}
    response = api.post("/api/v1/backtests", json=body)
    assert response.status_code == 422, response.text
    assert field in response.json()["errors"]["json"], response.json()


def test_unknown_backtest_is_404(api):
    assert api.get("/api/v1/backtests/nope").status_code == 404
    assert api.get("/api/v1/backtests/nope/equity.png").status_code == 404


def test_cli_runs_a_grid_in_process_and_prints_stats(app, goog_csv, tmp_path):
    data = tmp_path / "goog.csv"
    data.write_text(goog_csv)
    chart = tmp_path / "equity.png"
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "backtest", "sma_cross", "--data", str(data), "--grid", "fast=5:20:5",
            "--grid", "slow=20:40:10", "--commission", "0.002", "--quiet",
            "--chart", str(chart),
        ]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "sharpe" in result.output and "return_pct" in result.output
    assert "best 10 of 11 by sharpe" in result.output  # fast 20, slow 20 is no cross
    assert chart.read_bytes().startswith(b"\x89PNG")

    single = runner.invoke(
        args=["backtest", "sma_cross", "--data", str(data), "--param", "fast=10", "--quiet"]
    )
    assert single.exit_code == 0, single.output
    assert "equity_final" in single.output

    bad = runner.invoke(args=["backtest", "sma_cross", "--data", str(data), "--param", "x=1"])
    assert bad.exit_code != 0 and "no parameter x" in bad.output

    costs = ["--spread", "0.001", "--margin", "0.5", "--quiet"]
    levered = runner.invoke(args=["backtest", "sma_cross", "--data", str(data), *costs])
    assert levered.exit_code == 0, levered.output
    local = run_backtest(
        bars_from_csv(goog_csv), get_strategy("sma_cross"), {}, spread=0.001, margin=0.5
    )
    assert f"{local.stats['equity_final']:,.4g}" in levered.output
    bad_margin = runner.invoke(
        args=["backtest", "sma_cross", "--data", str(data), "--margin", "2", "--quiet"]
    )
    assert bad_margin.exit_code != 0 and "margin" in bad_margin.output

    stops = ["--stop-loss", "0.05", "--take-profit", "0.1", "--quiet"]
    stopped = runner.invoke(args=["backtest", "sma_cross", "--data", str(data), *stops])
    assert stopped.exit_code == 0, stopped.output
    local = run_backtest(
        bars_from_csv(goog_csv), get_strategy("sma_cross"), {}, stop_loss=0.05, take_profit=0.1
    )
    assert f"{local.stats['equity_final']:,.4g}" in stopped.output
    bad_stop = runner.invoke(
        args=["backtest", "sma_cross", "--data", str(data), "--stop-loss", "1.5", "--quiet"]
    )
    assert bad_stop.exit_code != 0 and "stop_loss" in bad_stop.output


def test_backtest_of_stored_bars(api):
    import os
    import random
    import string
    from datetime import UTC, datetime, timedelta
    from decimal import Decimal

    from core.settings import Settings
    from ingest.providers.base import Bar

    if not os.environ.get("INFLUX_URL"):
        pytest.skip("no InfluxDB for the bars store (apt-get install influxdb)")
    from ingest.store import open_store

    symbol = "BT" + "".join(random.choices(string.ascii_uppercase, k=4))
    start = datetime(2024, 1, 1, tzinfo=UTC)
    closes = [100 + 10 * ((i // 7) % 2) + i * 0.1 for i in range(60)]
    bars = [
        Bar(symbol, "1d", start + timedelta(days=i), *(Decimal(str(c)),) * 4, 100, "test")
        for i, c in enumerate(closes)
    ]
    open_store(Settings.from_env()).write_bars(bars)
    window = {"symbol": symbol, "interval": "1d", "start": "2024-01-01T00:00:00Z",
              "end": "2024-03-01T00:00:00Z"}  # fmt: skip
    params = {"fast": 2, "slow": 5}
    response = api.post(
        "/api/v1/backtests", json={"strategy": "sma_cross", "params": params, **window}
    )
    assert response.status_code == 202, response.text
    body = _finished(api, response.json()["backtest_id"])
    assert body["state"] == "succeeded", body
    assert body["bars"] == 60 and body["source"]["symbol"] == symbol
    local = run_backtest(
        {"open": closes, "high": closes, "low": closes, "close": closes,
         "time": [b.start.replace(tzinfo=None) for b in bars]},
        get_strategy("sma_cross"), params,
    )  # fmt: skip
    assert body["stats"] == plain(local.stats) and body["stats"]["trades"] > 0

    empty = api.post(
        "/api/v1/backtests",
        json={"strategy": "sma_cross", **window, "start": "2020-01-01T00:00:00Z",
              "end": "2020-02-01T00:00:00Z"},
    )  # fmt: skip
    assert empty.status_code == 422 and "symbol" in empty.json()["errors"]["json"]


def test_strategies_are_listed_with_their_parameters(api, anonymous):
    listed = {s["name"]: s for s in api.get("/api/v1/strategies").json()}
    assert {"sma_cross", "rsi_reversion", "donchian_breakout", "buy_and_hold"} <= set(listed)
    params = {p["name"]: p for p in listed["sma_cross"]["params"]}
    assert params["fast"]["type"] == "int" and params["long_only"]["type"] == "bool"
    assert params["long_only"]["default"] is False
    assert anonymous.get("/api/v1/strategies").status_code == 401
