"""Scheduled orders: an order of a group, placed at a time or on a repeating rule.

Each schedule is a RedBeat entry in the Redis beat schedule (so it survives beat
restarts and a new one takes effect on the running beat) plus a record with the
order, its next occurrence and the runs so far. The entry always holds just the
next occurrence, as a UTC instant computed in the schedule's own time zone (so
daylight saving moves nothing); when it fires, :func:`run_schedule` submits the
order through the same path as the API (risk rules and the kill switch apply at
run time) with an idempotency key per occurrence (one fired twice still makes one
job), then puts the following occurrence in the entry.

* ``at``: one time, ISO 8601 with its zone (``2026-12-02T09:31:00-05:00``), or a moment
  of the next US equity session: ``open``, ``close``, ``open+1m``, ``close-10m`` (minutes
  from the open or the close, early closes included), resolved to an instant when the
  schedule is made and kept as ``session``. With ``every_session`` such a moment repeats:
  ``close-10m`` of every session, the next one planned after each run (holidays have no
  session; on a half day ``close`` is the early close).
* ``cron``: ``"minute hour * * day-of-week"`` in ``timezone`` (IANA, e.g.
  ``America/New_York``), so 09:31 stays 09:31 across daylight saving. Minutes,
  hours and days of week take numbers, lists and ranges (``1-5``: Monday to
  Friday, 0 or 7 is Sunday); day of month and month must be ``*``.
* ``market_days_only``: skip days the exchange (``XNYS``) is closed (holidays), the day
  read in New York, whatever the schedule's own zone.
* A run that fires more than ``SCHEDULE_GRACE_SECONDS`` after its occurrence (beat
  was down) is recorded as ``missed`` instead of trading late.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import redis
from dateutil import rrule as dateutil_rrule
from redbeat import RedBeatSchedulerEntry
from redbeat.schedules import rrule

from core import keys
from core.calendars import is_session_at, next_session_edge, parse_session_edge
from core.errors import InvalidRequest, NotFound, TradefleetError
from core.models import OrderRequest, from_iso, to_iso, utcnow
from core.settings import Settings
from tasks import names
from tasks.celery import app

RUNS_KEPT = 50
AT_RULE = (
    "must be ISO 8601 with its zone (2026-12-02T09:31:00-05:00), or open/close with an "
    "offset in minutes (open+1m, close-10m)"
)
# Beat may fire a moment before the instant (its tick): that is still the occurrence.
EARLY_SECONDS = 5
_WEEKDAY_OF_CRON = {0: 6, 1: 0, 2: 1, 3: 2, 4: 3, 5: 4, 6: 5, 7: 6}  # cron -> rrule (Mon=0)


@dataclass
class Schedule:
    id: str
    group: str
    order: dict
    at: str = ""
    cron: str = ""
    timezone: str = "UTC"
    market_days_only: bool = False
    session: str = ""  # "open+1m" as asked, when ``at`` was resolved from it
    every_session: bool = False  # ``session`` again at each following session
    next_at: str = ""  # the next occurrence (UTC), "" when there is none left
    created_at: str = field(default_factory=lambda: to_iso(utcnow()))
    runs: list[dict] = field(default_factory=list)  # newest first: occurrence, outcome, job

    def next_after(self, moment: datetime) -> datetime | None:
        """The first occurrence strictly after ``moment``, in UTC (None: there is none)."""
        if self.every_session:
            return next_session_edge(*parse_session_edge(self.session), after=moment)
        if self.at:
            at = _parse_at(self.at)
            return at if at > moment else None
        minute, hour, weekday = _parse_cron(self.cron)
        zone = ZoneInfo(self.timezone)
        local = moment.astimezone(zone)
        rule = dateutil_rrule.rrule(
            dateutil_rrule.DAILY,
            dtstart=local.replace(second=0, microsecond=0),
            byhour=hour,
            byminute=minute,
            byweekday=weekday or None,
            count=None,
        )
        following = rule.after(local)
        return following.astimezone(UTC) if following else None


class ScheduleBook:
    def __init__(self, connection: redis.Redis, settings: Settings) -> None:
        self.connection = connection
        self.settings = settings

    def create(self, group: str, order: OrderRequest, spec: dict) -> Schedule:
        """Save a schedule and put its entry in the beat schedule.

        Raises:
            InvalidRequest: ``at``/``cron``/``timezone`` are missing, both given or wrong,
                or ``every_session`` is asked without a session moment.
        """
        at, cron = spec.get("at") or "", spec.get("cron") or ""
        if bool(at) == bool(cron):
            raise InvalidRequest(
                "give either at or cron", errors={"at": ["give either at or cron, not both"]}
            )
        session = ""
        try:
            edge = parse_session_edge(at) if at else None
        except ValueError as too_far:
            raise InvalidRequest("invalid at", errors={"at": [str(too_far)]}) from None
        if edge is not None:
            session, at = at.strip(), to_iso(next_session_edge(*edge, after=utcnow()))
        every_session = bool(spec.get("every_session"))
        if every_session and not session:
            rule = "needs at as a session moment (open+1m, close-10m), not an ISO time or cron"
            raise InvalidRequest("invalid every_session", errors={"every_session": [rule]})
        timezone = spec.get("timezone") or "UTC"
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidRequest(
                "unknown time zone", errors={"timezone": ["must be an IANA zone"]}
            ) from None
        schedule = Schedule(
            id=uuid.uuid4().hex[:12],
            group=group,
            order=order.to_dict(),
            at=at,
            cron=cron,
            timezone=timezone,
            market_days_only=bool(spec.get("market_days_only")),
            session=session,
            every_session=every_session,
        )
        upcoming = schedule.next_after(utcnow())  # raises for a bad cron
        if upcoming is None:
            raise InvalidRequest("at is in the past", errors={"at": ["must be in the future"]})
        self._plan(schedule, upcoming)
        return schedule

    def get(self, group: str, schedule_id: str) -> Schedule:
        raw = self.connection.hget(keys.group_schedules(group), schedule_id)
        if not raw:
            raise NotFound(f"schedule {schedule_id!r} does not exist in group {group!r}")
        return Schedule(**json.loads(raw))

    def list_group(self, group: str) -> list[Schedule]:
        raw = self.connection.hvals(keys.group_schedules(group))
        return sorted((Schedule(**json.loads(r)) for r in raw), key=lambda s: s.created_at)

    def delete(self, group: str, schedule_id: str) -> None:
        schedule = self.get(group, schedule_id)
        _entry(schedule, utcnow()).delete()
        self.connection.hdel(keys.group_schedules(group), schedule_id)

    def delete_group(self, group: str) -> int:
        """Delete every schedule of ``group`` and its beat entry; returns how many."""
        schedules = self.list_group(group)
        for schedule in schedules:
            _entry(schedule, utcnow()).delete()
        self.connection.delete(keys.group_schedules(group))
        return len(schedules)

    def record(self, schedule: Schedule, run: dict, upcoming: datetime | None) -> None:
        """Keep ``run`` and put the next occurrence in the beat schedule (or end it)."""
        schedule.runs = [run, *schedule.runs][:RUNS_KEPT]
        if upcoming is None:
            schedule.next_at = ""
            self._save(schedule)
            _entry(schedule, utcnow()).delete()
        else:
            self._plan(schedule, upcoming)

    def _plan(self, schedule: Schedule, upcoming: datetime) -> None:
        schedule.next_at = to_iso(upcoming)
        self._save(schedule)
        _entry(schedule, upcoming).save()

    def _save(self, schedule: Schedule) -> None:
        self.connection.hset(
            keys.group_schedules(schedule.group), schedule.id, json.dumps(asdict(schedule))
        )


def run_schedule(
    connection: redis.Redis, settings: Settings, group: str, schedule_id: str, submit
) -> dict:
    """Run the occurrence of a schedule that is due now; returns what was recorded.

    Args:
        submit: ``(group, order, idempotency_key, *, origin) -> Submitted`` (the API's path).
    """
    book = ScheduleBook(connection, settings)
    try:
        schedule = book.get(group, schedule_id)
    except NotFound:
        return {"outcome": "gone"}
    now = utcnow()
    occurrence = from_iso(schedule.next_at)
    if occurrence is None or occurrence > now + timedelta(seconds=EARLY_SECONDS):
        return {"outcome": "not due"}  # a stray or early fire: the entry stays as it is
    run = {"occurrence": to_iso(occurrence), "at": to_iso(now)}
    if any(r.get("occurrence") == run["occurrence"] and r.get("job") for r in schedule.runs):
        run["outcome"] = "already run"
    elif (now - occurrence).total_seconds() > settings.schedule_grace_seconds:
        run["outcome"] = "missed"  # beat was away: never trade late
    elif schedule.market_days_only and not is_session_at(occurrence):
        run["outcome"] = "skipped: the market is closed that day"
    else:
        order = OrderRequest.from_dict(schedule.order)
        try:
            submitted = submit(
                group,
                order,
                f"schedule-{schedule.id}-{occurrence.isoformat()}",
                origin=f"schedule:{schedule.id}",
            )
        except TradefleetError as refused:
            run["outcome"] = f"refused: {refused.message}"
        else:
            run["outcome"], run["job"] = "submitted", submitted.job.id
    book.record(schedule, run, schedule.next_after(max(occurrence, now)))
    return run


def _entry(schedule: Schedule, when: datetime) -> RedBeatSchedulerEntry:
    """The beat entry that fires ``schedule`` once, at ``when``."""
    return RedBeatSchedulerEntry(
        name=f"schedule:{schedule.group}:{schedule.id}",
        task=names.RUN_SCHEDULE,
        schedule=rrule("MINUTELY", dtstart=when.astimezone(UTC), count=1),
        args=[schedule.group, schedule.id],
        options={"queue": "default", "expires": 3600},
        app=app,
    )


def _parse_at(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRequest("invalid at", errors={"at": [AT_RULE]}) from None
    if moment.tzinfo is None:
        raise InvalidRequest("invalid at", errors={"at": [f"must carry its zone: {AT_RULE}"]})
    return moment.astimezone(UTC)


def _parse_cron(text: str) -> tuple[list[int], list[int], list[int]]:
    fields = text.split()
    rule = "must be 'minute hour * * day-of-week' (numbers, lists, ranges or *)"
    if len(fields) != 5 or fields[2] != "*" or fields[3] != "*":
        raise InvalidRequest("invalid cron", errors={"cron": [rule]})
    try:
        minutes = _cron_field(fields[0], 0, 59)
        hours = _cron_field(fields[1], 0, 23)
        weekdays = sorted({_WEEKDAY_OF_CRON[d] for d in _cron_field(fields[4], 0, 7)})
    except ValueError:
        raise InvalidRequest("invalid cron", errors={"cron": [rule]}) from None
    return minutes, hours, ([] if fields[4] == "*" else weekdays)


def _cron_field(text: str, low: int, high: int) -> list[int]:
    if text == "*":
        return list(range(low, high + 1))
    values: set[int] = set()
    for part in text.split(","):
        first, _, last = part.partition("-")
        start, end = int(first), int(last or first)
        if not low <= start <= end <= high:
            raise ValueError(part)
        values.update(range(start, end + 1))
    return sorted(values)


@app.task(name=names.RUN_SCHEDULE, ignore_result=True)
def run(group: str, schedule_id: str) -> dict:
    """Run the due occurrence of a scheduled order (sent by beat)."""
    from tasks import context
    from tasks.operations import Operations

    connection, settings = context.connection(), context.settings()
    operations = Operations(connection, settings)
    return run_schedule(connection, settings, group, schedule_id, operations.submit_order)
