"""SIGKILL pool children and whole workers mid-leg, many times, at seeded random moments.

Two workers serve every group; beat runs the sweeper. Paper legs are slowed so that most
kills land inside a leg. Afterwards every job is terminal, no order filled twice, every
``filled`` result has exactly one fill, ledgers equal their fills, activations and
deactivations hit by a kill completed after redelivery, and each group ran its jobs one at a
time in submission order (``faults.check_outcomes``).

Replay a schedule with ``TF_FAULT_SEED=<n>``; figures are printed with ``-s``.
"""

from __future__ import annotations

import os
import random
import signal
import time

import pytest

from tasks.beat import SWEEP_INTERVAL_SECONDS as SWEEP_INTERVAL
from tasks.runner import LOCK_TTL_SECONDS
from tests.reliability.faults import Fleet, check_outcomes, seed, wait_for_running

pytestmark = [pytest.mark.reliability, pytest.mark.integration, pytest.mark.timeout(240)]

GROUPS = 3
ACCOUNTS = 6
ORDERS_PER_GROUP = 36
KILLS = 12
VISIBILITY_TIMEOUT = 15

# A job hit by a fault is resumed once its group's mutex expires and the sweeper nudges the
# group, or (whole-worker kill) when its message is redelivered: visibility timeout plus
# kombu's restore interval (10 s).
RECOVERY_BUDGET = max(LOCK_TTL_SECONDS + SWEEP_INTERVAL, VISIBILITY_TIMEOUT + 10) + 15


def _submit_workload(fleet: Fleet, rng: random.Random):
    groups = [fleet.create_group("k") for _ in range(GROUPS)]
    job_ids, deactivated = [], set()
    for group in groups:
        for n in range(ACCOUNTS):
            job_ids.append(fleet.add_paper_account(group, f"a{n}"))
    for _ in range(ORDERS_PER_GROUP):
        for group in groups:
            roll = rng.random()
            if roll < 0.6:
                job_ids.append(fleet.order(group, "buy", ["AAPL"]))
            elif roll < 0.85:
                job_ids.append(fleet.order(group, "buy", ["AAPL", "MSFT"]))
            else:
                job_ids.append(fleet.order(group, "sell", ["AAPL"]))
    for group in groups:
        for n in rng.sample(range(ACCOUNTS), 2):
            job_ids.append(fleet.deactivate(group, f"a{n}"))
            deactivated.add((group, f"a{n}"))
    return groups, job_ids, deactivated


def _report(kind: str, started: float, kills: int, recovery: float, outcome) -> None:
    print(
        f"\n[{kind}] jobs={outcome.jobs} kills={kills} results={dict(outcome.results)} "
        f"fills={outcome.fills} unknown_with_fill={outcome.unknown_with_fill} "
        f"unknown_without_fill={outcome.unknown_without_fill} "
        f"recovery_after_last_fault={recovery:.1f}s total={time.monotonic() - started:.1f}s"
    )


@pytest.fixture
def fleet():
    fleet = Fleet(visibility_timeout=VISIBILITY_TIMEOUT, paper_delay=0.05)
    yield fleet
    fleet.close()


def test_pool_child_kills_lose_and_double_nothing(fleet):
    rng = random.Random(seed())
    started = time.monotonic()
    victims = [fleet.worker("victim-a"), fleet.worker("victim-b")]
    fleet.beat()
    _groups, job_ids, deactivated = _submit_workload(fleet, rng)

    kills = 0
    while kills < KILLS and fleet.unfinished(job_ids):
        if not wait_for_running(fleet, job_ids, timeout=60):
            break
        time.sleep(rng.uniform(0.0, 0.5))
        worker = rng.choice(victims)
        children = worker.child_pids()
        if not children:
            continue
        os.kill(rng.choice(children), signal.SIGKILL)
        kills += 1
        time.sleep(rng.uniform(0.5, 3.0))

    recovery = fleet.wait_terminal(job_ids, timeout=RECOVERY_BUDGET + 60)
    outcome = check_outcomes(fleet, job_ids, deactivated=deactivated)
    _report("child kills", started, kills, recovery, outcome)
    assert kills == KILLS
    lost = sum(w.log_text().count("WorkerLostError") for w in victims)
    assert lost >= 1, "no kill landed on a running task"
    assert recovery < RECOVERY_BUDGET


def test_whole_worker_kills_lose_and_double_nothing(fleet):
    rng = random.Random(seed() + 1)
    started = time.monotonic()
    victim = fleet.worker("victim")
    survivor = fleet.worker("survivor")
    fleet.beat()
    _groups, job_ids, deactivated = _submit_workload(fleet, rng)

    kills = 0
    last_fault = time.monotonic()
    while kills < KILLS // 2 and fleet.unfinished(job_ids):
        if not wait_for_running(fleet, job_ids, timeout=60):
            break
        time.sleep(rng.uniform(0.0, 0.5))
        victim.kill(group=True)  # main process and pool children at once, as a power cut
        kills += 1
        time.sleep(rng.uniform(0.5, 3.0))
        victim.start()
        last_fault = time.monotonic()
        time.sleep(rng.uniform(0.5, 2.0))

    recovery = fleet.wait_terminal(job_ids, timeout=RECOVERY_BUDGET + 60)
    recovery = max(recovery, time.monotonic() - last_fault)
    outcome = check_outcomes(fleet, job_ids, deactivated=deactivated)
    _report("worker kills", started, kills, recovery, outcome)
    assert kills == KILLS // 2
    assert survivor.proc.poll() is None
    assert recovery < RECOVERY_BUDGET
