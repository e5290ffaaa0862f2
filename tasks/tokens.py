"""Broker tokens kept fresh by beat: Schwab's access token, by its one refresher."""

from __future__ import annotations

import brokers.schwab
from tasks import context, names, notify
from tasks.celery import app


@app.task(name=names.REFRESH_SCHWAB_TOKEN, ignore_result=False, expires=50)
def refresh_schwab_token() -> str:
    """Refresh the Schwab access token if it has under ten minutes left
    (``brokers.schwab.refresher``), then announce a login near its end to the targets
    wanting ``schwab_token``; returns the outcome's name, never a token."""
    outcome = brokers.schwab.refresh(context.connection(), context.settings())
    notify.schwab_token_checked(context.connection(), context.settings())
    return outcome.value
