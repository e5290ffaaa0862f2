"""``celery -A tasks queues`` lists group and brokerage queues with depth and consumers."""

import json
import os
import subprocess
import sys

import pytest

from tests.services import REPO_ROOT

pytestmark = pytest.mark.integration


def _run_queues(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "celery", "-A", "tasks", "queues", *args],
        cwd=REPO_ROOT,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_queues_command_shows_depth_and_consumers(api, worker, redis_client):
    group = api.create_group()
    api.add_paper_account(group, "p1")  # proves the worker consumes the group's queue
    idle = f"x-{group}"  # a group no test worker serves: its messages wait
    api.post("/api/v1/groups", json={"name": idle})
    for _ in range(3):
        api.post(
            f"/api/v1/groups/{idle}/transactions",
            json={"action": "buy", "symbols": ["AAPL"], "quantity": 1},
        )
    result = _run_queues("--json", "--timeout", "2")
    assert result.returncode == 0, result.stderr
    rows = {row["queue"]: row for row in json.loads(result.stdout)}
    assert rows[f"group.{group}"]["kind"] == "group"
    assert any(c.startswith("test-") for c in rows[f"group.{group}"]["consumers"])
    assert rows[f"group.{idle}"]["messages"] == 3
    assert rows[f"group.{idle}"]["consumers"] == []
    assert rows["brokerage.chase"]["kind"] == "brokerage"

    table = _run_queues()
    assert table.returncode == 0
    assert table.stdout.splitlines()[0].split() == ["QUEUE", "KIND", "MESSAGES", "CONSUMERS"]
    assert f"group.{idle}" in table.stdout
