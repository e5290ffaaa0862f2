"""Broker tokens kept fresh by beat: Schwab's access token, by its one refresher."""

from __future__ import annotations

import brokers.schwab
from tasks import context, names
from tasks.celery import app


@app.task(name=names.REFRESH_SCHWAB_TOKEN, ignore_result=False, expires=50)
def refresh_schwab_token() -> str:
    """Refresh the Schwab access token if it has under ten minutes left
    (``brokers.schwab.refresher``); returns the outcome's name, never a token."""
    return brokers.schwab.refresh(context.connection(), context.settings()).value
