"""The periodic schedule (one `celery beat` schedules at a time: see ``tasks.scheduler``)."""

from __future__ import annotations

from core.settings import Settings
from tasks import names

# The sweeper resumes a group whose mutex holder died: soon after its mutex expires.
SWEEP_INTERVAL_SECONDS = 5.0


def schedule(settings: Settings) -> dict:
    """The beat schedule (``beat_schedule``)."""
    entries = {
        "sweep-groups": {
            "task": names.SWEEP_GROUPS,
            "schedule": SWEEP_INTERVAL_SECONDS,
            "options": {"queue": "default", "expires": SWEEP_INTERVAL_SECONDS},
        },
    }
    if settings.holdings_refresh_seconds:
        entries["refresh-holdings"] = {
            "task": names.REFRESH_HOLDINGS,
            "schedule": settings.holdings_refresh_seconds,
            "options": {"queue": "default", "expires": settings.holdings_refresh_seconds},
        }
    return entries
