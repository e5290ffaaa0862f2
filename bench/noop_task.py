"""The no-op task of ``bench/core.py``'s baselines, loaded into the real workers.

The bench starts ``celery -A tasks worker ... -I bench.noop_task``, so the same worker
processes (same pool, prefetch, late acks) that run tradefleet's jobs also run this task.
It does nothing but say it ran, in one pipelined Redis round trip: it counts itself in
``<prefix>:count``, keeps the time it ran in ``<prefix>:last`` and publishes
``"<seq> <time>"`` on the channel ``<prefix>`` (for round trips). The bench chooses the prefix.
"""

from __future__ import annotations

import os
import time

import redis

from bench.workload import NOOP_TASK
from tasks.celery import app

_connection: redis.Redis | None = None


def _redis() -> redis.Redis:
    global _connection
    if _connection is None:  # per pool process, after the fork
        _connection = redis.Redis.from_url(os.environ["REDIS_URL"])
    return _connection


@app.task(name=NOOP_TASK, ignore_result=True)
def noop(prefix: str, seq: int) -> None:
    now = time.time()
    with _redis().pipeline(transaction=False) as pipe:
        pipe.incr(f"{prefix}:count")
        pipe.set(f"{prefix}:last", repr(now))
        pipe.publish(prefix, f"{seq} {now!r}")
        pipe.execute()
