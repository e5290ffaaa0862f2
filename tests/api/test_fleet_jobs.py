"""Jobs across the fleet, filtered; a retry links to the job it retries and back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

pytestmark = pytest.mark.integration


def test_fleet_jobs_filters_and_retry_links(api):
    started = datetime.now(UTC) - timedelta(seconds=1)
    first, second = api.create_group(), api.create_group()
    api.set_quote("AAPL", "10")
    api.add_paper_account(first, "p1", cash="1000")
    api.add_paper_account(second, "p2", cash="1000")
    bought = api.order(first, action="buy", symbols=["AAPL"], quantity=1, dry_run=False)
    refused = api.order(second, action="sell", symbols=["AAPL"], quantity=1, dry_run=False)
    assert (bought["state"], refused["state"]) == ("succeeded", "failed")

    def ids(**params) -> set[str]:
        response = api.get("/api/v1/jobs", params={"since": started.isoformat(), **params})
        assert response.status_code == 200, response.text
        return {job["id"] for job in response.json()}

    assert {bought["id"], refused["id"]} <= ids()
    assert ids(group=first, kind="transaction") == {bought["id"]}
    [activation] = ids(group=second, kind="activate")  # p2's activation
    assert ids(group=second) == {activation, refused["id"]}
    assert ids(result_status="rejected") >= {refused["id"]}
    assert bought["id"] not in ids(result_status="rejected")
    assert ids(state="failed", group=second) == {refused["id"]}
    assert ids(group=first, state=["queued", "running"]) == set()
    # Every job listed carries its results, filtered or not: an empty list means none.
    for params in ({}, {"result_status": "rejected"}):
        listed = api.get("/api/v1/jobs", params={"group": second, **params}).json()
        shown = next(job for job in listed if job["id"] == refused["id"])
        assert shown["results"] == api.get(f"/api/v1/jobs/{refused['id']}").json()["results"]
        assert [r["status"] for r in shown["results"]] == ["rejected"]
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert api.get("/api/v1/jobs", params={"since": future}).json() == []
    assert api.get("/api/v1/jobs", params={"state": "sleeping"}).status_code == 422
    assert api.get("/api/v1/jobs", params={"group": "t-nope"}).status_code == 404

    retry = api.post(f"/api/v1/jobs/{refused['id']}/retry", json={"statuses": ["rejected"]})
    assert retry.status_code == 202, retry.text
    [again] = retry.json()["jobs"]
    retried = api.wait_job(again["job_id"])
    assert retried["retry_of"] == refused["id"]
    assert api.get(f"/api/v1/jobs/{refused['id']}").json()["retried_by"] == [again["job_id"]]
