"""Bearer API keys on every ``/api/v1`` route and the compatibility routes."""

from __future__ import annotations

from flask import Flask, current_app, g, request
from flask_smorest import abort

from api import deps
from api.resources.compat import COMPAT_PATHS
from api.resources.schwab import CALLBACK_PATH
from core.apikeys import VerifiedKeys

PROTECTED_PREFIX = "/api/v1"
# Schwab's redirect cannot carry a key; the callback checks its one-use OAuth state instead.
PUBLIC_PATHS = frozenset({CALLBACK_PATH})
_VERIFIED = "tradefleet.verified_keys"
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="tradefleet"'}


def init_app(app: Flask) -> None:
    app.extensions[_VERIFIED] = VerifiedKeys()
    app.before_request(require_api_key)


def is_protected(path: str) -> bool:
    """Whether ``path`` (a request path or an OpenAPI path template) needs an API key."""
    if path in PUBLIC_PATHS:
        return False
    return path.startswith(PROTECTED_PREFIX) or path in COMPAT_PATHS


def verify_key(key: str) -> str | None:
    """The name of ``key`` when it is valid and unrevoked, else None (also for the WebSocket)."""
    return current_app.extensions[_VERIFIED].verify(key, deps.api_keys())


def require_api_key() -> None:
    """Refuse the request with 401 unless it carries a valid, unrevoked key."""
    if not is_protected(request.path):
        return
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        abort(
            401,
            message="missing or malformed Authorization header: expected 'Bearer <api key>'",
            headers=_CHALLENGE,
        )
    name = verify_key(key)
    if name is None:
        abort(401, message="unknown or revoked API key", headers=_CHALLENGE)
    g.api_key_name = name
