"""Idempotency-Key over real HTTP: concurrent repeats name one job, a reused key is refused."""

from __future__ import annotations

import json
import random
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor, wait

import pytest
import requests

from tests.conftest import wait_for

pytestmark = pytest.mark.integration

THREADS = 32
KEYS = 40
DEADLINE_SECONDS = 120  # the whole storm of 1280 POSTs


@pytest.fixture
def paper_group(api):
    group = api.create_group()
    api.add_paper_account(group, "p1", cash="100000")
    api.set_quote("AAPL", "100.00")
    api.set_quote("MSFT", "300.00")
    return group


def _body(index: int) -> dict:
    return {
        "action": "buy",  # a sell would be rejected: the account holds nothing
        "symbols": ["AAPL"] if index % 3 else ["AAPL", "MSFT"],
        "quantity": index + 1,
        "dry_run": True,
    }


def _transaction_jobs(api, group: str) -> tuple[int, list[dict]]:
    """X-Pagination total of the group's jobs, and its transaction jobs."""
    response = api.get(f"/api/v1/groups/{group}/jobs", params={"page_size": 100})
    assert response.status_code == 200, response.text
    total = json.loads(response.headers["X-Pagination"])["total"]
    return total, [j for j in response.json() if j["kind"] == "transaction"]


def test_idempotency_concurrent_repeats_name_one_job_per_key(api, paper_group):
    url = f"{api.base_url}/api/v1/groups/{paper_group}/transactions"
    auth = api.session.headers["Authorization"]
    keys = [f"storm-{i:02d}" for i in range(KEYS)]
    bodies = {key: _body(i) for i, key in enumerate(keys)}
    start = threading.Barrier(THREADS)
    deadline = time.monotonic() + DEADLINE_SECONDS

    def storm(seed: int) -> list[tuple[str, int, str]]:
        order = list(keys)
        random.Random(seed).shuffle(order)
        seen = []
        with requests.Session() as session:
            session.headers["Authorization"] = auth
            start.wait(timeout=30)
            for key in order:
                left = max(1.0, deadline - time.monotonic())
                response = session.post(
                    url, json=bodies[key], headers={"Idempotency-Key": key}, timeout=left
                )
                seen.append((key, response.status_code, response.text))
        return seen

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        futures = [pool.submit(storm, seed) for seed in range(THREADS)]
        done, not_done = wait(futures, timeout=DEADLINE_SECONDS + 10)
        assert not not_done, f"{len(not_done)} of {THREADS} threads did not finish in time"
    responses = [r for f in done for r in f.result()]
    assert len(responses) == THREADS * KEYS

    bad = [(key, status, text[:200]) for key, status, text in responses if status != 202]
    assert not bad, f"{len(bad)} responses were not 202, e.g. {bad[:5]}"
    job_ids: dict[str, set[str]] = defaultdict(set)
    for key, _status, text in responses:
        job_ids[key].add(json.loads(text)["job_id"])
    split = {key: ids for key, ids in job_ids.items() if len(ids) != 1}
    assert not split, f"keys answered with more than one job: {split}"
    firsts = {key: next(iter(ids)) for key, ids in job_ids.items()}
    assert len(set(firsts.values())) == KEYS  # a job per key, no two keys share one

    total, jobs = _transaction_jobs(api, paper_group)
    assert total == KEYS + 1  # the 40 orders and the paper account's activation
    assert {j["id"] for j in jobs} == set(firsts.values())
    by_id = {j["id"]: j for j in jobs}
    for key, job_id in firsts.items():
        order = by_id[job_id]["order"]
        assert order["action"] == bodies[key]["action"]
        assert order["symbols"] == bodies[key]["symbols"]
        assert order["quantity"] == str(bodies[key]["quantity"])

    # Every job runs once, as a dry run on the one paper account.
    for job_id in firsts.values():
        job = api.wait_job(job_id, timeout=max(5.0, deadline + 60 - time.monotonic()))
        assert job["state"] == "succeeded", job["results"]
        assert {r["account"] for r in job["results"]} == {"p1"}
        assert {r["status"] for r in job["results"]} == {"dry_run"}
    assert _transaction_jobs(api, paper_group)[0] == KEYS + 1


def test_idempotency_same_key_with_another_body_is_422(api, paper_group):
    path = f"/api/v1/groups/{paper_group}/transactions"
    headers = {"Idempotency-Key": "reused-1"}
    body = {"action": "buy", "symbols": ["AAPL"], "quantity": 1}
    first = api.post(path, json=body, headers=headers)
    assert first.status_code == 202, first.text
    again = api.post(path, json=body, headers=headers)
    assert again.status_code == 202, again.text
    assert again.json()["job_id"] == first.json()["job_id"]

    changed = api.post(path, json={**body, "quantity": 2}, headers=headers)
    assert changed.status_code == 422, changed.text
    error = changed.json()
    assert "Idempotency-Key" in error["message"]
    assert "Idempotency-Key" in error["errors"]["json"]
    assert _transaction_jobs(api, paper_group)[0] == 2  # activation and the first order

    # The first job is untouched and runs as asked.
    job = api.wait_job(first.json()["job_id"])
    assert job["order"]["quantity"] == "1"
    assert job["state"] == "succeeded"


def test_idempotency_compat_transaction_repeated_names_the_same_job(api, paper_group):
    params = {"group_name": paper_group, "ticker": "AAPL", "amount": "3"}
    headers = {"Idempotency-Key": "compat-1"}
    first = api.post("/transaction", params=params, headers=headers)
    assert first.status_code == 202, first.text
    again = api.post("/transaction", params=params, headers=headers)
    assert again.status_code == 202, again.text
    assert again.json()["job_id"] == first.json()["job_id"]
    assert again.json()["status"] is True

    changed = api.post("/transaction", params={**params, "amount": "4"}, headers=headers)
    assert changed.status_code == 422, changed.text
    assert "Idempotency-Key" in changed.json()["errors"]["json"]

    other = api.post("/transaction", params=params, headers={"Idempotency-Key": "compat-2"})
    assert other.status_code == 202, other.text
    assert other.json()["job_id"] != first.json()["job_id"]
    assert _transaction_jobs(api, paper_group)[0] == 3

    job = api.wait_job(first.json()["job_id"])
    assert (job["order"]["symbols"], job["order"]["quantity"]) == (["AAPL"], "3")
    assert job["state"] == "succeeded"


def test_idempotency_key_of_a_deleted_group_does_not_outlive_it(api):
    group = api.create_group()
    api.add_paper_account(group, "p1")
    api.set_quote("AAPL", "100.00")
    path = f"/api/v1/groups/{group}/transactions"
    body = {"action": "buy", "symbols": ["AAPL"], "quantity": 1}
    headers = {"Idempotency-Key": "before-delete"}
    first = api.post(path, json=body, headers=headers)
    assert first.status_code == 202, first.text
    api.wait_job(first.json()["job_id"])

    def deleted():
        response = api.delete(f"/api/v1/groups/{group}")
        assert response.status_code in (204, 409), response.text
        return response.status_code == 204

    wait_for(deleted, timeout=10, message="the group kept unfinished jobs")
    assert api.post("/api/v1/groups", json={"name": group}).status_code == 201
    api.add_paper_account(group, "p1")

    again = api.post(path, json=body, headers=headers)
    assert again.status_code == 202, again.text
    assert again.json()["job_id"] != first.json()["job_id"]
