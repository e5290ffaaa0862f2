"""The README's operator commands, run as written against a real worker (issue 14, point 5)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid

import pytest

from tests.conftest import worker_env
from tests.services import REPO_ROOT, CeleryWorker

pytestmark = pytest.mark.integration


def readme_operator_commands() -> list[str]:
    readme = (REPO_ROOT / "README.md").read_text()
    blocks = [b for b in re.findall(r"```bash\n(.*?)```", readme, flags=re.S) if "inspect" in b]
    assert len(blocks) == 1, "the README should have one block of celery inspect/control commands"
    return [line.split("  #")[0].strip() for line in blocks[0].splitlines() if line.strip()]


def celery(*args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "celery", "-A", "tasks", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def consumed_by(name: str) -> set[str]:
    result = celery("inspect", "active_queues", "-d", name, "-j")
    assert result.returncode == 0, result.stderr
    return {q["name"] for q in json.loads(result.stdout)[name]}


@pytest.fixture
def operated_worker(redis_client):
    from core.groups import GroupRegistry

    suffix = uuid.uuid4().hex[:6]
    # The README's group.family, under another name: the README tour creates "family" itself.
    GroupRegistry(redis_client).create(f"ops-{suffix}")
    name = f"readme-{suffix}@host"
    env = worker_env(TRADEFLEET_WORKER_GROUPS="-")  # serves no group by its settings
    worker = CeleryWorker(env, hostname=name, concurrency=1).start()
    yield worker
    worker.stop()


def test_readme_operator_commands_work_as_written(operated_worker):
    name = operated_worker.hostname
    assert "brokerage.chase" in consumed_by(name)
    for command in readme_operator_commands():
        group = "ops-" + name.split("@")[0].removeprefix("readme-")
        args = command.replace("celery@host", name).replace("group.family", f"group.{group}")
        args = args.split()
        assert args[:3] == ["celery", "-A", "tasks"], command
        result = celery(*args[3:])
        if args[3:5] == ["control", "shutdown"]:  # answers nothing, as the README says
            assert "No nodes replied" in result.stderr
            break
        assert result.returncode == 0, f"{command}:\n{result.stdout}{result.stderr}"
        if args[3] == "sync_groups":
            # The re-sync keeps what the operator did just before: family added, chase cancelled.
            assert f"{name}: added" in result.stdout
            queues = consumed_by(name)
            assert f"group.{group}" in queues
            assert "brokerage.chase" not in queues
            assert "brokerage.fidelity" in queues
    operated_worker.proc.wait(30)  # the README's last command: a warm shutdown


def test_a_cancelled_queue_stays_cancelled_until_the_operator_adds_it_back(operated_worker):
    name = operated_worker.hostname
    assert celery("control", "cancel_consumer", "brokerage.tradier", "-d", name).returncode == 0
    for _ in range(2):
        assert celery("sync_groups").returncode == 0
    assert "brokerage.tradier" not in consumed_by(name)

    assert celery("control", "add_consumer", "brokerage.tradier", "-d", name).returncode == 0
    assert celery("control", "cancel_consumer", "brokerage.webull", "-d", name).returncode == 0
    assert celery("sync_groups").returncode == 0
    queues = consumed_by(name)
    assert "brokerage.tradier" in queues
    assert "brokerage.webull" not in queues
