"""A Redis mutex that stays held while its holder is alive.

The mutex is a :class:`core.leases.Lease`: it expires ``ttl`` seconds after its
holder stops renewing it, so a worker killed while holding it (SIGKILL, OOM)
blocks its group for at most ``ttl`` seconds; a live holder renews it from a
background thread.
"""

from __future__ import annotations

import redis

from core.leases import Lease


class Mutex(Lease):
    """Non-blocking, renewed, owner-checked lock on one key.

    Use as ``with Mutex(conn, key) as held: if held: ...``. A holder doing a
    series of steps checks :meth:`owned` before each one: a mutex can expire
    under a live holder (Redis away for longer than ``ttl``), and then someone
    else may already be running the same steps.
    """

    def __init__(self, connection: redis.Redis, key: str, ttl: float = 30.0) -> None:
        super().__init__(connection, key, ttl=ttl)
