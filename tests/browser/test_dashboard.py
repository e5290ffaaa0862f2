"""The dashboard in headless Chromium: sign in, groups, accounts, orders, the live stream."""

from __future__ import annotations

import re

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


def fill_order(page, group: str, *, symbols: str, quantity: str = "1", dry_run: bool = True):
    """The Trade page's form filled in for a buy, not yet sent."""
    page.go("Trade")
    page.choose("Group", group)
    page.choose("Action", "buy")
    page.type("Symbols", symbols)
    page.type("Quantity", quantity)
    box = page.field("Dry run")
    if box.is_selected() != dry_run:
        box.click()


def order(page, group: str, *, symbols: str, quantity: str, dry_run: bool = True) -> None:
    fill_order(page, group, symbols=symbols, quantity=quantity, dry_run=dry_run)
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
    page.click_css(f"tr[data-job='{job_id}'] button")  # the table redraws on every job event
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
    # Show: only the jobs with an unknown result, and how many there are.
    page.choose("Show", "unknown")
    page.text_appears("jobs-count", r"^\d+ jobs? with an unknown result: open each one")
    page.text_appears("jobs-table", rf"{group} transaction buy 1 WEBU market \(live\) unknown")
    assert f"Open {response.json()['job_id'][:8]}" not in page.by_id("jobs-table").text
    page.choose("Show", "failed")  # the activation: its holdings read timed out
    page.text_appears("jobs-table", rf"{group} activate activate slowpoke failed")
    assert f"Open {job['id'][:8]}" not in page.by_id("jobs-table").text
    page.choose("Show", "unknown")
    page.click_css(f"tr[data-job='{job['id']}'] button")
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
    with page.on_a_phone():
        for name in ("Fleet", "Jobs", "Trade", "Accounts", "Market"):
            page.go(name)
            if name == "Fleet":
                page.text_appears("fleet-groups", rf"Group {group}")
            page.screenshot(f"phone-{name.lower()}")
            page.assert_fits_the_width(name)


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
    page.click_css("#waiting-banner button")  # Answer job <id>: again if the banner was redrawn
    page.text_appears("job-waiting", r"chase1 \(chase\) asks: “Enter code:”")
    page.type("Code for chase1", "123456")
    page.screenshot("job-waiting-for-code")
    page.button("Send code to chase1").click()
    page.text_appears("job-summary", r"succeeded", timeout=40)
    assert not page.by_id("waiting-banner").is_displayed()
    page.go("Accounts")
    page.text_appears("accounts-table", rf"{group} chase1 chase active")


def test_groups_and_accounts_created_and_deleted_elsewhere_update_the_open_page(page, api_key, api):
    page.sign_in(api_key)
    page.driver.execute_script("window.tradefleetNoReload = true")
    group = api.create_group()  # by the API: the page hears of it over /ws
    alice, bob = unique("alice"), unique("bob")  # other tests' groups have an alice too
    page.go("Accounts")
    page.choose("Group", group)
    api.add_paper_account(group, alice)
    api.add_paper_account(group, bob)
    page.text_appears("accounts-table", rf"{group} {alice} paper active")
    page.text_appears("accounts-table", rf"{group} {bob} paper active")

    # A second tab deletes alice with its Delete button; the first drops her without reload.
    first = page.driver.current_window_handle
    page.driver.switch_to.new_window("tab")
    try:
        page.open(fresh=False)
        page.sign_in(api_key)
        page.go("Accounts")
        page.text_appears("accounts-table", rf"{group} {alice} paper active")
        page.click(f"Delete {alice}")
        page.wait(lambda d: d.switch_to.alert).accept()
        page.text_gone("accounts-table", rf"{group} {alice}")
    finally:
        page.driver.close()
        page.driver.switch_to.window(first)
    page.text_gone("accounts-table", rf"{group} {alice}")
    page.go("Fleet")
    page.text_appears("fleet-groups", rf"Group {group}[\s\S]*{bob}")
    assert alice not in page.by_id("fleet-groups").text

    assert api.delete(f"/api/v1/groups/{group}").status_code == 204
    page.text_gone("fleet-groups", rf"Group {group}")
    page.go("Accounts")
    page.text_gone("accounts-table", rf"{group} {bob}")
    options = page.field("Group").find_elements(By.TAG_NAME, "option")
    assert group not in [o.get_attribute("value") for o in options]
    assert page.driver.execute_script("return window.tradefleetNoReload === true")


