"""The beat scheduler: RedBeat, riding out Redis restarts.

Exactly one ``celery beat`` schedules at a time: RedBeat holds a lock in Redis and
a second beat waits for it. Plain RedBeat lets the connection error of a tick
escape and beat exits, and with it the sweeper that resumes groups whose worker
died; this one logs and tries again shortly.
"""

from __future__ import annotations

import logging

import redis
from redbeat import RedBeatScheduler

log = logging.getLogger(__name__)

# How soon beat tries again after Redis did not answer.
REDIS_RETRY_SECONDS = 2.0


class Scheduler(RedBeatScheduler):
    """RedBeat that survives Redis being away (a restart, a failover) instead of exiting."""

    def tick(self, *args, **kwargs) -> float:
        try:
            return super().tick(*args, **kwargs)
        except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError) as exc:
            log.warning(
                "beat: Redis unreachable (%s); retrying in %ss",
                type(exc).__name__,
                REDIS_RETRY_SECONDS,
            )
            return REDIS_RETRY_SECONDS
