"""Two ``celery beat`` processes (RedBeat, lock in Redis) never schedule the same run twice."""

from __future__ import annotations

import re
import time

import pytest

from tasks.beat import SWEEP_INTERVAL_SECONDS
from tests.reliability.faults import Fleet

pytestmark = [pytest.mark.reliability, pytest.mark.integration, pytest.mark.timeout(120)]

WINDOW = 25.0


@pytest.fixture
def fleet():
    fleet = Fleet()
    yield fleet
    fleet.close()


def _sweeps(text: str) -> set[str]:
    return set(re.findall(r"Task tasks\.sweep_groups\[([0-9a-f-]+)\] received", text))


def test_two_beats_never_duplicate_a_run(fleet):
    worker = fleet.worker("beat-counter")
    first, second = fleet.beat(), fleet.beat()
    before = _sweeps(worker.log_text())
    time.sleep(WINDOW)
    runs = _sweeps(worker.log_text()) - before
    senders = [b for b in (first, second) if "Sending due task sweep-groups" in b.log_text()]
    expected = WINDOW / SWEEP_INTERVAL_SECONDS
    print(f"\n[beat] {len(runs)} sweeps in {WINDOW:.0f}s with two beats (schedule: {expected:.0f})")
    assert len(senders) == 1, "both beats sent the schedule"
    assert expected - 2 <= len(runs) <= expected + 1
