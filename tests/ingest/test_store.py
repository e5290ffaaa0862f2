"""The InfluxDB store against a real influxd 1.x: writes, rewrites, ranges, gap fill, backfill."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from ingest import metrics, pulls
from ingest.providers.synthetic import SyntheticProvider
from ingest.store import InfluxUnavailable, MarketStore, V1Wire, open_store

pytestmark = pytest.mark.integration

END = datetime(2026, 11, 30, tzinfo=UTC)


def test_store_writes_and_reads_back_bars_exactly(store):
    bars = SyntheticProvider(seed=1).bars("SPY", "1m", END - timedelta(hours=2), END)
    assert store.write_bars(bars) == 120
    assert store.bars("SPY", "1m") == bars
    assert store.count_bars("SPY", "1m") == 120
    assert store.last_bar_start("SPY", "1m") == bars[-1].start


def test_store_rewrite_keeps_one_point_per_bar(store):
    bars = SyntheticProvider(seed=1).bars("SPY", "5m", END - timedelta(hours=5), END)
    store.write_bars(bars)
    store.write_bars(bars[10:30])
    store.write_bars(bars)
    assert store.count_bars("SPY", "5m") == len(bars) == 60
    assert store.bars("SPY", "5m") == bars


def test_store_ranges_are_half_open_and_paginate(store):
    bars = SyntheticProvider().bars("AAPL", "1m", END - timedelta(hours=1), END)
    store.write_bars(bars)
    window = store.bars("AAPL", "1m", bars[10].start, bars[20].start)
    assert window == bars[10:20]
    assert store.count_bars("AAPL", "1m", bars[10].start, bars[20].start) == 10
    assert store.bars("AAPL", "1m", limit=5, offset=7) == bars[7:12]
    assert store.bars("AAPL", "1h") == []  # another interval is another series
    assert store.bars("MSFT", "1m") == []


def test_store_batches_writes(influx_settings):
    wire = open_store(influx_settings).wire
    sent = []
    original = wire.write
    wire.write = lambda lines, precision="s": (sent.append(len(lines)), original(lines, precision))
    small = MarketStore(wire, batch_size=40)
    bars = SyntheticProvider().bars("SPY", "1m", END - timedelta(minutes=100), END)
    assert small.write_bars(bars) == 100
    assert sent == [40, 40, 20]
    assert small.count_bars("SPY", "1m") == 100


def test_pull_resumes_after_the_last_stored_bar_and_fills_a_gap(store, redis_client):
    provider = SyntheticProvider(seed=3)
    first = pulls.pull_bars(provider, store, redis_client, "GAPA", "1m", now=END)
    assert first.written == pulls.FIRST_PULL_BARS
    assert store.last_bar_start("GAPA", "1m") == END - timedelta(minutes=1)
    # The pull in progress (END + 30 s) has no complete bar beyond END yet.
    again = pulls.pull_bars(
        provider, store, redis_client, "GAPA", "1m", now=END + timedelta(seconds=30)
    )
    assert again.written == 0
    # Beat was down for 90 minutes: the next pull fetches exactly the missing bars.
    later = END + timedelta(minutes=90, seconds=5)
    gap = pulls.pull_bars(provider, store, redis_client, "GAPA", "1m", now=later)
    assert gap.start == END and gap.end == END + timedelta(minutes=90)
    assert gap.written == 90
    stored = store.bars("GAPA", "1m")
    assert len(stored) == pulls.FIRST_PULL_BARS + 90
    starts = [b.start for b in stored]
    assert all(b - a == timedelta(minutes=1) for a, b in itertools.pairwise(starts))
    assert stored == provider.bars("GAPA", "1m", starts[0], starts[-1] + timedelta(minutes=1))


def test_backfill_resumes_and_is_idempotent(store, redis_client):
    provider = SyntheticProvider(seed=4)
    start, end = END - timedelta(days=3), END
    seen = []

    class Stop(Exception):
        pass

    def stop_after_two_chunks(done, total):
        seen.append((done, total))
        if len(seen) == 3:
            raise Stop

    with pytest.raises(Stop):
        pulls.backfill(
            provider, store, redis_client, "BKF", "5m", start, end,
            progress=stop_after_two_chunks, chunk_bars=200,
        )  # fmt: skip
    assert seen == [(0, 864), (200, 864), (400, 864)]
    assert store.count_bars("BKF", "5m") == 400
    resumed = []
    written = pulls.backfill(
        provider, store, redis_client, "BKF", "5m", start, end,
        progress=lambda d, t: resumed.append(d), chunk_bars=200,
    )  # fmt: skip
    assert resumed[0] == 400 and resumed[-1] == 864
    assert written == 464
    assert store.bars("BKF", "5m") == provider.bars("BKF", "5m", start, end)
    # A repeat over the same range finds it done; writing it again adds nothing.
    assert pulls.backfill(provider, store, redis_client, "BKF", "5m", start, end) == 0
    store.write_bars(provider.bars("BKF", "5m", start, end))
    assert store.count_bars("BKF", "5m") == 864


def test_quotes_go_to_the_cache_the_channel_and_the_store(store, redis_client):
    from core import keys
    from core.quotes import QuoteBook

    listener = redis_client.pubsub()
    listener.subscribe(keys.quote_events())
    listener.get_message(timeout=1)
    quotes = pulls.refresh_quotes(SyntheticProvider(), redis_client, ["QTA", "QTB"], store)
    assert [q.symbol for q in quotes] == ["QTA", "QTB"]
    cached = QuoteBook(redis_client).get("QTA")
    assert cached.source == "synthetic" and cached.price == quotes[0].price
    message = listener.get_message(timeout=2)
    assert message and '"symbol": "QTA"' in message["data"] and '"synthetic"' in message["data"]
    series = store.query('SELECT last("price") FROM "quotes" GROUP BY "symbol", "source"')
    assert {s["tags"]["symbol"] for s in series} == {"QTA", "QTB"}


def test_operations_metrics_land(store, redis_client):
    redis_client.rpush("group.metrics-test", "m1", "m2")
    try:
        points = metrics.collect(
            redis_client, queue_prefixes=("group.",), static_queues=("default",)
        )
    finally:
        redis_client.delete("group.metrics-test")
    assert any(p.startswith("queues,queue=group.metrics-test depth=2i") for p in points)
    store.write_lines(points, "s")
    series = store.query('SELECT last("depth") FROM "queues" GROUP BY "queue"')
    assert {"group.metrics-test", "default"} <= {s["tags"]["queue"] for s in series}


def test_unreachable_influx_is_unavailable():
    from tests.services import free_port

    wire = V1Wire(f"http://127.0.0.1:{free_port()}", "db", "", timeout=1)
    with pytest.raises(InfluxUnavailable):
        wire.write(["bars,symbol=X close=1 1"])
