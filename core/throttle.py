"""Per-brokerage limits shared by every worker: a rate limit and a concurrency cap.

Both live in Redis so they hold across workers and machines. A leg that is
refused a slot has not started (nothing claimed, nothing sent), so it can
safely be retried later.
"""

from __future__ import annotations

import re
import time
import uuid

import redis

from core import keys
from core.errors import ConfigurationError

_RATE = re.compile(r"^(\d+)\s*/\s*(s|m|h)$")
_PERIOD_SECONDS = {"s": 1, "m": 60, "h": 3600}

# Take a slot if fewer than ARGV[1] live holders; expired holders (crashed workers) are dropped.
_ACQUIRE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], ARGV[4], ARGV[2])
  return 1
end
return 0
"""


def parse_rate(text: str) -> tuple[int, int]:
    """``"2/m"`` -> (2, 60).

    Raises:
        ConfigurationError: the text is not ``<count>/<s|m|h>``.
    """
    match = _RATE.fullmatch(text.strip())
    if not match or int(match[1]) < 1:
        raise ConfigurationError(f"a rate must look like '2/m' (count per s, m or h), got {text!r}")
    return int(match[1]), _PERIOD_SECONDS[match[2]]


def take_rate_token(connection: redis.Redis, brokerage: str, rate: str) -> float:
    """Count one leg against the brokerage's rate.

    Returns:
        0 when the leg may run now, else the seconds until the current window ends.
    """
    count, period = parse_rate(rate)
    window = int(time.time() // period)
    key = keys.brokerage_rate(brokerage, window)
    with connection.pipeline() as pipe:
        pipe.incr(key)
        pipe.expire(key, period * 2)
        used = pipe.execute()[0]
    if used <= count:
        return 0.0
    return (window + 1) * period - time.time()


class ConcurrencySlot:
    """One of ``limit`` slots for legs of a brokerage, held until released or ``ttl`` passes."""

    def __init__(self, connection: redis.Redis, brokerage: str, limit: int, ttl: float) -> None:
        self.connection = connection
        self.key = keys.brokerage_slots(brokerage)
        self.limit = limit
        self.ttl = ttl
        self.token = uuid.uuid4().hex

    def acquire(self) -> bool:
        now = time.time()
        return bool(
            self.connection.eval(_ACQUIRE, 1, self.key, self.limit, self.token, now, now + self.ttl)
        )

    def release(self) -> None:
        self.connection.zrem(self.key, self.token)
