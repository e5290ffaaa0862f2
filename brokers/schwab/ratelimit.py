"""A token bucket in Redis shared by every process that calls Schwab.

Schwab publishes no market-data rate limit; ``SCHWAB_RATE_LIMIT`` (default
``100/m``) refills the bucket at that rate. The bucket holds a tenth of a
minute's worth (at least one), so a burst after a quiet spell is short and any
minute sees at most the rate plus that tenth. The script reads the Redis clock,
so workers on machines whose clocks disagree share one bucket.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import redis

from brokers.schwab.errors import SchwabUnavailable
from core import keys
from core.throttle import parse_rate

# Take one token if there is one; else say how long until there is (seconds, as text:
# Lua numbers returned to Redis are truncated to integers).
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local capacity = tonumber(ARGV[1])
local per_second = tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * per_second)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / per_second end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(capacity / per_second) + 60)
return tostring(wait)
"""


class TokenBucket:
    """``rate`` (``"100/m"``) calls across every worker, waiting at most ``max_wait`` for one."""

    def __init__(
        self,
        connection: redis.Redis,
        rate: str,
        *,
        max_wait: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        count, period = parse_rate(rate)
        self.connection = connection
        self.per_second = count / period
        self.capacity = max(1.0, count / 10)
        self.max_wait = max_wait
        self.sleep = sleep

    def try_take(self) -> float:
        """Take one token: 0 when taken, else the seconds until one is there (nothing taken)."""
        wait = self.connection.eval(_TAKE, 1, keys.schwab_bucket(), self.capacity, self.per_second)
        return float(wait)

    def take(self) -> None:
        """Take one token, waiting for it.

        Raises:
            SchwabUnavailable: none within ``max_wait`` seconds (every worker is busy calling).
        """
        waited = 0.0
        while (wait := self.try_take()) > 0:
            if waited + wait > self.max_wait:
                raise SchwabUnavailable(
                    f"Schwab call budget ({self.per_second * 60:g}/min) used up for "
                    f"{self.max_wait:g}s: try again later"
                )
            self.sleep(wait)
            waited += wait
