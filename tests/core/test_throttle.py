"""Per-brokerage rate limits and concurrency caps, on a real Redis."""

import signal
import time
import uuid

import pytest

from core import keys
from core.errors import ConfigurationError
from core.leases import DEFAULT_TTL_SECONDS
from core.throttle import ConcurrencySlot, parse_rate, take_rate_token
from tests.core.holders import spawn_holder
from tests.services import wait_until

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


def _brokerage() -> str:
    return f"b{uuid.uuid4().hex[:6]}"


def test_concurrency_slots_are_shared_and_given_back(redis_client):
    brokerage = _brokerage()
    first = ConcurrencySlot(redis_client, brokerage, limit=1, ttl=5)
    second = ConcurrencySlot(redis_client, brokerage, limit=1, ttl=5)
    assert first.acquire()
    assert not second.acquire()
    first.release()
    assert second.acquire()
    assert not first.acquire()
    second.release()
    assert not redis_client.exists(keys.brokerage_slots(brokerage))


def test_slot_default_ttl_is_a_short_lease(redis_client):
    slot = ConcurrencySlot(redis_client, _brokerage(), limit=1)
    assert slot.ttl == DEFAULT_TTL_SECONDS <= 60


def test_renewed_slot_outlives_its_ttl_while_held(redis_client):
    brokerage, ttl = _brokerage(), 0.6
    key = keys.brokerage_slots(brokerage)
    holder = ConcurrencySlot(redis_client, brokerage, limit=1, ttl=ttl)
    assert holder.acquire()
    try:
        time.sleep(ttl * 4)  # several ttls: only renewal keeps it
        assert not ConcurrencySlot(redis_client, brokerage, limit=1, ttl=ttl).acquire()
        seconds, micros = redis_client.time()
        assert redis_client.zscore(key, holder.token) > seconds + micros / 1e6
        assert 0 < redis_client.pttl(key) <= ttl * 1000 + 1
    finally:
        holder.release()
    assert not redis_client.exists(key)


def test_killed_slot_holder_frees_within_ttl(redis_client, redis_server):
    brokerage, ttl = _brokerage(), 1.5
    key = keys.brokerage_slots(brokerage)
    holder = spawn_holder("slot", redis_server.url, brokerage, ttl)
    try:
        time.sleep(ttl)  # past its first ttl: the holder process renews it
        assert redis_client.zcard(key) == 1
        assert not ConcurrencySlot(redis_client, brokerage, limit=1, ttl=ttl).acquire()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    killed = time.monotonic()
    # Nobody else touches the set: it expires with its dead member.
    wait_until(lambda: not redis_client.exists(key), ttl + 3, message="the dead holder's slot")
    assert time.monotonic() - killed <= ttl + 1
    slot = ConcurrencySlot(redis_client, brokerage, limit=1, ttl=ttl)
    assert slot.acquire()
    slot.release()


def test_expired_members_are_dropped_on_acquire(redis_client):
    brokerage = _brokerage()
    key = keys.brokerage_slots(brokerage)
    seconds, _ = redis_client.time()
    redis_client.zadd(key, {"dead-holder": seconds - 1, "live-holder": seconds + 60})
    slot = ConcurrencySlot(redis_client, brokerage, limit=2, ttl=5)
    assert slot.acquire()
    assert set(redis_client.zrange(key, 0, -1)) == {"live-holder", slot.token}
    assert 55_000 < redis_client.pttl(key) <= 60_000  # the set lives as long as its last member
    slot.release()
    assert not ConcurrencySlot(redis_client, brokerage, limit=1, ttl=5).acquire()


def test_lost_slot_is_not_renewed_back(redis_client):
    """A slot dropped under its holder (Redis away past its ttl) stays dropped."""
    brokerage, ttl = _brokerage(), 0.6
    key = keys.brokerage_slots(brokerage)
    slot = ConcurrencySlot(redis_client, brokerage, limit=1, ttl=ttl)
    assert slot.acquire()
    redis_client.zrem(key, slot.token)
    time.sleep(ttl)
    assert not redis_client.exists(key)
    slot.release()


def test_throttled_leg_starts_nothing(redis_client):
    """A leg refused a slot raises before claiming: a later attempt can still run it."""
    from brokers.execution import LegThrottled, run_leg
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
