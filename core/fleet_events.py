"""Fleet changes on the job-events channel: a group created or deleted, an account deleted.

Jobs announce themselves (``core.jobs``, ``core.legs``); these changes have no job, so
the registry that makes one publishes it here, in the same pipeline as the write: a
client never hears of a change that was not made, nor misses one that was.

Each message is JSON with ``event`` (one of :class:`FleetChange`) and ``group``, plus
``account`` for an account. ``api.stream`` turns them into the WebSocket's
``group``, ``group_deleted`` and ``account_deleted`` messages.
"""

from __future__ import annotations

import json
from enum import StrEnum

from redis.client import Pipeline

from core import keys


class FleetChange(StrEnum):
    GROUP_CREATED = "group_created"
    GROUP_DELETED = "group_deleted"
    ACCOUNT_DELETED = "account_deleted"


def publish(pipe: Pipeline, change: FleetChange, group: str, account: str | None = None) -> None:
    """Queue the announcement of ``change`` on ``pipe`` (sent when the pipeline executes)."""
    message = {"event": change.value, "group": group}
    if account is not None:
        message["account"] = account
    pipe.publish(keys.job_events(), json.dumps(message))
