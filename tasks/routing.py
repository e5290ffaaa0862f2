"""Queue names and routing.

* ``group.<name>``: a group's jobs, run in order one at a time.
* ``brokerage.<name>``: legs that call out to a brokerage, so browser-driven
  brokerages can have their own workers, concurrency and rate limits.
* ``market`` and ``strategies`` for beat work; ``default`` for the rest.
* ``notifications``: webhook, Discord and Telegram deliveries (every worker consumes
  it, so a slow receiver never holds up a job).
"""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase

GROUP_PREFIX = "group."
BROKERAGE_PREFIX = "brokerage."
DEFAULT_QUEUE = "default"
NOTIFICATIONS_QUEUE = "notifications"
STATIC_QUEUES = (DEFAULT_QUEUE, "market", "strategies", NOTIFICATIONS_QUEUE)


def group_queue(group: str) -> str:
    return GROUP_PREFIX + group


def brokerage_queue(brokerage: str) -> str:
    return BROKERAGE_PREFIX + brokerage


def group_from_queue(queue: str) -> str | None:
    return queue[len(GROUP_PREFIX) :] if queue.startswith(GROUP_PREFIX) else None


NONE = "-"  # a shard of "-" serves nothing (a worker only for brokerage legs, or only groups)


def serves_group(group: str, shard: Iterable[str]) -> bool:
    """Whether a worker limited to ``shard`` (names or globs; empty = all; ``-`` = none) serves ``group``."""
    patterns = list(shard)
    return not patterns or any(fnmatchcase(group, p) for p in patterns if p != NONE)
