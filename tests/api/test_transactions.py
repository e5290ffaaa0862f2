"""Orders through the whole pipeline: API -> group queue -> worker -> paper ledger."""

import itertools

import pytest

pytestmark = pytest.mark.integration


@pytest.fixture
def funded_group(api):
    group = api.create_group()
    api.add_paper_account(group, "a1", cash="10000")
    api.add_paper_account(group, "a2", cash="300")
    api.set_quote("AAPL", "190.00")
    api.set_quote("MSFT", "400.00")
    return group


def _results(job):
    return {(r["account"], r["symbol"]): r for r in job["results"]}


def test_transaction_dry_run_is_the_default(api, funded_group):
    job = api.order(funded_group, action="buy", symbols=["AAPL"], quantity=1)
    assert job["order"]["dry_run"] is True
    assert {r["status"] for r in job["results"]} == {"dry_run"}
    assert job["state"] == "succeeded"
    positions = api.get(f"/api/v1/groups/{funded_group}/positions").json()
    assert all(p["positions"] == [] for p in positions)


def test_transaction_market_buy_fills_every_account_and_symbol(api, funded_group):
    job = api.order(
        funded_group, action="buy", symbols=["aapl", "MSFT"], quantity="0.5", dry_run=False
    )
    results = _results(job)
    assert set(results) == {("a1", "AAPL"), ("a1", "MSFT"), ("a2", "AAPL"), ("a2", "MSFT")}
    assert results[("a1", "AAPL")]["status"] == "filled"
    assert results[("a1", "AAPL")]["price"] == "190.00"
    assert results[("a1", "AAPL")]["quantity"] == "0.5"
    # a2 has 300: 0.5 AAPL (95) fills, then 0.5 MSFT (200) still fits: 5 left.
    assert results[("a2", "MSFT")]["status"] == "filled"
    assert job["state"] == "succeeded"
    assert job["finished_at"] and job["created_at"]

    positions = {
        p["account"]: p for p in api.get(f"/api/v1/groups/{funded_group}/positions").json()
    }
    assert positions["a2"]["cash"] == "5.00"
    assert {(p["symbol"], p["quantity"]) for p in positions["a1"]["positions"]} == {
        ("AAPL", "0.5"),
        ("MSFT", "0.5"),
    }


def test_transaction_rejections_say_why_and_make_the_job_partial(api, funded_group):
    job = api.order(funded_group, action="buy", symbols=["AAPL"], quantity=2, dry_run=False)
    results = _results(job)
    assert results[("a1", "AAPL")]["status"] == "filled"
    assert results[("a2", "AAPL")]["status"] == "rejected"
    assert "insufficient cash" in results[("a2", "AAPL")]["detail"]
    assert job["state"] == "partial"

    sell = api.order(funded_group, action="sell", symbols=["AAPL"], quantity=5, dry_run=False)
    assert {r["status"] for r in sell["results"]} == {"rejected"}
    assert all("insufficient shares" in r["detail"] for r in sell["results"])
    assert sell["state"] == "failed"


def test_transaction_without_quote_is_rejected(api, funded_group):
    job = api.order(funded_group, action="buy", symbols=["NOQUOTE"], quantity=1, dry_run=False)
    assert {r["status"] for r in job["results"]} == {"rejected"}
    assert "no quote for NOQUOTE" in job["results"][0]["detail"]


def test_limit_orders_fill_only_when_the_quote_crosses(api, funded_group):
    api.set_quote("LMT", "50")
    above = api.order(
        funded_group, action="buy", symbols=["LMT"], quantity=1, dry_run=False,
        order_type="limit", limit_price="49.99", accounts=["a1"],
    )  # fmt: skip
    assert above["results"][0]["status"] == "rejected"
    assert "limit not reached" in above["results"][0]["detail"]

    crossed = api.order(
        funded_group, action="buy", symbols=["LMT"], quantity=1, dry_run=False,
        order_type="limit", limit_price="50.00", accounts=["a1"],
    )  # fmt: skip
    assert crossed["results"][0]["status"] == "filled"
    assert crossed["results"][0]["price"] == "50.00"

    sell_below = api.order(
        funded_group, action="sell", symbols=["LMT"], quantity=1, dry_run=False,
        order_type="limit", limit_price="51", accounts=["a1"],
    )  # fmt: skip
    assert sell_below["results"][0]["status"] == "rejected"


@pytest.mark.parametrize(
    ("order", "field"),
    [
        ({"action": "hold", "symbols": ["AAPL"], "quantity": 1}, "action"),
        ({"action": "buy", "symbols": [], "quantity": 1}, "symbols"),
        ({"action": "buy", "symbols": ["AA PL"], "quantity": 1}, "symbols"),
        ({"action": "buy", "symbols": ["AAPL"], "quantity": 0}, "quantity"),
        ({"action": "buy", "symbols": ["AAPL"], "quantity": -1}, "quantity"),
        ({"action": "buy", "symbols": ["AAPL"], "quantity": "NaN"}, "quantity"),
        ({"action": "buy", "symbols": ["AAPL"], "quantity": 1e12}, "quantity"),
        (
            {"action": "buy", "symbols": ["AAPL"], "quantity": 1, "order_type": "limit"},
            "limit_price",
        ),
        ({"action": "buy", "symbols": ["AAPL"], "quantity": 1, "limit_price": 5}, "limit_price"),
        (
            {"action": "buy", "symbols": ["AAPL"], "quantity": 1, "brokerages": ["etrade"]},
            "brokerages",
        ),
        ({"action": "buy", "symbols": ["AAPL"], "quantity": 1, "dry_run": "maybe"}, "dry_run"),
    ],
)
def test_bad_orders_are_422_naming_the_field_and_queue_nothing(api, funded_group, order, field):
    before = api.get(f"/api/v1/groups/{funded_group}/jobs").json()
    response = api.post(f"/api/v1/groups/{funded_group}/transactions", json=order)
    assert response.status_code == 422, response.text
    assert field in response.json()["errors"]["json"]
    assert api.get(f"/api/v1/groups/{funded_group}/jobs").json() == before


