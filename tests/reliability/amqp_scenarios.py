"""Scenarios that only make sense with RabbitMQ as the broker.

Not collected by a normal run (the name does not match ``test_*.py``):
``tests/reliability/test_rabbitmq.py`` runs this file, together with the API end-to-end
tests, in a pytest session whose broker is a private RabbitMQ vhost
(``TF_TEST_BROKER_URL`` + ``-p tests.reliability.amqp_plugin``).
"""

from __future__ import annotations

import collections
import os
import uuid
from urllib.parse import urlsplit

import pytest

from tests.conftest import worker_env
from tests.processes import CeleryBeat, CeleryWorker
from tests.reliability import rabbitmq
from tests.services import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.reliability]

PAPER_DELAY = "1.5"  # seconds per paper order: a 3-account leg takes ~4.5 s


@pytest.fixture(scope="module")
def vhost() -> str:
    broker = os.environ.get("CELERY_BROKER_URL", "")
    if not broker.startswith("amqp://"):
        pytest.skip("run through tests/reliability/test_rabbitmq.py (needs an amqp:// broker)")
    return urlsplit(broker).path.lstrip("/")


def test_the_session_really_uses_rabbitmq(api, worker, vhost):
    from tasks.celery import app

    assert app.conf.broker_url.startswith("amqp://")
    with app.connection_for_write() as connection:
        assert connection.transport.driver_type == "amqp"
    assert f"amqp://guest:**@127.0.0.1:5672/{vhost}" in worker.log_text()

    group = api.create_group()  # created after the worker started
    api.add_paper_account(group, "p1")
    queues = rabbitmq.list_queues(vhost)
    assert queues[f"group.{group}"]["consumers"] >= 1, queues.get(f"group.{group}")
    assert queues[f"group.{group}"]["messages"] == 0


def test_heartbeat_travels_through_the_worker_direct_queue(api, worker, vhost, redis_client):
    from core import keys

    node = worker.hostname.split("@", 1)[0] + "@"

    def heartbeat():
        found = redis_client.scan_iter(match=keys.worker_heartbeat(node + "*"))
        return next((keys.worker_from_heartbeat_key(k) for k in found), None)

    hostname = wait_until(heartbeat, 25, interval=0.2, message=f"no heartbeat from {node}")
    assert rabbitmq.list_queues(vhost)[f"{hostname}.dq2"]["consumers"] == 1
    assert rabbitmq.list_exchanges(vhost).get("C.dq2") == "direct"


def test_queues_command_copes_with_queues_rabbitmq_never_saw(api, worker, vhost):
    """A passive declare of a missing queue closes the AMQP channel; the rows after it count."""
    import json
    import subprocess
    import sys

    from tests.services import REPO_ROOT

    missing = f"a-idle-{uuid.uuid4().hex[:8]}"  # no worker serves it, no job sent: no queue
    busy = f"b-busy-{uuid.uuid4().hex[:8]}"  # no worker serves it either: its jobs wait
    for name in (missing, busy):
        assert api.post("/api/v1/groups", json={"name": name}).status_code == 201
    for _ in range(2):
        api.post(
            f"/api/v1/groups/{busy}/transactions",
            json={"action": "buy", "symbols": ["AAPL"], "quantity": 1},
        )
    assert f"group.{missing}" not in rabbitmq.list_queues(vhost)
    result = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "tasks", "queues", "--json", "--timeout", "2"],
        cwd=REPO_ROOT,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    rows = {row["queue"]: row for row in json.loads(result.stdout)}
    assert rows[f"group.{missing}"]["messages"] == 0
    assert rows[f"group.{busy}"]["messages"] == 2  # listed after the failed declare


@pytest.fixture
def beat(worker, vhost):
    """Beat (RedBeat) runs the group sweeper, which resumes a group whose holder died."""
    with CeleryBeat(worker_env()) as running:
        yield running


def _kill_worker(hostname_prefix: str) -> CeleryWorker:
    env = worker_env(TRADEFLEET_WORKER_GROUPS="kill-*", TRADEFLEET_PAPER_DELAY=PAPER_DELAY)
    return CeleryWorker(env, concurrency=2, hostname=f"{hostname_prefix}-{uuid.uuid4().hex[:6]}@%h")


def _fills(redis_client, group: str, account: str) -> list[dict]:
    import json

    from core import keys

    return [json.loads(f) for f in redis_client.lrange(keys.paper_fills(group, account), 0, -1)]


def test_sigkill_of_the_whole_worker_mid_leg_loses_nothing_and_fills_nothing_twice(
    api, redis_client, vhost, beat
):
    accounts = ("k1", "k2", "k3")
    api.set_quote("KIL", "10")
    group = api.create_group("kill")
    first = _kill_worker("kill-a").start()
    try:
        for account in accounts:
            api.add_paper_account(group, account, cash="1000")
        order = {"action": "buy", "symbols": ["KIL"], "quantity": 1, "dry_run": False}
        url = f"/api/v1/groups/{group}/transactions"
        doomed = api.post(url, json=order).json()["job_id"]
        behind = api.post(url, json=order).json()["job_id"]

        def first_order_filled():
            job = api.get(f"/api/v1/jobs/{doomed}").json()
            return job if _fills(redis_client, group, accounts[0]) else None

        before_kill = wait_until(first_order_filled, 30, interval=0.05, message="leg never ran")
        assert before_kill["state"] == "running" and before_kill["legs"] == {"paper": "running"}
        first.kill(group=True)  # the main process and its pool children: a machine crash
    finally:
        first.stop()

    # RabbitMQ saw the connection die and put the unacknowledged job task back at once:
    # no visibility timeout to wait for.
    def requeued():
        queue = rabbitmq.list_queues(vhost).get(f"group.{group}", {})
        return queue if queue.get("messages", 0) >= 1 and queue.get("consumers") == 0 else None

    wait_until(requeued, 10, interval=0.2, message="the killed worker's task was not requeued")

    second = _kill_worker("kill-b").start()
    try:
        jobs = {j: api.wait_job(j, timeout=120) for j in (doomed, behind)}
    finally:
        second.stop()

    killed, after = jobs[doomed], jobs[behind]
    print("killed job:", killed["state"], [(r["account"], r["status"]) for r in killed["results"]])
    # Paper keeps its own ledger: the interrupted leg is settled from it, not left unknown.
    assert killed["state"] == "succeeded", killed
    by_account = collections.Counter((r["account"], r["symbol"]) for r in killed["results"])
    assert by_account == {(a, "KIL"): 1 for a in accounts}, killed["results"]
    assert {r["status"] for r in killed["results"]} == {"filled"}, killed["results"]
    assert after["state"] == "succeeded", after
    assert [r["status"] for r in after["results"]] == ["filled"] * len(accounts)
    assert killed["finished_at"] <= after["started_at"]  # the group stayed in order

    for account in accounts:
        fills = _fills(redis_client, group, account)
        per_job = collections.Counter(f["job_id"] for f in fills)
        assert per_job[behind] == 1, fills
        assert per_job[doomed] <= 1, fills  # at most once, even across the crash
        status = next(r["status"] for r in killed["results"] if r["account"] == account)
        if status == "filled":
            assert per_job[doomed] == 1
        positions = {p["account"]: p for p in api.get(f"/api/v1/groups/{group}/positions").json()}
        held = {p["symbol"]: p["quantity"] for p in positions[account]["positions"]}
        assert held.get("KIL") == str(len(fills)), (account, held, fills)

    assert rabbitmq.list_queues(vhost)[f"group.{group}"]["messages"] == 0
