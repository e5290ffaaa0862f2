"""The load bench's same-run baseline: raw Celery ``send_task`` rate and task round trip.

Both are sent from this process by ``tasks.celery.app``, so the caller must first give
this process the system's settings (``os.environ.update(system.env)``).
"""

from __future__ import annotations

import statistics
import time
import uuid

from bench.stats import percentile
from bench.workload import NOOP_TASK
from tests.services import wait_until


def baseline(count: int, round_trips: int) -> dict:
    """Raw ``send_task`` rate (nobody consumes the queue) and raw task round trips."""
    from core import keys
    from core.connection import redis_client
    from core.settings import get_settings
    from tasks import names, routing
    from tasks.celery import app

    queue = f"bench-noop-{uuid.uuid4().hex[:6]}"
    app.send_task(NOOP_TASK, queue=queue)  # warm up: connection, queue declaration
    start = time.perf_counter()
    for _ in range(count):
        app.send_task(NOOP_TASK, queue=queue)
    elapsed = time.perf_counter() - start
    with app.connection_for_write() as connection:
        connection.default_channel.queue_delete(queue)

    # Round trip: the heartbeat task records a key in Redis; poll until it appears.
    redis = redis_client(get_settings().redis_url)
    latencies = []
    for n in range(round_trips):
        name = f"bench-rt-{uuid.uuid4().hex[:8]}-{n}"
        started = time.perf_counter()
        app.send_task(names.HEARTBEAT, args=[name], queue=routing.DEFAULT_QUEUE)
        wait_until(lambda name=name: redis.exists(keys.worker_heartbeat(name)), 10, interval=0.0005)
        latencies.append(time.perf_counter() - started)
        redis.delete(keys.worker_heartbeat(name))
    return {
        "send_task_per_s": count / elapsed,
        "send_task_count": count,
        "round_trip_p50_ms": statistics.median(latencies) * 1000,
        "round_trip_p99_ms": percentile(latencies, 99) * 1000,
        "round_trip_count": round_trips,
    }
