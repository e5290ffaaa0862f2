"""Job tasks: every activation, deactivation, holdings read and order.

Each takes ids only (never credentials) and calls into ``tasks.runner``.
"""

from __future__ import annotations

from brokers.autorsa import wipe_state
from brokers.execution import LegThrottled
from brokers.execution import run_leg as execute
from tasks import context, names, routing
from tasks.celery import app
from tasks.runner import GroupRunner


def _runner() -> GroupRunner:
    return GroupRunner(
        context.connection(),
        context.settings(),
        dispatch_leg=_send_leg,
        dispatch_finish=_send_finish,
        dispatch_advance=_send_advance,
    )


def _send_leg(job_id: str, group: str, brokerage: str) -> None:
    app.send_task(names.RUN_LEG, args=[job_id, brokerage], queue=routing.brokerage_queue(brokerage))


def _send_finish(job_id: str, group: str) -> None:
    app.send_task(names.FINISH_JOB, args=[job_id], queue=routing.group_queue(group))


def _send_advance(group: str) -> None:
    app.send_task(names.ADVANCE_GROUP, args=[group], queue=routing.group_queue(group))


def _start(group: str) -> None:
    _runner().advance(group)


@app.task(name=names.TRANSACTION, ignore_result=True)
def transaction(job_id: str, group: str) -> None:
    """Place an order on every active account of ``group`` (job ``job_id``)."""
    _start(group)


@app.task(name=names.ACTIVATE, ignore_result=True)
def activate(job_id: str, group: str) -> None:
    """Check an account's credentials with its brokerage and make it active."""
    _start(group)


@app.task(name=names.DEACTIVATE, ignore_result=True)
def deactivate(job_id: str, group: str) -> None:
    """Take an account out of its group's orders."""
    _start(group)


@app.task(name=names.HOLDINGS, ignore_result=True)
def holdings(job_id: str, group: str) -> None:
    """Read the positions of every active account of ``group``."""
    _start(group)


@app.task(name=names.ADVANCE_GROUP, ignore_result=True)
def advance_group(group: str) -> None:
    """Run whatever is pending in ``group`` (sent by the sweeper)."""
    _start(group)


@app.task(name=names.RUN_LEG, bind=True, ignore_result=True, max_retries=None)
def run_leg(self, job_id: str, brokerage: str) -> None:
    """Run one brokerage leg of ``job_id``; a redelivered leg never places orders twice.

    A leg held back by the brokerage's rate limit or concurrency cap has not
    started, so it is simply sent again later.
    """
    try:
        execute(
            context.connection(), context.settings(), job_id, brokerage, task_id=self.request.id
        )
    except LegThrottled as throttled:
        raise self.retry(countdown=throttled.retry_after) from None
    _runner().leg_reported(job_id, brokerage)


@app.task(name=names.FORGET_ACCOUNT, ignore_result=True)
def forget_account(group: str, account: str) -> None:
    """Wipe a deleted account's AutoRSA state directory (sessions, cookies) on this worker."""
    wipe_state(context.settings().data_dir, group, account)


@app.task(name=names.FINISH_JOB, ignore_result=True)
def finish_job(job_id: str) -> None:
    """End a job whose brokerage legs have all reported; then run the group's next job."""
    _runner().finish_dispatched(job_id)
