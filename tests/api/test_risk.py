"""Risk rules per group: set through the API, checked at submission (422, nothing written)
and again by the worker just before a leg places anything (a rule changed in between wins).
Every refusal names the rule, its limit and the value, and is kept in the audit list."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from core.models import OrderAction, OrderRequest
from strategies.risk import RiskRules, _check_rules
from tests.conftest import wait_for

pytestmark = pytest.mark.integration

BUY = {"action": "buy", "symbols": ["AAPL"], "quantity": 1, "dry_run": False}


def _set_rules(api, group: str, **rules) -> dict:
    response = api.put(f"/api/v1/groups/{group}/risk", json=rules)
    assert response.status_code == 200, response.text
    return response.json()


def _refused(api, group: str, order: dict, rule: str) -> dict:
    jobs_before = api.get(f"/api/v1/groups/{group}/jobs").headers["X-Pagination"]
    response = api.post(f"/api/v1/groups/{group}/transactions", json=order)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["errors"]["json"]["risk"]["rule"] == rule, body
    assert rule in body["message"]
    # Nothing was written.
    assert api.get(f"/api/v1/groups/{group}/jobs").headers["X-Pagination"] == jobs_before
    return body["errors"]["json"]["risk"]


@pytest.fixture
def group(api) -> str:
    name = api.create_group()
    api.set_quote("AAPL", "10")
    api.add_paper_account(name, "p1", cash="1000")
    return name


def test_risk_rules_round_trip_and_bad_input_changes_nothing(api, group):
    assert api.get(f"/api/v1/groups/{group}/risk").json()["kill_switch"] is False
    saved = _set_rules(api, group, max_quantity=5, blocked_symbols=["tsla"])
    assert saved["max_quantity"] == "5" and saved["blocked_symbols"] == ["TSLA"]
    for bad, field in (
        ({"max_quantity": -1}, "max_quantity"),
        ({"max_notional": "0"}, "max_notional"),
        ({"max_orders_per_day": 0}, "max_orders_per_day"),
        ({"trading_hours": "NOWHERE"}, "trading_hours"),
        ({"kill_switch": "maybe"}, "kill_switch"),
        ({"surprise": 1}, "surprise"),
    ):
        response = api.put(f"/api/v1/groups/{group}/risk", json=bad)
        assert response.status_code == 422, (bad, response.text)
        assert field in str(response.json()["errors"]), response.json()
    assert api.get(f"/api/v1/groups/{group}/risk").json() == saved
    assert api.get("/api/v1/groups/t-nope/risk").status_code == 404


def test_submission_refusals_name_rule_limit_and_value(api, group):
    _set_rules(api, group, allowed_symbols=["AAPL", "MSFT"], blocked_symbols=["MSFT"])
    assert _refused(api, group, {**BUY, "symbols": ["GOOG"]}, "allowed_symbols")["value"] == "GOOG"
    assert _refused(api, group, {**BUY, "symbols": ["MSFT"]}, "blocked_symbols")["value"] == "MSFT"
    _set_rules(api, group, max_quantity=2, max_notional=25)
    assert _refused(api, group, {**BUY, "quantity": 3}, "max_quantity") == {
        "rule": "max_quantity",
        "limit": "2",
        "value": "3",
    }
    _set_rules(api, group, max_notional=25)
    assert _refused(api, group, {**BUY, "quantity": 3}, "max_notional")["value"] == "30.00"
    _set_rules(api, group, kill_switch=True)
    _refused(api, group, {**BUY, "dry_run": True}, "kill_switch")

    events = api.get(f"/api/v1/groups/{group}/risk/events").json()
    assert [e["rule"] for e in events] == [
        "kill_switch",
        "max_notional",
        "max_quantity",
        "blocked_symbols",
        "allowed_symbols",
    ]
    assert {e["where"] for e in events} == {"api"}
    _set_rules(api, group)  # no rules: the order goes through
    assert api.order(group, **BUY)["state"] == "succeeded"


def test_max_orders_per_day_counts_real_orders_only(api, group):
    _set_rules(api, group, max_orders_per_day=2)
    for _ in range(3):
        assert api.order(group, **{**BUY, "dry_run": True})["state"] == "succeeded"
    assert api.order(group, **BUY)["state"] == "succeeded"
    assert api.order(group, **BUY)["state"] == "succeeded"
    assert _refused(api, group, BUY, "max_orders_per_day") == {
        "rule": "max_orders_per_day",
        "limit": "2",
        "value": "2",
    }


def test_max_daily_loss_on_paper(api, group):
    _set_rules(api, group, max_daily_loss=20)
    assert api.order(group, **{**BUY, "quantity": 10})["state"] == "succeeded"  # 1000 at open
    api.set_quote("AAPL", "7.5")  # 900 cash + 10 x 7.5 = 975: 25 down
    try:
        assert _refused(api, group, BUY, "max_daily_loss")["value"] == "25.00"
    finally:
        api.set_quote("AAPL", "10")


def test_kill_switch_set_while_an_order_waits_wins_at_the_worker(api, slow_worker):
    group = api.create_group("slow")
    api.set_quote("AAPL", "10")
    for name in ("s1", "s2"):
        api.add_paper_account(group, name, cash="1000")
    path = f"/api/v1/groups/{group}/transactions"
    first = api.post(path, json=BUY).json()["job_id"]  # 2 slow orders: about 1.2 s
    waiting = api.post(path, json=BUY).json()["job_id"]  # accepted: no rule yet
    wait_for(lambda: api.get(f"/api/v1/jobs/{first}").json()["legs"] == {"paper": "running"})
    _set_rules(api, group, kill_switch=True)  # while the first one places its orders

    assert api.wait_job(first)["state"] == "succeeded"
    refused = api.wait_job(waiting)
    assert refused["state"] == "failed", refused
    assert {r["status"] for r in refused["results"]} == {"rejected"}
    assert all("kill_switch" in r["detail"] for r in refused["results"])
    events = wait_for(lambda: api.get(f"/api/v1/groups/{group}/risk/events").json())
    assert (events[0]["where"], events[0]["job_id"]) == ("worker", waiting)


@pytest.mark.parametrize(
    ("moment", "open_"),
    [
        (datetime(2026, 12, 1, 15, 0, tzinfo=UTC), True),  # a Tuesday, 10:00 in New York
        (datetime(2026, 12, 1, 22, 0, tzinfo=UTC), False),  # after the close
        (datetime(2026, 12, 5, 15, 0, tzinfo=UTC), False),  # a Saturday
        (datetime(2026, 12, 25, 15, 0, tzinfo=UTC), False),  # Christmas
    ],
)
def test_trading_hours_follow_the_exchange_calendar(moment, open_):
    from core.errors import RiskRuleViolation

    order = OrderRequest(OrderAction.BUY, ("AAPL",), Decimal(1), dry_run=False)
    rules = RiskRules(trading_hours="XNYS")
    if open_:
        _check_rules(rules, order, quotes=None, now=moment)
    else:
        with pytest.raises(RiskRuleViolation, match="trading_hours"):
            _check_rules(rules, order, quotes=None, now=moment)


def _a_calendar_closed_now() -> str:
    """An exchange whose market is closed now and for the next minutes (one always is)."""
    from datetime import timedelta

    from core.calendars import is_open

    now = datetime.now(UTC)
    for name in ("XNYS", "XTKS", "XLON", "XHKG", "XASX"):
        if not any(is_open(name, now + timedelta(minutes=m)) for m in (0, 1, 2, 3)):
            return name
    raise AssertionError("every market is open now")


# A rule set after the order was accepted, and what makes it refuse the order at the worker.
LATE_RULES = {
    "allowed_symbols": lambda: {"allowed_symbols": ["MSFT"]},
    "blocked_symbols": lambda: {"blocked_symbols": ["WRISK"]},
    "max_quantity": lambda: {"max_quantity": 1},
    "max_notional": lambda: {"max_notional": 15},  # 2 x 10.00 = 20.00
    "trading_hours": lambda: {"trading_hours": _a_calendar_closed_now()},
}


@pytest.mark.parametrize("rule", [*LATE_RULES, "max_daily_loss"])
def test_each_rule_changed_while_an_order_waits_refuses_it_at_the_worker(api, slow_worker, rule):
    group = api.create_group("slow")
    api.set_quote("WRISK", "10")
    for name in ("s1", "s2"):
        api.add_paper_account(group, name, cash="1000")
    if rule == "max_daily_loss":  # the day's starting value is taken at the first check
        _set_rules(api, group, max_daily_loss=5)
    order = {"action": "buy", "symbols": ["WRISK"], "quantity": 2, "dry_run": False}
    path = f"/api/v1/groups/{group}/transactions"
    first = api.post(path, json=order).json()["job_id"]  # 2 slow orders: about 1.2 s
    waiting = api.post(path, json=order)
    assert waiting.status_code == 202, waiting.text  # nothing refuses it yet
    waiting = waiting.json()["job_id"]
    wait_for(lambda: api.get(f"/api/v1/jobs/{first}").json()["legs"] == {"paper": "running"})
    if rule == "max_daily_loss":
        api.set_quote("WRISK", "1")  # what the first job bought at 10 is worth 1: a loss
    else:
        _set_rules(api, group, **LATE_RULES[rule]())

    assert api.wait_job(first)["state"] == "succeeded"
    refused = api.wait_job(waiting)
    assert refused["state"] == "failed", refused
    assert {r["status"] for r in refused["results"]} == {"rejected"}
    assert all(f"risk rule {rule} " in r["detail"] for r in refused["results"]), refused
    events = wait_for(lambda: api.get(f"/api/v1/groups/{group}/risk/events").json())
    assert (events[0]["rule"], events[0]["where"], events[0]["job_id"]) == (rule, "worker", waiting)
    accounts = api.get(f"/api/v1/groups/{group}/positions", params={"symbol": "WRISK"}).json()
    held = [Decimal(p["quantity"]) for a in accounts for p in a["positions"]]
    assert held == [2, 2]  # the first job's: the refused one placed nothing


def test_trading_hours_refuse_an_order_at_the_api_while_the_market_is_closed(api, group):
    closed = _a_calendar_closed_now()
    _set_rules(api, group, trading_hours=closed)
    refusal = _refused(api, group, BUY, "trading_hours")
    assert refusal["limit"] == closed
    _set_rules(api, group, trading_hours="always")
    assert api.order(group, **BUY)["state"] == "succeeded"
