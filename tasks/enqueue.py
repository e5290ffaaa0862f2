"""What the API may do with Celery: send a job's task and announce group changes.

Sends by task name only, so the API never imports task code.
"""

from __future__ import annotations

from core.models import Job
from tasks import names, routing
from tasks.celery import app

# Give up quickly when the broker is away: the job record is already written and
# the beat sweeper re-sends the group's work once the broker is back.
_PUBLISH_RETRY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}


def submit(job: Job) -> None:
    """Send the task that runs ``job`` to its group's queue."""
    app.send_task(
        names.FOR_JOB_KIND[job.kind.value],
        args=[job.id, job.group],
        queue=routing.group_queue(job.group),
        retry_policy=_PUBLISH_RETRY,
    )


def announce_groups_changed() -> None:
    """Ask every worker to re-read the groups and consume new groups' queues."""
    app.control.broadcast(names.SYNC_GROUPS_COMMAND, reply=False)


def queue_of(group: str) -> str:
    return routing.group_queue(group)


def forget_account_state(group: str, account: str, brokerage: str) -> None:
    """Have a worker of ``brokerage`` wipe the account's AutoRSA state directory."""
    app.send_task(
        names.FORGET_ACCOUNT,
        args=[group, account],
        queue=routing.brokerage_queue(brokerage),
        retry_policy=_PUBLISH_RETRY,
    )
