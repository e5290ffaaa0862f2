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


LOCK_SECONDS = 10


def test_a_standby_beat_takes_over_once_the_running_one_is_killed(fleet):
    """SIGKILL leaves the lock in Redis: the standby waits it out (BEAT_LOCK_SECONDS), then
    sends the schedule alone; no run is sent twice across the hand-over."""
    worker = fleet.worker("beat-handover")
    first = fleet.beat(BEAT_LOCK_SECONDS=str(LOCK_SECONDS))
    time.sleep(2)  # the first one takes the lock
    second = fleet.beat(BEAT_LOCK_SECONDS=str(LOCK_SECONDS))
    deadline = time.monotonic() + 15
    while "Sending due task sweep-groups" not in first.log_text():
        assert time.monotonic() < deadline, "the first beat never sent the schedule"
        time.sleep(0.2)
    assert "Sending due task sweep-groups" not in second.log_text(), "the standby sent too"

    first.kill()
    killed_at = time.monotonic()
    deadline = killed_at + LOCK_SECONDS + 10
    while "Sending due task sweep-groups" not in second.log_text():
        assert time.monotonic() < deadline, "the standby never took over"
        time.sleep(0.2)
    took_over = time.monotonic() - killed_at
    print(f"\n[beat] the standby took over {took_over:.1f}s after the kill (lock {LOCK_SECONDS}s)")
    assert took_over <= LOCK_SECONDS + 2 * SWEEP_INTERVAL_SECONDS + 5

    before = _sweeps(worker.log_text())
    time.sleep(WINDOW)
    runs = _sweeps(worker.log_text()) - before
    expected = WINDOW / SWEEP_INTERVAL_SECONDS
    assert expected - 2 <= len(runs) <= expected + 1, (len(runs), expected)
