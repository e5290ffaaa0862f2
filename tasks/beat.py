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
    entries.update(_market_entries(settings))
    if settings.schwab_app_key:  # the one Schwab refresher (brokers.schwab.refresher)
        entries["refresh-schwab-token"] = {
            "task": names.REFRESH_SCHWAB_TOKEN,
            "schedule": settings.schwab_refresh_seconds,
            "options": {"queue": "default", "expires": settings.schwab_refresh_seconds},
        }
    return entries


def _market_entries(settings: Settings) -> dict:
    """Bar pulls (one entry fanning out over the watchlist as it is when it runs),
    quote refresh and operations metrics, all on the ``market`` queue."""
    wanted = {
        "market-pull-watchlist": (names.PULL_WATCHLIST, settings.market_pull_seconds),
        "market-refresh-quotes": (names.REFRESH_QUOTES, settings.quote_refresh_seconds),
        "market-operations-metrics": (names.WRITE_METRICS, settings.metrics_seconds),
    }
    return {
        entry: {"task": task, "schedule": every, "options": {"queue": "market", "expires": every}}
        for entry, (task, every) in wanted.items()
        if every
    }
