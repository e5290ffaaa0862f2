"""Cancelling a job: a queued one never runs, whoever holds its message; a running one is 409."""

from __future__ import annotations

import pytest

from tests.conftest import wait_for

pytestmark = pytest.mark.integration

BUY = {"action": "buy", "symbols": ["AAPL"], "quantity": 1, "dry_run": False}


def test_cancel_queued_job_never_runs_and_running_job_is_409(api, slow_worker):
    group = api.create_group("slow")
    api.set_quote("AAPL", "10")
    for name in ("s1", "s2"):
        api.add_paper_account(group, name, cash="1000")
    path = f"/api/v1/groups/{group}/transactions"
    running = api.post(path, json=BUY).json()["job_id"]
    queued = api.post(path, json=BUY).json()["job_id"]  # its message reaches a worker too
    wait_for(lambda: api.get(f"/api/v1/jobs/{running}").json()["state"] == "running")

    refused = api.post(f"/api/v1/jobs/{running}/cancel")
    assert refused.status_code == 409 and "cannot be recalled" in refused.json()["message"]
    cancelled = api.post(f"/api/v1/jobs/{queued}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["state"] == "cancelled"
    assert api.post(f"/api/v1/jobs/{queued}/cancel").json()["state"] == "cancelled"  # again

    assert api.wait_job(running)["state"] == "succeeded"
    after = api.post(path, json=BUY).json()["job_id"]  # the group goes on past it
    assert api.wait_job(after)["state"] == "succeeded"
    job = api.get(f"/api/v1/jobs/{queued}").json()
    assert job["state"] == "cancelled" and job["results"] == [] and job["started_at"] is None
    positions = {p["account"]: p for p in api.get(f"/api/v1/groups/{group}/positions").json()}
    assert all(p["positions"][0]["quantity"] == "2" for p in positions.values())  # not 3
    finished = api.post(f"/api/v1/jobs/{running}/cancel")
    assert finished.status_code == 409 and "nothing to cancel" in finished.json()["message"]
    assert api.post("/api/v1/jobs/no-such-job/cancel").status_code == 404