def test_idempotency_key_returns_the_first_job(api, funded_group):
    order = {
        "action": "buy",
        "symbols": ["AAPL"],
        "quantity": 1,
        "dry_run": False,
        "accounts": ["a1"],
    }
    headers = {"Idempotency-Key": "order-2026-11-23-001"}
    first = api.post(f"/api/v1/groups/{funded_group}/transactions", json=order, headers=headers)
    second = api.post(f"/api/v1/groups/{funded_group}/transactions", json=order, headers=headers)
    assert first.status_code == second.status_code == 202
    assert first.json()["job_id"] == second.json()["job_id"]
    api.wait_job(first.json()["job_id"])
    positions = {
        p["account"]: p for p in api.get(f"/api/v1/groups/{funded_group}/positions").json()
    }
    assert positions["a1"]["positions"] == [
        {"symbol": "AAPL", "quantity": "1", "price": "190.00", "value": "190.00"}
    ]


def test_order_in_group_without_active_accounts_fails_with_reason(api):
    group = api.create_group()
    job = api.order(group, action="buy", symbols=["AAPL"], quantity=1)
    assert job["state"] == "failed"
    assert "no active accounts" in job["error"]


def test_jobs_of_one_group_run_in_submission_order(api, funded_group):
    ids = []
    for quantity in range(1, 9):
        response = api.post(
            f"/api/v1/groups/{funded_group}/transactions",
            json={"action": "buy", "symbols": ["AAPL"], "quantity": quantity, "accounts": ["a1"]},
        )
        ids.append(response.json()["job_id"])
    jobs = [api.wait_job(job_id) for job_id in ids]
    for earlier, later in itertools.pairwise(jobs):
        assert earlier["finished_at"] <= later["started_at"], (earlier, later)


def test_group_jobs_listing_is_paginated_newest_first(api, funded_group):
    for _ in range(3):
        api.order(funded_group, action="buy", symbols=["AAPL"], quantity=1)
    response = api.get(f"/api/v1/groups/{funded_group}/jobs", params={"page": 1, "page_size": 2})
    assert response.status_code == 200
    listed = response.json()
    assert len(listed) == 2
    assert listed[0]["created_at"] >= listed[1]["created_at"]
    import json

    pagination = json.loads(response.headers["X-Pagination"])
    assert pagination["total"] == 5  # two activations and three orders
    assert pagination["total_pages"] == 3


def test_job_missing_is_404(api):
    assert api.get("/api/v1/jobs/0123456789abcdef").status_code == 404


def test_quote_get_put_and_validation(api):
    assert api.put("/api/v1/market-data/qqq", json={"price": "401.25"}).status_code == 200
    quote = api.get("/api/v1/market-data/QQQ").json()
    assert quote["symbol"] == "QQQ" and quote["price"] == "401.25"
    for bad in ("-1", "0", "NaN", "abc", None):
        response = api.put("/api/v1/market-data/QQQ", json={"price": bad})
        assert response.status_code == 422
        assert "price" in response.json()["errors"]["json"]
    assert api.get("/api/v1/market-data/QQQ").json()["price"] == "401.25"
    assert api.get("/api/v1/market-data/NEVERSET").status_code == 404
    assert api.put("/api/v1/market-data/bad symbol", json={"price": "1"}).status_code == 422


def test_retry_reruns_only_what_did_not_succeed_and_only_once(api):
    group = api.create_group()
    api.set_quote("RTY", "100")
    api.add_paper_account(group, "rich", cash="1000")
    api.add_paper_account(group, "poor", cash="50")
    job = api.order(group, action="buy", symbols=["RTY"], quantity=1, dry_run=False)
    assert job["state"] == "partial"

    retry = api.post(f"/api/v1/jobs/{job['id']}/retry", json={"statuses": ["rejected"]})
    assert retry.status_code == 202, retry.text
    (accepted,) = retry.json()["jobs"]
    again = api.wait_job(accepted["job_id"])
    assert again["order"]["accounts"] == ["poor"]
    assert [(r["account"], r["status"]) for r in again["results"]] == [("poor", "rejected")]

    twice = api.post(f"/api/v1/jobs/{job['id']}/retry", json={"statuses": ["rejected"]})
    assert twice.status_code == 409 and "retried already" in twice.json()["message"]
    unchecked = api.post(f"/api/v1/jobs/{again['id']}/retry", json={"statuses": ["unknown"]})
    assert unchecked.status_code == 422
    assert "checked_brokerage" in unchecked.json()["errors"]["json"]
    nothing = api.post(f"/api/v1/jobs/{again['id']}/retry", json={})
    assert nothing.status_code == 409 and "no failed results" in nothing.json()["message"]
