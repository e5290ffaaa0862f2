"""The Strategies page in headless Chromium: subscriptions, signals, risk rules and the kill
switch, backtests with their stats and equity chart, and runs compared side by side."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

from tests.browser.test_dashboard import order
from tests.factories import daily_signal

pytestmark = pytest.mark.integration

NO_RELOAD = "window.tradefleetNoReload = true"
STILL_LOADED = "return window.tradefleetNoReload === true"


@pytest.fixture(scope="module")
def goog_file(tmp_path_factory):
    """backtesting.py's GOOG daily bars (2004-2013) as the CSV a person would upload."""
    from backtesting.test import GOOG

    frame = GOOG.copy()
    frame.columns = [c.lower() for c in frame.columns]
    path = tmp_path_factory.mktemp("bars") / "goog.csv"
    frame.to_csv(path, index_label="time")
    return path


def open_strategies(page, group: str | None = None) -> None:
    page.go("Strategies")
    if group:
        page.choose("Group", group)


def test_subscribe_a_group_and_see_it_listed_then_delete_it(page, api_key, api):
    group = api.create_group()
    page.sign_in(api_key)
    open_strategies(page, group)
    page.text_appears("subscriptions-none", "This group has no strategy subscriptions")

    form = "subscription-form"
    page.choose("Strategy", "sma_cross", within=form)
    rule = page.by_id("sub-sma_cross-fast-rule").text
    assert rule == "bars in the fast average (a whole number from 2 to 500; default 10)"
    page.type("fast", "1", within=form)
    page.type("Symbols", "webs", within=form)
    page.button("Subscribe").click()
    # The 422 of the parameter is shown under its field, in words.
    page.text_appears("sub-sma_cross-fast-error", r"fast: must be between 2 and 500, got 1")
    page.text_appears("sub-error", "Not subscribed: see the fields above.")

    page.type("fast", "5", within=form)
    page.choose("Interval", "1d", within=form)
    page.button("Subscribe").click()
    page.text_appears("sub-done", rf"{group} follows sma_cross on WEBS \(1d\)")
    row = page.text_appears(
        "subscriptions-table", r"sma_cross fast 5, slow 20, long_only false WEBS 1d signals only"
    )
    (listed,) = api.get(f"/api/v1/groups/{group}/strategies").json()
    assert listed["params"] == {"fast": 5, "slow": 20, "long_only": False}, row
    page.screenshot("strategies-subscribed")

    page.click(f"Delete sma_cross {listed['id']}")
    page.text_appears("subscriptions-none", "This group has no strategy subscriptions")
    assert api.get(f"/api/v1/groups/{group}/strategies").json() == []


def test_recent_signals_are_listed_with_a_refusal_in_words(page, api_key, api, redis_client):
    from strategies.signals import SignalBook

    group = api.create_group()
    refused = {"rule": "kill_switch", "limit": "on", "value": "buy"}
    book = SignalBook(redis_client)
    book.record(
        daily_signal(
            group,
            "WEBG",
            1_700_000_000,
            "buy",
            101.5,
            auto_trade=True,
            outcome="refused",
            risk=refused,
        )
    )
    page.sign_in(api_key)
    open_strategies(page, group)
    page.text_appears(
        "signals-table",
        rf"2023-11-14 22:13:20 \(1d\) {group} sma_cross WEBG 101.5 buy refused "
        r"refused by kill_switch \(limit on, value buy\)",
    )

    # A signal recorded while the page is open appears without a reload or a Refresh.
    page.driver.execute_script(NO_RELOAD)
    book.record(daily_signal(group, "WEBG", 1_700_086_400, "sell", 99.25))
    page.text_appears(
        "signals-table", rf"2023-11-15 22:13:20 \(1d\) {group} sma_cross WEBG 99.25 sell recorded"
    )
    assert page.driver.execute_script(STILL_LOADED)


