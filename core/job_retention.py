"""How long a job outlives its group.

Deleting a group does not delete its jobs at once: what ran on whose account stays readable
for the retention period, marked as of a deleted group, and then expires. What would make a
new group of the same name inherit the old one's past goes at once: its list of jobs and the
idempotency keys its jobs were created with.
"""

from __future__ import annotations

import redis

from core import keys


def retire_group_jobs(connection: redis.Redis, group: str, retention_seconds: float) -> None:
    """Keep a deleted group's jobs readable for ``retention_seconds`` (marked as of a
    deleted group), then let them expire; its run order and idempotency keys go now,
    so a new group of the same name starts afresh."""
    ids = connection.zrange(keys.group_jobs(group), 0, -1)
    with connection.pipeline(transaction=False) as pipe:
        for job_id in ids:
            pipe.hget(keys.job(job_id), "idempotency_key")
        idempotency_keys = [k for k in pipe.execute() if k]
    ttl = max(1, int(retention_seconds))
    with connection.pipeline() as pipe:
        for job_id in ids:
            pipe.hset(keys.job(job_id), "group_deleted", "1")
            for key in (keys.job(job_id), keys.job_results(job_id), keys.job_legs(job_id)):
                pipe.expire(key, ttl)
        for idempotency_key in idempotency_keys:
            pipe.delete(keys.idempotency(group, idempotency_key))
        pipe.delete(keys.group_jobs(group))
        pipe.execute()
