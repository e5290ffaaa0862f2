"""Schwab's login and token status: ``/api/v1/brokers/schwab``.

The callback is the one ``/api/v1`` route without an API key: Schwab's redirect
cannot carry one. It only finishes a login that a key holder (or the CLI)
started, because its ``state`` must be a one-use nonce we stored.
"""

from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView

import brokers.schwab
from api import deps
from api.resources import Blueprint
from brokers.schwab.oauth import LOGIN_SECONDS

PREFIX = "/api/v1/brokers/schwab"
CALLBACK_PATH = f"{PREFIX}/callback"

blp = Blueprint(
    "schwab", __name__, url_prefix=PREFIX, description="Schwab OAuth login and token status"
)


class TokenStatusSchema(ma.Schema):
    state = ma.fields.Function(
        lambda s: s.state.value,
        required=True,
        metadata={"description": "off, missing, ok, expiring, expired or rejected"},
    )
    degraded = ma.fields.Boolean(
        required=True, metadata={"description": "a person must log in (soon): /health degrades"}
    )
    message = ma.fields.String(required=True)
    login_command = ma.fields.String(
        required=True, metadata={"example": "flask --app api schwab login"}
    )
    logged_in_at = ma.fields.DateTime(allow_none=True)
    age_seconds = ma.fields.Float(
        allow_none=True, metadata={"description": "refresh token age; it ends at 7 days"}
    )
    refresh_token_expires_at = ma.fields.DateTime(allow_none=True)
    access_token_expires_at = ma.fields.DateTime(allow_none=True)
    last_refresh_at = ma.fields.DateTime(allow_none=True)
    last_error = ma.fields.String(allow_none=True)
    last_error_at = ma.fields.DateTime(allow_none=True)


class LoginStartedSchema(ma.Schema):
    authorize_url = ma.fields.String(
        required=True, metadata={"description": "open it, log in at Schwab, allow the app"}
    )
    expires_in = ma.fields.Integer(required=True, metadata={"description": "seconds"})


class CallbackQuerySchema(ma.Schema):
    class Meta:
        unknown = ma.EXCLUDE  # Schwab may add parameters (session=...)

    code = ma.fields.String(load_default="")
    state = ma.fields.String(load_default="")
    error = ma.fields.String(load_default=None)


@blp.route("/status")
class Status(MethodView):
    @blp.response(200, TokenStatusSchema)
    def get(self):
        """Where the Schwab login stands, and the command to run when it needs a person."""
        return brokers.schwab.status(deps.connection(), deps.settings())


@blp.route("/login")
class LoginStart(MethodView):
    @blp.response(200, LoginStartedSchema)
    @blp.alt_response(409, description="No Schwab app is configured")
    def post(self):
        """Start a browser login: open ``authorize_url``; Schwab then calls the callback."""
        url = brokers.schwab.login(deps.connection(), deps.settings()).start()
        return {"authorize_url": url, "expires_in": LOGIN_SECONDS}


@blp.route("/callback")
class Callback(MethodView):
    @blp.doc(security=[])
    @blp.arguments(CallbackQuerySchema, location="query")
    @blp.response(200, TokenStatusSchema)
    @blp.alt_response(409, description="No Schwab app is configured")
    @blp.alt_response(422, description="Not a login we started, or Schwab refused it")
    @blp.alt_response(503, description="Schwab did not answer: retry")
    def get(self, query):
        """Where Schwab sends the browser after a login (``SCHWAB_CALLBACK_URL``); no API key."""
        login = brokers.schwab.login(deps.connection(), deps.settings())
        return login.finish(query["code"], query["state"], error=query["error"])
