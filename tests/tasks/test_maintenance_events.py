"""Flower shows the fleet's work, not its maintenance (issue 14, point 8).

``tasks.sweep_groups`` (beat, every 5 s) and ``tasks.heartbeat`` (every worker, every 10 s)
send no task events, so Flower, which builds its task list from events, never lists them;
they still run (the worker logs them) and an order's tasks are listed as before.
"""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest
import requests
from celery.utils.nodenames import worker_direct

from tests.services import REPO_ROOT, free_port, wait_until

pytestmark = pytest.mark.integration

AUTH = ("ops", "watch-it")


@pytest.fixture
def flower(worker):
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable, "-m", "celery", "-A", "tasks", "flower",
            f"--port={port}", "--address=127.0.0.1", f"--basic-auth={AUTH[0]}:{AUTH[1]}",
            "--conf=scripts/flowerconfig.py",
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"

    def up():
        try:
            return requests.get(f"{url}/healthcheck", timeout=1).status_code == 200
        except requests.ConnectionError:
            return False

    wait_until(up, 30, interval=0.2, message="Flower did not start")
    yield url
    process.terminate()
    process.wait(10)


def flower_task_names(url: str) -> list[str]:
    tasks = requests.get(f"{url}/api/tasks", auth=AUTH, timeout=5).json()
    return [task["name"] for task in tasks.values()]


def test_flower_lists_orders_but_not_sweeps_or_heartbeats(flower, api, worker):
    from tasks import names
    from tasks.celery import app

    hostname = worker.hostname.replace("%h", socket.gethostname())
    own_queue = worker_direct(hostname).name  # this worker's alone: its log shows the runs
    sweeps = [app.send_task(names.SWEEP_GROUPS, queue=own_queue).id for _ in range(3)]
    beats = [app.send_task(names.HEARTBEAT, args=[hostname], queue=own_queue).id for _ in range(3)]
    group = api.create_group()
    api.add_paper_account(group, "alice")
    api.set_quote("AAPL", "190.00")
    api.order(group, action="buy", symbols=["AAPL"], quantity=1)

    listed = wait_until(
        lambda: (n := flower_task_names(flower)) and names.ADVANCE_GROUP in n and n,
        20,
        interval=0.2,
        message="Flower never listed the order's task",
    )
    wait_until(
        lambda: all(f"[{task_id}] succeeded" in worker.log_text() for task_id in sweeps + beats),
        20,
        interval=0.2,
        message="the maintenance tasks did not run",
    )
    listed = flower_task_names(flower)
    assert names.SWEEP_GROUPS not in listed
    assert names.HEARTBEAT not in listed
