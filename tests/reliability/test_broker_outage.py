"""The message broker down while Redis is up: every answer tells the truth.

The registry lives on one Redis, the broker on another, so the broker can be stopped
alone. While it is down the API still writes jobs and answers ``202`` with
``dispatch: delayed`` (never a ``503`` for something it wrote); once it is back the
sweeper sends what waited, and each job runs exactly once. A ``503`` (Redis down) means
nothing was written.
"""

from __future__ import annotations

import uuid

import pytest

from core.apikeys import ApiKeyStore
from tests.conftest import ApiClient
from tests.reliability.faults import Fleet
from tests.services import RedisServer, wait_until

pytestmark = [pytest.mark.reliability, pytest.mark.integration]


def test_broker_down_answers_202_delayed_and_runs_each_job_once():
    fleet = Fleet(visibility_timeout=60)
    broker = RedisServer().start()
    try:
        on_broker = {"CELERY_BROKER_URL": broker.url}
        api_process = fleet.api(**on_broker)
        fleet.worker("outage", **on_broker)
        fleet.beat(**on_broker)
        client = ApiClient(api_process.url, ApiKeyStore(fleet.conn).create("outage"))
        group = client.create_group("bo")
        client.set_quote("AAPL", "10")
        client.add_paper_account(group, "p1")

        broker.stop()

        # A group created while the broker is away exists (workers pick it up on re-sync).
        late_group = f"bo-{uuid.uuid4().hex[:6]}"
        created = client.post("/api/v1/groups", json={"name": late_group})
        assert created.status_code == 201, created.text
        assert client.get(f"/api/v1/groups/{late_group}").status_code == 200

        order = {"action": "buy", "symbols": ["AAPL"], "quantity": 1, "dry_run": False}
        headers = {"Idempotency-Key": "outage-order-1"}
        first = client.post(f"/api/v1/groups/{group}/transactions", json=order, headers=headers)
        assert first.status_code == 202, first.text
        body = first.json()
        assert body["dispatch"] == "delayed" and body["state"] == "queued", body
        assert "Do not submit it again" in body["message"]
        # A client that retries anyway gets the same job, not a second order.
        again = client.post(f"/api/v1/groups/{group}/transactions", json=order, headers=headers)
        assert again.status_code == 202 and again.json()["job_id"] == body["job_id"], again.text

        activation = client.post(
            f"/api/v1/groups/{group}/accounts",
            json={"name": "p2", "brokerage": "paper", "credentials": {"starting_cash": "500"}},
        )
        assert activation.status_code == 202, activation.text
        assert activation.json()["dispatch"] == "delayed"
        compat = client.post(
            "/transaction",
            params={"group_name": group, "ticker": "AAPL", "amount": 1, "dry_run": "true"},
        )
        assert compat.status_code == 202 and compat.json()["dispatch"] == "delayed", compat.text
        assert client.get(f"/api/v1/jobs/{body['job_id']}").json()["state"] == "queued"

        broker.start()  # same port: the processes reconnect; the sweeper re-sends the group

        ids = [body["job_id"], activation.json()["job_id"], compat.json()["job_id"]]
        jobs = [client.wait_job(job_id, timeout=90) for job_id in ids]
        assert [j["state"] for j in jobs] == ["succeeded"] * 3, jobs
        fills = fleet.ledger.fills(group, "p1")
        assert [f.job_id for f in fills] == [body["job_id"]]  # exactly one order placed
        assert fleet.jobs.count_group(group) == 1 + 3  # p1's activation, then these three
        accounts = client.get(f"/api/v1/groups/{group}/accounts").json()
        assert {a["name"]: a["state"] for a in accounts} == {"p1": "active", "p2": "active"}
        # The late group is served once the workers re-read the groups.
        client.add_paper_account(late_group, "p3")
    finally:
        fleet.close()
        broker.stop()


def test_store_down_answers_503_and_writes_nothing():
    fleet = Fleet(visibility_timeout=60)
    try:
        api_process = fleet.api()
        fleet.worker("store")
        client = ApiClient(api_process.url, ApiKeyStore(fleet.conn).create("store"))
        group = client.create_group("sd")
        client.set_quote("AAPL", "10")
        client.add_paper_account(group, "p1")
        before = fleet.jobs.count_group(group)

        fleet.redis_server.stop()
        order = {"action": "buy", "symbols": ["AAPL"], "quantity": 1, "dry_run": False}
        refused = client.post(f"/api/v1/groups/{group}/transactions", json=order)
        assert refused.status_code == 503, refused.text
        assert "nothing was changed" in refused.json()["message"]
        fleet.redis_server.start(appendonly=True)
        fleet.apply_redis_config()

        wait_until(lambda: client.get("/api/v1/groups").status_code == 200, 30, interval=0.2)
        assert fleet.jobs.count_group(group) == before
        assert fleet.jobs.pending(group) == []
        assert fleet.ledger.fills(group, "p1") == []
    finally:
        fleet.close()
