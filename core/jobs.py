"""The registry of job records and their per-account results.

A job is written once, whole, in one atomic step (:meth:`JobRegistry.create`):
its record, its place in the group's run order, its idempotency key and any
record it brings along (an account being activated, its credentials). Either
all of it exists or none of it does, so a caller can always tell the truth
about what was written. Its legs move on through :mod:`core.legs`; it finishes
through :meth:`JobRegistry.finish`, which is idempotent.

The registry is spread over a few modules, one concept each: the Lua scripts
(:mod:`core.job_scripts`), the reads (:mod:`core.job_queries`, the registry's base
class) and what becomes of a deleted group's jobs (:mod:`core.job_retention`). Import
the registry and its types from here.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import redis

from core import job_scripts, keys
from core.connection import reply_pairs, reply_text
from core.errors import Conflict, NotFound
from core.job_queries import JobQueries
from core.job_retention import retire_group_jobs
from core.legs import parse_state
from core.models import Job, JobState, LegResult, summarise, to_iso, utcnow

# How long an Idempotency-Key keeps answering with its first job.
IDEMPOTENCY_TTL_SECONDS = 24 * 3600

# Commands a job may bring along into its atomic write (see ``Write``).
_WRITE_COMMANDS = frozenset({"SET", "HSET", "SADD"})


@dataclass(frozen=True)
class Write:
    """One more record written in the same atomic step as a new job.

    ``Write("HSET", key, field, value, ...)``; only SET, HSET and SADD.
    """

    command: str
    key: str
    args: tuple[str, ...]

    def __init__(self, command: str, key: str, *args: str) -> None:
        if command not in _WRITE_COMMANDS:
            raise ValueError(f"a job cannot bring a {command} along")
        object.__setattr__(self, "command", command)
        object.__setattr__(self, "key", key)
        object.__setattr__(self, "args", tuple(str(a) for a in args))


@dataclass(frozen=True)
class InLine:
    """What :meth:`JobRegistry.next_in_line` saw at the head of a group's run order.

    Attributes:
        owned: the caller still holds the group's mutex (False: stop at once).
        job_id: the head's id (None: the run order is empty).
        job: the head job with its legs' states (None: its record is gone, a stale entry).
    """

    owned: bool
    job_id: str | None = None
    job: Job | None = None


@dataclass(frozen=True)
class Created:
    """What :meth:`JobRegistry.create` did.

    Attributes:
        job_id: the job now standing for the request (the new one, or the one
            that first used the idempotency key).
        created: True when this call wrote it.
        fingerprint: for an existing job, the fingerprint it was created with.
    """

    job_id: str
    created: bool
    fingerprint: str = ""


def new_job_id() -> str:
    return uuid.uuid4().hex


def event_json(job: Job) -> str:
    """The job-events message of ``job`` (dashboard, streams)."""
    return json.dumps(
        {"id": job.id, "group": job.group, "kind": job.kind.value, "state": job.state.value}
    )


class JobRegistry(JobQueries):
    """Job records: written and ended here, read through :class:`JobQueries`."""

    def __init__(self, connection: redis.Redis) -> None:
        super().__init__(connection)
        self._create = connection.register_script(job_scripts.CREATE)
        self._finish = connection.register_script(job_scripts.FINISH)
        self._next = connection.register_script(job_scripts.NEXT_IN_LINE)
        self._cancel = connection.register_script(job_scripts.CANCEL)

    # Writing ---------------------------------------------------------------

    def create(
        self,
        job: Job,
        *,
        idempotency_key: str | None = None,
        fingerprint: str = "",
        also: Sequence[Write] = (),
    ) -> Created | None:
        """Write ``job``, its place in the run order and ``also``, in one atomic step.

        Args:
            idempotency_key: when given and already used in the group, nothing is
                written and the first job's id is returned (with its fingerprint).
            fingerprint: what identifies the request, kept with the key.
            also: records written only if the job is (an account, its credentials).

        Returns:
            What was done, or None when the group does not exist (nothing written).
        """
        mapping = job.to_hash()
        if idempotency_key:
            mapping["idempotency_key"] = idempotency_key  # so deleting the group frees it
        pairs = [item for pair in mapping.items() for item in pair]
        writes = [[w.command, *w.args] for w in also]
        reply = self._create(
            keys=[
                keys.group(job.group),
                keys.job(job.id),
                keys.group_jobs(job.group),
                keys.group_pending(job.group),
                keys.idempotency(job.group, idempotency_key or "-"),
                *(w.key for w in also),
            ],
            args=[
                job.id,
                job.created_at.timestamp(),
                fingerprint,
                IDEMPOTENCY_TTL_SECONDS,
                int(bool(idempotency_key)),
                keys.job_events(),
                event_json(job),
                len(mapping),
                *pairs,
                json.dumps(writes),
            ],
        )
        verdict = reply_text(reply[0])
        if verdict == "nogroup":
            return None
        if verdict == "exists":
            return Created(reply_text(reply[1]), created=False, fingerprint=reply_text(reply[2]))
        return Created(job.id, created=True)

    def key_used(self, group: str, idempotency_key: str | None) -> bool:
        """Whether ``idempotency_key`` already names a job of ``group``."""
        return bool(idempotency_key) and bool(
            self.connection.hexists(keys.idempotency(group, idempotency_key), "job")
        )

    def claim_retry(self, job_id: str, retry_ids: list[str]) -> str | None:
        """Note that ``job_id`` is retried by ``retry_ids``.

        Returns:
            None when this is the first retry, else the ids of the earlier retry.
        """
        if self.connection.hsetnx(keys.job(job_id), "retried_by", ",".join(retry_ids)):
            return None
        return self.connection.hget(keys.job(job_id), "retried_by")

    def finish(
        self, job_id: str, *, known: tuple[Job, list[LegResult]] | None = None
    ) -> Job | None:
        """End the job from its results once every leg has reported (idempotent).

        Args:
            known: the job and *all* its results, when the caller holds them (it
                wrote every result itself): saves reading them back.

        Returns:
            The finished job when this call finished it; None when it was
            finished before or a leg has not reported yet.
        """
        if known is None:
            job = self.fetch(job_id)
        else:
            job, job.results = known[0], known[1]
        if job.state.is_terminal:
            return None
        job.state, job.finished_at = summarise(job.results), utcnow()
        return job if self._end(job, require_reported=True) else None

    def cancel(self, job_id: str) -> Job:
        """Cancel a job that has not started: it never runs, whoever holds its message.

        Raises:
            NotFound: no such job.
            Conflict: it started (legs cannot be recalled from a brokerage) or finished.
        """
        job = self.fetch(job_id, with_results=False)
        job.state, job.finished_at = JobState.CANCELLED, utcnow()
        verdict = self._cancel(
            keys=[keys.job(job_id)],
            args=[to_iso(job.finished_at), keys.job_events(), event_json(job)],
        )
        verdict = reply_text(verdict) if isinstance(verdict, bytes | str) else int(verdict)
        if verdict in (0, 1):
            return self.fetch(job_id, with_results=False)
        if verdict == "missing":
            raise NotFound(f"job {job_id!r} does not exist")
        if verdict == JobState.RUNNING.value:
            raise Conflict(
                f"job {job_id} is running: its legs may have reached a brokerage and cannot "
                "be recalled; wait for its results"
            )
        raise Conflict(f"job {job_id} is finished ({verdict}); there is nothing to cancel")

    def fail(self, job_id: str, error: str) -> Job | None:
        """End a job that could not run at all (no leg was planned, nothing was sent)."""
        job = self.fetch(job_id, with_results=False)
        if job.state.is_terminal:
            return None
        job.state, job.error, job.finished_at = JobState.FAILED, error, utcnow()
        return job if self._end(job, require_reported=False) else None

    def _end(self, job: Job, *, require_reported: bool) -> bool:
        done = self._finish(
            keys=[keys.job(job.id), keys.job_legs(job.id)],
            args=[
                job.state.value,
                to_iso(job.finished_at),
                job.error,
                keys.job_events(),
                event_json(job),
                int(require_reported),
            ],
        )
        return int(done) == 1

    # The group's run order -------------------------------------------------

    def next_in_line(self, group: str, lock_token: str, *, done: str = "") -> InLine:
        """The group's head job, if the caller still holds the group's mutex; one round trip.

        Args:
            lock_token: the caller's token on ``keys.group_lock(group)``.
            done: a finished job to take off the run order first.
        """
        reply = self._next(
            keys=[keys.group_lock(group), keys.group_pending(group)],
            args=[lock_token, done, keys.job("{id}"), keys.job_legs("{id}")],
        )
        if not int(reply[0]):
            return InLine(owned=False)
        if len(reply) == 1:
            return InLine(owned=True)
        job_id, data, legs = reply_text(reply[1]), reply_pairs(reply[2]), reply_pairs(reply[3])
        if not data:
            return InLine(owned=True, job_id=job_id)
        job = Job.from_hash(data)
        job.leg_states = {b: parse_state(v)[0] for b, v in legs.items()}
        return InLine(owned=True, job_id=job_id, job=job)

    # A deleted group ------------------------------------------------------

    def retire_group_jobs(self, group: str, retention_seconds: float) -> None:
        """See :func:`core.job_retention.retire_group_jobs`."""
        retire_group_jobs(self.connection, group, retention_seconds)