def test_risk_rule_refuses_an_order_and_the_refusal_is_listed(page, api_key, api):
    group = api.create_group()
    api.add_paper_account(group, "alice")
    api.set_quote("WEBM", "10.00")
    page.sign_in(api_key)
    open_strategies(page, group)
    page.text_appears("kill-switch", "Kill switch: off")

    # A rule the server refuses: said next to its field, nothing saved.
    page.type("Trading hours", "MARS")
    page.button("Save risk rules").click()
    page.text_appears(
        "risk-trading_hours-error",
        r"Trading hours: must be 'always' or a calendar such as 'XNYS'",
    )
    page.text_appears("risk-error", r"not saved: unknown exchange calendar 'MARS'")
    assert api.get(f"/api/v1/groups/{group}/risk").json()["trading_hours"] == "always"

    page.type("Trading hours", "always")
    page.type("Max quantity", "1")
    page.button("Save risk rules").click()
    page.text_appears("risk-done", rf"Risk rules of {group} saved")
    assert api.get(f"/api/v1/groups/{group}/risk").json()["max_quantity"] == "1"

    order(page, group, symbols="WEBM", quantity="5")
    page.text_appears("order-error", r"risk rule max_quantity \(limit 1\) refuses this order: 5")
    open_strategies(page)
    page.text_appears("risk-events", r"max_quantity 1 5 when submitted risk rule max_quantity")
    page.screenshot("strategies-risk-refusal")


def test_kill_switch_button_refuses_orders_and_keeps_the_other_rules(page, api_key, api):
    group = api.create_group()
    api.add_paper_account(group, "alice")
    assert api.put(f"/api/v1/groups/{group}/risk", json={"max_quantity": 3}).status_code == 200
    page.sign_in(api_key)
    open_strategies(page, group)
    page.click(f"Turn kill switch on for {group}")
    page.text_appears("kill-switch", r"Kill switch: on — every new order of this group is refused")
    rules = api.get(f"/api/v1/groups/{group}/risk").json()
    assert rules["kill_switch"] is True and rules["max_quantity"] == "3", rules

    order(page, group, symbols="WEBK", quantity="1")
    page.text_appears("order-error", r"kill_switch")
    # The Fleet page's button is the same switch.
    page.go("Fleet")
    page.text_appears("fleet-groups", rf"Group {group}\nKill switch: on")
    open_strategies(page)
    page.text_appears("risk-events", r"kill_switch")
    page.screenshot("strategies-kill-switch")
    page.click(f"Turn kill switch off for {group}")
    page.text_appears("kill-switch", "Kill switch: off")
    assert api.get(f"/api/v1/groups/{group}/risk").json()["kill_switch"] is False


def run_backtest(page, goog_file, **fields: str) -> str:
    """Fill the backtest form (sma_cross on the GOOG file) and start it; its id."""
    form = "backtest-form"
    page.choose("Strategy", "sma_cross", within=form)
    for label, text in fields.items():
        page.type(label, text, within=form)
    page.field("Bars CSV file", within=form).send_keys(str(goog_file))
    page.button("Run backtest").click()
    done = page.text_appears("bt-done", r"Backtest \w{8} started")
    return done.split()[1]


