"""Advance a group's jobs: in submission order, one at a time.

The group's pending list (``keys.group_pending``) is the run order. Whoever
holds the group's mutex runs jobs from the head of that list; a task that
finds the mutex held simply returns, because the holder will reach its job
(it re-checks the list after releasing, and the beat sweeper covers a holder
that died). So no task waits, polls or loses its place.

A task drains for at most ``DRAIN_BUDGET_SECONDS`` (it always finishes the job in
hand), then hands the group on by sending ``advance_group`` to the group's queue.
Tasks stay short, so a worker's warm shutdown (SIGTERM) finishes the job in hand
and exits instead of draining the whole group while its stop grace period runs
out. A holder also checks that it still owns the mutex before each job: a mutex
that expired under it (Redis away longer than its TTL) may already be another
worker's, and two holders would break the group's order.

A job's legs are fixed when it starts (``Job.legs``). Legs that touch only
Redis (paper) run inline here; legs that call out go to ``brokerage.<name>``
queues, and the job stays at the head of the list, blocking the group, until
the last of them reports and ``finish_dispatched`` ends it.

This module knows nothing of Celery: it is handed two ``dispatch`` callables.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable

import redis

from brokers import calls_out
from brokers.execution import run_leg
from core import keys
from core.accounts import AccountRegistry
from core.errors import NotFound
from core.jobs import JobRegistry
from core.locks import Mutex
from core.models import Job, JobKind, JobState
from core.settings import Settings

log = logging.getLogger(__name__)

LOCK_TTL_SECONDS = 10.0
# How long one task runs a group's jobs before handing the group on (it always
# finishes the job in hand first).
DRAIN_BUDGET_SECONDS = 2.0


class GroupRunner:
    def __init__(
        self,
        connection: redis.Redis,
        settings: Settings,
        *,
        dispatch_leg: Callable[[str, str, str], None],
        dispatch_finish: Callable[[str, str], None],
        dispatch_advance: Callable[[str], None],
        drain_budget: float = DRAIN_BUDGET_SECONDS,
    ) -> None:
        """
        Args:
            dispatch_leg: ``(job_id, group, brokerage)``: send a leg to its brokerage queue.
            dispatch_finish: ``(job_id, group)``: send the job's finishing step to its group queue.
            dispatch_advance: ``(group)``: send ``advance_group`` to the group's queue.
            drain_budget: seconds one call of :meth:`advance` runs jobs before handing on.
        """
        self.connection = connection
        self.settings = settings
        self.jobs = JobRegistry(connection)
        self.accounts = AccountRegistry(connection)
        self.dispatch_leg = dispatch_leg
        self.dispatch_finish = dispatch_finish
        self.dispatch_advance = dispatch_advance
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
            if stopped == "lost":
                return  # whoever holds the mutex now goes on with the group
            # A job appended while we were releasing saw the mutex held and left it to us.
            if not self._head_is_runnable(group):
                return
            if stopped == "budget" or time.monotonic() >= deadline:
                log.info("group %s: handing on after %.1fs", group, self.drain_budget)
                self.dispatch_advance(group)
                return

    def leg_reported(self, job_id: str, brokerage: str) -> None:
        """Called after a dispatched leg recorded its results."""
        job = self.jobs.fetch(job_id)
        dispatched = [b for b in job.legs if calls_out(b)]
        if self.jobs.leg_reported(job_id, brokerage) >= len(dispatched):
            self.dispatch_finish(job_id, job.group)

    def finish_dispatched(self, job_id: str) -> None:
        """End a job whose dispatched legs have all reported, then go on with the group."""
        job = self.jobs.fetch(job_id)
        if not job.state.is_terminal:
            self.jobs.finish(job_id)
        self.advance(job.group)

    def _drain(self, group: str, mutex: Mutex, deadline: float) -> str:
        """Run jobs from the head; returns why it stopped: ``done``, ``budget`` or ``lost``."""
        ran = False
        while (job_id := self.jobs.head(group)) is not None:
            if ran and time.monotonic() >= deadline:
                return "budget"
            if not mutex.owned():
                log.warning("group %s: mutex expired under its holder; stopping here", group)
                return "lost"
            try:
                job = self.jobs.fetch(job_id)
            except NotFound:
                self.jobs.remove_pending(group, job_id)
                continue
            if not job.state.is_terminal:
                if job.state is JobState.RUNNING and job.legs_outstanding:
                    return "done"  # waiting for brokerage legs; the last one sends finish_job
                ran = True
                if not self._run(job):
                    return "done"
            self.jobs.remove_pending(group, job_id)
        return "done"

    def _head_is_runnable(self, group: str) -> bool:
        job_id = self.jobs.head(group)
        if job_id is None:
            return False
        try:
            job = self.jobs.fetch(job_id)
        except NotFound:
            return True  # a stale entry: draining removes it
        return not (job.state is JobState.RUNNING and job.legs_outstanding)

    def _run(self, job: Job) -> bool:
        """Run (or resume) ``job``; False when it now waits on dispatched legs."""
        if not job.legs:
            legs, problem = self._plan(job)
            if problem:
                self.jobs.fail(job.id, problem)
                return True
            self.jobs.set_legs(job.id, legs)
            job.legs = legs
        if job.state is JobState.QUEUED:
            self.jobs.mark_running(job.id)
        log.info(
            "job %s (%s, group %s) running legs %s",
            job.id,
            job.kind.value,
            job.group,
            sorted(job.legs),
        )
        outside = [b for b in job.legs if calls_out(b)]
        for brokerage in job.legs:
            if brokerage not in outside:
                run_leg(self.connection, self.settings, job.id, brokerage)
        if outside:
            self.jobs.set_legs_outstanding(job.id, len(outside))
            for brokerage in outside:
                self.dispatch_leg(job.id, job.group, brokerage)
            return False
        self.jobs.finish(job.id)
        return True

    def _plan(self, job: Job) -> tuple[dict[str, list[str]], str]:
        """Which accounts of which brokerage the job covers, or why it cannot run."""
        if job.kind in (JobKind.ACTIVATE, JobKind.DEACTIVATE):
            account = self.accounts.find(job.group, job.account)
            if account is None:
                return {}, f"account {job.account!r} was deleted before the job ran"
            return {account.brokerage: [account.name]}, ""
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
            return {}, f"no active accounts{scope} in group {job.group!r}"
        legs: dict[str, list[str]] = defaultdict(list)
        for account in accounts:
            legs[account.brokerage].append(account.name)
        return dict(legs), ""
