"""Advance a group's jobs: in submission order, one at a time, and recover what stalled.

The group's pending list (``keys.group_pending``) is the run order. Whoever
holds the group's mutex (a lease, see ``core.leases``) runs jobs from the head
of that list; a task that finds the mutex held simply returns, because the
holder will reach its job (it re-checks the list after releasing, and the
sweeper covers a holder that died). So no task waits, polls or loses its place.

A task drains for at most ``DRAIN_BUDGET_SECONDS`` (it always finishes the job in
hand), then hands the group on by sending ``advance_group`` to the group's queue,
so a worker's warm shutdown finishes the job in hand instead of a whole backlog.
A holder checks that it still owns the mutex before each job.

A job's legs are fixed when it starts (``core.legs``). Legs of adapters that
run inline (``BrokerTraits.runs_inline``) run here; the others are published to
``brokerage.<name>`` and marked ``sent`` once the publish succeeded. The job
then stays at the head of the list, blocking the group, until its last leg
reports; that leg finishes the job and sends ``advance_group``.

:meth:`GroupRunner.sweep` finds what stalled (a publish that failed, a run
that died, a finish that was lost) from the records alone and sends it again;
every step it re-sends is safe to repeat.

This module knows nothing of Celery: it is handed two ``dispatch`` callables.
"""

from __future__ import annotations

import json
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from enum import Enum

import redis

from brokers import traits_of
from brokers.execution import run_leg
from core import keys
from core.accounts import AccountRegistry
from core.errors import NotFound
from core.jobs import JobRegistry
from core.legs import Claim, LegBook
from core.locks import Mutex
from core.models import Account, Job, JobKind, JobState, LegState, to_iso, utcnow
from core.settings import Settings

log = logging.getLogger(__name__)

LOCK_TTL_SECONDS = 10.0
# How long one task runs a group's jobs before handing the group on (it always
# finishes the job in hand first).
DRAIN_BUDGET_SECONDS = 2.0

_STILL_OUT = (Claim.BUSY, Claim.CLAIMED, Claim.ORPHANED)


class Stop(Enum):
    """Why a drain of a group's jobs stopped."""

    DONE = "done"  # nothing runnable left (empty, or the head waits on its legs)
    BUDGET = "budget"  # the drain budget is spent: hand the group on
    LOST = "lost"  # the mutex expired under us: its new holder goes on


