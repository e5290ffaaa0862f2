"""SIGTERM (Celery's warm shutdown) a worker while it runs legs.

The worker must finish the job in hand, hand the rest of its groups back and exit promptly
(well within a container's stop grace period): no leg is cut off (no ``unknown``), none is
lost (another worker completes every job), none runs twice.
"""

from __future__ import annotations

import signal
import subprocess
import time

import pytest

from tests.reliability.faults import Fleet, check_outcomes, wait_for_running

pytestmark = [pytest.mark.reliability, pytest.mark.integration, pytest.mark.timeout(180)]

PAPER_DELAY = 0.2
ACCOUNTS = 5  # one job of one symbol takes ~1 s
JOBS_PER_GROUP = 12
# A warm shutdown waits for the job in hand (~1 s) plus the hand-off; ten jobs' worth of
# work is still queued in each group at that moment, so draining them all would take >10 s.
SHUTDOWN_BUDGET = 6.0


@pytest.fixture
def fleet():
    fleet = Fleet(visibility_timeout=30, paper_delay=PAPER_DELAY)
    yield fleet
    fleet.close()


def test_sigterm_finishes_the_leg_in_hand_and_hands_back_the_rest(fleet):
    groups = [fleet.create_group("w") for _ in range(2)]
    leaving = fleet.worker("leaving")
    fleet.beat()
    job_ids = [fleet.add_paper_account(g, f"a{n}") for g in groups for n in range(ACCOUNTS)]
    fleet.wait_terminal(job_ids, timeout=30)
    orders = [fleet.order(g) for _ in range(JOBS_PER_GROUP) for g in groups]
    job_ids += orders
    assert wait_for_running(fleet, orders, timeout=30)
    fleet.worker("staying")  # the leaving worker holds both groups meanwhile
    assert fleet.unfinished(orders), "the workload finished before the shutdown"
    assert fleet.running_jobs(orders), "no leg in flight at the shutdown"

    leaving.proc.send_signal(signal.SIGTERM)
    asked = time.monotonic()
    try:
        leaving.proc.wait(SHUTDOWN_BUDGET + 30)
    except subprocess.TimeoutExpired:
        pytest.fail("the worker did not exit after SIGTERM")
    took = time.monotonic() - asked
    left_behind = len(fleet.unfinished(orders))

    fleet.wait_terminal(job_ids, timeout=60)
    outcome = check_outcomes(fleet, job_ids, allow_unknown=False)
    print(
        f"\n[warm shutdown] exit after {took:.1f}s, {left_behind} jobs handed back, "
        f"results={dict(outcome.results)} fills={outcome.fills}"
    )
    assert leaving.proc.returncode == 0, leaving.log_text()[-2000:]
    assert took < SHUTDOWN_BUDGET, f"warm shutdown took {took:.1f}s"
    assert left_behind > 0
    assert outcome.results["filled"] == JOBS_PER_GROUP * 2 * ACCOUNTS
