"""Scheduled orders: occurrences in the schedule's own zone, missed runs, holidays, once per
occurrence (in-process on a real Redis), and a schedule firing through a real beat that was
restarted in between (real worker, real HTTP)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from core.errors import InvalidRequest
from core.groups import GroupRegistry
from core.models import OrderAction, OrderRequest
from core.settings import get_settings
from tasks import schedules
from tasks.schedules import Schedule, ScheduleBook, run_schedule
from tests.conftest import wait_for, worker_env
from tests.processes import CeleryBeat

pytestmark = pytest.mark.integration

ORDER = OrderRequest(OrderAction.BUY, ("AAPL",), Decimal(1), dry_run=False)


def test_cron_occurrences_follow_the_zone_across_daylight_saving():
    weekdays = Schedule(
        id="s", group="g", order={}, cron="31 9 * * 1-5", timezone="America/New_York"
    )
    friday_evening = datetime(2026, 12, 4, 23, 0, tzinfo=UTC)
    assert weekdays.next_after(friday_evening) == datetime(2026, 12, 7, 14, 31, tzinfo=UTC)
    after_the_change = datetime(2027, 3, 15, 12, 0, tzinfo=UTC)  # EDT since March 14
    assert weekdays.next_after(after_the_change) == datetime(2027, 3, 15, 13, 31, tzinfo=UTC)
    once = Schedule(id="s", group="g", order={}, at="2026-12-02T09:31:00-05:00")
    assert once.next_after(datetime(2026, 12, 1, tzinfo=UTC)) == datetime(
        2026, 12, 2, 14, 31, tzinfo=UTC
    )
    assert once.next_after(datetime(2026, 12, 3, tzinfo=UTC)) is None


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"cron": "31 9 1 * *"}, "cron"),
        ({"cron": "61 9 * * *"}, "cron"),
        ({"cron": "31 9 * * 1", "timezone": "Mars/Olympus"}, "timezone"),
        ({"at": "2020-01-01T00:00:00+00:00"}, "at"),
        ({"at": "2030-01-01T00:00:00"}, "at"),
        ({"at": "noon"}, "at"),
        ({"at": "open+99999m"}, "at"),
        ({"at": "2030-01-01T00:00:00+00:00", "every_session": True}, "every_session"),
        ({"cron": "31 9 * * 1-5", "every_session": True}, "every_session"),
        ({}, "at"),
    ],
)
def test_bad_schedules_are_refused_naming_the_field(redis_client, spec, field):
    with pytest.raises(InvalidRequest) as refused:
        ScheduleBook(redis_client, get_settings()).create("rec-x", ORDER, spec)
    assert field in refused.value.errors


def test_session_moments_resolve_to_the_next_session_with_half_days_and_holidays():
    from core.calendars import next_session_edge, parse_session_edge

    def moment(spec: str, after: datetime) -> datetime:
        return next_session_edge(*parse_session_edge(spec), after=after)

    morning = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)  # Tuesday 07:00 in New York
    assert moment("open+1m", morning) == datetime(2026, 12, 1, 14, 31, tzinfo=UTC)
    assert moment("close-10m", morning) == datetime(2026, 12, 1, 20, 50, tzinfo=UTC)
    # After today's open: tomorrow's. After Friday's close: Monday's.
    assert moment("open", datetime(2026, 12, 1, 15, 0, tzinfo=UTC)) == datetime(
        2026, 12, 2, 14, 30, tzinfo=UTC
    )
    assert moment("open", datetime(2026, 12, 4, 22, 0, tzinfo=UTC)) == datetime(
        2026, 12, 7, 14, 30, tzinfo=UTC
    )
    # The day after Thanksgiving closes at 13:00; Christmas is skipped.
    assert moment("close", datetime(2026, 11, 27, 12, 0, tzinfo=UTC)) == datetime(
        2026, 11, 27, 18, 0, tzinfo=UTC
    )
    assert moment("open+1m", datetime(2026, 12, 24, 20, 0, tzinfo=UTC)) == datetime(
        2026, 12, 28, 14, 31, tzinfo=UTC
    )
    assert parse_session_edge("2026-12-02T09:31:00-05:00") is None


def test_a_schedule_at_open_plus_a_minute_is_placed_at_that_instant(api):
    group = api.create_group("rec")
    response = api.post(
        f"/api/v1/groups/{group}/schedules",
        json={"action": "buy", "symbols": ["AAPL"], "quantity": 1, "at": "open+1m"},
    )
    assert response.status_code == 201, response.text
    made = response.json()
    assert made["session"] == "open+1m"
    at = datetime.fromisoformat(made["at"])
    assert at > datetime.now(UTC) and (at.hour, at.minute) in ((14, 31), (13, 31))  # EST, EDT
    assert made["next_at"] == made["at"]
    assert made["every_session"] is False
    daily = api.post(
        f"/api/v1/groups/{group}/schedules",
        json={"action": "buy", "symbols": ["AAPL"], "quantity": 1, "at": "open+1m",
              "every_session": True},
    )  # fmt: skip
    assert daily.status_code == 201, daily.text
    assert (daily.json()["every_session"], daily.json()["next_at"]) == (True, made["next_at"])
    cron = api.post(
        f"/api/v1/groups/{group}/schedules",
        json={"action": "buy", "symbols": ["AAPL"], "quantity": 1, "cron": "31 9 * * 1-5",
              "every_session": True},
    )  # fmt: skip
    assert cron.status_code == 422
    assert "session moment" in str(cron.json()["errors"]["json"]["every_session"])
    refused = api.post(
        f"/api/v1/groups/{group}/schedules",
        json={"action": "buy", "symbols": ["AAPL"], "quantity": 1, "at": "lunch"},
    )
    assert refused.status_code == 422
    assert "open+1m" in str(refused.json()["errors"]["json"]["at"])


def test_run_schedule_missed_holiday_and_once_per_occurrence(redis_client, monkeypatch):
    group = f"rec-{uuid.uuid4().hex[:8]}"
    GroupRegistry(redis_client).create(group)
    book = ScheduleBook(redis_client, get_settings())
    schedule = book.create(group, ORDER, {"cron": "0 15 * * *", "market_days_only": True})
    submitted = []

    def submit(group_name, order, key, *, origin):
        submitted.append(key)
        return type("Submitted", (), {"job": type("Job", (), {"id": f"job-{len(submitted)}"})})

    def fire_at(moment: datetime, occurrence: datetime) -> dict:
        saved = book.get(group, schedule.id)
        saved.next_at = occurrence.isoformat()
        book._save(saved)
        monkeypatch.setattr(schedules, "utcnow", lambda: moment)
        return run_schedule(redis_client, get_settings(), group, schedule.id, submit)

    tuesday = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
    assert fire_at(tuesday + timedelta(seconds=2), tuesday)["outcome"] == "submitted"
    assert fire_at(tuesday + timedelta(seconds=3), tuesday)["outcome"] == "already run"
    late = fire_at(tuesday + timedelta(hours=1), tuesday)
    assert late["outcome"] == "already run"  # recorded once, never placed again
    wednesday = tuesday + timedelta(days=1)
    assert fire_at(wednesday + timedelta(hours=1), wednesday)["outcome"] == "missed"
    # 02:00 UTC on Friday November 27 is still Thanksgiving evening in New York: closed.
    thanksgiving_evening = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
    assert fire_at(thanksgiving_evening, thanksgiving_evening)["outcome"].startswith("skipped")
    christmas = datetime(2026, 12, 25, 15, 0, tzinfo=UTC)
    assert fire_at(christmas, christmas)["outcome"].startswith("skipped")
    assert len(submitted) == 1
    saved = book.get(group, schedule.id)
    assert saved.next_at == "2026-12-26T15:00:00Z"  # the following occurrence is planned
    assert [r["outcome"] for r in saved.runs][:3] == [
        "skipped: the market is closed that day",
        "skipped: the market is closed that day",
        "missed",
    ]


def test_every_session_places_the_moment_of_each_following_session(redis_client, monkeypatch):
    group = f"rec-{uuid.uuid4().hex[:8]}"
    GroupRegistry(redis_client).create(group)
    book = ScheduleBook(redis_client, get_settings())
    schedule = book.create(group, ORDER, {"at": "close-10m", "every_session": True})
    assert (schedule.session, schedule.every_session) == ("close-10m", True)
    submitted = []

    def submit(group_name, order, key, *, origin):
        submitted.append(key)
        return type("Submitted", (), {"job": type("Job", (), {"id": f"job-{len(submitted)}"})})

    def fire(occurrence: datetime) -> Schedule:
        saved = book.get(group, schedule.id)
        saved.next_at = occurrence.isoformat()
        book._save(saved)
        monkeypatch.setattr(schedules, "utcnow", lambda: occurrence + timedelta(seconds=1))
        assert (
            run_schedule(redis_client, get_settings(), group, schedule.id, submit)["outcome"]
            == "submitted"
        )
        return book.get(group, schedule.id)

    # The day before Thanksgiving closes at 16:00 New York; Thanksgiving has no session; the
    # Friday after closes early, at 13:00; then Monday closes at 16:00 again.
    wednesday = datetime(2026, 11, 25, 20, 50, tzinfo=UTC)
    assert fire(wednesday).next_at == "2026-11-27T17:50:00Z"
    assert fire(datetime(2026, 11, 27, 17, 50, tzinfo=UTC)).next_at == "2026-11-30T20:50:00Z"
    assert len(submitted) == 2


def test_schedule_fires_through_a_restarted_beat(api, redis_client):
    group = api.create_group()
    api.set_quote("AAPL", "10")
    api.add_paper_account(group, "p1", cash="1000")
    at = (datetime.now(UTC) + timedelta(seconds=12)).isoformat()
    created = api.post(
        f"/api/v1/groups/{group}/schedules",
        json={"action": "buy", "symbols": ["AAPL"], "quantity": 1, "dry_run": False, "at": at},
    )
    assert created.status_code == 201, created.text
    schedule_id = created.json()["id"]
    env = worker_env(WATCHLIST_SYMBOLS="")
    first = CeleryBeat(env).start()
    first.stop()  # the schedule lives in Redis, not in this beat
    with CeleryBeat(env):

        def ran():
            [saved] = api.get(f"/api/v1/groups/{group}/schedules").json()
            return saved["runs"] and saved["runs"][0]

        run = wait_for(ran, timeout=60, message="the schedule never ran")
    assert run["outcome"] == "submitted", run
    job = api.wait_job(run["job"])
    assert job["state"] == "succeeded" and job["order"]["symbols"] == ["AAPL"]
    assert job["origin"] == f"schedule:{schedule_id}"  # the job links back to its schedule
    [saved] = api.get(f"/api/v1/groups/{group}/schedules").json()
    assert saved["next_at"] == ""  # a one-time schedule is done
    assert api.delete(f"/api/v1/groups/{group}/schedules/{schedule_id}").status_code == 204
    assert api.get(f"/api/v1/groups/{group}/schedules").json() == []
