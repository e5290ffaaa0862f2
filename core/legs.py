"""A job's brokerage legs: one record per leg, moved forward by atomic Redis scripts.

A leg is the part of a job that concerns the accounts of one brokerage. Its
record (field ``<brokerage>`` of ``keys.job_legs(job)``) says where it is:

``pending`` → ``sent`` → ``running`` → ``reported`` (:class:`~core.models.LegState`)

* **pending**: planned when the job started, not yet published (only legs
  that fan out to a ``brokerage.<name>`` queue are ever published).
* **sent**: the publish succeeded. A lost publish leaves the leg ``pending``,
  which the sweeper sees and sends again.
* **running**: a run took the leg's **lease** (``keys.exec_claim``) in the
  same step. The lease is renewed while the run lives and lapses within
  seconds when it dies. A second copy of the leg (a redelivered message) that
  finds the lease alive leaves the leg alone; one that finds the leg
  ``running`` with no lease knows its run died (``orphaned``) and settles it.
* **reported**: every account has its outcome. Reporting deletes the lease.

Results are written only by the holder of the live lease and never once the
job is terminal, so a run that lost its lease (it outlived it, or was taken
for dead) cannot overwrite what the job already says. The job finishes
exactly when every leg is ``reported``, whoever notices first, and finishing
is idempotent (``JobRegistry.finish``).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from enum import StrEnum

import redis

from core import keys
from core.models import TERMINAL_JOB_STATES, LegResult, LegState

# Lua: is the job of KEYS[1] finished?  (``terminal(KEYS[1])`` in the scripts below)
_TERMINAL = (
    "local function terminal(job_key)\n"
    "  local s = redis.call('HGET', job_key, 'state')\n"
    "  return s == false or "
    + " or ".join(f"s == '{state}'" for state in TERMINAL_JOB_STATES)
    + "\nend\n"
)

# KEYS: job, legs. ARGV: legs JSON, started_at, now, brokerage...
# Fix the legs of a queued job and start it; returns 0 when it was started before.
_PLAN = """
if redis.call('HGET', KEYS[1], 'state') ~= 'queued' then return 0 end
redis.call('HSET', KEYS[1], 'legs', ARGV[1], 'state', 'running', 'started_at', ARGV[2])
for i = 4, #ARGV do redis.call('HSET', KEYS[2], ARGV[i], 'pending|' .. ARGV[3]) end
return 1
"""

# KEYS: legs. ARGV: brokerage, now.  pending -> sent (a fast leg may be running already).
_MARK_SENT = """
local leg = redis.call('HGET', KEYS[1], ARGV[1])
if leg and string.sub(leg, 1, 8) == 'pending|' then
  redis.call('HSET', KEYS[1], ARGV[1], 'sent|' .. ARGV[2])
  return 1
end
return 0
"""

# KEYS: job, legs, lease. ARGV: brokerage, token, ttl ms, now.
_CLAIM = (
    _TERMINAL
    + """
if terminal(KEYS[1]) then return 'finished' end
local leg = redis.call('HGET', KEYS[2], ARGV[1])
if not leg then return 'unplanned' end
if string.sub(leg, 1, 9) == 'reported|' then return 'reported' end
if redis.call('EXISTS', KEYS[3]) == 1 then return 'busy' end
redis.call('SET', KEYS[3], ARGV[2], 'PX', ARGV[3])
redis.call('HSET', KEYS[2], ARGV[1], 'running|' .. ARGV[4])
if string.sub(leg, 1, 8) == 'running|' then return 'orphaned' end
return 'claimed'
"""
)

# KEYS: job, legs, lease, results[, account].
# ARGV: brokerage, token, now, only_missing (0/1), report (0/1), n, n result field/value
#       pairs, the events channel and an event to publish ('' for none), then account
#       field/value pairs (written only if the account still exists).
# Returns -1 when refused (lease not ours, or job terminal); else how many legs of the
# job are not reported yet (when reporting), or 0.
_RECORD = (
    _TERMINAL
    + """
if redis.call('GET', KEYS[3]) ~= ARGV[2] or terminal(KEYS[1]) then return -1 end
local n = tonumber(ARGV[6])
local verb = 'HSET'
if ARGV[4] == '1' then verb = 'HSETNX' end
for i = 7, 6 + 2 * n, 2 do redis.call(verb, KEYS[4], ARGV[i], ARGV[i + 1]) end
local base = 7 + 2 * n
if KEYS[5] and #ARGV > base + 1 and redis.call('EXISTS', KEYS[5]) == 1 then
  redis.call('HSET', KEYS[5], unpack(ARGV, base + 2))
end
if n > 0 and ARGV[base + 1] ~= '' then redis.call('PUBLISH', ARGV[base], ARGV[base + 1]) end
if ARGV[5] ~= '1' then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], 'reported|' .. ARGV[3])
redis.call('DEL', KEYS[3])
local left = 0
for _, leg in ipairs(redis.call('HVALS', KEYS[2])) do
  if string.sub(leg, 1, 9) ~= 'reported|' then left = left + 1 end