def test_a_group_is_deleted_from_the_accounts_page_after_a_confirmation(page, api_key, api):
    group = api.create_group()
    carol = unique("carol")
    api.add_paper_account(group, carol)
    page.sign_in(api_key)
    page.driver.execute_script("window.tradefleetNoReload = true")
    page.go("Accounts")
    page.text_appears("accounts-table", rf"{group} {carol} paper active")

    # Cancelled at the confirmation: nothing is deleted.
    page.choose("Group to delete", group)
    page.click("Delete group")
    alert = page.wait(lambda d: d.switch_to.alert)
    assert alert.text.startswith(f"Delete group {group} with its 1 account? ")
    assert "credentials and paper ledgers are wiped" in alert.text
    alert.dismiss()
    assert api.get(f"/api/v1/groups/{group}").status_code == 200

    page.click("Delete group")
    page.wait(lambda d: d.switch_to.alert).accept()
    page.text_appears("group-delete-done", rf"Group {group} deleted; its jobs stay readable")
    assert api.get(f"/api/v1/groups/{group}").status_code == 404
    page.text_gone("accounts-table", rf"{group} {carol}")
    for label in ("Group", "Group to delete"):
        options = page.field(label).find_elements(By.TAG_NAME, "option")
        assert group not in [o.get_attribute("value") for o in options]
    page.screenshot("accounts-group-deleted")
    assert page.driver.execute_script("return window.tradefleetNoReload === true")


def test_fleet_page_says_who_holds_a_symbol_and_totals_it_in_decimals(page, api_key, api):
    first, second = api.create_group(), api.create_group()
    alice, bob, carol = unique("alice"), unique("bob"), unique("carol")
    api.add_paper_account(first, alice)
    api.add_paper_account(second, bob)
    api.add_paper_account(second, carol)  # active, holds none
    api.set_quote("WHLD", "10.00")
    for group, account, quantity in ((first, alice, "0.1"), (second, bob, "0.2")):
        job = api.order(
            group,
            action="buy",
            symbols=["WHLD"],
            quantity=quantity,
            accounts=[account],
            dry_run=False,
        )
        assert job["state"] == "succeeded", job

    page.sign_in(api_key)
    # The server's decimal total: a float sum would say 0.30000000000000004.
    page.text_appears("fleet-totals", r"WHLD 0\.3 3\.00 2")
    page.type("Who holds", "whld")
    page.click("Show holders")
    summary = page.text_appears("holders-summary", r"WHLD: ")
    assert summary == "WHLD: 0.3 held on 2 accounts, worth 3.00."
    table = page.by_id("holders-table").text
    assert re.search(rf"{first} {alice} paper 0\.1 10\.00 1\.00 live, from the paper ledger", table)
    assert re.search(rf"{second} {bob} paper 0\.2 10\.00 2\.00 live", table)
    idle = page.by_id("holders-idle").text
    assert f"{carol} (paper, group {second})" in idle and alice not in idle
    page.screenshot("fleet-holders")

    # Sell all, one group: the Trade page opens with that order filled in, still a dry run.
    page.click(f"Sell all WHLD in {second}")
    page.wait(lambda _: page.by_id("page-trade").is_displayed())
    assert page.field("Group").get_attribute("value") == second
    assert page.field("Action").get_attribute("value") == "sell"
    assert page.field("Symbols").get_attribute("value") == "WHLD"
    assert page.field("Quantity").get_attribute("value") == "all"
    assert page.by_id("order-dry-run").is_selected()
    page.click("Place order")
    page.text_appears("order-results", rf"{bob} WHLD dry_run")
    page.text_appears("order-results", rf"{carol} WHLD skipped")
    page.go("Fleet")

    page.type("Who holds", "")
    page.click("Show holders")
    page.text_appears("holders-error", "Who holds: enter a symbol")
    assert not page.by_id("holders-result").is_displayed()  # no earlier answer left showing
