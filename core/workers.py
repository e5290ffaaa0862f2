"""Worker heartbeats: proof that a worker is alive *and consuming*.

A worker refreshes its key from a task it consumed from its own queue, so a
worker that stopped consuming (Celery has had such bugs after Redis
reconnects) lets its key expire and drops out of ``/health``.
"""

from __future__ import annotations

import json

import redis

from core import keys
from core.models import to_iso, utcnow

HEARTBEAT_TTL_SECONDS = 45


def record_heartbeat(connection: redis.Redis, hostname: str, queues: list[str]) -> None:
    value = json.dumps({"hostname": hostname, "at": to_iso(utcnow()), "queues": sorted(queues)})
    connection.set(keys.worker_heartbeat(hostname), value, ex=HEARTBEAT_TTL_SECONDS)


def live_workers(connection: redis.Redis) -> list[dict]:
    """Workers whose heartbeat has not expired, by hostname."""
    found = []
    for key in connection.scan_iter(match=keys.WORKER_HEARTBEAT_PATTERN, count=200):
        try:
            keys.worker_from_heartbeat_key(key)
        except ValueError:
            continue
        value = connection.get(key)
        if value:
            found.append(json.loads(value))
    return sorted(found, key=lambda w: w["hostname"])
