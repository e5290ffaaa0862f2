"""What a newcomer trips over in the first hour (issue 14): one answer per surprise."""

from __future__ import annotations

import re

import pytest
import requests

from tests.conftest import unique

pytestmark = pytest.mark.integration


def test_docs_page_loads_swagger_ui_from_the_app_not_a_cdn(live_server):
    page = requests.get(f"{live_server.url}/docs", timeout=10)
    assert page.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert assets, page.text
    for asset in assets:
        assert asset.startswith("/docs/assets/"), f"{asset} is not served by the app"
        served = requests.get(f"{live_server.url}{asset}", timeout=10)
        assert served.status_code == 200, asset
        assert len(served.content) > 1000, asset
    missing = requests.get(f"{live_server.url}/docs/assets/../../setup.cfg", timeout=10)
    assert missing.status_code == 404


def test_brokerage_names_in_any_case_are_answered_canonically(api):
    group = api.create_group()
    response = api.post(
        f"/api/v1/groups/{group}/accounts",
        json={"name": "alice", "brokerage": "Paper", "credentials": {}},
    )
    assert response.status_code == 202, response.text
    assert api.wait_job(response.json()["job_id"])["state"] == "succeeded"
    assert api.get(f"/api/v1/groups/{group}/accounts/alice").json()["brokerage"] == "paper"

    api.set_quote("AAPL", "190.00")
    job = api.order(group, action="buy", symbols=["AAPL"], quantity=1, brokerages=["PAPER"])
    assert job["order"]["brokerages"] == ["paper"]
    assert job["results"][0]["status"] == "dry_run"


@pytest.mark.parametrize("price", ["-5", -5, "-0.01", 0])
def test_a_price_at_or_below_zero_says_it_must_be_above_zero(api, price):
    response = api.put("/api/v1/market-data/AAPL", json={"price": price})
    assert response.status_code == 422
    (message,) = response.json()["errors"]["json"]["price"]
    assert message.startswith("must be above 0"), message


def test_an_order_naming_an_account_not_in_the_group_is_422_naming_it(api, redis_client):
    group = api.create_group()
    api.add_paper_account(group, "alice")
    before = api.get(f"/api/v1/groups/{group}/jobs").json()
    response = api.post(
        f"/api/v1/groups/{group}/transactions",
        json={"action": "buy", "symbols": ["AAPL"], "quantity": 1, "accounts": ["alice", "bob"]},
    )
    assert response.status_code == 422, response.text
    body = response.json()
    assert "bob" in body["message"] and "alice" not in body["message"]
    assert body["errors"]["json"]["accounts"] == [f"'bob' is not an account of group '{group}'"]
    assert api.get(f"/api/v1/groups/{group}/jobs").json() == before  # nothing written


def test_deactivating_an_inactive_account_answers_it_as_it_is_without_a_job(api):
    group = api.create_group()
    api.add_paper_account(group, "alice")
    first = api.post(f"/api/v1/groups/{group}/accounts/alice/deactivate")
    assert first.status_code == 202
    assert api.wait_job(first.json()["job_id"])["state"] == "succeeded"
    jobs = api.get(f"/api/v1/groups/{group}/jobs").json()

    again = api.post(f"/api/v1/groups/{group}/accounts/alice/deactivate")

    assert again.status_code == 200, again.text
    assert again.json()["name"] == "alice"
    assert again.json()["state"] == "inactive"
    assert api.get(f"/api/v1/groups/{group}/jobs").json() == jobs
    spec = api.get("/openapi.json").json()
    documented = spec["paths"]["/api/v1/groups/{group}/accounts/{name}/deactivate"]["post"]
    assert {"200", "202"} <= set(documented["responses"])


def test_compat_deactivate_of_an_inactive_account_queues_nothing(api):
    group = api.create_group()
    api.add_paper_account(group, "alice")
    first = api.post(f"/api/v1/groups/{group}/accounts/alice/deactivate")
    api.wait_job(first.json()["job_id"])
    again = api.post("/deactivate", params={"group_name": group, "account_name": "alice"})
    assert again.status_code == 200, again.text
    assert again.json() == {"status": True, "message": "the account is inactive already"}


def test_prices_have_one_format_in_every_answer(api):
    group = api.create_group()
    api.add_paper_account(group, "alice")
    put = api.put("/api/v1/market-data/MSFT", json={"price": "400"})
    assert put.json()["price"] == "400.00"
    assert api.get("/api/v1/market-data/MSFT").json()["price"] == "400.00"
    assert api.put("/api/v1/market-data/MSFT", json={"price": 400.5}).json()["price"] == "400.50"

    job = api.order(
        group,
        action="buy",
        symbols=["MSFT"],
        quantity=1,
        order_type="limit",
        limit_price="401",
        dry_run=False,
    )
    assert job["order"]["limit_price"] == "401.00"
    assert job["results"][0]["price"] == "400.50"
    assert job["results"][0]["detail"] == "buy 1 MSFT filled at 400.50"
    (position,) = api.get(f"/api/v1/groups/{group}/positions").json()[0]["positions"]
    assert position["price"] == "400.50"


def test_retrying_an_activation_says_an_activate_job(api):
    group = api.create_group()
    activation = api.add_paper_account(group, unique("a"))
    response = api.post(f"/api/v1/jobs/{activation['id']}/retry", json={"statuses": ["failed"]})
    assert response.status_code == 409
    assert f"job {activation['id']} is an activate job" in response.json()["message"]
