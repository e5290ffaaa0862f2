"""Beat's market entries end to end: a real beat and worker (a private Fleet), a real influxd.

Bars and quotes land for the watchlist, a watchlist change takes effect on the running
beat, operations metrics land, and paper orders fill at the synthetic quotes.
"""

from __future__ import annotations

import json

import pytest

from core import keys
from core.models import JobState, ResultStatus
from core.quotes import QuoteBook
from core.watchlist import Watchlist, WatchlistStore
from ingest import pulls
from ingest.store import open_store
from tests.reliability.faults import Fleet
from tests.services import wait_until

pytestmark = pytest.mark.integration


def test_beat_lands_market_data_follows_the_watchlist_and_paper_fills_at_it(influx_settings):
    fleet = Fleet()
    env = {
        "INFLUX_URL": influx_settings.influx_url,
        "INFLUX_BUCKET": influx_settings.influx_bucket,
        "MARKET_PULL_SECONDS": "1",
        "QUOTE_REFRESH_SECONDS": "1",
        "METRICS_SECONDS": "1",
        "WATCHLIST_SYMBOLS": "BTA",
        "WATCHLIST_INTERVALS": "1m",
    }
    listener = fleet.conn.pubsub()
    listener.subscribe(keys.quote_events())
    try:
        fleet.worker("market", **env)
        fleet.beat(**env)
        store = open_store(influx_settings)
        quotes = QuoteBook(fleet.conn)

        wait_until(
            lambda: store.count_bars("BTA", "1m") >= pulls.FIRST_PULL_BARS,
            40, interval=0.5, message="beat's bar pull for BTA 1m never landed",
        )  # fmt: skip
        wait_until(lambda: quotes.find("BTA"), 20, message="no BTA quote")
        assert quotes.get("BTA").source == "synthetic"
        assert store.bars("BTA", "1m")[-1].source == "synthetic"

        # The watchlist changes under the running beat: no restart.
        WatchlistStore(fleet.conn, Watchlist((), ())).set(Watchlist(("BTA", "BTB"), ("1m", "5m")))
        wait_until(
            lambda: store.count_bars("BTB", "5m") >= pulls.FIRST_PULL_BARS
            and store.count_bars("BTA", "5m") >= pulls.FIRST_PULL_BARS,
            40, interval=0.5, message="the new watchlist's pulls never landed",
        )  # fmt: skip
        wait_until(lambda: quotes.find("BTB"), 20, message="no BTB quote after the change")
        # A repeat pull adds nothing: one point per bar however often beat fires.
        assert store.count_bars("BTA", "1m") <= pulls.FIRST_PULL_BARS + 2

        wait_until(
            lambda: store.query('SELECT last("depth") FROM "queues" GROUP BY "queue"'),
            20, message="no operations metrics",
        )  # fmt: skip

        # A paper order fills at a synthetic quote beat just published.
        group = fleet.create_group("mkt")
        activation = fleet.add_paper_account(group, "p1")
        wait_until(lambda: fleet.jobs.fetch(activation).state.is_terminal, 20)
        job_id = fleet.order(group, symbols=("BTA",), quantity=2)
        job = wait_until(lambda: (j := fleet.jobs.fetch(job_id)).state.is_terminal and j, 20)
        assert job.state is JobState.SUCCEEDED, job.results
        (result,) = job.results
        assert result.status is ResultStatus.FILLED
        published = set()
        while message := listener.get_message(timeout=0.1):
            if message["type"] == "message":
                quote = json.loads(message["data"])
                if quote["symbol"] == "BTA":
                    assert quote["source"] == "synthetic"
                    published.add(quote["price"])
        assert result.price is not None and str(result.price) in published

        # Jobs and results reach the Operations measurements too.
        wait_until(
            lambda: store.query('SELECT last("count") FROM "results" GROUP BY "brokerage", "status"'),
            20, message="no results metrics",
        )  # fmt: skip
    finally:
        listener.close()
        fleet.close()
