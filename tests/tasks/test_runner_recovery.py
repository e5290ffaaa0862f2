"""The group runner and its sweeper, driven in-process on a real Redis: what stalls is found
from the records alone and sent again, and every re-sent step is safe to repeat.

The dispatch callables only record what would be published, so each publish point can be
lost on purpose. Groups are named ``rec-*``: no test worker serves them.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from brokers.execution import run_leg
from core.accounts import AccountRegistry
from core.groups import GroupRegistry
from core.jobs import JobRegistry, new_job_id
from core.models import (
    Account,
    AccountState,
    Job,
    JobKind,
    JobState,
    LegState,
    OrderAction,
    OrderRequest,
)
from core.settings import get_settings
from core.vault import Vault
from tasks.runner import GroupRunner

pytestmark = pytest.mark.integration


class Recorder:
    def __init__(self) -> None:
        self.legs: list[tuple[str, str]] = []
        self.advances: list[str] = []

    def runner(self, connection) -> GroupRunner:
        return GroupRunner(
            connection,
            get_settings(),
            dispatch_leg=lambda job_id, brokerage: self.legs.append((job_id, brokerage)),
            dispatch_advance=self.advances.append,
        )


@pytest.fixture
def group(redis_client) -> str:
    name = f"rec-{uuid.uuid4().hex[:8]}"
    GroupRegistry(redis_client).create(name)
    vault = Vault(redis_client, get_settings().secret_keys)
    vault.store(name, "rh", {"username": "rh@x.io", "password": "ok-pw"})
    AccountRegistry(redis_client).save(
        Account(group=name, name="rh", brokerage="robinhood", state=AccountState.ACTIVE)
    )
    return name


def _order(redis_client, group: str) -> str:
    order = OrderRequest(OrderAction.BUY, ("AAPL",), Decimal(1), dry_run=False)
    job = Job(id=new_job_id(), kind=JobKind.TRANSACTION, group=group, order=order)
    JobRegistry(redis_client).create(job)
    return job.id


def test_lost_finish_is_found_by_the_sweeper(redis_client, group):
    recorder = Recorder()
    runner = recorder.runner(redis_client)
    job_id = _order(redis_client, group)
    runner.advance(group)
    assert recorder.legs == [(job_id, "robinhood")]
    assert runner.sweep(group) is None  # the leg is out and alive: nothing to re-send

    # The leg runs and reports, but whatever should have finished the job is lost.
    assert run_leg(redis_client, get_settings(), job_id, "robinhood").remaining == 0
    assert JobRegistry(redis_client).fetch(job_id).state is JobState.RUNNING

    assert runner.sweep(group) == "advance" and recorder.advances == [group]
    runner.advance(group)
    job = JobRegistry(redis_client).fetch(job_id)
    assert job.state is JobState.SUCCEEDED, job.results
    assert JobRegistry(redis_client).pending(group) == []


def test_unsent_leg_is_sent_again_once_and_runs_once(redis_client, group):
    recorder = Recorder()
    runner = recorder.runner(redis_client)

    def broker_down(job_id: str, brokerage: str) -> None:
        raise OSError("broker unreachable")

    failing = GroupRunner(
        redis_client, get_settings(), dispatch_leg=broker_down, dispatch_advance=print
    )
    job_id = _order(redis_client, group)
    with pytest.raises(OSError):
        failing.advance(group)
    assert JobRegistry(redis_client).fetch(job_id).leg_states == {"robinhood": LegState.PENDING}

    assert runner.sweep(group) == "advance"
    runner.advance(group)  # the runner publishes the pending leg now
    assert recorder.legs == [(job_id, "robinhood")]
    assert JobRegistry(redis_client).fetch(job_id).leg_states == {"robinhood": LegState.SENT}

    first = run_leg(redis_client, get_settings(), job_id, "robinhood")
    second = run_leg(redis_client, get_settings(), job_id, "robinhood")  # a duplicate message
    assert (first.remaining, second.claim.value) == (0, "reported")
    runner.leg_reported(job_id)
    assert JobRegistry(redis_client).fetch(job_id).state is JobState.SUCCEEDED


def test_dead_leg_run_is_sent_again_and_settled_as_unknown(redis_client, group):
    from core import keys
    from core.legs import LegBook

    recorder = Recorder()
    runner = recorder.runner(redis_client)
    job_id = _order(redis_client, group)
    runner.advance(group)
    # A run took the leg and died: its lease is gone, the leg still says running.
    LegBook(redis_client).claim(job_id, "robinhood", "dead-run", 60_000)
    redis_client.delete(keys.exec_claim(job_id, "robinhood"))

    assert runner.sweep(group) == "legs robinhood"
    assert runner.sweep(group) is None  # at most once per visibility timeout
    run = run_leg(redis_client, get_settings(), job_id, "robinhood")
    assert (run.claim.value, run.remaining) == ("orphaned", 0)
    runner.leg_reported(job_id)
    job = JobRegistry(redis_client).fetch(job_id)
    assert job.state is JobState.UNKNOWN
    assert "check the brokerage" in job.results[0].detail