def test_backtest_shows_stats_and_equity_chart_then_two_runs_side_by_side(
    page, api_key, api, goog_file
):
    page.sign_in(api_key)
    page.driver.execute_script(NO_RELOAD)
    open_strategies(page)

    # Refused input is said next to its field.
    page.choose("Strategy", "sma_cross", within="backtest-form")
    page.type("Commission", "0.5", within="backtest-form")
    page.type("Spread", "0.5", within="backtest-form")
    page.type("Stop loss", "1", within="backtest-form")
    page.type("fast", "5:1", within="backtest-form")
    page.button("Run backtest").click()
    page.text_appears("bt-sma_cross-fast-error", r"fast: a range needs START at most STOP")
    page.text_appears("bt-data-error", r"Bars CSV file: choose a file of bars")
    page.type("fast", "10", within="backtest-form")
    page.field("Bars CSV file", within="backtest-form").send_keys(str(goog_file))
    page.button("Run backtest").click()
    page.text_appears("bt-commission-error", r"Commission: Must be greater than or equal to -0.1")
    page.text_appears("bt-spread-error", r"Spread: must be at least 0 and below 0.1")
    page.text_appears("bt-stop_loss-error", r"Stop loss: must be above 0 and below 1")

    first = run_backtest(
        page, goog_file, fast="10", slow="20", Commission="0.002", Spread="0", **{"Stop loss": ""}
    )
    page.text_appears("backtest-summary", r"State succeeded", timeout=60)
    (full,) = [i for i in page_ids(page) if i.startswith(first)]
    body = api.get(f"/api/v1/backtests/{full}").json()
    assert body["state"] == "succeeded", body
    trades = body["stats"]["trades"]
    page.text_appears("backtest-summary", rf"{body['bars']} bars — {trades} trades")
    page.text_appears("backtest-stats", rf"Trades {trades}\nFinal equity")
    page.text_appears("backtest-stats", r"Sharpe ratio")
    image = page.by_id("backtest-equity")
    page.wait(lambda d: d.execute_script("return arguments[0].naturalWidth", image) > 0)
    assert image.get_attribute("src").startswith("blob:")
    assert "Equity (top) and drawdown" in image.get_attribute("alt")
    shoot(page, "strategies-backtest", "backtest-detail")

    # A grid: fast 5 or 15 with slow 30, 35 or 40 (every pair the strategy allows).
    second = run_backtest(
        page, goog_file, fast="5 15", slow="30:40:5", Commission="0.002", Spread="0.001",
        Margin="0.5", **{"Stop loss": "0.05", "Take profit": "0.1"},
    )  # fmt: skip
    page.text_appears("backtest-summary", r"State succeeded", timeout=60)
    (full,) = [i for i in page_ids(page) if i.startswith(second)]
    levered = api.get(f"/api/v1/backtests/{full}").json()
    assert (levered["spread"], levered["margin"]) == (0.001, 0.5), levered
    assert (levered["stop_loss"], levered["take_profit"]) == (0.05, 0.1), levered
    assert {t["exit_reason"] for t in levered["trades"]} >= {"stop_loss", "take_profit"}
    page.text_appears("backtest-summary", r"best parameters fast \d+, slow \d+")
    page.text_appears("backtest-ranked-table", r"(?m)^1 fast")
    page.text_appears("backtests-table", rf"{second} sma_cross grid, best fast")

    page.button("Compare selected").click()
    page.text_appears("compare-error", r"two or more finished backtests")
    page.field(f"Compare {first}").click()
    page.field(f"Compare {second}").click()
    page.button("Compare selected").click()
    # Newest first, as in the list of runs.
    table = page.text_appears("compare-table", rf"Statistic {second} sma_cross {first} sma_cross")
    assert "fast 10, slow 20, long_only false" in table
    assert "(best)" in table  # the better value of a row is said in words, not colour alone
    page.text_appears("compare-table", r"Return %")
    page.text_appears("compare-table", r"Spread 0.001 0\nMargin 0.5 1")
    page.text_appears("compare-table", r"Stop loss 0.05 none\nTake profit 0.1 none")
    shoot(page, "strategies-compare", "backtest-compare")
    whole_page(page, "page-strategies")
    assert page.driver.execute_script(STILL_LOADED), "the page was reloaded"


def shoot(page, name: str, element_id: str) -> None:
    """A screenshot with ``element_id`` at the top of the window."""
    page.driver.execute_script("arguments[0].scrollIntoView()", page.by_id(element_id))
    page.screenshot(name)


def whole_page(page, name: str) -> None:
    """A screenshot of the whole page (the window made as tall as the page for it)."""
    size = page.driver.get_window_size()
    height = page.driver.execute_script("return document.documentElement.scrollHeight")
    page.driver.set_window_size(size["width"], min(height + 200, 8000))
    page.driver.execute_script("window.scrollTo(0, 0)")
    try:
        page.screenshot(name)
    finally:
        page.driver.set_window_size(size["width"], size["height"])


def page_ids(page) -> list[str]:
    rows = page.driver.find_elements(By.CSS_SELECTOR, "#backtests-table tr[data-backtest]")
    return [row.get_attribute("data-backtest") for row in rows]


def test_strategies_page_fits_a_phone_screen(page, api_key, api):
    api.create_group()
    page.sign_in(api_key)
    with page.on_a_phone():
        open_strategies(page)
        page.text_appears("kill-switch", "Kill switch")
        page.screenshot("phone-strategies")
        page.assert_fits_the_width("Strategies")
