"""Market data over HTTP: latest quotes, paginated bars, the watchlist, /health, the CLI."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from api import create_app
from core.settings import Settings
from ingest.providers.synthetic import SyntheticProvider

pytestmark = pytest.mark.integration

END = datetime(2026, 11, 30, tzinfo=UTC)


@pytest.fixture
def client_for(api_key):
    def make(settings: Settings):
        client = create_app(settings).test_client()
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {api_key}"
        return client

    return make


def test_latest_quotes_list_with_source(client_for, redis_client):
    from core.quotes import QuoteBook

    client = client_for(Settings.from_env())
    assert client.put("/api/v1/market-data/LQA", json={"price": "12.5"}).status_code == 200
    QuoteBook(redis_client).set_many([SyntheticProvider().quote("LQB")])
    body = {q["symbol"]: q for q in client.get("/api/v1/market-data").get_json()}
    assert Decimal(body["LQA"]["price"]) == Decimal("12.5") and body["LQA"]["source"] == "manual"
    assert body["LQB"]["source"] == "synthetic"
    assert client.get("/api/v1/market-data/lqb").get_json()["source"] == "synthetic"


def test_bars_paginate_over_the_store(client_for, store, influx_settings):
    bars = SyntheticProvider().bars("PGA", "1m", END - timedelta(minutes=250), END)
    store.write_bars(bars)
    client = client_for(influx_settings)
    query = {
        "interval": "1m",
        "start": (END - timedelta(hours=5)).isoformat(),
        "end": END.isoformat(),
    }
    first = client.get("/api/v1/market-data/PGA/bars", query_string={**query, "page_size": 100})
    assert first.status_code == 200, first.get_json()
    page = first.get_json()
    assert len(page) == 100 and page[0]["start"].startswith("2026-11-29T19:50:00")
    assert page[0]["close"] == str(bars[0].close) and page[0]["source"] == "synthetic"
    assert '"total": 250' in first.headers["X-Pagination"]
    third = client.get(
        "/api/v1/market-data/PGA/bars", query_string={**query, "page_size": 100, "page": 3}
    ).get_json()
    assert [b["start"] for b in third] == [b.start.isoformat() for b in bars[200:]]
    bad = client.get("/api/v1/market-data/PGA/bars", query_string={"interval": "7m"})
    assert bad.status_code == 422


def test_bars_without_influx_is_503_and_health_says_off(client_for, anonymous):
    client = client_for(dataclasses.replace(Settings.from_env(), influx_url=""))
    answer = client.get("/api/v1/market-data/SPY/bars")
    assert answer.status_code == 503
    assert "market history is off: set INFLUX_URL" in answer.get_json()["message"]
    assert client.get("/health").get_json()["market_history"] == "off"


def test_health_reports_influx_up_and_down(client_for, influx_settings):
    assert client_for(influx_settings).get("/health").get_json()["market_history"] == "ok"
    from tests.services import free_port

    down = dataclasses.replace(influx_settings, influx_url=f"http://127.0.0.1:{free_port()}")
    body = client_for(down).get("/health").get_json()
    assert body["market_history"] == "down" and body["status"] == "degraded"


def test_watchlist_get_put(client_for, redis_client):
    from core import keys

    client = client_for(dataclasses.replace(Settings.from_env(), watchlist_symbols=("DEF",)))
    redis_client.delete(keys.watchlist())
    try:
        assert client.get("/api/v1/watchlist").get_json() == {
            "symbols": ["DEF"],
            "intervals": ["1m"],
        }
        put = client.put(
            "/api/v1/watchlist", json={"symbols": ["wla", "WLB", "wla"], "intervals": ["1m", "1h"]}
        )
        assert put.status_code == 200
        assert put.get_json() == {"symbols": ["WLA", "WLB"], "intervals": ["1m", "1h"]}
        assert client.get("/api/v1/watchlist").get_json()["symbols"] == ["WLA", "WLB"]
        bad = client.put(
            "/api/v1/watchlist", json={"symbols": ["not a ticker"], "intervals": ["2m"]}
        )
        assert bad.status_code == 422
        assert set(bad.get_json()["errors"]["json"]) == {"symbols", "intervals"}
    finally:
        redis_client.delete(keys.watchlist())


def test_cli_backfill_is_resumable_and_idempotent(influx_settings, store):
    app = create_app(influx_settings)
    runner = app.test_cli_runner()
    args = ["ingest", "backfill", "clia", "--interval", "1h", "--start", "2026-11-01",
            "--end", "2026-11-08", "--provider", "synthetic"]  # fmt: skip
    first = runner.invoke(args=args)
    assert first.exit_code == 0, first.output
    assert "CLIA 1h: 168 bars written from synthetic" in first.output
    assert store.count_bars("CLIA", "1h") == 168
    again = runner.invoke(args=args)
    assert again.exit_code == 0 and "0 bars written" in again.output
    assert store.count_bars("CLIA", "1h") == 168
    bad = runner.invoke(args=["ingest", "backfill", "CLIA", "--provider", "nope"])
    assert bad.exit_code != 0 and "unknown provider 'nope'" in bad.output


def test_bars_outside_what_influxdb_stores_are_422(client_for, influx_settings):
    client = client_for(influx_settings)
    for start in ("0001-01-01T00:00:00Z", "9999-01-01T00:00:00Z"):
        answer = client.get("/api/v1/market-data/SPY/bars", query_string={"start": start})
        assert answer.status_code == 422, answer.get_json()