class GroupRunner:
    def __init__(
        self,
        connection: redis.Redis,
        settings: Settings,
        *,
        dispatch_leg: Callable[[str, str], None],
        dispatch_advance: Callable[[str], None],
        guard: Callable[[Job], None] | None = None,
        on_finished: Callable[[Job], None] | None = None,
        drain_budget: float = DRAIN_BUDGET_SECONDS,
    ) -> None:
        """
        Args:
            dispatch_leg: ``(job_id, brokerage)``: publish a leg to its brokerage queue
                (raises when the broker is unreachable).
            dispatch_advance: ``(group)``: send ``advance_group`` to the group's queue.
            guard: ``(job)``: the risk rules an inline order leg checks before placing.
            on_finished: ``(job)``: told once about every job this runner finished (the
                call that finishes a job is the only one that returns it), e.g. to notify.
            drain_budget: seconds one call of :meth:`advance` runs jobs before handing on.
        """
        self.connection = connection
        self.settings = settings
        self.jobs = JobRegistry(connection)
        self.legs = LegBook(connection)
        self.accounts = AccountRegistry(connection)
        self.dispatch_leg = dispatch_leg
        self.dispatch_advance = dispatch_advance
        self.guard = guard
        self.on_finished = on_finished or (lambda job: None)
        self.drain_budget = drain_budget

    def advance(self, group: str) -> None:
        """Run the group's pending jobs until none is left, one waits on its legs, or the
        drain budget is spent (then the group is handed on through its queue)."""
        deadline = time.monotonic() + self.drain_budget
        while True:
            mutex = Mutex(self.connection, keys.group_lock(group), ttl=LOCK_TTL_SECONDS)
            with mutex as held:
                if not held:
                    return  # another worker is advancing this group and will reach our job
                stopped = self._drain(group, mutex, deadline)
            if stopped is Stop.LOST:
                return
            # A job appended while we were releasing saw the mutex held and left it to us.
            if not self._head_is_runnable(group):
                return
            if stopped is Stop.BUDGET or time.monotonic() >= deadline:
                log.info("group %s: handing on after %.1fs", group, self.drain_budget)
                self.dispatch_advance(group)
                return

    def leg_reported(self, job_id: str) -> None:
        """The last leg of ``job_id`` reported: finish the job and go on with its group."""
        job = self.jobs.finish(job_id)
        if job is not None:
            self.on_finished(job)
            self.dispatch_advance(job.group)

    def sweep(self, group: str) -> str | None:
        """Re-send whatever keeps the group's head job from moving; returns what was sent.

        Nothing is done while someone holds the group's mutex (they are moving it).
        ``advance`` is sent for a head job that is queued, finished, waiting on a leg
        that was never published or an inline leg that did not report, or whose legs
        all reported (a lost finish). A leg whose run died (``running`` with no lease)
        or whose message has been out longer than the visibility timeout is published
        again, once per visibility timeout.
        """
        if self.connection.exists(keys.group_lock(group)):
            return None
        head, job = self._head(group)
        if head is None:
            return None
        if job is None:
            self.dispatch_advance(group)  # a stale entry: draining removes it
            return "advance"
        open_legs = {b: s for b, s in job.leg_states.items() if s is not LegState.REPORTED}
        outside = {b: s for b, s in open_legs.items() if not traits_of(b).runs_inline}
        if (
            job.state is not JobState.RUNNING
            or len(outside) < len(open_legs)
            or not outside
            or LegState.PENDING in outside.values()
        ):
            self.dispatch_advance(group)
            return "advance"
        return self._resend_stalled_legs(job.id, outside)

    # Internals ----------------------------------------------------------------

    def _resend_stalled_legs(self, job_id: str, outside: dict[str, LegState]) -> str | None:
        since = {b: at for b, (_state, at) in self.legs.states(job_id).items()}
        running = [b for b, s in outside.items() if s is LegState.RUNNING]
        alive = self.legs.leases_alive(job_id, running)
        stale_after = time.time() - self.settings.visibility_timeout
        resent = []
        for brokerage, state in outside.items():
            dead = state is LegState.RUNNING and not alive[brokerage]
            lost = state is LegState.SENT and since.get(brokerage, 0) < stale_after
            if (dead or lost) and self._first_resend(job_id, brokerage):
                log.warning(
                    "job %s: %s leg %s; sending it again",
                    job_id,
                    brokerage,
                    "lost its run" if dead else "was never picked up",
                )
                self.dispatch_leg(job_id, brokerage)
                resent.append(brokerage)
        return f"legs {', '.join(resent)}" if resent else None

    def _first_resend(self, job_id: str, brokerage: str) -> bool:
        """At most one re-send of a leg per visibility timeout (its workers may be away)."""
        return bool(
            self.connection.set(
                keys.leg_resent(job_id, brokerage),
                "1",
                nx=True,
                ex=self.settings.visibility_timeout,
            )
        )

    def _drain(self, group: str, mutex: Mutex, deadline: float) -> Stop:
        ran, done = False, ""
        while True:
            # Takes the last finished job off the run order, checks we still hold the
            # mutex (it can expire under a live holder) and reads the next job: one trip.
            head = self.jobs.next_in_line(group, mutex.token, done=done)
            if not head.owned:
                log.warning("group %s: mutex expired under its holder; stopping here", group)
                return Stop.LOST
            if head.job_id is None:
                return Stop.DONE
            if ran and time.monotonic() >= deadline:
                return Stop.BUDGET
            done = head.job_id
            if head.job is None or head.job.state.is_terminal:
                continue  # a stale entry or a finished job: it leaves the run order
            ran = True
            if not self._run(head.job):
                return Stop.DONE  # waiting on brokerage legs; the last one moves on

    def _head_is_runnable(self, group: str) -> bool:
        head, job = self._head(group)
        if head is None:
            return False
        return job is None or not _waits_on_outside_legs(job)  # a stale entry: drain it

    def _head(self, group: str) -> tuple[str | None, Job | None]:
        """The head of the group's run order: its id and job (None when its record is gone)."""
        head = self.jobs.head(group)
        if head is None:
            return None, None
        try:
            return head, self.jobs.fetch(head, with_results=False)
        except NotFound:
            return head, None

    def _run(self, job: Job) -> bool:
        """Run (or resume) ``job``; True once it is finished, False while legs are out."""
        planned: dict[str, Account] = {}
        if job.state is JobState.QUEUED:
            legs, planned, problem = self._plan(job)
            if problem:
                self._finished(self.jobs.fail(job.id, problem))
                return True
            if self.legs.plan(job.id, json.dumps(legs, sort_keys=True), legs, to_iso(utcnow())):
                job.legs, job.state = legs, JobState.RUNNING
                job.leg_states = dict.fromkeys(legs, LegState.PENDING)
            else:  # started by an earlier run of this step, or cancelled just now
                job = self.jobs.fetch(job.id, with_results=False)
                if job.state.is_terminal:
                    return True
        log.info(
            "job %s (%s, group %s) running legs %s",
            job.id,
            job.kind.value,
            job.group,
            sorted(job.legs),
        )
        waiting = False
        written: list | None = []  # every result, while this call wrote them all
        for brokerage, state in job.leg_states.items():
            if state is LegState.REPORTED:
                written = None  # its results were written by an earlier run
                continue
            if traits_of(brokerage).runs_inline:
                run = run_leg(
                    self.connection,
                    self.settings,
                    job.id,
                    brokerage,
                    job=job,
                    accounts=planned,
                    guard=self.guard,
                )
                # Still out: a live run of it elsewhere (busy), or this run lost its lease.
                waiting = waiting or (run.remaining is None and run.claim in _STILL_OUT)
                if written is not None and run.results is not None:
                    written += run.results
                else:
                    written = None
            else:
                waiting = True
                if state is LegState.PENDING:
                    self.dispatch_leg(job.id, brokerage)
                    self.legs.mark_sent(job.id, brokerage)
        if waiting:
            return False
        self._finished(self.jobs.finish(job.id, known=None if written is None else (job, written)))
        return True

    def _finished(self, job: Job | None) -> None:
        if job is not None:
            self.on_finished(job)

    def _plan(self, job: Job) -> tuple[dict[str, list[str]], dict[str, Account], str]:
        """Which accounts of which brokerage the job covers (and their records, as read
        now), or why it cannot run."""
        if job.kind in (JobKind.ACTIVATE, JobKind.DEACTIVATE):
            account = self.accounts.find(job.group, job.account)
            if account is None:
                return {}, {}, f"account {job.account!r} was deleted before the job ran"
            return {account.brokerage: [account.name]}, {account.name: account}, ""
        order = job.order
        accounts = self.accounts.active(job.group, order.brokerages if order else ())
        if order and order.accounts:
            accounts = [a for a in accounts if a.name in order.accounts]
        if not accounts:
            scope = (
                f" of brokerages {', '.join(order.brokerages)}"
                if order and order.brokerages
                else ""
            )
            return {}, {}, f"no active accounts{scope} in group {job.group!r}"
        legs: dict[str, list[str]] = defaultdict(list)
        for account in accounts:
            legs[account.brokerage].append(account.name)
        return dict(legs), {a.name: a for a in accounts}, ""


def _waits_on_outside_legs(job: Job) -> bool:
    """The job is running and every leg still open was handed to a brokerage queue."""
    if job.state is not JobState.RUNNING:
        return False
    open_legs = [b for b, s in job.leg_states.items() if s is not LegState.REPORTED]
    return bool(open_legs) and all(
        not traits_of(b).runs_inline and job.leg_states[b] is not LegState.PENDING
        for b in open_legs
    )
