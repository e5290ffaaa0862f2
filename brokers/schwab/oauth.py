"""Schwab's OAuth2 authorization-code flow: the login, and the token endpoint.

A person opens :meth:`Login.start`'s URL, logs in at Schwab, and Schwab sends
the browser to ``SCHWAB_CALLBACK_URL`` with ``code`` and ``state``. Either the
API's callback route receives it, or the person pastes the address bar into
``flask --app api schwab login``; both end in :meth:`Login.finish`. The
``state`` is a one-use nonce we stored for ten minutes, so only a login we
started can store tokens.

The token endpoint takes HTTP Basic client authentication (app key : app
secret) and a form body (``grant_type=authorization_code`` with ``code`` and
``redirect_uri``, or ``grant_type=refresh_token``).
"""

from __future__ import annotations

import logging
import secrets
from urllib.parse import parse_qs, urlencode, urlsplit

import redis
import requests

from brokers.schwab.errors import (
    LOGIN_COMMAND,
    SchwabLoginError,
    SchwabNotConfigured,
    SchwabTokenRejected,
    SchwabUnavailable,
)
from brokers.schwab.tokens import TokenGrant, TokenStatus, TokenStore
from core import keys
from core.settings import Settings

log = logging.getLogger(__name__)

LOGIN_SECONDS = 600  # a started login may be finished within this
TIMEOUT = (5, 20)  # connect, read (s)


def _oauth_error(response: requests.Response) -> str:
    """The OAuth ``error`` code of a refusal (never its description: it could echo input)."""
    try:
        code = response.json().get("error")
    except (ValueError, AttributeError):
        code = None
    return code if isinstance(code, str) and code.isidentifier() else "unknown_error"


class OAuthClient:
    """Schwab's authorize URL and token endpoint for the app in ``settings``."""

    def __init__(self, settings: Settings, session: requests.Session | None = None) -> None:
        if not settings.schwab_app_key or not settings.schwab_app_secret:
            raise SchwabNotConfigured(
                "Schwab is not configured: SCHWAB_APP_KEY and SCHWAB_APP_SECRET must be set (the app's key and secret "
                "from developer.schwab.com)"
            )
        if not settings.schwab_callback_url:
            raise SchwabNotConfigured(
                "Schwab is not configured: SCHWAB_CALLBACK_URL must be set to the app's registered https callback"
            )
        self.base_url = settings.schwab_base_url
        self.callback_url = settings.schwab_callback_url
        self._key = settings.schwab_app_key
        self._secret = settings.schwab_app_secret
        self.session = session or requests.Session()

    def authorize_url(self, state: str) -> str:
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self._key,
                "redirect_uri": self.callback_url,
                "state": state,
            }
        )
        return f"{self.base_url}/v1/oauth/authorize?{query}"

    def exchange_code(self, code: str) -> TokenGrant:
        """Trade an authorization code for tokens.

        Raises:
            SchwabLoginError: Schwab refused the code (used, expired, wrong callback).
            SchwabUnavailable: Schwab did not answer; the code may still be good for a minute.
        """
        try:
            return self._token(
                {
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": self.callback_url,
                }
            )
        except SchwabTokenRejected as exc:
            raise SchwabLoginError(
                f"Schwab refused the login code ({exc.message}): codes last about a minute "
                f"and work once; run `{LOGIN_COMMAND}` again"
            ) from None

    def refresh(self, refresh_token: str) -> TokenGrant:
        """A new access token for ``refresh_token``.

        Raises:
            SchwabTokenRejected: Schwab refused the refresh token; a person must log in.
            SchwabUnavailable: Schwab did not answer; try again soon.
        """
        return self._token({"grant_type": "refresh_token", "refresh_token": refresh_token})

    def _token(self, form: dict[str, str]) -> TokenGrant:
        try:
            response = self.session.post(
                f"{self.base_url}/v1/oauth/token",
                data=form,
                auth=(self._key, self._secret),
                headers={"Accept": "application/json"},
                timeout=TIMEOUT,
            )
        except requests.RequestException as exc:
            raise SchwabUnavailable(
                f"Schwab's token endpoint did not answer ({type(exc).__name__})"
            ) from None
        if response.status_code in (400, 401, 403):
            raise SchwabTokenRejected(f"HTTP {response.status_code} {_oauth_error(response)}")
        if response.status_code != 200:
            raise SchwabUnavailable(f"Schwab's token endpoint answered HTTP {response.status_code}")
        try:
            body = response.json()
            return TokenGrant(
                access_token=str(body["access_token"]),
                expires_in=float(body.get("expires_in", 1800)),
                refresh_token=body.get("refresh_token"),
            )
        except (ValueError, KeyError, TypeError):
            raise SchwabUnavailable("Schwab's token endpoint answered without a token") from None


class Login:
    """The browser login: start it, then finish it with what Schwab sent back."""

    def __init__(self, connection: redis.Redis, store: TokenStore, oauth: OAuthClient) -> None:
        self.connection = connection
        self.store = store
        self.oauth = oauth

    def start(self) -> str:
        """The URL to open; its ``state`` is good for one login within ten minutes."""
        state = secrets.token_urlsafe(24)
        self.connection.set(keys.schwab_login_state(state), "1", ex=LOGIN_SECONDS)
        return self.oauth.authorize_url(state)

    def finish_url(self, received_url: str) -> TokenStatus:
        """Finish with the address Schwab redirected the browser to (pasted by a person).

        Raises:
            SchwabLoginError: it is not a callback of a login we started.
        """
        query = parse_qs(urlsplit(received_url.strip()).query)
        if not query:
            raise SchwabLoginError(
                "that is not the address Schwab sent the browser to: paste the whole "
                "address (it starts with SCHWAB_CALLBACK_URL and holds code=... and state=...)"
            )
        return self.finish(
            (query.get("code") or [""])[0],
            (query.get("state") or [""])[0],
            error=(query.get("error") or [None])[0],
        )

    def finish(self, code: str, state: str, *, error: str | None = None) -> TokenStatus:
        """Trade ``code`` for tokens if ``state`` is a login we started, and store them.

        Raises:
            SchwabLoginError: Schwab refused the login, the state is unknown or used, or
                the code was refused.
            SchwabUnavailable: Schwab did not answer.
        """
        if error:
            shown = error if error.isidentifier() else "an error"
            raise SchwabLoginError(
                f"Schwab refused the login ({shown}): run `{LOGIN_COMMAND}` again"
            )
        if not code or not state:
            raise SchwabLoginError(
                "the callback address lacks code= or state=: paste the whole address"
            )
        if not self.connection.delete(keys.schwab_login_state(state)):
            raise SchwabLoginError(
                "this login is unknown, already finished or older than ten minutes: "
                f"run `{LOGIN_COMMAND}` again"
            )
        grant = self.oauth.exchange_code(code)
        self.store.save_login(grant)
        log.info("schwab: logged in; the refresh token lasts 7 days")
        return self.store.status()
