"""Job tasks: a group's jobs, in order, and the brokerage legs they fan out.

Both take ids only (never credentials) and call into ``tasks.runner`` and
``brokers.execution``, where the protocol lives.
"""

from __future__ import annotations

from brokers.autorsa import wipe_state
from brokers.execution import LegThrottled
from brokers.execution import run_leg as execute
from core.settings import LEG_TIME_LIMIT_MARGIN
from tasks import context, names, notify, routing
from tasks.celery import app
from tasks.risk import leg_guard
from tasks.runner import GroupRunner


def runner() -> GroupRunner:
    return GroupRunner(
        context.connection(),
        context.settings(),
        dispatch_leg=send_leg,
        dispatch_advance=send_advance,
        guard=leg_guard(context.connection(), context.settings()),
        on_finished=notify.job_finished,
    )


def send_leg(job_id: str, brokerage: str) -> None:
    app.send_task(names.RUN_LEG, args=[job_id, brokerage], queue=routing.brokerage_queue(brokerage))


def send_advance(group: str) -> None:
    app.send_task(names.ADVANCE_GROUP, args=[group], queue=routing.group_queue(group))


@app.task(name=names.ADVANCE_GROUP, ignore_result=True)
def advance_group(group: str, job_id: str = "") -> None:
    """Run the group's pending jobs in order, one at a time.

    ``job_id`` names the job a submission sent this for (so Flower shows it); the
    group's run order, not the message, decides what runs next.
    """
    runner().advance(group)


@app.task(
    name=names.RUN_LEG,
    bind=True,
    ignore_result=True,
    max_retries=None,
    # Hard bound on a leg, below the visibility timeout (settings refuse otherwise).
    time_limit=context.settings().leg_time_limit + LEG_TIME_LIMIT_MARGIN,
)
def run_leg(self, job_id: str, brokerage: str) -> None:
    """Run one brokerage leg of ``job_id``; a second copy never places orders twice.

    A leg held back by the brokerage's rate limit or concurrency cap has not
    started, so it is simply sent again later. The run that reports the job's
    last leg finishes the job and moves its group on.
    """
    try:
        connection, settings = context.connection(), context.settings()
        guard = leg_guard(connection, settings)
        run = execute(connection, settings, job_id, brokerage, guard=guard)
    except LegThrottled as throttled:
        raise self.retry(countdown=throttled.retry_after) from None
    if run.remaining == 0:
        runner().leg_reported(job_id)


@app.task(name=names.FORGET_ACCOUNT, ignore_result=True)
def forget_account(group: str, account: str) -> None:
    """Wipe a deleted account's AutoRSA state directory (sessions, cookies) on this worker."""
    wipe_state(context.settings().data_dir, group, account)