end
return left
"""
)


class Claim(StrEnum):
    """What a run of a leg found when it tried to take the leg's lease."""

    CLAIMED = "claimed"  # first run: go ahead
    ORPHANED = "orphaned"  # an earlier run died mid-leg: settle it (reconcile or unknown)
    BUSY = "busy"  # a live run holds the lease: leave the leg alone
    REPORTED = "reported"  # done already: nothing to do
    FINISHED = "finished"  # the job is terminal (or gone): nothing may be written
    UNPLANNED = "unplanned"  # the job has no such leg (a stray message)

    @property
    def runs(self) -> bool:
        return self in (Claim.CLAIMED, Claim.ORPHANED)


REFUSED = -1


def parse_state(value: str) -> tuple[LegState, float]:
    """``"sent|1733000000.25"`` -> (LegState.SENT, 1733000000.25)."""
    state, _, since = value.partition("|")
    return LegState(state), float(since or 0)


class LegBook:
    """Every write to a job's leg records goes through here (atomic scripts)."""

    def __init__(self, connection: redis.Redis) -> None:
        self.connection = connection
        self._plan = connection.register_script(_PLAN)
        self._mark_sent = connection.register_script(_MARK_SENT)
        self._claim = connection.register_script(_CLAIM)
        self._record = connection.register_script(_RECORD)

    def plan(self, job_id: str, legs_json: str, brokerages: Iterable[str], started_at: str) -> bool:
        """Fix a queued job's legs (all ``pending``) and mark it running.

        Returns:
            False when the job was started before (its legs stand as they were).
        """
        return bool(
            self._plan(
                keys=[keys.job(job_id), keys.job_legs(job_id)],
                args=[legs_json, started_at, _now(), *brokerages],
            )
        )

    def mark_sent(self, job_id: str, brokerage: str) -> None:
        """Note that the leg's message was published (only a ``pending`` leg moves)."""
        self._mark_sent(keys=[keys.job_legs(job_id)], args=[brokerage, _now()])

    def claim(self, job_id: str, brokerage: str, token: str, ttl_ms: int) -> Claim:
        """Take the leg's lease for a run, or say why this run must not go on."""
        return Claim(
            self._claim(
                keys=[keys.job(job_id), keys.job_legs(job_id), keys.exec_claim(job_id, brokerage)],
                args=[brokerage, token, ttl_ms, _now()],
            )
        )

    def record(
        self,
        job_id: str,
        brokerage: str,
        token: str,
        results: Iterable[LegResult],
        *,
        only_missing: bool = False,
        report: bool = False,
        account_key: str | None = None,
        account_fields: Mapping[str, str] | None = None,
        event: str = "",
    ) -> int:
        """Write results (and an account's new fields) if ``token`` still holds the lease.

        Args:
            only_missing: keep outcomes already recorded (settling an orphaned leg).
            report: this is the leg's last write: mark it ``reported`` and free the lease.
            account_key, account_fields: an account hash to update in the same step
                (activation's new state, a holdings read), if the account still exists.
            event: published on the job-events channel when results were written (the
                live view shows them as they arrive).

        Returns:
            ``REFUSED`` (-1) when nothing was written: the lease lapsed or was
            taken over, or the job is finished. Otherwise, when reporting, how
            many legs of the job are still unreported (0: the job can finish).
        """
        pairs = [item for r in results for item in (r.field_name, r.to_json())]
        leg_keys = [
            keys.job(job_id),
            keys.job_legs(job_id),
            keys.exec_claim(job_id, brokerage),
            keys.job_results(job_id),
        ]
        extra: list[str] = []
        if account_key and account_fields:
            leg_keys.append(account_key)
            extra = [item for pair in account_fields.items() for item in pair]
        args = [
            brokerage,
            token,
            _now(),
            int(only_missing),
            int(report),
            len(pairs) // 2,
            *pairs,
            keys.job_events(),
            event,
            *extra,
        ]
        return int(self._record(keys=leg_keys, args=args))

    def states(self, job_id: str) -> dict[str, tuple[LegState, float]]:
        """Every leg of the job: (state, since when, epoch seconds)."""
        raw = self.connection.hgetall(keys.job_legs(job_id))
        return {brokerage: parse_state(value) for brokerage, value in raw.items()}

    def leases_alive(self, job_id: str, brokerages: Iterable[str]) -> dict[str, bool]:
        """Whether a live run holds each leg's lease."""
        names = list(brokerages)
        with self.connection.pipeline(transaction=False) as pipe:
            for brokerage in names:
                pipe.exists(keys.exec_claim(job_id, brokerage))
            return dict(zip(names, (bool(n) for n in pipe.execute()), strict=True))


def _now() -> str:
    return f"{time.time():.3f}"
