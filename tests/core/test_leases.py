"""Leases and the mutex built on them, on a real Redis: renewed while held, freed when the holder dies."""

import signal
import threading
import time
import uuid

import pytest

from core.leases import Lease, Renewer
from core.locks import Mutex
from tests.core.holders import spawn_holder
from tests.services import wait_until

pytestmark = pytest.mark.integration

TTL = 0.6


def _key() -> str:
    return f"test:lease:{uuid.uuid4().hex[:8]}"


def test_renewed_lease_outlives_its_ttl(redis_client):
    key = _key()
    lease = Lease(redis_client, key, ttl=TTL)
    assert lease.acquire()
    try:
        time.sleep(TTL * 4)  # several ttls: only renewal keeps it
        assert lease.owned()
        assert not Lease(redis_client, key, ttl=TTL).acquire()
        assert 0 < redis_client.pttl(key) <= TTL * 1000
    finally:
        lease.release()
    assert not redis_client.exists(key)
    assert not lease.owned()


def test_killed_lease_holder_frees_within_ttl(redis_client, redis_server):
    key, ttl = _key(), 1.5
    holder = spawn_holder("lease", redis_server.url, key, ttl)
    try:
        time.sleep(ttl)  # past its first ttl: the holder process renews it
        assert redis_client.exists(key)
        assert not Lease(redis_client, key).acquire()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    killed = time.monotonic()
    wait_until(lambda: not redis_client.exists(key), ttl + 3, message="the dead holder's lease")
    assert time.monotonic() - killed <= ttl + 1
    lease = Lease(redis_client, key)
    assert lease.acquire()
    lease.release()


def test_lease_taken_over_is_not_owned_and_not_deleted_by_its_old_holder(redis_client):
    key = _key()
    lease = Lease(redis_client, key, ttl=TTL)
    assert lease.acquire()
    redis_client.set(key, "someone-else", px=10_000)  # it lapsed and was taken over
    assert not lease.owned()
    time.sleep(TTL)  # the renewer finds it gone and stops; it does not touch the key
    lease.release()
    assert redis_client.get(key) == "someone-else"
    assert 5_000 < redis_client.pttl(key) <= 10_000


def test_adopted_lease_is_renewed_and_released(redis_client):
    key, token = _key(), "set-by-a-script"
    redis_client.set(key, token, px=int(TTL * 1000))
    lease = Lease(redis_client, key, ttl=TTL, token=token)
    lease.adopt()
    time.sleep(TTL * 3)
    assert lease.owned()
    lease.release()
    assert not redis_client.exists(key)


def test_mutex_keeps_its_api_on_a_lease(redis_client):
    key = _key()
    mutex = Mutex(redis_client, key, ttl=TTL)
    assert isinstance(mutex, Lease)
    with mutex as held:
        assert held and mutex.owned()
        with Mutex(redis_client, key, ttl=TTL) as other:
            assert not other
        time.sleep(TTL * 2)
        assert mutex.owned()
    assert not redis_client.exists(key) and not mutex.owned()
    assert mutex.acquire()  # the same mutex can be taken again
    assert mutex.owned()
    mutex.release()
    assert not redis_client.exists(key)
    assert Mutex(redis_client, key).ttl_ms == 30_000


def test_renewer_stops_when_the_hold_is_gone_and_can_start_again():
    calls = []
    done = threading.Event()

    def renew():
        calls.append(1)
        if len(calls) == 2:
            done.set()
            return False
        return True

    renewer = Renewer(renew, 0.02, "test")
    renewer.start()
    assert done.wait(5)
    time.sleep(0.1)
    assert len(calls) == 2  # it stopped when renew said the hold was gone
    renewer.stop()
    renewer.start()
    wait_until(lambda: len(calls) >= 3, 5)
    renewer.stop()
    stopped_at = len(calls)
    time.sleep(0.1)
    assert len(calls) == stopped_at
