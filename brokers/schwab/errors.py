"""What can go wrong talking to Schwab, and what the caller should do about it.

No message carries a secret: they name HTTP statuses, OAuth error codes and
exception types, never a token, a code or the app secret.
"""

from __future__ import annotations

from core.errors import Conflict, InvalidRequest, TradefleetError

LOGIN_COMMAND = "flask --app api schwab login"


class SchwabError(TradefleetError):
    """Base class of Schwab failures."""


class SchwabUnavailable(SchwabError):
    """Schwab did not answer usefully now (network, 5xx, 429, our rate bucket): retry later."""


class SchwabNotAuthorized(SchwabError):
    """No usable access token. The refresher replaces it on its next run; if the refresh
    token is gone or refused, a person must log in again (:data:`LOGIN_COMMAND`)."""


class SchwabTokenRejected(SchwabError):
    """Schwab refused the refresh token (expired after 7 days, or revoked): log in again."""


class SchwabRequestError(SchwabError):
    """Schwab refused the request itself (4xx other than 401/429): fix the request."""


class SchwabNotConfigured(Conflict, SchwabError):
    """No Schwab app is set up: set SCHWAB_APP_KEY, SCHWAB_APP_SECRET and SCHWAB_CALLBACK_URL."""


class SchwabLoginError(InvalidRequest, SchwabError):
    """A login could not be finished (bad pasted URL, unknown or expired state, code refused):
    start again with :data:`LOGIN_COMMAND`."""
