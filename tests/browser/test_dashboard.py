"""The dashboard in headless Chromium: sign in, groups, accounts, orders, the live stream."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

from tests.conftest import unique

pytestmark = pytest.mark.integration


def create_group(page) -> str:
    page.go("Accounts")
    name = unique()
    page.type("Group name", name)
    page.button("Create group").click()
    page.text_appears("group-done", f"Group {name} created")
    return name


def activate_paper(page, group: str, account: str, cash: str = "10000") -> None:
    page.go("Accounts")
    page.choose("Group", group)
    page.type("Account name", account)
    page.choose("Brokerage", "paper")
    page.type("starting_cash", cash)
    page.button("Activate").click()
    page.text_appears("accounts-table", rf"{group} {account} paper active")


def order(page, group: str, *, symbols: str, quantity: str, dry_run: bool = True) -> None:
    page.go("Trade")
    page.choose("Group", group)
    page.choose("Action", "buy")
    page.type("Symbols", symbols)
    page.type("Quantity", quantity)
    box = page.field("Dry run")
    if box.is_selected() != dry_run:
        box.click()
    page.button("Place order").click()


def test_wrong_api_key_is_shown_in_the_page(page):
    page.type("API key", "not-a-key")
    page.button("Sign in").click()
    page.text_appears("signin-error", "That API key is unknown or revoked.")
    assert page.by_id("signin").is_displayed()
    assert page.driver.execute_script("return sessionStorage.length") == 0


def test_sign_in_group_paper_account_and_dry_run_result_live(page, api_key, api):
    page.sign_in(api_key)
    assert page.driver.execute_script("return sessionStorage.length") == 1
    group = create_group(page)
    activate_paper(page, group, "alice")
    api.set_quote("WEBA", "20.00")

    order(page, group, symbols="WEBA", quantity="2")
    # Arrives over /ws: the page is never reloaded.
    text = page.text_appears("order-results", r"alice WEBA dry_run")
    assert "succeeded" in page.text_appears("order-result-state", "succeeded")
    assert "dry_run" in text
    page.screenshot("page-trade")
    page.go("Jobs")
    page.text_appears("jobs-table", rf"{group} transaction buy 2 WEBA market \(dry run\) succeeded")
    page.screenshot("page-jobs")
    page.go("Fleet")
    page.text_appears("fleet-groups", rf"Group {group}")
    page.screenshot("page-fleet")
    page.go("Accounts")
    page.screenshot("page-accounts")


def test_live_order_confirmation_names_the_accounts(page, api_key, api):
    page.sign_in(api_key)
    group = create_group(page)
    activate_paper(page, group, "alice")
    activate_paper(page, group, "bob")
    api.set_quote("WEBL", "10.00")

    order(page, group, symbols="WEBL", quantity="1", dry_run=False)
    confirm = page.by_id("order-confirm")
    page.wait(lambda _: confirm.is_displayed())
    assert "live order" in confirm.text
    assert "alice (paper)" in confirm.text and "bob (paper)" in confirm.text
    assert "2 shares in total (about 20.00 at the latest quotes)" in confirm.text
    assert not page.by_id("order-result").is_displayed()  # nothing sent yet
    page.screenshot("trade-confirmation")
    page.button("Confirm live order").click()
    page.text_appears("order-results", r"alice WEBL filled")
    page.text_appears("order-results", r"bob WEBL filled")


def test_bad_credential_is_shown_next_to_its_field(page, api_key):
    page.sign_in(api_key)
    group = create_group(page)
    page.go("Accounts")
    page.choose("Group", group)
    page.type("Account name", "carol")
    page.choose("Brokerage", "paper")
    page.type("starting_cash", "-5")
    page.button("Activate").click()
    text = page.text_appears("cred-starting_cash-error", "starting_cash: must be")
    assert "greater than 0" in text


def test_lost_websocket_reconnects_and_keeps_streaming(page, api_key, api, app):
    page.sign_in(api_key)
    group = create_group(page)
    activate_paper(page, group, "alice")
    for client in app.extensions["tradefleet.stream"].clients():
        client.lost.set()  # as when Redis goes away: the server closes every stream
    page.text_appears("stream-status", "Live updates: lost, reconnecting", timeout=10)
    page.text_appears("stream-status", "Live updates: connected", timeout=15)
    api.set_quote("WEBR", "5.00")
    response = api.post(
        f"/api/v1/groups/{group}/transactions",
        json={"action": "buy", "symbols": ["WEBR"], "quantity": 1},
    )
    job_id = response.json()["job_id"]
    page.go("Jobs")
    page.text_appears("jobs-table", r"buy 1 WEBR market \(dry run\) succeeded")
    row = page.driver.find_element(By.CSS_SELECTOR, f"tr[data-job='{job_id}'] button")
    row.click()
    page.text_appears("job-results", r"alice paper WEBR dry_run")


def test_quote_updates_live_on_the_market_page(page, api_key, api):
    api.set_quote("WEBQ", "1.00")
    page.sign_in(api_key)
    page.go("Market")
    page.text_appears("quotes-table", r"WEBQ 1\.00")
    api.set_quote("WEBQ", "1.25")
    page.text_appears("quotes-table", r"WEBQ 1\.25")
    page.type("Chart symbol", "WEBQ")
    page.button("Show chart").click()
    # No InfluxDB in this session's app, or no bars: said in words either way.
    page.text_appears("chart-error", r"Market history is not available|No 1m bars of WEBQ")
    page.screenshot("page-market")


def test_kill_switch_refuses_orders_and_says_so_in_the_trade_page(page, api_key, api):
    group = api.create_group()
    api.add_paper_account(group, "alice")
    page.sign_in(api_key)
    page.go("Fleet")
    page.click(f"Turn kill switch on for {group}")
    page.text_appears("fleet-groups", rf"Group {group}\nKill switch: on")
    order(page, group, symbols="WEBK", quantity="1")
    page.text_appears("order-error", r"kill")
    assert not page.by_id("order-result").is_displayed()
    page.go("Fleet")
    page.click(f"Turn kill switch off for {group}")
    page.text_appears("fleet-groups", rf"Group {group}\nKill switch: off")


def test_unknown_result_offers_retry_only_once_the_brokerage_was_checked(
    page, api_key, api, redis_client
):
    from core.accounts import AccountRegistry
    from core.models import AccountState

    group = api.create_group()
    # The fake AutoRSA hangs on this token: a live order times out as `unknown` (5 s here).
    response = api.post(
        f"/api/v1/groups/{group}/accounts",
        json={
            "name": "slowpoke",
            "brokerage": "tradier",
            "credentials": {"access_token": "hang-x"},
        },
    )
    api.wait_job(response.json()["job_id"])
    AccountRegistry(redis_client).set_state(group, "slowpoke", AccountState.ACTIVE)
    job = api.order(group, action="buy", symbols=["WEBU"], quantity=1, dry_run=False)
    assert job["state"] == "unknown", job

    page.sign_in(api_key)
    page.go("Jobs")
    page.wait(lambda d: d.find_elements(By.CSS_SELECTOR, f"tr[data-job='{job['id']}'] button"))
    page.driver.find_element(By.CSS_SELECTOR, f"tr[data-job='{job['id']}'] button").click()
    page.text_appears(
        "job-results", r"slowpoke tradier WEBU unknown Check tradier for account slowpoke"
    )
    retry = page.by_id("job-retry-unknown")
    assert retry.is_displayed() and not retry.is_enabled()
    page.field("I checked the brokerage: these orders were not placed").click()
    assert retry.is_enabled()
    page.screenshot("job-unknown")
    retry.click()
    page.text_appears("job-summary", r"retried as")


def test_every_page_fits_a_phone_screen(page, api_key, api):
    group = api.create_group()
    api.add_paper_account(group, "alice")
    page.sign_in(api_key)
    size = page.driver.get_window_size()
    page.driver.set_window_size(390, 844)
    try:
        for name in ("Fleet", "Jobs", "Trade", "Accounts", "Market"):
            page.go(name)
            if name == "Fleet":
                page.text_appears("fleet-groups", rf"Group {group}")
            overflow = page.driver.execute_script(
                "return document.documentElement.scrollWidth - window.innerWidth"
            )
            page.screenshot(f"phone-{name.lower()}")
            assert overflow <= 0, f"{name} scrolls sideways by {overflow}px on a phone"
    finally:
        page.driver.set_window_size(size["width"], size["height"])


def test_a_login_waiting_for_a_code_is_answered_from_the_page(page, api_key):
    page.sign_in(api_key)
    group = create_group(page)
    page.choose("Group", group)
    page.type("Account name", "chase1")
    page.choose("Brokerage", "chase")
    page.type("username", "me@x.io")
    page.type("password", "otp-pw7711")  # the stand-in AutoRSA asks for a code
    page.type("phone_last4", "1234")
    assert page.field("password").get_attribute("type") == "password"
    page.button("Activate").click()
    page.text_appears("waiting-banner", r"chase1 \(chase\) is waiting for you", timeout=30)
    page.driver.find_element(By.XPATH, "//button[starts-with(., 'Answer job')]").click()
    page.text_appears("job-waiting", r"chase1 \(chase\) asks: “Enter code:”")
    page.type("Code for chase1", "123456")
    page.screenshot("job-waiting-for-code")
    page.button("Send code to chase1").click()
    page.text_appears("job-summary", r"succeeded", timeout=40)
    assert not page.by_id("waiting-banner").is_displayed()
    page.go("Accounts")
    page.text_appears("accounts-table", rf"{group} chase1 chase active")
