"""Domain errors become JSON responses here, and only here.

Every error answers in flask-smorest's shape ``{code, status, message, errors}``.
"""

from __future__ import annotations

import logging
from http import HTTPStatus

import redis
from flask import Flask, jsonify
from kombu.exceptions import OperationalError

from core import errors

log = logging.getLogger(__name__)

STATUS_OF = {
    errors.NotFound: 404,
    errors.AlreadyExists: 409,
    errors.Conflict: 409,
    errors.InvalidRequest: 422,
    errors.StoreUnavailable: 503,
    errors.VaultError: 500,
    errors.ConfigurationError: 500,
}


def error_response(status: int, message: str, errors_: dict | None = None):
    body = {"code": status, "status": HTTPStatus(status).phrase, "message": message}
    if errors_:
        body["errors"] = errors_
    return jsonify(body), status


def _status_for(exc: errors.TradefleetError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS_OF:
            return STATUS_OF[cls]
    return 500


def _domain_error(exc: errors.TradefleetError):
    status = _status_for(exc)
    if status >= 500:
        log.error("%s: %s", type(exc).__name__, exc.message)
    # Field errors of a request body sit under "json", as flask-smorest's own do.
    field_errors = {"json": exc.errors} if exc.errors else None
    return error_response(status, exc.message, field_errors)


def _redis_down(exc: Exception):
    log.warning("Redis unreachable: %s", type(exc).__name__)
    return error_response(
        503, "the data store (Redis) is unreachable; nothing was changed: retry when it is back"
    )


def _broker_down(exc: Exception):
    log.warning("message broker unreachable: %s", type(exc).__name__)
    return error_response(503, "the message broker is unreachable: retry when it is back")


def init_app(app: Flask) -> None:
    app.register_error_handler(errors.TradefleetError, _domain_error)
    for exc in (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError):
        app.register_error_handler(exc, _redis_down)
    app.register_error_handler(OperationalError, _broker_down)
