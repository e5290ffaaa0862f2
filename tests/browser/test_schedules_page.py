"""Scheduled orders on the dashboard's Trade page, in headless Chromium: the When choice read in
the browser's own time zone (New York here, so the UTC conversion shows) or a moment of every
market session, the group's schedules
listed and deleted, refusals before and after sending, a live one confirmed first, and a run
fired by a real beat appearing in the table without a reload."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.browser.test_dashboard import fill_order
from tests.conftest import wait_for, worker_env
from tests.processes import CeleryBeat

pytestmark = pytest.mark.integration

ZONE = "America/New_York"


@pytest.fixture
def new_york(page) -> Iterator[ZoneInfo]:
    """The browser's clock in New York (not the host's zone) for this test only."""
    page.driver.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": ZONE})
    try:
        assert (
            page.driver.execute_script("return Intl.DateTimeFormat().resolvedOptions().timeZone")
            == ZONE
        )
        yield ZoneInfo(ZONE)
    finally:
        page.driver.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": ""})


def schedules(api, group: str) -> list[dict]:
    answer = api.get(f"/api/v1/groups/{group}/schedules")
    assert answer.status_code == 200, answer.text
    return answer.json()


def place_at(page, local: datetime) -> None:
    """Put ``local`` (a wall-clock time of the browser's zone) in Place at, as a person picks it
    (a date-time field's keystrokes depend on the locale, its value does not)."""
    page.driver.execute_script(
        "const input = arguments[0]; input.value = arguments[1];"
        "input.dispatchEvent(new Event('input', {bubbles: true}));"
        "input.dispatchEvent(new Event('change', {bubbles: true}));",
        page.field("Place at"),
        local.strftime("%Y-%m-%dT%H:%M:%S" if local.second else "%Y-%m-%dT%H:%M"),
    )


def at_a_time(page) -> None:
    assert page.field("Now").is_selected()  # the default
    assert page.by_id("order-submit").text == "Place order"
    page.field("At a time").click()
    assert page.by_id("order-submit").text == "Schedule order"


def test_a_dry_run_order_is_scheduled_listed_and_deleted(page, api_key, api, new_york):
    group = api.create_group()
    api.add_paper_account(group, "alice")
    page.sign_in(api_key)
    fill_order(page, group, symbols="WEBS")
    at_a_time(page)
    assert ZONE in page.by_id("order-at-zone").text
    local = (datetime.now(new_york) + timedelta(hours=1)).replace(second=0, microsecond=0)
    instant = local.astimezone(UTC)
    place_at(page, local)
    page.field("Market days only").click()
    page.click("Schedule order")

    page.text_appears("order-scheduled", r"Scheduled buy 1 WEBS market \(dry run\)")
    shown_at = f"{local:%Y-%m-%d %H:%M} {ZONE} ({instant:%Y-%m-%d %H:%M} UTC)"
    row = page.text_appears("schedules-table", r"buy 1 WEBS market \(dry run\)")
    assert f"once at {shown_at}, market days only" in row
    assert row.count(shown_at) == 2  # When, and Next run
    assert "none yet" in row
    page.driver.execute_script("document.getElementById('schedules').scrollIntoView()")
    page.screenshot("trade-schedules")
    with page.on_a_phone():
        page.screenshot("trade-schedules-phone")
        page.assert_fits_the_width("The Trade page with a schedule")

    [saved] = schedules(api, group)
    assert datetime.fromisoformat(saved["at"]) == instant  # the instant typed, in UTC
    assert saved["at"].endswith("Z")
    assert datetime.fromisoformat(saved["next_at"]) == instant
    assert saved["market_days_only"] is True and saved["timezone"] == ZONE
    assert saved["order"]["action"] == "buy" and saved["order"]["symbols"] == ["WEBS"]
    assert saved["order"]["quantity"] == "1" and saved["order"]["dry_run"] is True
    assert saved["order"]["order_type"] == "market" and saved["runs"] == []

    page.click(f"Delete schedule {saved['id'][:8]}")
    alert = page.wait(lambda d: d.switch_to.alert)
    assert alert.text.startswith("Delete the scheduled order buy 1 WEBS market (dry run), once at ")
    alert.accept()
    page.text_appears("schedules-none", "No scheduled orders for this group.")
    page.text_appears("schedules-done", rf"Schedule {saved['id'][:8]} deleted")
    assert "WEBS" not in page.by_id("schedules-table").text
    assert schedules(api, group) == []


def test_a_past_or_missing_time_is_refused_before_sending(page, api_key, api, new_york):
    group = api.create_group()
    api.add_paper_account(group, "alice")
    page.sign_in(api_key)
    fill_order(page, group, symbols="WEBP")
    at_a_time(page)

    page.click("Schedule order")  # Place at still empty
    page.text_appears("order-at-error", r"^Place at: choose the day and the time")
    place_at(page, (datetime.now(new_york) - timedelta(hours=1)).replace(second=0, microsecond=0))
    page.click("Schedule order")
    page.text_appears("order-at-error", rf"^Place at: .* {ZONE} .* has passed: choose a later time")
    assert schedules(api, group) == []
    assert page.by_id("order-scheduled").text == ""

    # What the page cannot check, the server refuses: shown by the field's name.
    place_at(page, datetime.now(new_york) + timedelta(hours=1))
    page.type("Quantity", "-1")
    page.click("Schedule order")
    page.text_appears("order-error", r"Quantity: must be above 0")
    assert page.by_id("order-at-error").text == ""
    assert schedules(api, group) == []
    page.text_appears("schedules-none", "No scheduled orders for this group.")


def test_an_order_at_every_close_minus_ten_minutes_is_scheduled(page, api_key, api, new_york):
    group = api.create_group()
    api.add_paper_account(group, "alice")
    page.sign_in(api_key)
    fill_order(page, group, symbols="WEBX")
    page.field("At the market open or close").click()
    assert page.by_id("order-submit").text == "Schedule order"
    assert not page.by_id("order-at").is_displayed()
    page.choose("Session moment", "close")
    page.type("Minutes after it", "2000")
    page.click("Schedule order")
    page.text_appears("order-session-error", r"^Minutes after it: a whole number of minutes")
    assert schedules(api, group) == []

    page.type("Minutes after it", "-10")
    page.field("Every session").click()
    page.click("Schedule order")
    page.text_appears("order-scheduled", r"Scheduled buy 1 WEBX market \(dry run\)")
    row = page.text_appears("schedules-table", r"buy 1 WEBX market \(dry run\)")
    assert "every session at close-10m" in row
    [saved] = schedules(api, group)
    assert (saved["session"], saved["every_session"]) == ("close-10m", True)
    next_at = datetime.fromisoformat(saved["next_at"]).astimezone(new_york)
    assert next_at > datetime.now(new_york)
    assert (next_at.hour, next_at.minute) in ((15, 50), (12, 50))  # 16:00, or a 13:00 half day
    assert f"{next_at:%Y-%m-%d %H:%M} {ZONE}" in row  # Next run


def test_a_live_scheduled_order_is_confirmed_naming_the_accounts_first(
    page, api_key, api, new_york
):
    group = api.create_group()
    api.add_paper_account(group, "alice")
    api.add_paper_account(group, "bob")
    page.sign_in(api_key)
    fill_order(page, group, symbols="WEBC", dry_run=False)
    at_a_time(page)
    local = (datetime.now(new_york) + timedelta(hours=1)).replace(second=0, microsecond=0)
    place_at(page, local)
    page.click("Schedule order")

    confirm = page.by_id("order-confirm")
    page.wait(lambda _: confirm.is_displayed())
    assert f"scheduled for {local:%Y-%m-%d %H:%M} {ZONE}" in confirm.text
    assert "active at that time" in confirm.text and "Active now: 2 account(s)" in confirm.text
    assert "alice (paper)" in confirm.text and "bob (paper)" in confirm.text
    assert schedules(api, group) == []  # nothing created before the confirmation
    page.click("Cancel")
    page.text_appears("order-error", "Live order cancelled: nothing was sent or scheduled.")
    assert schedules(api, group) == []

    page.click("Schedule order")
    page.click("Confirm scheduled order")
    page.text_appears("schedules-table", r"buy 1 WEBC market \(live\)")
    [saved] = schedules(api, group)
    assert saved["order"]["dry_run"] is False
    assert datetime.fromisoformat(saved["at"]) == local.astimezone(UTC)
    assert api.delete(f"/api/v1/groups/{group}/schedules/{saved['id']}").status_code == 204


def test_a_run_fired_by_beat_shows_its_outcome_without_a_reload(page, api_key, api, new_york):
    group = api.create_group()
    api.add_paper_account(group, "alice")
    api.set_quote("WEBR", "10.00")  # a dry run checks the order against the latest quote
    page.sign_in(api_key)
    page.driver.execute_script("window.tradefleetNoReload = true")
    fill_order(page, group, symbols="WEBR")
    at_a_time(page)
    with CeleryBeat(worker_env(WATCHLIST_SYMBOLS="")):
        # Beat is up first: the schedule, a few seconds ahead, is found on its next tick.
        local = (datetime.now(new_york) + timedelta(seconds=8)).replace(microsecond=0)
        place_at(page, local)
        page.click("Schedule order")
        page.text_appears("schedules-table", r"buy 1 WEBR market \(dry run\)")
        row = page.text_appears("schedules-table", r"submitted — job [0-9a-f]+", timeout=60)

        def ran():
            [saved] = schedules(api, group)
            return saved["runs"] and saved["runs"][0]

        run = wait_for(ran, timeout=10, message="the API shows no run")
    assert run["outcome"] == "submitted", run
    assert f"submitted — job {run['job']}" in row
    job = api.wait_job(run["job"])
    assert job["state"] == "succeeded", job
    page.text_appears("schedules-table", rf"job {run['job']}, succeeded")
    page.text_appears("schedules-table", r"none: done")  # a one-time schedule is over
    page.driver.execute_script("document.getElementById('schedules').scrollIntoView()")
    page.screenshot("trade-schedule-run")
    assert page.driver.execute_script("return window.tradefleetNoReload === true")
