"""Per-brokerage limits shared by every worker: a rate limit and a concurrency cap.

Both live in Redis so they hold across workers and machines. A leg that is
refused a slot has not started (nothing claimed, nothing sent), so it can
safely be retried later.
"""

from __future__ import annotations

import logging
import re
import time

import redis

from core import keys
from core.errors import ConfigurationError
from core.leases import DEFAULT_TTL_SECONDS, Renewer, new_token

log = logging.getLogger(__name__)

_RATE = re.compile(r"^(\d+)\s*/\s*(s|m|h)$")
_PERIOD_SECONDS = {"s": 1, "m": 60, "h": 3600}

# Slot scripts use the Redis clock, so workers on machines whose clocks disagree still
# agree on which members have expired. Scores are expiry times in seconds. The set itself
# expires with its last member, so a brokerage whose holders all died has no set at all.
_NOW_AND_EXPIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local function expire_with_last(key)
  local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  if last[2] then redis.call('PEXPIREAT', key, math.ceil(tonumber(last[2]) * 1000)) end
end
"""
# Take a slot if fewer than ARGV[1] live holders; expired holders (dead workers) are dropped.
_ACQUIRE = (
    _NOW_AND_EXPIRE
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
  expire_with_last(KEYS[1])
  return 1
end
return 0
"""
)
# Push the holder's expiry out, if its member is still there (0: the slot was lost).
_RENEW = (
    _NOW_AND_EXPIRE
    + """
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[2]), ARGV[1])
expire_with_last(KEYS[1])
return 1
"""
)


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
    """One of ``limit`` slots for legs of a brokerage, held while its holder lives.

    The slot is a member of the brokerage's sorted set (``keys.brokerage_slots``)
    scored by its expiry. Like a :class:`core.leases.Lease`, a background thread
    pushes the expiry out every third of ``ttl`` until :meth:`release`; a holder
    killed with the slot (SIGKILL, OOM) stops renewing it, and the slot is free
    again within ``ttl`` seconds (the next :meth:`acquire` drops it).
    """

    def __init__(
        self,
        connection: redis.Redis,
        brokerage: str,
        limit: int,
        ttl: float = DEFAULT_TTL_SECONDS,
    ) -> None:
        self.connection = connection
        self.key = keys.brokerage_slots(brokerage)
        self.limit = limit
        self.ttl = ttl
        self.token = new_token()
        self.held = False
        self._renewer = Renewer(self._renew, ttl / 3, f"slot {self.key}")

    def acquire(self) -> bool:
        """Take a slot if fewer than ``limit`` are held; True when this holder has one now."""
        if self.held:
            return True
        if self.connection.eval(_ACQUIRE, 1, self.key, self.limit, self.token, self.ttl):
            self.held = True
            self._renewer.start()
        return self.held

    def release(self) -> None:
        """Stop renewing and give the slot back."""
        if not self.held:
            return
        self._renewer.stop()
        self.held = False
        try:
            self.connection.zrem(self.key, self.token)
        except redis.RedisError as exc:
            log.warning("slot %s not released (%s); it expires by itself", self.key, exc)

    def _renew(self) -> bool:
        return bool(self.connection.eval(_RENEW, 1, self.key, self.token, self.ttl))
