"""Publishing to the broker: a job's group task, group changes, account wipes.

Thin sends by task name. A publish that fails is reported (``False``), never
raised past a record that was already written: the sweeper and the workers'
periodic re-sync make up for it once the broker is back.
"""

from __future__ import annotations

import logging

from kombu.exceptions import OperationalError

from core.models import Job
from tasks import names, routing
from tasks.celery import app

log = logging.getLogger(__name__)

# Give up quickly when the broker is away: the job record is already written and
# the sweeper re-sends the group's work once the broker is back.
_PUBLISH_RETRY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}
PUBLISH_ERRORS = (OperationalError, OSError)


def submit(job: Job) -> bool:
    """Send the group task that will run ``job``; False when the broker is unreachable."""
    return _send(
        names.ADVANCE_GROUP,
        args=[job.group, job.id],
        queue=routing.group_queue(job.group),
    )


def announce_groups_changed() -> bool:
    """Ask every worker to re-read the groups (they also re-read them every few seconds)."""
    try:
        with app.connection_for_write() as connection:
            # Fail fast when the broker is away (broadcast alone would retry for ever).
            connection.ensure_connection(max_retries=_PUBLISH_RETRY["max_retries"], timeout=2)
            app.control.broadcast(names.SYNC_GROUPS_COMMAND, reply=False, connection=connection)
    except PUBLISH_ERRORS as exc:
        log.warning("group change not broadcast (%s): workers catch up on their own re-sync", exc)
        return False
    return True


def forget_account_state(group: str, account: str, brokerage: str) -> bool:
    """Have a worker of ``brokerage`` wipe the account's state directory."""
    return _send(
        names.FORGET_ACCOUNT, args=[group, account], queue=routing.brokerage_queue(brokerage)
    )


def _send(name: str, *, args: list[str], queue: str) -> bool:
    try:
        app.send_task(name, args=args, queue=queue, retry_policy=_PUBLISH_RETRY)
    except PUBLISH_ERRORS as exc:
        log.warning("%s to %s not published: broker unreachable (%s)", name, queue, exc)
        return False
    return True
