"""Schwab's Trader API: OAuth2 login, the one token refresher, and market data.

Build the parts from settings with :func:`token_store`, :func:`oauth_client`,
:func:`login` and :func:`market_client`; see each module for its rules
(``tokens``: who may write; ``refresher``: the mutex; ``client``: never
refreshes).
"""

from __future__ import annotations

import redis

from brokers.schwab.client import Candle, SchwabClient, SchwabQuote
from brokers.schwab.errors import (
    LOGIN_COMMAND,
    SchwabError,
    SchwabLoginError,
    SchwabNotAuthorized,
    SchwabNotConfigured,
    SchwabRequestError,
    SchwabTokenRejected,
    SchwabUnavailable,
)
from brokers.schwab.oauth import Login, OAuthClient
from brokers.schwab.ratelimit import TokenBucket
from brokers.schwab.refresher import RefreshOutcome, refresh_if_due
from brokers.schwab.tokens import TokenState, TokenStatus, TokenStore
from core.settings import Settings
from core.vault import Vault

__all__ = [
    "LOGIN_COMMAND",
    "Candle",
    "Login",
    "OAuthClient",
    "RefreshOutcome",
    "SchwabClient",
    "SchwabError",
    "SchwabLoginError",
    "SchwabNotAuthorized",
    "SchwabNotConfigured",
    "SchwabQuote",
    "SchwabRequestError",
    "SchwabTokenRejected",
    "SchwabUnavailable",
    "TokenBucket",
    "TokenState",
    "TokenStatus",
    "TokenStore",
    "configured",
    "login",
    "market_client",
    "oauth_client",
    "refresh",
    "status",
    "token_store",
]


def configured(settings: Settings) -> bool:
    """Whether a Schwab app is set up (SCHWAB_APP_KEY)."""
    return bool(settings.schwab_app_key)


def token_store(connection: redis.Redis, settings: Settings) -> TokenStore:
    return TokenStore(connection, Vault(connection, settings.secret_keys))


def oauth_client(settings: Settings) -> OAuthClient:
    return OAuthClient(settings)


def login(connection: redis.Redis, settings: Settings) -> Login:
    return Login(connection, token_store(connection, settings), oauth_client(settings))


def market_client(connection: redis.Redis, settings: Settings) -> SchwabClient:
    return SchwabClient(
        settings.schwab_base_url,
        token_store(connection, settings),
        TokenBucket(connection, settings.schwab_rate_limit),
    )


def refresh(connection: redis.Redis, settings: Settings) -> RefreshOutcome:
    """The refresher's one step (see ``brokers.schwab.refresher``)."""
    if not configured(settings):
        return RefreshOutcome.NOT_LOGGED_IN
    return refresh_if_due(token_store(connection, settings), oauth_client(settings))


def status(connection: redis.Redis, settings: Settings) -> TokenStatus:
    return token_store(connection, settings).status(configured=configured(settings))
