"""The periodic schedule (run by exactly one `celery beat` at a time: RedBeat holds a lock)."""

from core.settings import Settings
from tasks import names


def schedule(settings: Settings) -> dict:
    entries = {
        "sweep-groups": {
            "task": names.SWEEP_GROUPS,
            "schedule": 15.0,
            "options": {"queue": "default", "expires": 15.0},
        },
    }
    if settings.holdings_refresh_seconds:
        entries["refresh-holdings"] = {
            "task": names.REFRESH_HOLDINGS,
            "schedule": settings.holdings_refresh_seconds,
            "options": {"queue": "default", "expires": settings.holdings_refresh_seconds},
        }
    return entries
