"""Leases: Redis keys held by a live process, renewed while it lives, gone soon after it dies.

A lease is a key whose value is its holder's token and whose TTL is short
(seconds). While the holder runs, a background thread pushes the TTL out every
third of it; if the holder is killed (SIGKILL, OOM, machine lost) nobody
renews it and the key expires within ``ttl``. Everything that must not stay
blocked by a dead process (a group's mutex, a running leg, a brokerage's
concurrency slot) is a lease, so "held" always means "held by someone alive".

A holder that does a series of steps checks :meth:`Lease.owned` before each
one: a lease can lapse under a live holder (Redis unreachable for longer than
``ttl``), and then someone else may already be doing the same steps.
"""

from __future__ import annotations

import logging
import threading
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
    """A daemon thread that calls ``renew`` every ``interval`` seconds until stopped.

    ``renew`` returns False when the hold is gone (lapsed or taken over): the
    thread then stops. A Redis error is a blip: it tries again next round, and
    the hold's own TTL still frees it if the holder is really gone.
    """

    def __init__(self, renew: Callable[[], bool], interval: float, name: str) -> None:
        self.renew = renew
        self.interval = interval
        self.name = name
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        # A fresh event per run: a thread of an earlier run still stuck in a Redis
        # call when stop() gave up waiting for it sees its own event set and ends.
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(self._stop,), name=self.name, daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 5) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=timeout)
        self._thread = None

    def _run(self, stop: threading.Event) -> None:
        while not stop.wait(self.interval):
            try:
                if not self.renew():
                    log.warning("%s lapsed under its holder", self.name)
                    return
            except redis.RedisError:
                continue


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
