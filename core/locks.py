"""A Redis mutex that stays held while its holder is alive.

The lock expires ``ttl`` seconds after its holder stops renewing it, so a
worker killed while holding it (SIGKILL, OOM) blocks its group for at most
``ttl`` seconds; a live holder renews it from a background thread.
"""

from __future__ import annotations

import threading
import uuid

import redis

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


class Mutex:
    """Non-blocking, renewed, owner-checked lock on one key.

    Use as ``with Mutex(conn, key) as held: if held: ...``.
    """

    def __init__(self, connection: redis.Redis, key: str, ttl: float = 30.0) -> None:
        self.connection = connection
        self.key = key
        self.ttl_ms = int(ttl * 1000)
        self.token = uuid.uuid4().hex
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None
        self.held = False

    def acquire(self) -> bool:
        self.held = bool(self.connection.set(self.key, self.token, nx=True, px=self.ttl_ms))
        if self.held:
            self._stop.clear()
            self._renewer = threading.Thread(target=self._renew_until_released, daemon=True)
            self._renewer.start()
        return self.held

    def release(self) -> None:
        if not self.held:
            return
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(timeout=5)
        self.connection.eval(_RELEASE, 1, self.key, self.token)
        self.held = False

    def owned(self) -> bool:
        """Whether this holder still owns the key (False once it expired or was taken over).

        A holder doing a series of steps checks this before each one: a mutex can expire
        under a live holder (Redis away for longer than ``ttl``), and then someone else
        may already be running the same steps.
        """
        if not self.held:
            return False
        value = self.connection.get(self.key)
        return value in (self.token, self.token.encode())

    def _renew_until_released(self) -> None:
        interval = self.ttl_ms / 3000
        while not self._stop.wait(interval):
            try:
                if not self.connection.eval(_RENEW, 1, self.key, self.token, self.ttl_ms):
                    return  # lost it (expired while Redis was away): stop pretending
            except redis.RedisError:
                continue  # Redis blip: try again next round, the TTL still protects us

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc_info) -> None:
        self.release()
