"""Market data against the fake: price-history splitting, 401, 429 with Retry-After, 5xx, the
shared rate bucket, and the ``schwab`` provider."""

from __future__ import annotations

import itertools
import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tests.brokers.schwab.conftest import APP_SECRET

pytestmark = pytest.mark.integration

HISTORY = "/marketdata/v1/pricehistory"
QUOTES = "/marketdata/v1/quotes"


@pytest.fixture
def client(logged_in, redis_client, schwab_settings):
    import brokers.schwab

    return brokers.schwab.market_client(redis_client, schwab_settings)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def test_valid_combinations_follow_schwabs_table():
    from brokers.schwab.pricehistory import CANDLES, is_valid

    assert is_valid("day", "minute", 5, 10)
    assert not is_valid("day", "daily", 1)
    assert not is_valid("month", "minute", 1)
    assert not is_valid("year", "minute", 1)
    assert not is_valid("day", "minute", 2)
    assert not is_valid("year", "weekly", 2)
    assert not is_valid("day", "minute", 1, 7)
    assert is_valid("ytd", "weekly", 1, 1)
    for candles in CANDLES.values():
        assert is_valid(candles.period_type, candles.frequency_type, candles.frequency)


def test_one_minute_history_is_split_in_ten_day_windows_and_clipped_at_48_days(client, logged_in):
    asked_at = datetime.now(UTC)
    now = asked_at.replace(second=0, microsecond=0)
    start, end = now - timedelta(days=100), now - timedelta(days=2)
    candles = client.price_history("AAPL", "1m", start, end)

    calls = logged_in.calls(HISTORY)
    assert all(c.status == 200 for c in calls)  # the fake refuses what Schwab would
    assert len(calls) == 5  # 46 days of the 48 Schwab keeps, 10 days a request
    first = datetime.fromtimestamp(int(calls[0].query["startDate"]) / 1000, UTC)
    assert first == pytest.approx(asked_at - timedelta(days=48), abs=timedelta(seconds=5))
    for call, following in itertools.pairwise(calls):
        assert call.query["endDate"] == following.query["startDate"]  # contiguous, no gap
    for call in calls:
        q = call.query
        assert (q["periodType"], q["frequencyType"], q["frequency"]) == ("day", "minute", "1")
        assert int(q["endDate"]) - int(q["startDate"]) <= 10 * 86400 * 1000
        assert q["symbol"] == "AAPL" and "period" not in q
        assert call.headers["authorization"].startswith("Bearer ")
    assert calls[-1].query["endDate"] == str(_ms(end))

    starts = [c.start for c in candles]
    assert starts == sorted(set(starts))  # oldest first, each once across windows
    assert starts[0] >= first and starts[-1] < end
    assert starts[1] - starts[0] == timedelta(minutes=1)
    assert isinstance(candles[0].open, Decimal)


def test_five_minute_history_reaches_about_nine_months_and_daily_decades(client, logged_in):
    now = datetime.now(UTC)
    client.price_history("SPY", "5m", now - timedelta(days=400), now)
    five = logged_in.calls(HISTORY)
    assert len(five) == 27  # 270 days in 10-day windows
    assert {c.query["frequency"] for c in five} == {"5"}
    oldest = datetime.fromtimestamp(int(five[0].query["startDate"]) / 1000, UTC)
    assert oldest == pytest.approx(now - timedelta(days=270), abs=timedelta(seconds=30))

    daily = client.price_history("SPY", "daily", now - timedelta(days=365 * 30), now)
    calls = logged_in.calls(HISTORY)[27:]
    assert len(calls) == 2
    assert {(c.query["periodType"], c.query["frequencyType"]) for c in calls} == {("year", "daily")}
    assert len(daily) > 365 * 29


def test_unknown_candles_are_refused_before_any_request(client, logged_in):
    from brokers.schwab import SchwabRequestError

    with pytest.raises(SchwabRequestError, match="2m"):
        client.price_history("AAPL", "2m", datetime.now(UTC) - timedelta(days=1), datetime.now(UTC))
    assert logged_in.calls(HISTORY) == []


def test_429_waits_for_retry_after_then_succeeds(client, logged_in):
    logged_in.fail_next(429, Retry_After="1")
    quotes = client.quotes(["AAPL"])
    assert quotes["AAPL"].price == Decimal("123.4567")
    first, second = logged_in.calls(QUOTES)
    assert first.status == 429 and second.status == 200
    assert second.at - first.at >= 0.95


