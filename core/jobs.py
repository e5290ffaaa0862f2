"""The registry of job records and their per-account results."""

from __future__ import annotations

import json
import uuid

import redis

from core import keys
from core.errors import NotFound
from core.models import Job, JobState, LegResult, summarise, to_iso, utcnow

# How long an Idempotency-Key keeps answering with its first job.
IDEMPOTENCY_TTL_SECONDS = 24 * 3600


def new_job_id() -> str:
    return uuid.uuid4().hex


class JobRegistry:
    def __init__(self, connection: redis.Redis) -> None:
        self.connection = connection

    # Writing ---------------------------------------------------------------

    def create(self, job: Job, pipeline=None) -> Job:
        """Save a new job and append it to its group's run order."""
        pipe = pipeline or self.connection.pipeline()
        pipe.hset(keys.job(job.id), mapping=job.to_hash())
        pipe.zadd(keys.group_jobs(job.group), {job.id: job.created_at.timestamp()})
        pipe.rpush(keys.group_pending(job.group), job.id)
        if pipeline is None:
            pipe.execute()
        self.publish(job)
        return job

    def claim_idempotency_key(self, group: str, idempotency_key: str, job_id: str) -> str | None:
        """Reserve ``idempotency_key`` for ``job_id``.

        Returns:
            None when the key was free (the caller goes on creating its job),
            else the id of the job that first used the key.
        """
        key = keys.idempotency(group, idempotency_key)
        if self.connection.set(key, job_id, nx=True, ex=IDEMPOTENCY_TTL_SECONDS):
            return None
        return self.connection.get(key)

    def claim_retry(self, job_id: str, retry_ids: list[str]) -> str | None:
        """Note that ``job_id`` is retried by ``retry_ids``.

        Returns:
            None when this is the first retry, else the ids of the earlier retry.
        """
        if self.connection.hsetnx(keys.job(job_id), "retried_by", ",".join(retry_ids)):
            return None
        return self.connection.hget(keys.job(job_id), "retried_by")

    def mark_running(self, job_id: str) -> None:
        self.connection.hset(
            keys.job(job_id),
            mapping={"state": JobState.RUNNING.value, "started_at": to_iso(utcnow())},
        )
        self._publish_by_id(job_id)

    def set_legs(self, job_id: str, legs: dict[str, list[str]]) -> None:
        """Fix which accounts of which brokerage the job covers (kept across redelivery)."""
        self.connection.hset(keys.job(job_id), "legs", json.dumps(legs, sort_keys=True))

    def set_legs_outstanding(self, job_id: str, count: int) -> None:
        self.connection.hset(keys.job(job_id), "legs_outstanding", str(count))

    def leg_reported(self, job_id: str, brokerage: str) -> int:
        """Note that a dispatched leg is done; returns how many legs have reported.

        A set, not a counter, so a redelivered leg reporting twice counts once.
        """
        with self.connection.pipeline() as pipe:
            pipe.sadd(keys.job_legs_done(job_id), brokerage)
            pipe.scard(keys.job_legs_done(job_id))
            return pipe.execute()[1]

    def record(self, job_id: str, results: list[LegResult]) -> None:
        """Store per-account results (a later result for the same account and symbol wins)."""
        if results:
            self.connection.hset(
                keys.job_results(job_id), mapping={r.field_name: r.to_json() for r in results}
            )

    def record_missing(self, job_id: str, results: list[LegResult]) -> None:
        """Store results only where none is recorded yet (a known outcome is never overwritten)."""
        with self.connection.pipeline() as pipe:
            for result in results:
                pipe.hsetnx(keys.job_results(job_id), result.field_name, result.to_json())
            pipe.execute()

    def finish(self, job_id: str, *, error: str = "") -> Job:
        """Give the job its terminal state from the results it recorded."""
        job = self.fetch(job_id)
        state = summarise(job.results)
        mapping = {
            "state": state.value,
            "finished_at": to_iso(utcnow()),
            "legs_outstanding": "0",
        }
        if error:
            mapping["error"] = error
        self.connection.hset(keys.job(job_id), mapping=mapping)
        job.state, job.error = state, error or job.error
        self.publish(job)
        return job

    def fail(self, job_id: str, error: str) -> None:
        """End a job that could not run at all (nothing was sent to any brokerage)."""
        self.connection.hset(
            keys.job(job_id),
            mapping={
                "state": JobState.FAILED.value,
                "error": error,
                "finished_at": to_iso(utcnow()),
            },
        )
        self._publish_by_id(job_id)

    # Reading ---------------------------------------------------------------

    def fetch(self, job_id: str) -> Job:
        """The job with its results, sorted by account then symbol.

        Raises:
            NotFound: no such job.
        """
        with self.connection.pipeline(transaction=False) as pipe:
            pipe.hgetall(keys.job(job_id))
            pipe.hvals(keys.job_results(job_id))
            data, results = pipe.execute()
        if not data:
            raise NotFound(f"job {job_id!r} does not exist")
        job = Job.from_hash(data)
        job.results = sorted(
            (LegResult.from_json(r) for r in results), key=lambda r: (r.account, r.symbol or "")
        )
        return job

    def exists(self, job_id: str) -> bool:
        return bool(self.connection.exists(keys.job(job_id)))

    def count_group(self, group: str) -> int:
        return self.connection.zcard(keys.group_jobs(group))

    def list_group(self, group: str, first: int, last: int) -> list[Job]:
        """Jobs of a group, newest first, positions ``first`` to ``last`` (exclusive)."""
        ids = self.connection.zrevrange(keys.group_jobs(group), first, max(first, last - 1))
        return [self.fetch(job_id) for job_id in ids if self.exists(job_id)]

    # The group's run order -------------------------------------------------

    def pending(self, group: str) -> list[str]:
        return self.connection.lrange(keys.group_pending(group), 0, -1)

    def head(self, group: str) -> str | None:
        return self.connection.lindex(keys.group_pending(group), 0)

    def remove_pending(self, group: str, job_id: str) -> None:
        self.connection.lrem(keys.group_pending(group), 1, job_id)

    # Events ----------------------------------------------------------------

    def publish(self, job: Job) -> None:
        """Announce a state change on the job-events channel (dashboard, streams)."""
        event = {"id": job.id, "group": job.group, "kind": job.kind.value, "state": job.state.value}
        self.connection.publish(keys.job_events(), json.dumps(event))

    def _publish_by_id(self, job_id: str) -> None:
        data = self.connection.hgetall(keys.job(job_id))
        if data:
            self.publish(Job.from_hash(data))

    def delete_group_jobs(self, group: str) -> None:
        """Forget every job record of a group (when the group is deleted)."""
        ids = self.connection.zrange(keys.group_jobs(group), 0, -1)
        with self.connection.pipeline() as pipe:
            for job_id in ids:
                pipe.delete(keys.job(job_id), keys.job_results(job_id), keys.job_legs_done(job_id))
            pipe.delete(keys.group_jobs(group))
            pipe.execute()
