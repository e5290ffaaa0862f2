"""``make up`` for real (scripts/up.py + Procfile + honcho): it listens on 127.0.0.1 only,
and Ctrl-C is a warm shutdown in which a running leg finishes (issue 14, points 3 and 4)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

from tests.services import REPO_ROOT, free_port, wait_until

pytestmark = [pytest.mark.reliability, pytest.mark.integration, pytest.mark.timeout(240)]

PAPER_DELAY = 4.0  # each paper order takes this long: the leg is running at the Ctrl-C


def listening_addresses(port: int) -> set[str]:
    """Local addresses (hex, as /proc/net/tcp* writes them) of sockets listening on ``port``."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, port_hex = fields[1].rsplit(":", 1)
            if int(port_hex, 16) == port and fields[3] == "0A":  # 0A: LISTEN
                found.add(address)
    return found


@pytest.fixture
def make_up(tmp_path, redis_server):
    port, flower_port = free_port(), free_port()
    log = open(tmp_path / "up.log", "w")  # noqa: SIM115 - closed below
    env = {
        **os.environ,
        "REDIS_URL": redis_server.url,
        "PORT": str(port),
        "FLOWER_PORT": str(flower_port),
        "TRADEFLEET_WORKER_GROUPS": "upt-*",
        "TRADEFLEET_PAPER_DELAY": str(PAPER_DELAY),
        "HOLDINGS_REFRESH_SECONDS": "0",
    }
    env.pop("HOST", None)
    # Its own session, as a terminal's foreground job: Ctrl-C is SIGINT to the whole group.
    proc = subprocess.Popen(
        [sys.executable, "scripts/up.py", "--var", str(tmp_path / "var"), "--exit-after", "200"],
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"

    def healthy():
        try:
            return requests.get(f"{url}/health", timeout=1).json()["workers"] >= 1
        except (requests.RequestException, ValueError, KeyError):
            if proc.poll() is not None:
                raise RuntimeError((tmp_path / "up.log").read_text()) from None
            return False

    wait_until(healthy, 90, interval=0.3, message="make up did not come up")
    key = re.search(r"Dev API key\s+(\S+)", (tmp_path / "up.log").read_text()).group(1)
    yield proc, url, key, port, flower_port, tmp_path / "up.log"
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
    log.close()


def test_make_up_listens_on_localhost_and_ctrl_c_lets_the_running_leg_finish(make_up, redis_client):
    from core.jobs import JobRegistry

    proc, url, key, port, flower_port, log = make_up
    assert listening_addresses(port) == {"0100007F"}, "the API listens beyond 127.0.0.1"
    flower_up = wait_until(lambda: listening_addresses(flower_port), 30, interval=0.2)
    assert flower_up == {"0100007F"}, "Flower listens beyond 127.0.0.1"

    auth = {"Authorization": f"Bearer {key}"}
    group = f"upt-{uuid.uuid4().hex[:8]}"
    assert requests.post(f"{url}/api/v1/groups", json={"name": group}, headers=auth).ok
    requests.put(f"{url}/api/v1/market-data/AAPL", json={"price": "190.00"}, headers=auth)
    activation = requests.post(
        f"{url}/api/v1/groups/{group}/accounts",
        json={"name": "alice", "brokerage": "paper", "credentials": {}},
        headers=auth,
    ).json()["job_id"]
    jobs = JobRegistry(redis_client)
    wait_until(lambda: jobs.fetch(activation).state.is_terminal, 60, interval=0.2)
    order = requests.post(
        f"{url}/api/v1/groups/{group}/transactions",
        json={"action": "buy", "symbols": ["AAPL"], "quantity": 1, "dry_run": False},
        headers=auth,
    ).json()["job_id"]
    wait_until(lambda: jobs.fetch(order).state.value == "running", 30, interval=0.05)

    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C
    asked = time.monotonic()
    proc.wait(60)
    took = time.monotonic() - asked

    job = jobs.fetch(order)
    assert job.state.value == "succeeded", (job, log.read_text()[-3000:])
    assert [r.status.value for r in job.results] == ["filled"]
    assert "WorkerLostError" not in log.read_text()
    assert took < 30 + 15, f"make up took {took:.0f} s to stop"
    assert proc.returncode == 0
