"""What ``/ws`` clients receive for one event of the job-events channel (``api.stream``).

A job event becomes the job as now stored (with its results so far) and, for an
activation or deactivation, its account; a fleet change (``core.fleet_events``) becomes a
``group``, ``group_deleted`` or ``account_deleted`` message; a signal
(``strategies.signals``) becomes a ``signal`` message.
"""

from __future__ import annotations

from typing import Any

import redis

from api.schemas.accounts import AccountSchema
from api.schemas.jobs import JobSchema
from api.schemas.signals import SignalSchema
from core.accounts import AccountRegistry
from core.codes import CodeRelay
from core.errors import NotFound
from core.fleet_events import FleetChange
from core.jobs import JobRegistry
from core.models import JobKind
from strategies.signals import SIGNAL_EVENT, SignalBook

job_schema = JobSchema()
account_schema = AccountSchema()
signal_schema = SignalSchema()


def job_messages(connection: redis.Redis, event: dict) -> list[dict[str, Any]]:
    """What clients receive for one job event: the job as now stored, and its account.

    The job is read back so a client gets its per-account results with the event.
    """
    change = event.get("event")
    if change in _FLEET_CHANGES:
        return [fleet_message(FleetChange(change), event)]
    if change == SIGNAL_EVENT:
        return signal_messages(connection, event)
    try:
        job = JobRegistry(connection).fetch(str(event.get("id")))
    except NotFound:
        return [{"type": "job", "job": event, "snapshot": False}]
    job.waiting = CodeRelay(connection).waiting(job.id)  # logins waiting for a 2FA code
    out = [{"type": "job", "job": job_schema.dump(job), "snapshot": False}]
    if job.kind in (JobKind.ACTIVATE, JobKind.DEACTIVATE) and job.account:
        account = AccountRegistry(connection).find(job.group, job.account)
        if account is not None:
            out.append(account_message(job.group, account, snapshot=False))
    return out


_FLEET_CHANGES = frozenset(FleetChange)


def fleet_message(change: FleetChange, event: dict) -> dict[str, Any]:
    """A group created or deleted, or an account deleted (``core.fleet_events``)."""
    group = str(event.get("group"))
    if change is FleetChange.GROUP_CREATED:
        return {"type": "group", "group": {"name": group}, "snapshot": False}
    message: dict[str, Any] = {"type": change.value, "group": group, "snapshot": False}
    if change is FleetChange.ACCOUNT_DELETED:
        message["account"] = str(event.get("account"))
    return message


def signal_messages(connection: redis.Redis, event: dict) -> list[dict[str, Any]]:
    """A signal recorded, or its outcome changed: the signal as ``GET /signals`` lists it."""
    try:
        signal = SignalBook(connection).get(str(event.get("id")))
    except NotFound:  # expired already: nothing to show
        return []
    return [{"type": "signal", "signal": signal_schema.dump(signal), "snapshot": False}]


def account_message(group: str, account, *, snapshot: bool) -> dict[str, Any]:
    return {
        "type": "account",
        "group": group,
        "account": account_schema.dump(account),
        "snapshot": snapshot,
    }
