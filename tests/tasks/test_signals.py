"""Live signals end to end: subscribed strategy -> signal on the newest stored bar ->
auto-trade -> paper fill, once per bar however often evaluation runs; a risk rule's refusal
recorded on the signal and in the group's audit list."""

from __future__ import annotations

import os
import random
import string
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from core.settings import Settings
from ingest.providers.base import Bar
from strategies import as_bars, get_strategy
from strategies.signals import decide
from tests.conftest import wait_for

pytestmark = pytest.mark.integration

CLOSES = [10, 9, 8, 7, 6, 5, 6, 8]  # sma_cross(2, 3): the fast average crosses up on the last


def _symbol() -> str:
    return "SG" + "".join(random.choices(string.ascii_uppercase, k=4))


@pytest.fixture(scope="module")
def store():
    if not os.environ.get("INFLUX_URL"):
        pytest.skip("no InfluxDB for the bars store (apt-get install influxdb)")
    from ingest.store import open_store

    return open_store(Settings.from_env())


def _write_bars(store, symbol: str) -> datetime:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    first = today - timedelta(days=len(CLOSES))
    bars = [
        Bar(symbol, "1d", first + timedelta(days=i), *(Decimal(c),) * 4, 1000, "test")
        for i, c in enumerate(CLOSES)
    ]
    assert store.write_bars(bars) == len(bars)
    return bars[-1].start


def _evaluate_twice(symbol: str) -> None:
    from tasks import names
    from tasks.celery import app

    for _ in range(2):
        app.send_task(names.EVALUATE_SIGNALS, args=[symbol, "1d"], queue="strategies")


def _signal(api, group: str, symbol: str, outcome: str) -> dict:
    def found():
        rows = api.get("/api/v1/signals", params={"group": group, "symbol": symbol}).json()
        return rows[0] if rows and rows[0]["outcome"] == outcome else None

    return wait_for(found, 20, f"no {outcome} signal for {symbol} in {group}")


def test_decide_buys_on_entering_long_and_sells_on_leaving_it():
    cls = get_strategy("sma_cross")

    def on(closes):
        return decide(
            cls,
            {"fast": 2, "slow": 3},
            as_bars({k: closes for k in ["open", "high", "low", "close"]}),
        )

    assert on(CLOSES).action == "buy"
    assert on([*CLOSES, 9]).action == "hold"
    assert on([*CLOSES, 9, 6]) == ("sell", -1, 1)


def test_signal_auto_trades_once_per_bar_and_fills_on_paper(api, store, redis_client):
    symbol, group = _symbol(), api.create_group()
    api.add_paper_account(group, "a1", cash="10000")
    api.set_quote(symbol, "8.00")
    bar = _write_bars(store, symbol)
    response = api.post(
        f"/api/v1/groups/{group}/strategies",
        json={
            "strategy": "sma_cross",
            "params": {"fast": 2, "slow": 3},
            "symbols": [symbol],
            "interval": "1d",
            "auto_trade": True,
            "quantity": 2,
            "dry_run": False,
        },
    )
    assert response.status_code == 201, response.text
    subscription = response.json()
    assert subscription["params"] == {"fast": 2, "slow": 3, "long_only": False}
    listed = api.get(f"/api/v1/groups/{group}/strategies").json()
    assert [s["id"] for s in listed] == [subscription["id"]]

    _evaluate_twice(symbol)
    signal = _signal(api, group, symbol, "submitted")
    assert signal["action"] == "buy" and signal["bar"].startswith(bar.date().isoformat())
    job = api.wait_job(signal["job_id"])
    assert job["state"] == "succeeded", job
    assert job["origin"] == f"signal:{signal['id']}"  # the job links back to its signal
    assert [(r["symbol"], r["status"], r["quantity"]) for r in job["results"]] == [
        (symbol, "filled", "2")
    ]

    # Evaluating that bar again (in-process, through the same code) acts no more.
    from tasks.market import store as worker_store
    from tasks.signals import evaluate_bar

    again = evaluate_bar(redis_client, Settings.from_env(), worker_store(), symbol, "1d")
    assert [s.job_id for s in again] == [signal["job_id"]]
    jobs = api.get(f"/api/v1/groups/{group}/jobs").json()
    assert [j["id"] for j in jobs if j["kind"] == "transaction"] == [signal["job_id"]]
    rows = api.get("/api/v1/signals", params={"group": group}).json()
    assert len(rows) == 1
    positions = api.get(f"/api/v1/groups/{group}/positions").json()
    assert [(p["symbol"], p["quantity"]) for p in positions[0]["positions"]] == [(symbol, "2")]

    assert api.delete(f"/api/v1/groups/{group}/strategies/{subscription['id']}").status_code == 204
    assert api.get(f"/api/v1/groups/{group}/strategies").json() == []


def test_a_risk_rule_refusing_a_signal_is_recorded(api, store):
    symbol, group = _symbol(), api.create_group()
    api.add_paper_account(group, "a1")
    api.set_quote(symbol, "8.00")
    assert api.put(f"/api/v1/groups/{group}/risk", json={"max_quantity": 1}).status_code == 200
    _write_bars(store, symbol)
    body = {"strategy": "sma_cross", "params": {"fast": 2, "slow": 3}, "symbols": [symbol],
            "interval": "1d", "auto_trade": True, "quantity": 5, "dry_run": False}  # fmt: skip
    assert api.post(f"/api/v1/groups/{group}/strategies", json=body).status_code == 201

    _evaluate_twice(symbol)
    signal = _signal(api, group, symbol, "refused")
    assert signal["risk"] == {"rule": "max_quantity", "limit": "1", "value": "5"}
    assert signal["job_id"] == ""
    events = api.get(f"/api/v1/groups/{group}/risk/events").json()
    assert [e["rule"] for e in events] == ["max_quantity"]  # refused once, not per evaluation
    jobs = api.get(f"/api/v1/groups/{group}/jobs").json()
    assert [j for j in jobs if j["kind"] == "transaction"] == []


def test_subscription_input_is_checked(api):
    group = api.create_group()
    base = {"strategy": "sma_cross", "symbols": ["SPY"], "interval": "1d"}
    for payload, field in [
        ({"strategy": "nope"}, "strategy"),
        ({"params": {"fast": 0}}, "params"),
        ({"interval": "2h"}, "interval"),
        ({"quantity": 0}, "quantity"),
        ({"symbols": []}, "symbols"),
    ]:
        response = api.post(f"/api/v1/groups/{group}/strategies", json={**base, **payload})
        assert response.status_code == 422, response.text
        assert field in response.json()["errors"]["json"], response.json()
    assert api.post("/api/v1/groups/t-missing-x/strategies", json=base).status_code == 404


def test_a_bar_pull_that_stores_bars_evaluates_the_subscriptions(api, store):
    from tasks import names
    from tasks.celery import app

    symbol, group = _symbol(), api.create_group()
    body = {"strategy": "sma_cross", "symbols": [symbol], "interval": "1h"}
    assert api.post(f"/api/v1/groups/{group}/strategies", json=body).status_code == 201

    app.send_task(names.PULL_BARS, args=[symbol, "1h"], queue="market")  # synthetic bars
    signal = _signal(api, group, symbol, "recorded")
    assert signal["action"] in ("buy", "sell", "hold") and signal["interval"] == "1h"
    assert signal["auto_trade"] is False and signal["job_id"] == ""
