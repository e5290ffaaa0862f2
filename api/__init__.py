"""The REST API: ``flask --app api run`` / ``gunicorn 'api:create_app()'``."""

from __future__ import annotations

import logging
from decimal import Decimal

from flask import Flask
from flask.json.provider import DefaultJSONProvider
from flask_smorest import Api

from api import auth, cli, dashboard, deps, docs, errors, stream
from api.resources import (
    accounts,
    backtests,
    brokerages,
    compat,
    fleet_jobs,
    groups,
    health,
    jobs,
    market_data,
    notifications,
    positions,
    risk,
    schedules,
    schwab,
    signals,
    strategies,
    transactions,
)
from api.schemas.common import decimal2properties
from core import logs
from core.settings import Settings, get_settings
from strategies.loader import load_user_strategies

MAX_BODY_BYTES = 64 * 1024

_SPEC_OPTIONS = {
    "info": {
        "description": (
            "Manage groups of brokerage accounts; every activation, deactivation and "
            "order is a job on the group's Celery queue. Every /api/v1 route needs "
            "`Authorization: Bearer <key>` (create keys with `flask --app api keys create NAME`)."
        )
    },
    "components": {
        "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
    },
    "security": [{"bearerAuth": []}],
}


class DecimalJSONProvider(DefaultJSONProvider):
    """Flask's JSON, with every JSON number that has a fraction or exponent read as ``Decimal``.

    Through float, ``1000000.0000000000000000001`` would become ``1000000.0`` and pass
    the quantity limit, and ``1e-400`` would become 0. Request bodies are parsed with
    this provider (``api.errors.JsonParser``). A ``Decimal`` in a response is written
    as a plain decimal string, never in exponent notation.
    """

    def loads(self, s, **kwargs):
        kwargs.setdefault("parse_float", Decimal)
        return super().loads(s, **kwargs)

    @staticmethod
    def default(o):
        if isinstance(o, Decimal):
            return format(o, "f")
        return DefaultJSONProvider.default(o)


class _Api(Api):
    """flask-smorest's Api, with a ``message`` on every error (its validation errors lack one)."""

    def handle_http_exception(self, error):
        payload, status, headers = super().handle_http_exception(error)
        if "message" not in payload:
            payload["message"] = (
                "invalid input: `errors` says what is wrong with each field"
                if status == 422
                else error.description
            )
        return payload, status, headers


def create_app(settings: Settings | None = None) -> Flask:
    """Build the Flask app.

    Args:
        settings: overrides for tests; by default they are read from the environment.
    """
    app = Flask(__name__, static_folder=None)  # nothing to serve: no public /static route
    app.json = DecimalJSONProvider(app)
    app.config.update(
        API_TITLE="tradefleet",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="/docs",
        OPENAPI_SWAGGER_UI_URL=docs.ASSETS_URL,  # served by the app: /docs works offline
        API_SPEC_OPTIONS=_SPEC_OPTIONS,
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        JSON_SORT_KEYS=False,
    )
    settings = settings or get_settings()
    load_user_strategies(settings)
    logs.configure(settings, logging.getLogger("api"))
    deps.init_app(app, settings)
    api = _Api(app, spec_kwargs={"extra_plugins": [errors.ErrorResponsesPlugin(auth.is_protected)]})
    api.ma_plugin.converter.add_attribute_function(decimal2properties)
    errors.init_app(app)
    auth.init_app(app)
    cli.init_app(app)
    docs.init_app(app)
    stream.init_app(app)
    dashboard.init_app(app)
    for module in (
        health,
        brokerages,
        groups,
        accounts,
        transactions,
        jobs,
        fleet_jobs,
        positions,
        risk,
        schedules,
        market_data,
        schwab,
        notifications,
        backtests,
        signals,
        strategies,
    ):
        api.register_blueprint(module.blp)
    api.register_blueprint(compat.blp)
    return app
