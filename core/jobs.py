"""The registry of job records and their per-account results.

A job is written once, whole, in one atomic step (:meth:`JobRegistry.create`):
its record, its place in the group's run order, its idempotency key and any
record it brings along (an account being activated, its credentials). Either
all of it exists or none of it does, so a caller can always tell the truth
about what was written. Its legs move on through :mod:`core.legs`; it finishes
through :meth:`JobRegistry.finish`, which is idempotent.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import redis

from core import keys
from core.errors import Conflict, NotFound
from core.legs import parse_state
from core.models import TERMINAL_JOB_STATES, Job, JobState, LegResult, summarise, to_iso, utcnow

# How long an Idempotency-Key keeps answering with its first job.
IDEMPOTENCY_TTL_SECONDS = 24 * 3600

# Commands a job may bring along into its atomic write (see ``Write``).
_WRITE_COMMANDS = frozenset({"SET", "HSET", "SADD"})

_TERMINAL = " or ".join(f"s == '{state}'" for state in TERMINAL_JOB_STATES)

# KEYS: group, job, group jobs, group pending, idempotency (or a dummy), extra write keys...
# ARGV: job id, score, fingerprint, idempotency ttl, has key (0/1), channel, event,
#       n, n field/value pairs of the job hash, extra writes JSON ([[cmd, args...], ...]).
_CREATE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return {'nogroup'} end
if ARGV[5] == '1' then
  local first = redis.call('HGET', KEYS[5], 'job')
  if first then return {'exists', first, redis.call('HGET', KEYS[5], 'fingerprint') or ''} end
  redis.call('HSET', KEYS[5], 'job', ARGV[1], 'fingerprint', ARGV[3])
  redis.call('EXPIRE', KEYS[5], ARGV[4])
end
local n = tonumber(ARGV[8])
redis.call('HSET', KEYS[2], unpack(ARGV, 9, 8 + 2 * n))
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
redis.call('RPUSH', KEYS[4], ARGV[1])
local writes = cjson.decode(ARGV[9 + 2 * n])
for i, write in ipairs(writes) do
  redis.call(write[1], KEYS[5 + i], unpack(write, 2))
end
redis.call('PUBLISH', ARGV[6], ARGV[7])
return {'created', ARGV[1]}
"""

# KEYS: group lock, group pending. ARGV: lock token, a finished job to take off the run order
# (or ''), job key template, legs key template ('{id}' stands for the job id).
# Returns {owned (0/1), head id, job hash, legs hash}: the group's next job, read in one trip.
_NEXT = """
if ARGV[2] ~= '' then redis.call('LREM', KEYS[2], 1, ARGV[2]) end
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {0} end
local id = redis.call('LINDEX', KEYS[2], 0)
if not id then return {1} end
local job = redis.call('HGETALL', (string.gsub(ARGV[3], '{id}', id)))
local legs = redis.call('HGETALL', (string.gsub(ARGV[4], '{id}', id)))
return {1, id, job, legs}
"""

# KEYS: job. ARGV: finished_at, channel, event. Cancel a job that has not started:
# 1 when cancelled now, 0 when it was cancelled before, else its state (started or done).
_CANCEL = """
local s = redis.call('HGET', KEYS[1], 'state')
if s == false then return 'missing' end
if s == 'cancelled' then return 0 end
if s ~= 'queued' then return s end
redis.call('HSET', KEYS[1], 'state', 'cancelled', 'finished_at', ARGV[1])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
"""

# KEYS: job, legs. ARGV: state, finished_at, error, channel, event, require all legs (0/1).
# Returns 1 when this call finished the job, 0 when it was finished already, -1 when a
# leg has not reported yet.
_FINISH = f"""
local s = redis.call('HGET', KEYS[1], 'state')
if s == false or {_TERMINAL} then return 0 end
if ARGV[6] == '1' then
  for _, leg in ipairs(redis.call('HVALS', KEYS[2])) do
    if string.sub(leg, 1, 9) ~= 'reported|' then return -1 end
  end
end
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'finished_at', ARGV[2])
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'error', ARGV[3]) end
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1
"""


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


