"""The job/leg protocol under faults: legs that outlive the visibility timeout, publishes
that fail or crash half-way, a paper leg killed mid-way.

Real Redis, real Celery workers and beat (a private :class:`Fleet` each), the stand-in
AutoRSA, which appends every live order it "places" to ``orders.log`` in the account's
state directory: that file is how these tests count real placements.
"""

from __future__ import annotations

import itertools
import os
import time
from pathlib import Path

import pytest

from brokers.autorsa.state import state_dir
from core.errors import Conflict
from core.models import Account, AccountState, JobState, LegState, ResultStatus
from core.retries import retry_orders
from tasks.beat import SWEEP_INTERVAL_SECONDS
from tests.reliability.faults import Fleet, check_outcomes
from tests.services import wait_until

pytestmark = [pytest.mark.reliability, pytest.mark.integration]

PUBLISH_FAULTS = ("-I", "tests.fakes.publish_faults")


def _orders_placed(group: str, account: str) -> list[str]:
    log = state_dir(Path(os.environ["TRADEFLEET_DATA_DIR"]), group, account) / "orders.log"
    return log.read_text().splitlines() if log.exists() else []


def _robinhood_accounts(fleet: Fleet, group: str, names: tuple[str, ...], password: str) -> None:
    for name in names:
        fleet.vault.store(group, name, {"username": f"{name}@x.io", "password": password})
        fleet.accounts.save(
            Account(group=group, name=name, brokerage="robinhood", state=AccountState.ACTIVE)
        )


def test_leg_outliving_the_visibility_timeout_places_each_order_once():
    """A leg three times longer than the visibility timeout: the broker delivers it again
    while it runs; the copy finds the live lease and leaves it alone."""
    fleet = Fleet(visibility_timeout=10)
    unsafe = {
        "TRADEFLEET_UNSAFE_LEGS_PAST_VISIBILITY": "1",
        "TRADEFLEET_LEG_TIME_LIMIT": "120",
        "AUTORSA_TIMEOUT": "30",
    }
    try:
        worker = fleet.worker("slow-legs", concurrency=3, **unsafe)
        fleet.beat(**unsafe)
        group = fleet.create_group("vt")
        accounts = ("rh-a", "rh-b", "rh-c")
        _robinhood_accounts(fleet, group, accounts, "slow-8-pw")  # 8 s per account
        first = fleet.order(group)
        behind = fleet.order(group)
        fleet.wait_terminal([first, behind], timeout=150)

        log = worker.log_text()
        assert "robinhood leg not run (busy)" in log, "the leg was never delivered twice"
        done, after = fleet.jobs.fetch(first), fleet.jobs.fetch(behind)
        # The first job's results are the true ones: every order filled, once.
        assert done.state is JobState.SUCCEEDED, done
        assert {r.account: r.status for r in done.results} == dict.fromkeys(
            accounts, ResultStatus.FILLED
        )
        # The group's next job started only after the long leg ended.
        assert done.finished_at <= after.started_at
        assert after.state is JobState.SUCCEEDED, after
        for name in accounts:
            assert len(_orders_placed(group, name)) == 2, name  # one per job, never more
        # An operator cannot double anything: there is nothing to retry.
        with pytest.raises(Conflict):
            retry_orders(
                done,
                (ResultStatus.FAILED, ResultStatus.UNKNOWN, ResultStatus.REJECTED),
                checked_brokerage=True,
            )
    finally:
        fleet.close()


@pytest.mark.parametrize(
    "fault",
    [
        "tasks.run_leg=fail:1",  # the leg's publish fails: the leg stays pending
        "tasks.run_leg=crash:1",  # the worker dies just before publishing the leg
        "tasks.run_leg=die:1",  # the worker dies right after publishing the leg
        "tasks.advance_group=fail:2",  # moving the group on after a finished job fails
    ],
)
def test_failed_publish_recovers_by_itself(fault):
    fleet = Fleet(visibility_timeout=60)
    try:
        fleet.worker("faulty", extra_args=PUBLISH_FAULTS, TF_TEST_PUBLISH_FAULTS=fault)
        fleet.beat()
        group = fleet.create_group("pub")
        accounts = ("rh-a", "rh-b")
        _robinhood_accounts(fleet, group, accounts, "ok-pw")
        jobs = [fleet.order(group) for _ in range(3)]
        # Recovery needs no redelivery timeout: a mutex lease, a sweep, a leg or two.
        fleet.wait_terminal(jobs, timeout=10 * SWEEP_INTERVAL_SECONDS + 30)

        assert int(fleet.conn.get(f"tf-test:publish-faults:{fault.split('=')[0]}") or 0) >= 1
        finished = [fleet.jobs.fetch(job_id) for job_id in jobs]
        assert [j.state for j in finished] == [JobState.SUCCEEDED] * 3, finished
        for earlier, later in itertools.pairwise(finished):
            assert earlier.finished_at <= later.started_at
        for name in accounts:
            assert len(_orders_placed(group, name)) == 3, name  # one per job, never two
    finally:
        fleet.close()


def test_killed_paper_leg_is_settled_from_the_ledger():
    """Paper keeps its own ledger: a leg killed mid-way reports what was really filled
    (and fills the rest once) instead of ``unknown``."""
    fleet = Fleet(visibility_timeout=30, paper_delay=0.4)
    try:
        worker = fleet.worker("paper-a")
        fleet.beat()
        group = fleet.create_group("pk")
        names = [f"p{n}" for n in range(8)]
        activations = [fleet.add_paper_account(group, name) for name in names]
        fleet.wait_terminal(activations, timeout=60)
        order = fleet.order(group)

        def leg_running():
            return fleet.jobs.fetch(order).leg_states.get("paper") is LegState.RUNNING

        wait_until(leg_running, 30, interval=0.05, message="the paper leg never started")
        time.sleep(1.0)  # two or three of the eight orders are filled
        worker.kill(group=True)
        fleet.worker("paper-b")
        fleet.wait_terminal([order], timeout=90)

        job = fleet.jobs.fetch(order)
        assert job.state is JobState.SUCCEEDED, job.results
        assert {r.status for r in job.results} == {ResultStatus.FILLED}
        assert any("read back from the paper ledger" in r.detail for r in job.results)
        for name in names:
            assert len(fleet.ledger.fills(group, name)) == 1, name
        check_outcomes(fleet, [*activations, order], allow_unknown=False)
    finally:
        fleet.close()
