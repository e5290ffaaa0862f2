"""The older Trading-Automation-Main routes, mapped onto the same jobs."""

import uuid

import pytest

pytestmark = pytest.mark.integration


def test_compat_flow_create_activate_transaction_deactivate(api):
    group = f"t-{uuid.uuid4().hex[:8]}"
    created = api.post("/createGroup", params={"group_name": group})
    assert created.status_code == 200
    assert created.json() == "Group created"
    assert api.post("/createGroup", params={"group_name": group}).status_code == 400

    api.add_paper_account(group, "paper1")
    api.set_quote("AAPL", "100")
    order = api.post("/transaction", params={"group_name": group})
    assert order.status_code == 202
    job = api.wait_job(order.json()["job_id"])
    assert job["order"]["dry_run"] is True  # unlike the old API, a dry run unless asked
    assert job["results"][0]["symbol"] == "AAPL"

    live = api.post(
        "/transaction",
        params={
            "group_name": group,
            "action": "buy",
            "amount": "2",
            "ticker": "aapl",
            "dry_run": "false",
        },
    )
    assert live.status_code == 202, live.text
    assert api.wait_job(live.json()["job_id"])["results"][0]["status"] == "filled"

    deactivated = api.post("/deactivate", params={"group_name": group, "account_name": "paper1"})
    assert deactivated.status_code == 202
    assert deactivated.json()["status"] is True
    api.wait_job(deactivated.json()["job_id"])
    assert api.get(f"/api/v1/groups/{group}/accounts/paper1").json()["state"] == "inactive"


def test_compat_activate_maps_old_credentials(api, redis_client):
    from core.settings import get_settings
    from core.vault import Vault

    group = api.create_group()
    response = api.post(
        "/activate",
        json={
            "group_name": group,
            "account_name": "rh1",
            "brokerage": "Robinhood",
            "cred": {"USERNAME": "me@example.com", "PASSWORD": "pw-123", "TOTP_OR_NA": "NA"},
        },
    )
    assert response.status_code == 202, response.text
    assert response.json()["accountId"] == "rh1"
    assert "pw-123" not in response.text
    stored = Vault(redis_client, get_settings().secret_keys).load(group, "rh1")
    assert stored == {"username": "me@example.com", "password": "pw-123"}


def test_compat_activate_bad_credentials_name_the_fields(api):
    group = api.create_group()
    response = api.post(
        "/activate",
        json={
            "group_name": group,
            "account_name": "c1",
            "brokerage": "Chase",
            "cred": {"USERNAME": "u", "PASSWORD": "p", "TOTP_OR_NA": "NA"},
        },
    )
    assert response.status_code == 422
    assert "phone_last4" in response.json()["errors"]["json"]["credentials"]
    assert "phone_last4" in response.json()["message"]


def test_compat_unknown_brokerage_and_missing_fields(api):
    group = api.create_group()
    response = api.post(
        "/activate",
        json={"group_name": group, "account_name": "x", "brokerage": "ETrade", "cred": {}},
    )
    assert response.status_code == 422
    assert api.post("/deactivate", params={"group_name": group}).status_code == 422