class JobRegistry:
    def __init__(self, connection: redis.Redis) -> None:
        self.connection = connection
        self._create = connection.register_script(_CREATE)
        self._finish = connection.register_script(_FINISH)
        self._next = connection.register_script(_NEXT)
        self._cancel = connection.register_script(_CANCEL)

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
        verdict = _text(reply[0])
        if verdict == "nogroup":
            return None
        if verdict == "exists":
            return Created(_text(reply[1]), created=False, fingerprint=_text(reply[2]))
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
        verdict = _text(verdict) if isinstance(verdict, bytes | str) else int(verdict)
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

    # Reading ---------------------------------------------------------------

    def fetch(self, job_id: str, *, with_results: bool = True) -> Job:
        """The job with its legs' states and (by default) its results, sorted by account.

        Raises:
            NotFound: no such job.
        """
        with self.connection.pipeline(transaction=False) as pipe:
            pipe.hgetall(keys.job(job_id))
            pipe.hgetall(keys.job_legs(job_id))
            if with_results:
                pipe.hvals(keys.job_results(job_id))
            data, legs, *results = pipe.execute()
        if not data:
            raise NotFound(f"job {job_id!r} does not exist")
        job = Job.from_hash(data)
        job.leg_states = {b: parse_state(v)[0] for b, v in legs.items()}
        if with_results:
            job.results = sorted(
                (LegResult.from_json(r) for r in results[0]),
                key=lambda r: (r.account, r.symbol or ""),
            )
        return job

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
        """Jobs of ``groups`` created since ``since``, newest first, matching every filter
        given (``result_status``: at least one result with that status)."""
        low = since.timestamp() if since else "-inf"
        with self.connection.pipeline(transaction=False) as pipe:
            for group in groups:
                pipe.zrangebyscore(keys.group_jobs(group), low, "+inf", withscores=True)
            found = [pair for pairs in pipe.execute() for pair in pairs]
        jobs = []
        for job_id, _score in sorted(found, key=lambda pair: -pair[1]):
            try:
                job = self.fetch(job_id, with_results=result_status is not None)
            except NotFound:
                continue
            if states and job.state.value not in states:
                continue
            if kinds and job.kind.value not in kinds:
                continue
            if result_status and not any(r.status.value == result_status for r in job.results):
                continue
            jobs.append(job)
        return jobs

    def count_group(self, group: str) -> int:
        return self.connection.zcard(keys.group_jobs(group))

    def list_group(self, group: str, first: int, last: int) -> list[Job]:
        """Jobs of a group, newest first, positions ``first`` to ``last`` (exclusive)."""
        ids = self.connection.zrevrange(keys.group_jobs(group), first, max(first, last - 1))
        found = []
        for job_id in ids:
            try:
                found.append(self.fetch(job_id))
            except NotFound:
                continue
        return found

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
        job_id, data, legs = _text(reply[1]), _pairs(reply[2]), _pairs(reply[3])
        if not data:
            return InLine(owned=True, job_id=job_id)
        job = Job.from_hash(data)
        job.leg_states = {b: parse_state(v)[0] for b, v in legs.items()}
        return InLine(owned=True, job_id=job_id, job=job)

    def pending(self, group: str) -> list[str]:
        return self.connection.lrange(keys.group_pending(group), 0, -1)

    def head(self, group: str) -> str | None:
        return self.connection.lindex(keys.group_pending(group), 0)

    def retire_group_jobs(self, group: str, retention_seconds: float) -> None:
        """Keep a deleted group's jobs readable for ``retention_seconds`` (marked as of a
        deleted group), then let them expire; its run order and idempotency keys go now,
        so a new group of the same name starts afresh."""
        ids = self.connection.zrange(keys.group_jobs(group), 0, -1)
        with self.connection.pipeline(transaction=False) as pipe:
            for job_id in ids:
                pipe.hget(keys.job(job_id), "idempotency_key")
            idempotency_keys = [k for k in pipe.execute() if k]
        ttl = max(1, int(retention_seconds))
        with self.connection.pipeline() as pipe:
            for job_id in ids:
                pipe.hset(keys.job(job_id), "group_deleted", "1")
                for key in (keys.job(job_id), keys.job_results(job_id), keys.job_legs(job_id)):
                    pipe.expire(key, ttl)
            for idempotency_key in idempotency_keys:
                pipe.delete(keys.idempotency(group, idempotency_key))
            pipe.delete(keys.group_jobs(group))
            pipe.execute()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _pairs(flat: list) -> dict[str, str]:
    """A flat HGETALL reply from a script as a dict."""
    items = [_text(v) for v in flat]
    return dict(zip(items[::2], items[1::2], strict=True))
