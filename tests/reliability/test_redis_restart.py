"""Redis restarts (graceful, then a crash) in the middle of running jobs.

Nothing registered is lost (groups, accounts, credentials, job records, messages queued for a
group no worker serves yet); workers resume consuming on their own, which their heartbeats
prove (a heartbeat is a task the worker consumed from its own queue, not a live PID: Celery
has had workers that silently stop consuming after a reconnect, celery#8030, #10205); every
job ends, none is filled twice; the API answers 503 naming Redis while it is away.
"""

from __future__ import annotations

import dataclasses
import json
import time

import pytest
import requests

from core import keys
from core.apikeys import ApiKeyStore
from core.models import to_iso, utcnow
from core.settings import get_settings
from tests.processes import LiveServer
from tests.reliability.faults import Fleet, check_outcomes, wait_for_running
from tests.services import wait_until

pytestmark = [pytest.mark.reliability, pytest.mark.integration, pytest.mark.timeout(240)]

ACCOUNTS = 4


@pytest.fixture
def fleet():
    # appendfsync always: the crash phase SIGKILLs Redis, and "everysec" (the default) may
    # lose up to a second of acknowledged writes. A graceful restart loses nothing either way.
    fleet = Fleet(visibility_timeout=20, paper_delay=0.05, fsync_always=True)
    yield fleet
    fleet.close()


def _registry_snapshot(fleet: Fleet) -> dict:
    conn = fleet.conn
    snapshot = {"groups": fleet.groups.names()}
    for group in snapshot["groups"]:
        snapshot[group] = {
            "accounts": [dataclasses.asdict(a) for a in fleet.accounts.list_group(group)],
            "credentials": sorted(
                conn.get(keys.credentials(group, a.name)) or ""
                for a in fleet.accounts.list_group(group)
            ),
            "jobs": conn.zrange(keys.group_jobs(group), 0, -1),
        }
    return json.loads(json.dumps(snapshot, default=str))


def _queued_jobs(fleet: Fleet, group: str) -> set[str]:
    """Job ids of the job messages waiting in the group's queue (sweeper nudges name none)."""
    found = set()
    for raw in fleet.conn.lrange(f"group.{group}", 0, -1):
        message = json.loads(raw)
        args = json.loads(message["headers"]["argsrepr"].replace("'", '"'))
        if message["headers"]["task"] == "tasks.advance_group" and len(args) == 2:
            found.add(args[1])  # (group, job id): sent when the job was submitted
    return found


def _heartbeat_after(fleet: Fleet, worker, moment: str) -> bool:
    value = fleet.conn.get(keys.worker_heartbeat(worker.hostname.replace("%h", _host())))
    return bool(value) and json.loads(value)["at"] > moment


def _host() -> str:
    import socket

    return socket.gethostname()


def _health(server: LiveServer) -> requests.Response:
    return requests.get(f"{server.url}/health", timeout=10)


def _restart(fleet: Fleet, crash: bool, server: LiveServer, key: str) -> tuple[str, float, dict]:
    """Stop (or SIGKILL) Redis, check the API says so, start it again on the same port/dir."""
    if crash:
        fleet.redis_server.kill()
    else:
        fleet.redis_server.stop()
    down = _health(server)
    group_list = requests.get(
        f"{server.url}/api/v1/groups", headers={"Authorization": f"Bearer {key}"}, timeout=10
    )
    time.sleep(1.0)
    fleet.redis_server.start(appendonly=True)
    fleet.apply_redis_config()
    return to_iso(utcnow()), time.monotonic(), {"health": down, "groups": group_list}


def test_redis_restarts_lose_nothing_and_workers_resume(fleet):
    groups = [fleet.create_group("r") for _ in range(2)]
    idle = fleet.create_group("z")  # no worker serves it until the end: its messages wait
    worker = fleet.worker("resume", TRADEFLEET_WORKER_GROUPS="r-*")
    fleet.beat()
    app_settings = dataclasses.replace(
        get_settings(),
        redis_url=fleet.redis_server.url,
        broker_url=fleet.redis_server.url,
        result_backend=fleet.redis_server.url,
    )
    from api import create_app

    key = ApiKeyStore(fleet.conn).create("faults", replace=True)
    server = LiveServer(create_app(app_settings)).start()
    try:
        job_ids = [fleet.add_paper_account(g, f"a{n}") for g in groups for n in range(ACCOUNTS)]
        fleet.wait_terminal(job_ids, timeout=30)
        idle_jobs = [fleet.add_paper_account(idle, "i0")] + [fleet.order(idle) for _ in range(3)]
        figures = []
        for crash in (False, True):
            batch = [fleet.order(g, "buy", ["AAPL", "MSFT"]) for _ in range(10) for g in groups]
            job_ids += batch
            assert wait_for_running(fleet, batch, timeout=30)
            before = _registry_snapshot(fleet)
            restarted_at, restarted, answers = _restart(fleet, crash, server, key)
            # The API said clearly that Redis was away, and changed nothing.
            assert answers["health"].status_code == 503
            assert answers["health"].json()["redis"] == "down"
            assert answers["groups"].status_code == 503
            assert "redis" in answers["groups"].json()["message"].lower()

            assert _registry_snapshot(fleet) == before
            assert _queued_jobs(fleet, idle) == set(idle_jobs)
            # Jobs sent after the restart run: the worker consumes again, on its own.
            after = [fleet.order(g) for g in groups]
            job_ids += after
            fleet.wait_terminal(after + batch, timeout=90)
            wait_until(
                lambda at=restarted_at: _heartbeat_after(fleet, worker, at),
                45,
                interval=0.5,
                message="the worker's heartbeat did not come back after the Redis restart",
            )
            healthy = wait_until(lambda: _health(server).json()["workers"] >= 1, 10)
            assert healthy
            figures.append(time.monotonic() - restarted)
            assert worker.proc.poll() is None

        late = fleet.worker("late", TRADEFLEET_WORKER_GROUPS="z-*")
        fleet.wait_terminal(idle_jobs, timeout=60)
        assert late.proc.poll() is None
        outcome = check_outcomes(fleet, job_ids + idle_jobs)
        print(
            f"\n[redis restart] jobs={outcome.jobs} results={dict(outcome.results)} "
            f"recovered after graceful restart {figures[0]:.1f}s, after crash {figures[1]:.1f}s"
        )
    finally:
        server.stop()
