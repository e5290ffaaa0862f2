"""Leases: Redis keys held by a live process, renewed while it lives, gone soon after it dies.

A lease is a key whose value is its holder's token and whose TTL is short
(seconds). While the holder runs, the process's renewal thread pushes the TTL
out every third of it; if the holder is killed (SIGKILL, OOM, machine lost) nobody
renews it and the key expires within ``ttl``. Everything that must not stay
blocked by a dead process (a group's mutex, a running leg, a brokerage's
concurrency slot) is a lease, so "held" always means "held by someone alive".

A holder that does a series of steps checks :meth:`Lease.owned` before each
one: a lease can lapse under a live holder (Redis unreachable for longer than
``ttl``), and then someone else may already be doing the same steps.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable

import redis

log = logging.getLogger(__name__)

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

DEFAULT_TTL_SECONDS = 15.0


def new_token() -> str:
    return uuid.uuid4().hex


class Renewer:
    """Calls ``renew`` every ``interval`` seconds, from the process's one renewal thread,
    until stopped.

    ``renew`` returns False when the hold is gone (lapsed or taken over): it is
    then no longer called. A Redis error is a blip: it is tried again next round,
    and the hold's own TTL still frees it if the holder is really gone. Starting
    and stopping cost no thread of their own (a job takes and frees several holds
    in a few milliseconds), and a renewal that is slow never delays ``stop``.
    """

    def __init__(self, renew: Callable[[], bool], interval: float, name: str) -> None:
        self.renew = renew
        self.interval = interval
        self.name = name
        self._generation = 0  # bumped by start and stop: stale schedule entries are skipped

    def start(self) -> None:
        self._generation += 1
        _keeper().schedule(self, self._generation, time.monotonic() + self.interval)

    def stop(self) -> None:
        self._generation += 1

    def _due(self, generation: int) -> float | None:
        """Renew now; the next due time, or None when this hold is finished."""
        if generation != self._generation:
            return None
        try:
            if not self.renew():
                log.warning("%s lapsed under its holder", self.name)
                return None
        except redis.RedisError:
            pass  # a blip: try again next round; the TTL protects us meanwhile
        return None if generation != self._generation else time.monotonic() + self.interval


class _Keeper:
    """The per-process thread that runs every :class:`Renewer` when it is due."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self._due: list[tuple[float, int, int, Renewer]] = []
        self._wake = threading.Condition()
        self._order = itertools.count()
        threading.Thread(target=self._run, name="lease renewals", daemon=True).start()

    def schedule(self, renewer: Renewer, generation: int, at: float) -> None:
        with self._wake:
            heapq.heappush(self._due, (at, next(self._order), generation, renewer))
            self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._due or self._due[0][0] > time.monotonic():
                    timeout = self._due[0][0] - time.monotonic() if self._due else None
                    self._wake.wait(timeout)
                _at, _n, generation, renewer = heapq.heappop(self._due)
            following = renewer._due(generation)
            if following is not None:
                self.schedule(renewer, generation, following)


_keepers: dict[int, _Keeper] = {}
_keepers_lock = threading.Lock()


def _keeper() -> _Keeper:
    """This process's keeper (a forked pool child starts its own: threads do not fork)."""
    pid = os.getpid()
    keeper = _keepers.get(pid)
    if keeper is None:
        with _keepers_lock:
            keeper = _keepers.get(pid)
            if keeper is None:
                keeper = _keepers[pid] = _Keeper()
    return keeper


class Lease:
    """An owner-checked, renewed hold on one Redis key.

    Either :meth:`acquire` it (``SET NX PX``), or :meth:`adopt` a key that a
    script already set to ``token`` (when taking the lease must be atomic with
    other writes). Use as a context manager: ``with Lease(conn, key) as held``.
    """

    def __init__(
        self,
        connection: redis.Redis,
        key: str,
        ttl: float = DEFAULT_TTL_SECONDS,
        token: str | None = None,
    ) -> None:
        self.connection = connection
        self.key = key
        self.ttl = ttl
        self.ttl_ms = int(ttl * 1000)
        self.token = token or new_token()
        self.held = False
        self._renewer = Renewer(self._renew, ttl / 3, f"lease {key}")

    def acquire(self) -> bool:
        """Take the key if nobody holds it; True when this holder has it now."""
        if self.connection.set(self.key, self.token, nx=True, px=self.ttl_ms):
            self.adopt()
        return self.held

    def adopt(self) -> None:
        """Start renewing a key already set to this lease's token."""
        self.held = True
        self._renewer.start()

    def forget(self) -> None:
        """Stop renewing a key that a script already deleted (saves the delete)."""
        self._renewer.stop()
        self.held = False

    def release(self) -> None:
        """Stop renewing and delete the key if this holder still owns it."""
        if not self.held:
            return
        self._renewer.stop()
        self.held = False
        try:
            self.connection.eval(_RELEASE, 1, self.key, self.token)
        except redis.RedisError as exc:
            # The key expires on its own within ttl; saying so is all we can do.
            log.warning("lease %s not released (%s); it expires by itself", self.key, exc)

    def owned(self) -> bool:
        """Whether this holder still owns the key (False once it lapsed or was taken over)."""
        if not self.held:
            return False
        value = self.connection.get(self.key)
        return value in (self.token, self.token.encode())

    def _renew(self) -> bool:
        return bool(self.connection.eval(_RENEW, 1, self.key, self.token, self.ttl_ms))

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc_info) -> None:
        self.release()
