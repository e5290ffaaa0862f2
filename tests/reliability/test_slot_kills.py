"""A worker killed holding a brokerage's only concurrency slot: the slot frees within seconds.

``BROKERAGE_CONCURRENCY=robinhood=1``. A Robinhood leg whose (stand-in) AutoRSA run takes
3 s holds the brokerage's one slot; its worker is SIGKILLed mid-run. The slot is a lease
its holder renews, so with nobody renewing it the brokerage's slot set is empty within
the slot ttl (not after the visibility timeout, as when slots simply expired), and a leg
of another group on the same brokerage then runs on a fresh worker.
"""

from __future__ import annotations

import time

import pytest

from core import keys
from core.leases import DEFAULT_TTL_SECONDS
from core.models import Account, AccountState, JobState, LegState
from core.throttle import ConcurrencySlot
from tests.reliability.faults import Fleet
from tests.services import wait_until

pytestmark = [pytest.mark.reliability, pytest.mark.integration]

BROKERAGE = "robinhood"
SLOW = "slow-3-pw"  # the stand-in AutoRSA takes 3 s per run


def _robinhood_account(fleet: Fleet, group: str, name: str, password: str) -> None:
    fleet.vault.store(group, name, {"username": f"{name}@x.io", "password": password})
    fleet.accounts.save(
        Account(group=group, name=name, brokerage=BROKERAGE, state=AccountState.ACTIVE)
    )


def test_killed_worker_frees_its_concurrency_slot_within_the_slot_ttl():
    # A visibility timeout far beyond the slot ttl: freeing the slot owes nothing to it.
    fleet = Fleet(visibility_timeout=120)
    slots = keys.brokerage_slots(BROKERAGE)
    try:
        env = {"BROKERAGE_CONCURRENCY": f"{BROKERAGE}=1"}
        worker = fleet.worker("slot-a", **env)
        group = fleet.create_group("sk")
        _robinhood_account(fleet, group, "rh-slow", SLOW)
        doomed = fleet.order(group, symbols=("AAPL",))

        def leg_holds_the_slot():
            job = fleet.jobs.fetch(doomed)
            running = job.leg_states.get(BROKERAGE) is LegState.RUNNING
            return running and fleet.conn.zcard(slots) == 1

        wait_until(leg_holds_the_slot, 30, interval=0.05, message="the leg never took the slot")
        time.sleep(1.0)  # the AutoRSA run is in flight, holding the brokerage's only slot
        assert fleet.conn.zcard(slots) == 1
        worker.kill(group=True)
        killed = time.monotonic()

        # Nobody renews the dead worker's slot: the set empties by itself within the ttl.
        bound = DEFAULT_TTL_SECONDS + 5
        wait_until(
            lambda: fleet.conn.zcard(slots) == 0,
            bound,
            interval=0.1,
            message=f"the dead worker's slot still held {bound} s after the kill: "
            f"{fleet.conn.zrange(slots, 0, -1, withscores=True)}",
        )
        freed_after = time.monotonic() - killed
        assert freed_after <= bound, freed_after
        probe = ConcurrencySlot(fleet.conn, BROKERAGE, limit=1)
        assert probe.acquire(), "the brokerage's only slot is still taken"
        probe.release()

        # The brokerage is usable again: another group's leg runs on a fresh worker
        # long before the killed leg's visibility timeout.
        fleet.worker("slot-b", **env)
        other = fleet.create_group("sk")
        _robinhood_account(fleet, other, "rh-next", "slow-pw")
        after = fleet.order(other, symbols=("AAPL",))
        fleet.wait_terminal([after], timeout=60)
        assert fleet.jobs.fetch(after).state is JobState.SUCCEEDED, fleet.jobs.fetch(after)
    finally:
        fleet.close()
