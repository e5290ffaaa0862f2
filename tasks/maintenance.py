"""Housekeeping: the group sweeper and worker heartbeats."""

from __future__ import annotations

from core import keys
from core.accounts import AccountRegistry
from core.errors import NotFound
from core.groups import GroupRegistry
from core.jobs import JobRegistry, new_job_id
from core.models import Job, JobKind, JobState
from core.workers import record_heartbeat
from tasks import context, enqueue, names, routing
from tasks.celery import app


@app.task(name=names.SWEEP_GROUPS, ignore_result=True)
def sweep_groups() -> int:
    """Nudge groups that have pending jobs but nobody advancing them.

    Covers a worker that died holding a group's mutex: once the mutex expires,
    the nudge resumes the group. A group whose head job waits on brokerage legs
    is left alone: the last leg to report moves it on (a lost leg comes back
    through the broker's redelivery, not through a nudge). Returns how many
    groups were nudged.
    """
    connection = context.connection()
    jobs = JobRegistry(connection)
    nudged = 0
    for group in GroupRegistry(connection).names():
        head = jobs.head(group)
        if (
            head
            and not connection.exists(keys.group_lock(group))
            and not _waits_on_legs(jobs, head)
        ):
            app.send_task(names.ADVANCE_GROUP, args=[group], queue=routing.group_queue(group))
            nudged += 1
    return nudged


def _waits_on_legs(jobs: JobRegistry, job_id: str) -> bool:
    try:
        job = jobs.fetch(job_id)
    except NotFound:
        return False
    return job.state is JobState.RUNNING and job.legs_outstanding > 0


@app.task(name=names.HEARTBEAT, bind=True, ignore_result=True, expires=30)
def heartbeat(self, hostname: str) -> None:
    """Sent by a worker to its own queue: consuming it proves the worker consumes."""
    record_heartbeat(context.connection(), hostname, [])


@app.task(name=names.REFRESH_HOLDINGS, ignore_result=True)
def refresh_holdings() -> list[str]:
    """Queue a holdings job for every group with an active real-brokerage account."""
    connection = context.connection()
    accounts = AccountRegistry(connection)
    jobs = JobRegistry(connection)
    queued = []
    for group in GroupRegistry(connection).names():
        if any(a.brokerage != "paper" for a in accounts.active(group)):
            job = jobs.create(Job(id=new_job_id(), kind=JobKind.HOLDINGS, group=group))
            enqueue.submit(job)
            queued.append(job.id)
    return queued
