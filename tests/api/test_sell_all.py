"""Sell everything: each account sells what it holds of each symbol; one holding none is
skipped (neither success nor failure). Paper reads its ledger; AutoRSA brokerages read
their holdings first, in the same job, and sell that amount per account."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from brokers.autorsa.state import state_dir

pytestmark = pytest.mark.integration


def _statuses(job: dict) -> dict[tuple[str, str], tuple[str, str | None]]:
    return {(r["account"], r["symbol"]): (r["status"], r["quantity"]) for r in job["results"]}


def test_sell_all_on_paper_sells_what_each_account_holds(api):
    group = api.create_group()
    api.set_quote("AAPL", "10")
    for name in ("p1", "p2", "p3"):
        api.add_paper_account(group, name, cash="1000")
    buy = {"action": "buy", "symbols": ["AAPL"], "dry_run": False}
    assert api.order(group, **buy, quantity=2, accounts=["p1"])["state"] == "succeeded"
    assert api.order(group, **buy, quantity="0.5", accounts=["p2"])["state"] == "succeeded"

    dry = api.order(group, action="sell", symbols=["AAPL"], quantity="all")
    assert dry["order"]["quantity"] == "all"
    assert _statuses(dry) == {
        ("p1", "AAPL"): ("dry_run", "2"),
        ("p2", "AAPL"): ("dry_run", "0.5"),
        ("p3", "AAPL"): ("skipped", "0"),
    }
    sold = api.order(group, action="sell", symbols=["AAPL"], quantity="all", dry_run=False)
    assert sold["state"] == "succeeded", sold
    assert _statuses(sold) == {
        ("p1", "AAPL"): ("filled", "2"),
        ("p2", "AAPL"): ("filled", "0.5"),
        ("p3", "AAPL"): ("skipped", "0"),
    }
    assert "nothing to sell" in next(r["detail"] for r in sold["results"] if r["account"] == "p3")
    positions = api.get(f"/api/v1/groups/{group}/positions").json()
    assert all(not p["positions"] for p in positions)
    again = api.order(group, action="sell", symbols=["AAPL"], quantity="all", dry_run=False)
    assert again["state"] == "succeeded"  # every account skipped: nothing went wrong
    assert {s for s, _ in _statuses(again).values()} == {"skipped"}


def test_sell_all_is_for_sells_only(api):
    group = api.create_group()
    response = api.post(
        f"/api/v1/groups/{group}/transactions",
        json={"action": "buy", "symbols": ["AAPL"], "quantity": "all"},
    )
    assert response.status_code == 422
    assert "sells only" in str(response.json()["errors"]["json"]["quantity"])


def test_sell_all_on_autorsa_reads_holdings_then_sells_each_amount(api, redis_client):
    from core.accounts import AccountRegistry
    from core.models import Account, AccountState
    from core.settings import get_settings
    from core.vault import Vault

    group = api.create_group()
    Vault(redis_client, get_settings().secret_keys).store(
        group, "rh", {"username": "rh@x.io", "password": "ok-pw"}
    )
    AccountRegistry(redis_client).save(
        Account(group=group, name="rh", brokerage="robinhood", state=AccountState.ACTIVE)
    )
    # The stand-in reports AAPL 2.0 and MSFT 0.5 held, no TSLA.
    job = api.order(
        group, action="sell", symbols=["AAPL", "MSFT", "TSLA"], quantity="all", dry_run=False
    )
    assert job["state"] == "succeeded", job["results"]
    assert _statuses(job) == {
        ("rh", "AAPL"): ("filled", "2"),
        ("rh", "MSFT"): ("filled", "0.5"),
        ("rh", "TSLA"): ("skipped", "0"),
    }
    log = state_dir(Path(os.environ["TRADEFLEET_DATA_DIR"]), group, "rh") / "orders.log"
    placed = log.read_text().splitlines()
    assert len(placed) == 2 and all(" sell " in line for line in placed), placed
