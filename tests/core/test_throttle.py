"""Per-brokerage rate limits and concurrency caps, on a real Redis."""

import time
import uuid

import pytest

from core.errors import ConfigurationError
from core.throttle import ConcurrencySlot, parse_rate, take_rate_token

pytestmark = pytest.mark.integration


def test_parse_rate():
    assert parse_rate("2/m") == (2, 60)
    assert parse_rate("10 / s") == (10, 1)
    for bad in ("fast", "0/m", "2/d", "-1/s"):
        with pytest.raises(ConfigurationError):
            parse_rate(bad)


def test_rate_limit_lets_count_through_per_window_then_says_how_long_to_wait(redis_client):
    brokerage = f"b{uuid.uuid4().hex[:6]}"
    assert take_rate_token(redis_client, brokerage, "3/h") == 0
    assert take_rate_token(redis_client, brokerage, "3/h") == 0
    assert take_rate_token(redis_client, brokerage, "3/h") == 0
    wait = take_rate_token(redis_client, brokerage, "3/h")
    assert 0 < wait <= 3600


def test_concurrency_slots_are_shared_and_expire(redis_client):
    brokerage = f"b{uuid.uuid4().hex[:6]}"
    first = ConcurrencySlot(redis_client, brokerage, limit=1, ttl=0.5)
    second = ConcurrencySlot(redis_client, brokerage, limit=1, ttl=0.5)
    assert first.acquire()
    assert not second.acquire()
    first.release()
    assert second.acquire()
    time.sleep(0.6)  # second's holder "died": its slot expires
    assert first.acquire()


def test_throttled_leg_starts_nothing(redis_client):
    """A leg refused a slot raises before claiming: a later attempt can still run it."""
    from brokers.execution import LegThrottled, run_leg
    from core import keys
    from core.settings import Settings, get_settings

    settings = Settings(**{**get_settings().__dict__, "brokerage_concurrency": {"tradier": 1}})
    holder = ConcurrencySlot(redis_client, "tradier", limit=1, ttl=30)
    assert holder.acquire()
    try:
        with pytest.raises(LegThrottled):
            run_leg(redis_client, settings, "no-such-job", "tradier")
        assert not redis_client.exists(keys.exec_claim("no-such-job", "tradier"))
    finally:
        holder.release()
