"""Who holds what across the fleet: paper read live, AutoRSA from its last holdings read."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration


def test_holdings_across_groups_mixing_paper_and_autorsa(api):
    first, second = api.create_group(), api.create_group()
    api.set_quote("AAPL", "10")
    api.add_paper_account(first, "p1", cash="1000")
    api.add_paper_account(second, "p2", cash="1000")
    api.add_paper_account(second, "p3", cash="1000")
    # A real-brokerage account: activation reads its holdings (the stand-in holds AAPL 2.0).
    response = api.post(
        f"/api/v1/groups/{second}/accounts",
        json={
            "name": "rh",
            "brokerage": "robinhood",
            "credentials": {"username": "rh@x.io", "password": "ok-pw"},
        },
    )
    assert api.wait_job(response.json()["job_id"], timeout=60)["state"] == "succeeded"
    holdings_job = api.post(f"/api/v1/groups/{second}/holdings/refresh").json()["job_id"]
    assert api.wait_job(holdings_job, timeout=60)["state"] == "succeeded"
    buy = {"action": "buy", "symbols": ["AAPL"], "dry_run": False}
    assert api.order(first, **buy, quantity=3)["state"] == "succeeded"
    assert api.order(second, **buy, quantity=1, accounts=["p2"])["state"] == "succeeded"

    for scope in (first, second):
        assert api.get("/api/v1/holdings", params={"group": scope}).status_code == 200
    fleet = api.get("/api/v1/holdings", params={"symbol": "aapl"}).json()
    [aapl] = [h for h in fleet if h["symbol"] == "AAPL"]
    mine = [h for h in aapl["holders"] if h["group"] in (first, second)]
    assert {(h["group"], h["account"], h["quantity"], h["source"]) for h in mine} == {
        (first, "p1", "3", "ledger"),
        (second, "p2", "1", "ledger"),
        (second, "rh", "2.0", "last_read"),
    }
    assert all(h["as_of"] for h in mine)
    idle = {(a["group"], a["account"]) for a in aapl["not_holding"]}
    assert (second, "p3") in idle and (first, "p1") not in idle

    only_second = api.get("/api/v1/holdings", params={"group": second}).json()
    by_symbol = {h["symbol"]: h for h in only_second}
    assert by_symbol["AAPL"]["quantity"] == "3"  # p2's 1 and rh's 2.0
    assert by_symbol["MSFT"]["holders"][0]["account"] == "rh"  # the stand-in's 0.5 MSFT
    positions = api.get(f"/api/v1/groups/{second}/positions", params={"symbol": "MSFT"}).json()
    assert {p["account"]: [x["symbol"] for x in p["positions"]] for p in positions} == {
        "p2": [],
        "p3": [],
        "rh": ["MSFT"],
    }
    assert api.get("/api/v1/holdings", params={"group": "t-nope"}).status_code == 404
    assert api.get("/api/v1/holdings", params={"symbol": "\u017fpy"}).status_code == 422