def test_5xx_backs_off_and_gives_up_within_bounds(logged_in, redis_client, schwab_settings):
    import brokers.schwab
    from brokers.schwab import SchwabClient, SchwabUnavailable, TokenBucket
    from brokers.schwab.client import MAX_ATTEMPTS

    waits: list[float] = []
    client = SchwabClient(
        schwab_settings.schwab_base_url,
        brokers.schwab.token_store(redis_client, schwab_settings),
        TokenBucket(redis_client, schwab_settings.schwab_rate_limit),
        sleep=waits.append,
    )
    logged_in.fail_next(503, count=2)
    assert "AAPL" in client.quotes(["AAPL"])
    assert waits == [0.5, 1.0]  # exponential when Schwab sends no Retry-After

    logged_in.fail_next(500, count=MAX_ATTEMPTS + 2)
    with pytest.raises(SchwabUnavailable, match="HTTP 500 5 times"):
        client.quotes(["AAPL"])
    assert len(logged_in.calls(QUOTES)) == 3 + MAX_ATTEMPTS

    waits.clear()
    logged_in.failures.clear()
    logged_in.fail_next(429, Retry_After="3600")  # longer than we wait: fail at once
    with pytest.raises(SchwabUnavailable, match="3600"):
        client.quotes(["AAPL"])
    assert waits == []


def test_401_drops_the_token_and_does_not_refresh(client, logged_in, redis_client):
    from brokers.schwab import SchwabNotAuthorized
    from core import keys

    logged_in.expire_access_tokens()  # Schwab no longer takes it; Redis still has it
    with pytest.raises(SchwabNotAuthorized):
        client.quotes(["AAPL"])
    assert [c.status for c in logged_in.calls(QUOTES)] == [401]
    assert redis_client.get(keys.schwab_access()) is None  # the refresher replaces it
    assert logged_in.token_calls("refresh_token") == []


def test_401_then_the_refreshers_new_token_is_used(
    client, logged_in, redis_client, schwab_settings
):
    """The refresher replaced the token while the request was refused: the client retries with it."""
    import brokers.schwab

    store = brokers.schwab.token_store(redis_client, schwab_settings)
    original = store.read_access

    def refreshed_meanwhile():
        token = original()
        if not logged_in.calls(QUOTES):  # the first read: refresh right after it
            logged_in.expire_access_tokens()
            brokers.schwab.refresh_if_due(
                store, brokers.schwab.oauth_client(schwab_settings), margin=1900
            )
        return token

    store.read_access = refreshed_meanwhile
    client.store = store
    assert "AAPL" in client.quotes(["AAPL"])
    assert [c.status for c in logged_in.calls(QUOTES)] == [401, 200]


def test_the_bucket_is_shared_by_every_connection(redis_client, clean_schwab, redis_server):
    """60/m holds six at once; threads with their own connections share it."""
    import redis

    from brokers.schwab import TokenBucket

    taken = []

    def worker():
        bucket = TokenBucket(redis.Redis.from_url(redis_server.url, decode_responses=True), "60/m")
        for _ in range(4):
            bucket.take()
            taken.append(time.monotonic())

    began = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(taken) == 12
    # Six at once, then one a second: the twelfth about six seconds in.
    assert sorted(taken)[5] - began < 0.5
    assert 5.0 <= sorted(taken)[-1] - began < 8.0


def test_the_bucket_gives_up_after_max_wait(redis_client, clean_schwab):
    from brokers.schwab import SchwabUnavailable, TokenBucket

    bucket = TokenBucket(redis_client, "1/h", max_wait=0.2)
    bucket.take()
    with pytest.raises(SchwabUnavailable, match="budget"):
        bucket.take()


def test_provider_builds_bars_and_quotes(logged_in, redis_client, schwab_settings):
    from ingest.providers import ProviderError, ProviderUnavailable, get_provider

    provider = get_provider("schwab", schwab_settings, redis_client)
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(hours=6)
    hours = provider.bars("AAPL", "1h", start, end)
    assert [b.start for b in hours] == [start + timedelta(hours=i) for i in range(6)]
    assert {b.source for b in hours} == {"schwab"} and {b.interval for b in hours} == {"1h"}
    assert hours[0].volume == 2000  # two 30-minute candles
    assert logged_in.calls(HISTORY)[0].query["frequency"] == "30"

    days = provider.bars("AAPL", "1d", end - timedelta(days=5), end)
    assert all(b.start.hour == 0 for b in days)

    quote = provider.quote("AAPL")
    assert quote.price == Decimal("123.4567") and quote.source == "schwab"
    with pytest.raises(ProviderError, match="ZZZZ"):
        provider.quote("ZZZZ")

    logged_in.expire_access_tokens()
    with pytest.raises(ProviderUnavailable):
        provider.quote("AAPL")


def test_no_secret_in_logs_errors_or_redis(logged_in, client, redis_client, caplog):
    import logging

    from brokers.schwab import SchwabError
    from core import keys

    caplog.set_level(logging.DEBUG)
    messages = []
    logged_in.fail_next(429, Retry_After="0")
    client.quotes(["AAPL"])
    logged_in.expire_access_tokens()
    try:
        client.quotes(["AAPL"])
    except SchwabError as exc:
        messages += [exc.message, repr(exc), str(exc)]
    stored = [redis_client.get(keys.schwab_access()) or ""]
    stored += list(redis_client.hgetall(keys.schwab_refresh()).values())
    texts = [caplog.text, *messages, *stored]
    secrets = [APP_SECRET, *logged_in.access_tokens, *logged_in.refresh_tokens]
    leaks = [(s, t) for s in secrets for t in texts if s in t]
    assert not leaks
