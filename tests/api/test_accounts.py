"""Accounts: activation jobs, credential validation, secrecy, deletion."""

import pytest

pytestmark = pytest.mark.integration


def test_paper_account_activation_makes_it_active(api):
    group = api.create_group()
    job = api.add_paper_account(group, "alice", cash="2500")
    assert job["kind"] == "activate"
    assert job["results"][0]["status"] == "ok"
    assert "2500.00" in job["results"][0]["detail"]
    account = api.get(f"/api/v1/groups/{group}/accounts/alice").json()
    assert account["state"] == "active"
    assert account["brokerage"] == "paper"
    assert api.get(f"/api/v1/groups/{group}").json()["accounts"] == ["alice"]


def test_account_views_never_include_credentials(api):
    group = api.create_group()
    secret = "s3cr3t-Cash-777"
    response = api.post(
        f"/api/v1/groups/{group}/accounts",
        json={"name": "bob", "brokerage": "tradier", "credentials": {"access_token": secret}},
    )
    assert response.status_code == 202
    assert secret not in response.text
    job_id = response.json()["job_id"]
    api.wait_job(job_id)
    for path in (
        f"/api/v1/groups/{group}/accounts",
        f"/api/v1/groups/{group}/accounts/bob",
        f"/api/v1/jobs/{job_id}",
        f"/api/v1/groups/{group}/jobs",
        f"/api/v1/groups/{group}",
    ):
        body = api.get(path).text
        assert secret not in body
        assert "credentials" not in body


def test_credentials_are_encrypted_at_rest(api, redis_client):
    import json
    import os

    from cryptography.fernet import Fernet

    from core import keys

    group = api.create_group()
    token = "plain-token-for-rest-check"
    response = api.post(
        f"/api/v1/groups/{group}/accounts",
        json={"name": "carol", "brokerage": "tradier", "credentials": {"access_token": token}},
    )
    api.wait_job(response.json()["job_id"])
    stored = redis_client.get(keys.credentials(group, "carol"))
    assert token not in stored
    fernet = Fernet(os.environ["TRADEFLEET_SECRET_KEY"].encode())
    assert json.loads(fernet.decrypt(stored.encode())) == {"access_token": token}
    for key in redis_client.scan_iter(match="tf:*"):
        if redis_client.type(key) == "string":
            assert token not in (redis_client.get(key) or "")
        elif redis_client.type(key) == "hash":
            assert token not in str(redis_client.hgetall(key))


@pytest.mark.parametrize(
    ("brokerage", "credentials", "field"),
    [
        ("chase", {"username": "u", "password": "p", "phone_last4": "NA"}, "phone_last4"),
        ("webull", {"username": "u", "password": "p", "did": "d"}, "trading_pin"),
        ("robinhood", {"username": "u", "password": "a:b"}, "password"),
        ("tradier", {"access_token": "x", "extra": "y"}, "extra"),
        ("paper", {"starting_cash": "-5"}, "starting_cash"),
    ],
)
def test_bad_credentials_are_422_naming_the_field_and_change_nothing(
    api, brokerage, credentials, field
):
    group = api.create_group()
    response = api.post(
        f"/api/v1/groups/{group}/accounts",
        json={"name": "dave", "brokerage": brokerage, "credentials": credentials},
    )
    assert response.status_code == 422, response.text
    assert field in response.json()["errors"]["json"]["credentials"]
    for value in credentials.values():
        if len(value) > 2:
            assert value not in response.text
    assert api.get(f"/api/v1/groups/{group}/accounts").json() == []


def test_unknown_brokerage_is_422(api):
    group = api.create_group()
    response = api.post(
        f"/api/v1/groups/{group}/accounts",
        json={"name": "eve", "brokerage": "etrade", "credentials": {}},
    )
    assert response.status_code == 422
    assert "brokerage" in response.json()["errors"]["json"]


def test_account_in_missing_group_is_404(api):
    response = api.post(
        "/api/v1/groups/t-nope/accounts",
        json={"name": "eve", "brokerage": "paper", "credentials": {}},
    )
    assert response.status_code == 404


def test_active_account_cannot_be_added_twice(api):
    group = api.create_group()
    api.add_paper_account(group, "frank")
    response = api.post(
        f"/api/v1/groups/{group}/accounts",
        json={"name": "frank", "brokerage": "paper", "credentials": {}},
    )
    assert response.status_code == 409


def test_deactivate_then_reactivate(api):
    group = api.create_group()
    api.add_paper_account(group, "gina")
    response = api.post(f"/api/v1/groups/{group}/accounts/gina/deactivate")
    assert response.status_code == 202
    job = api.wait_job(response.json()["job_id"])
    assert job["state"] == "succeeded"
    assert api.get(f"/api/v1/groups/{group}/accounts/gina").json()["state"] == "inactive"
    api.add_paper_account(group, "gina")
    assert api.get(f"/api/v1/groups/{group}/accounts/gina").json()["state"] == "active"


def test_delete_account_wipes_credentials(api, redis_client):
    from core import keys

    group = api.create_group()
    api.add_paper_account(group, "hank")
    assert redis_client.exists(keys.credentials(group, "hank"))
    assert api.delete(f"/api/v1/groups/{group}/accounts/hank").status_code == 204
    assert not redis_client.exists(keys.credentials(group, "hank"))
    assert api.get(f"/api/v1/groups/{group}/accounts/hank").status_code == 404
