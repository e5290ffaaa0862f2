"""A worker killed while AutoRSA places orders: nothing is placed twice, the rest says unknown.

Two Robinhood accounts whose (stand-in) AutoRSA runs take 3 s each. The worker running
the brokerage leg is SIGKILLed while the first account's run is in flight; a new worker
gets the leg again (the sweeper re-sends it once its lease lapsed, or the broker
redelivers it after the visibility timeout), finds it orphaned and must not run AutoRSA
again. The stand-in appends every order it "places" to ``orders.log`` in the
account's state directory, which is how the test counts real placements.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from brokers.autorsa.state import state_dir
from core.models import Account, AccountState, JobState, LegState, ResultStatus
from tests.reliability.faults import Fleet
from tests.services import wait_until

pytestmark = [pytest.mark.reliability, pytest.mark.integration]


def _orders_placed(group: str, account: str) -> list[str]:
    log = state_dir(Path(os.environ["TRADEFLEET_DATA_DIR"]), group, account) / "orders.log"
    return log.read_text().splitlines() if log.exists() else []


def test_killed_autorsa_leg_never_places_an_order_twice():
    fleet = Fleet(visibility_timeout=60)  # recovery goes by the leg's lease, not by this
    try:
        worker = fleet.worker("leg-a")
        fleet.beat()
        group = fleet.create_group("rk")
        accounts = ("rh-one", "rh-two")
        for name in accounts:
            fleet.vault.store(group, name, {"username": f"{name}@x.io", "password": "slow-3-pw"})
            fleet.accounts.save(
                Account(group=group, name=name, brokerage="robinhood", state=AccountState.ACTIVE)
            )
        doomed = fleet.order(group, symbols=("AAPL",))
        behind = fleet.order(group, symbols=("AAPL",))

        def leg_in_flight():
            job = fleet.jobs.fetch(doomed)
            return job.leg_states.get("robinhood") is LegState.RUNNING

        wait_until(leg_in_flight, 30, interval=0.1, message="the brokerage leg never started")
        time.sleep(1.5)  # the first account's AutoRSA run is now half-way through
        worker.kill(group=True)

        fleet.worker("leg-b")
        fleet.wait_terminal([doomed, behind], timeout=90)
        killed, after = fleet.jobs.fetch(doomed), fleet.jobs.fetch(behind)

        assert killed.state is JobState.UNKNOWN, killed
        statuses = {r.account: r.status for r in killed.results}
        assert statuses == dict.fromkeys(accounts, ResultStatus.UNKNOWN), killed.results
        assert all("check the brokerage" in r.detail for r in killed.results)
        # The group went on, in order, and ran its next order normally.
        assert after.state is JobState.SUCCEEDED, after
        assert killed.finished_at <= after.started_at
        for name in accounts:
            placed = _orders_placed(group, name)
            # At most one placement for the killed job (the run in flight may have
            # finished on its own), plus exactly one for the job behind it.
            assert 1 <= len(placed) <= 2, (name, placed)
        assert len(_orders_placed(group, "rh-two")) == 1  # never reached before the kill
    finally:
        fleet.close()
