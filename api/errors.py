"""Domain errors become JSON responses here, and only here.

Every error answers in flask-smorest's shape ``{code, status, message, errors}``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from http import HTTPStatus

import redis
from apispec import BasePlugin
from flask import Flask, current_app, jsonify, request
from kombu.exceptions import OperationalError
from webargs import core as webargs_core
from webargs.flaskparser import FlaskParser, is_json_request

from brokers.schwab.errors import SchwabUnavailable
from core import errors

log = logging.getLogger(__name__)

STATUS_OF = {
    errors.NotFound: 404,
    errors.AlreadyExists: 409,
    errors.Conflict: 409,
    errors.InvalidRequest: 422,
    errors.StoreUnavailable: 503,
    errors.ServiceUnavailable: 503,
    errors.VaultError: 500,
    errors.ConfigurationError: 500,
    SchwabUnavailable: 503,
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
    app.before_request(_refuse_nameless_query_parameters)


def _refuse_nameless_query_parameters():
    """``?=x`` names no parameter: webargs would drop it silently; say what is wrong."""
    if "" in request.args:
        return error_response(
            422,
            "a query parameter has no name",
            {"query": {"": ["a query parameter needs a name"]}},
        )
    return None


class JsonParser(FlaskParser):
    """webargs' parser, with every unreadable JSON body a 400 (not only syntax errors).

    ``json.loads`` raises ``RecursionError`` for deeply nested arrays and a plain
    ``ValueError`` for integers of more than 4300 digits; webargs only catches
    ``JSONDecodeError``, so those bodies used to answer 500. Bodies are read by the
    app's JSON provider (``api.DecimalJSONProvider``: numbers as ``Decimal``), where
    webargs alone would call ``json.loads`` and round every number through float.
    """

    def _raw_load_json(self, req):
        if not is_json_request(req):
            return webargs_core.missing
        try:
            return current_app.json.loads(req.get_data(cache=True).decode("utf-8"))
        except json.JSONDecodeError:
            raise
        except (ValueError, RecursionError) as exc:
            # A non-empty ``doc``: webargs takes an empty one for "no body" and skips the error.
            raise json.JSONDecodeError("unreadable JSON", type(exc).__name__, 0) from None


class ErrorResponsesPlugin(BasePlugin):
    """Documents, on every operation, the errors this module answers with.

    Every error response gets the ``Error`` body; protected operations can answer
    401; operations with a body can answer 400 (unreadable JSON) and 413 (over the
    size limit); any operation can answer 503 when Redis or the broker is down.
    """

    def __init__(self, protected: Callable[[str], bool]) -> None:
        self.protected = protected

    def operation_helper(self, path=None, operations=None, **kwargs) -> None:
        for method, operation in (operations or {}).items():
            if method == "parameters" or not isinstance(operation, dict):
                continue
            responses = operation.setdefault("responses", {})
            documented = {str(code) for code in responses}
            statuses = [503]
            if self.protected(path):
                statuses.append(401)
            if "requestBody" in operation:
                statuses += [400, 413]
            for status in statuses:
                if str(status) not in documented:
                    responses[str(status)] = HTTPStatus(status).name
            for code, response in responses.items():
                if str(code).isdigit() and int(code) >= 400 and isinstance(response, dict):
                    response.setdefault("content", {"application/json": {"schema": "Error"}})
