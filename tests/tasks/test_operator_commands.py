"""The README's operator commands, run as written against a real worker (issue 14, point 5)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.conftest import worker_env
from tests.processes import CeleryWorker
from tests.services import REPO_ROOT, wait_until

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


def readme_worker_commands() -> list[str]:
    readme = (REPO_ROOT / "README.md").read_text()
    (block,) = [
        b
        for b in re.findall(r"```bash\n(.*?)```", readme, flags=re.S)
        if "TRADEFLEET_WORKER_BROKERAGES=" in b
    ]
    joined = block.replace("\\\n", " ")
    return [line.strip() for line in joined.splitlines() if line.strip() and line[0] != "#"]


@pytest.mark.parametrize("index", [0, 1])
def test_readme_worker_commands_start_workers_on_the_queues_they_name(index):
    command = readme_worker_commands()[index]
    node = re.search(r"-n (\S+)@%h", command).group(1)
    unique_node = f"{node}-{uuid.uuid4().hex[:6]}"
    script = command.replace(f"-n {node}@%h", f"-n {unique_node}@%h")
    proc = subprocess.Popen(
        ["bash", "-c", script],
        cwd=REPO_ROOT,
        env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        name = f"{unique_node}@{socket.gethostname()}"
        brokerages = re.search(r"TRADEFLEET_WORKER_BROKERAGES=(\S+)", command).group(1)
        wanted = {f"brokerage.{b}" for b in brokerages.split(",")}

        def serving():
            result = celery("inspect", "active_queues", "-d", name, "-j", "--timeout", "1")
            if result.returncode != 0:
                return None
            queues = {q["name"] for q in json.loads(result.stdout)[name]}
            return queues if wanted <= queues else None

        queues = wait_until(serving, 60, interval=0.5, message=f"{command} did not serve")
        assert not {q for q in queues if q.startswith("brokerage.")} - wanted
        if "TRADEFLEET_WORKER_GROUPS=-" in command:
            assert not {q for q in queues if q.startswith("group.")}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
