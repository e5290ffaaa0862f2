"""Reading job records: one job, a group's jobs page by page, a search across groups.

:class:`JobQueries` is the read side of :class:`core.jobs.JobRegistry` (which adds the
writes); it never changes a record. A job whose record is gone (expired after its group was
deleted) is skipped by the lists and the search, and is :class:`~core.errors.NotFound` to
:meth:`JobQueries.fetch`.
"""

from __future__ import annotations

from datetime import datetime

import redis

from core import keys
from core.errors import NotFound
from core.legs import parse_state
from core.models import Job, LegResult


class JobQueries:
    def __init__(self, connection: redis.Redis) -> None:
        self.connection = connection

    def fetch(self, job_id: str, *, with_results: bool = True) -> Job:
        """The job with its legs' states and (by default) its results, sorted by account.

        Raises:
            NotFound: no such job.
        """
        found = self.fetch_many([job_id], with_results=with_results)
        if not found:
            raise NotFound(f"job {job_id!r} does not exist")
        return found[0]

    def fetch_many(self, job_ids: list[str], *, with_results: bool = True) -> list[Job]:
        """The jobs of ``job_ids`` that still exist, in that order, read in one round trip."""
        per_job = 3 if with_results else 2
        with self.connection.pipeline(transaction=False) as pipe:
            for job_id in job_ids:
                pipe.hgetall(keys.job(job_id))
                pipe.hgetall(keys.job_legs(job_id))
                if with_results:
                    pipe.hvals(keys.job_results(job_id))
            replies = pipe.execute()
        jobs = []
        for at in range(0, len(replies), per_job):
            data, legs, *results = replies[at : at + per_job]
            if not data:
                continue  # gone: expired after its group was deleted
            job = Job.from_hash(data)
            job.leg_states = {b: parse_state(v)[0] for b, v in legs.items()}
            if with_results:
                job.results = sorted(
                    (LegResult.from_json(r) for r in results[0]),
                    key=lambda r: (r.account, r.symbol or ""),
                )
            jobs.append(job)
        return jobs

    def exists(self, job_id: str) -> bool:
        return bool(self.connection.exists(keys.job(job_id)))

    def search(
        self,
        groups: list[str],
        *,
        since: datetime | None = None,
        states: frozenset[str] = frozenset(),
        kinds: frozenset[str] = frozenset(),
        result_status: str | None = None,
    ) -> list[Job]:
        """Jobs of ``groups`` created since ``since``, newest first, with their results,
        matching every filter given (``result_status``: at least one result with that
        status)."""
        low = since.timestamp() if since else "-inf"
        with self.connection.pipeline(transaction=False) as pipe:
            for group in groups:
                pipe.zrangebyscore(keys.group_jobs(group), low, "+inf", withscores=True)
            found = [pair for pairs in pipe.execute() for pair in pairs]
        ids = [job_id for job_id, _score in sorted(found, key=lambda pair: -pair[1])]
        return [
            job
            for job in self.fetch_many(ids)
            if (not states or job.state.value in states)
            and (not kinds or job.kind.value in kinds)
            and (not result_status or any(r.status.value == result_status for r in job.results))
        ]

    def count_group(self, group: str) -> int:
        return self.connection.zcard(keys.group_jobs(group))

    def list_group(self, group: str, first: int, last: int) -> list[Job]:
        """Jobs of a group, newest first, positions ``first`` to ``last`` (exclusive)."""
        ids = self.connection.zrevrange(keys.group_jobs(group), first, max(first, last - 1))
        return self.fetch_many(ids)

    def pending(self, group: str) -> list[str]:
        """The ids in the group's run order, its head first."""
        return self.connection.lrange(keys.group_pending(group), 0, -1)

    def head(self, group: str) -> str | None:
        return self.connection.lindex(keys.group_pending(group), 0)
