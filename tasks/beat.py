"""The periodic schedule (run by exactly one `celery beat` at a time: RedBeat holds a lock)."""

from tasks import names

SCHEDULE = {
    "sweep-groups": {
        "task": names.SWEEP_GROUPS,
        "schedule": 15.0,
        "options": {"queue": "default", "expires": 15.0},
    },
}
