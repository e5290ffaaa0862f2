"""Logging for the API and the workers: plain lines, or one JSON object per line.

Nothing logged by tradefleet carries a secret: credentials are never passed to a
logger, adapters log exception types rather than messages, and AutoRSA output
is scrubbed before it is stored.
"""

from __future__ import annotations

import logging

from pythonjsonlogger.json import JsonFormatter

from core.settings import Settings

PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(process)d %(message)s"


def formatter(settings: Settings) -> logging.Formatter:
    if settings.log_json:
        return JsonFormatter(JSON_FIELDS, rename_fields={"asctime": "time", "levelname": "level"})
    return logging.Formatter(PLAIN_FORMAT)


def configure(settings: Settings, logger: logging.Logger | None = None) -> None:
    """Give ``logger`` (default: the root logger) our level and format.

    A logger without handlers gets one on stderr; existing handlers (Celery's,
    gunicorn's) keep their stream and get our format.
    """
    logger = logger or logging.getLogger()
    logger.setLevel(settings.log_level)
    if not logger.handlers:
        logger.addHandler(logging.StreamHandler())
    for handler in logger.handlers:
        handler.setFormatter(formatter(settings))
