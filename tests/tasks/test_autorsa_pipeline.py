"""Real-brokerage accounts end to end: API -> group queue -> brokerage queue -> AutoRSA.

AutoRSA itself cannot reach a brokerage from here, so AUTORSA_BIN points at the
stand-in ``tests/fakes/auto_rsa_bot``, which prints AutoRSA 2.2.0's documented
output. The scenario of each account comes from its credentials (see the stand-in).
"""

import pytest

pytestmark = pytest.mark.integration


def _add(api, group, name, brokerage, credentials):
    response = api.post(
        f"/api/v1/groups/{group}/accounts",
        json={"name": name, "brokerage": brokerage, "credentials": credentials},
    )
    assert response.status_code == 202, response.text
    return api.wait_job(response.json()["job_id"], timeout=60)


@pytest.fixture(scope="module")
def mixed_group(api):
    """A group with a paper account and two accounts on real brokerages."""
    group = api.create_group()
    api.set_quote("AAPL", "100")
    api.set_quote("MSFT", "300")
    api.add_paper_account(group, "paper1", cash="100000")
    assert (
        _add(api, group, "rh1", "robinhood", {"username": "me@x.io", "password": "ok-pw1"})["state"]
        == "succeeded"
    )
    assert _add(api, group, "tr1", "tradier", {"access_token": "ok-token1"})["state"] == "succeeded"
    return group


def _by_account(job):
    return {(r["account"], r["symbol"]): r for r in job["results"]}


def test_activation_records_masked_numbers(api, mixed_group):
    account = api.get(f"/api/v1/groups/{mixed_group}/accounts/rh1").json()
    assert account["state"] == "active"
    numbers = account["details"]["masked_numbers"]
    assert numbers and all(n.startswith("xxxx") for n in numbers)


def test_mixed_group_buy_gives_one_result_per_account_and_symbol(api, mixed_group):
    job = api.order(mixed_group, action="buy", symbols=["AAPL", "MSFT"], quantity=1, dry_run=False)
    results = _by_account(job)
    assert set(results) == {
        (account, symbol) for account in ("paper1", "rh1", "tr1") for symbol in ("AAPL", "MSFT")
    }
    assert {r["status"] for r in results.values()} == {"filled"}, results
    assert results[("rh1", "AAPL")]["brokerage"] == "robinhood"
    assert job["state"] == "succeeded"


def test_mixed_group_sell_and_dry_run(api, mixed_group):
    sell = api.order(mixed_group, action="sell", symbols=["AAPL"], quantity=1, dry_run=False)
    assert {r["status"] for r in sell["results"]} == {"filled"}, sell["results"]
    dry = api.order(mixed_group, action="buy", symbols=["AAPL"], quantity=1)
    assert {r["status"] for r in dry["results"]} == {"dry_run"}, dry["results"]
    assert len(dry["results"]) == 3


def test_mixed_group_holdings_refresh_shows_every_account(api, mixed_group):
    response = api.post(f"/api/v1/groups/{mixed_group}/holdings/refresh")
    assert response.status_code == 202
    job = api.wait_job(response.json()["job_id"], timeout=60)
    assert job["state"] == "succeeded", job
    positions = {p["account"]: p for p in api.get(f"/api/v1/groups/{mixed_group}/positions").json()}
    assert set(positions) == {"paper1", "rh1", "tr1"}
    assert positions["rh1"]["positions"], positions["rh1"]
    assert positions["rh1"]["as_of"]


def test_rejection_and_login_failure_land_on_the_right_account(api):
    group = api.create_group()
    for name, password in (("good", "ok-1"), ("refused", "reject-2")):
        assert (
            _add(api, group, name, "robinhood", {"username": f"{name}@x.io", "password": password})[
                "state"
            ]
            == "succeeded"
        )
    job = api.order(group, action="buy", symbols=["AAPL"], quantity=1, dry_run=False)
    results = _by_account(job)
    assert results[("good", "AAPL")]["status"] == "filled"
    assert results[("refused", "AAPL")]["status"] == "rejected"
    assert job["state"] == "partial"

    failed = _add(
        api, group, "locked", "robinhood", {"username": "l@x.io", "password": "badlogin-3"}
    )
    assert failed["state"] == "failed"
    account = api.get(f"/api/v1/groups/{group}/accounts/locked").json()
    assert account["state"] == "failed"
    assert account["last_error"]


def test_hung_autorsa_is_killed_at_its_limit_and_reported_unknown(api, redis_client):
    """AUTORSA_TIMEOUT is 5 s in the tests: a hung run must not block the worker or the group."""
    group = api.create_group()
    assert _add(api, group, "slowpoke", "tradier", {"access_token": "ok-x"})["state"] == "succeeded"
    # Swap the credentials to the hanging scenario by re-adding after deletion.
    assert api.delete(f"/api/v1/groups/{group}/accounts/slowpoke").status_code == 204
    job = _add(api, group, "slowpoke", "tradier", {"access_token": "hang-x"})
    assert job["state"] == "failed"  # activation (a holdings run) that hangs is a failure
    assert "timed out" in job["results"][0]["detail"]

    # Force the account active (as if the brokerage started hanging after activation).
    from core.accounts import AccountRegistry
    from core.models import AccountState

    AccountRegistry(redis_client).set_state(group, "slowpoke", AccountState.ACTIVE)
    order = api.order(group, action="buy", symbols=["AAPL"], quantity=1, dry_run=False)
    assert order["results"][0]["status"] == "unknown"
    assert "check the brokerage" in order["results"][0]["detail"]
    assert order["state"] == "unknown"
    # The group goes on: the next job runs.
    after = api.order(group, action="buy", symbols=["AAPL"], quantity=1, brokerages=["paper"])
    assert after["state"] == "failed" and "no active accounts" in after["error"]


def test_beat_holdings_refresh_queues_a_job_for_groups_with_real_accounts(api, mixed_group):
    from tasks.maintenance import refresh_holdings

    paper_only = api.create_group()
    api.add_paper_account(paper_only, "p")
    queued = refresh_holdings()  # what beat runs every HOLDINGS_REFRESH_SECONDS
    jobs = {job_id: api.wait_job(job_id, timeout=60) for job_id in queued}
    groups = {job["group"] for job in jobs.values()}
    assert mixed_group in groups
    assert paper_only not in groups
    mine = next(job for job in jobs.values() if job["group"] == mixed_group)
    assert mine["kind"] == "holdings" and mine["state"] == "succeeded", mine
