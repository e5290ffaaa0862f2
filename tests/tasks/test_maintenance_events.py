"""Flower shows the fleet's work, not its maintenance (issue 14, point 8), and how far a
backtest grid is (issue 10, point 4).

``tasks.sweep_groups`` (beat, every 5 s) and ``tasks.heartbeat`` (every worker, every 10 s)
send no task events, so Flower, which builds its task list from events, never lists them;
they still run (the worker logs them) and an order's tasks are listed as before.
"""

from __future__ import annotations

import re
import socket

import pytest
import requests
from celery.utils.nodenames import worker_direct

from tests.processes import Flower
from tests.services import wait_until

pytestmark = pytest.mark.integration

AUTH = Flower.auth


@pytest.fixture
def flower(worker):
    """Flower on the session broker, started before the jobs so it sees their events."""
    with Flower() as running:
        yield running.url


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


def test_flower_shows_a_grid_backtest_progress_chunk_by_chunk(flower, api, worker):
    from backtesting.test import GOOG

    from tasks import names

    frame = GOOG.copy().iloc[:600]
    frame.columns = [c.lower() for c in frame.columns]
    grid = {"fast": list(range(5, 55, 5)), "slow": list(range(10, 110, 10))}
    response = api.post(
        "/api/v1/backtests",
        json={"strategy": "sma_cross", "grid": grid, "data": frame.to_csv(index_label="time")},
    )
    assert response.status_code == 202, response.text
    backtest = response.json()["backtest_id"]

    def chunks() -> list[dict]:
        tasks = requests.get(f"{flower}/api/tasks", auth=AUTH, timeout=5).json().values()
        return [
            t
            for t in tasks
            if t["name"] == names.RUN_BACKTEST_CHUNK and backtest in (t.get("args") or "")
        ]

    record = wait_until(
        lambda: (
            (body := api.get(f"/api/v1/backtests/{backtest}").json())["state"] == "succeeded"
            and body
        ),
        60,
        interval=0.2,
        message="the grid did not finish",
    )
    total, count = record["progress"]["total"], record["progress"]["chunks"]
    assert count > 2, record["progress"]
    listed = wait_until(
        lambda: len(found := [t for t in chunks() if t["state"] == "SUCCESS"]) == count and found,
        60,  # Flower reads worker events on its own; a loaded machine delays them
        interval=0.2,
        message="Flower did not list every chunk as succeeded",
    )
    # Each chunk's result says how far the grid was when it ended; the last one, all of it.
    shown = sorted(t["result"] for t in listed)
    pattern = rf"backtest {backtest} chunk (\d+) of {count}: (\d+) of {total} sets done"
    assert all(re.search(pattern, text) for text in shown), shown
    assert sorted(int(re.search(pattern, text).group(1)) for text in shown) == list(
        range(1, count + 1)
    )
    # Chunks that end together may read the same count; the one that ends the grid, all.
    assert max(int(re.search(pattern, text).group(2)) for text in shown) == total, shown
    assert any(text.endswith(f"{total} of {total} sets done (100%), succeeded'") for text in shown)
