"""The Schwab tokens in Redis: written by the login and the one refresher, read by everyone.

* The **access token** (30 minutes) is one key, sealed with the vault, whose TTL
  is the token's remaining life: once Redis drops it, nobody uses it.
* The **refresh token** (about 7 days, counted from the browser login and not
  extended by refreshes) is sealed in a persistent hash with its creation time,
  the last refresh, the last error, and whether Schwab refused it.

Workers only call :meth:`TokenStore.access_token`; only the login
(``brokers.schwab.oauth``) and the refresher (``brokers.schwab.refresher``)
write. Two refreshers would lock the app out: each refresh hands out a new token
and Schwab may refuse the older one.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

import redis

from brokers.schwab.errors import LOGIN_COMMAND, SchwabNotAuthorized
from core import keys
from core.vault import Vault

DAY = 86400.0
# Schwab ends a refresh token about 7 days after the login; past 6 days, say so.
REFRESH_TOKEN_LIFE = 7 * DAY
REFRESH_TOKEN_WARN_AGE = 6 * DAY

# Drop the stored token only if it is still the one that was refused (a refresher may
# have replaced it in the meantime).
_DELETE_IF_SAME = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@dataclass(frozen=True)
class TokenGrant:
    """What Schwab's token endpoint answered. Raw: it holds secrets; never log or return it."""

    access_token: str
    expires_in: float
    refresh_token: str | None

    def __repr__(self) -> str:  # never show the tokens, even in a traceback's locals
        return f"TokenGrant(expires_in={self.expires_in!r}, refresh_token={'set' if self.refresh_token else 'none'})"


class TokenState(StrEnum):
    OFF = "off"  # SCHWAB_APP_KEY not set: Schwab is not used
    MISSING = "missing"  # nobody logged in yet
    OK = "ok"
    EXPIRING = "expiring"  # refresh token older than 6 days: log in again soon
    EXPIRED = "expired"  # refresh token older than 7 days
    REJECTED = "rejected"  # Schwab refused the refresh token

    @property
    def degraded(self) -> bool:
        return self in (
            TokenState.MISSING,
            TokenState.EXPIRING,
            TokenState.EXPIRED,
            TokenState.REJECTED,
        )


@dataclass(frozen=True)
class TokenStatus:
    """Where the Schwab login stands; holds no secret, so it may be shown anywhere."""

    state: TokenState
    logged_in_at: datetime | None = None
    age_seconds: float | None = None
    refresh_token_expires_at: datetime | None = None
    access_token_expires_at: datetime | None = None
    last_refresh_at: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None

    @property
    def degraded(self) -> bool:
        return self.state.degraded

    @property
    def login_command(self) -> str:
        return LOGIN_COMMAND

    @property
    def message(self) -> str:
        return {
            TokenState.OFF: "Schwab is not configured (set SCHWAB_APP_KEY and SCHWAB_APP_SECRET)",
            TokenState.MISSING: f"nobody has logged in to Schwab: run `{LOGIN_COMMAND}`",
            TokenState.OK: "logged in; the access token is refreshed by beat",
            TokenState.EXPIRING: (
                f"the refresh token is more than 6 days old and ends at 7: run `{LOGIN_COMMAND}`"
            ),
            TokenState.EXPIRED: f"the refresh token is more than 7 days old: run `{LOGIN_COMMAND}`",
            TokenState.REJECTED: f"Schwab refused the refresh token: run `{LOGIN_COMMAND}`",
        }[self.state]


def _moment(value: str | None) -> datetime | None:
    return datetime.fromtimestamp(float(value), UTC) if value else None


class TokenStore:
    """The sealed tokens in Redis (see the module docstring for who may write)."""

    def __init__(self, connection: redis.Redis, vault: Vault) -> None:
        self.connection = connection
        self.vault = vault

    # Readers -----------------------------------------------------------------

    def access_token(self) -> str:
        """The current access token, for a request header.

        Raises:
            SchwabNotAuthorized: there is none (never logged in, or it expired because
                the refresher has not run or Schwab refused the refresh token).
        """
        return self.read_access()[0]

    def read_access(self) -> tuple[str, str]:
        """The access token and its sealed form (hand that to :meth:`drop_access` on a 401)."""
        sealed = self.connection.get(keys.schwab_access())
        if sealed is None:
            raise SchwabNotAuthorized(
                "no Schwab access token: the refresher (celery beat) replaces it every few "
                f"minutes; if `GET /api/v1/brokers/schwab/status` says so, run `{LOGIN_COMMAND}`"
            )
        token = json.loads(self.vault.unseal(sealed, "the Schwab access token"))
        return token["access_token"], sealed

    def access_remaining(self) -> float:
        """Seconds the access token has left (0 when there is none)."""
        ttl_ms = self.connection.pttl(keys.schwab_access())
        return max(0.0, ttl_ms / 1000) if ttl_ms and ttl_ms > 0 else 0.0

    def refresh_token(self) -> str | None:
        """The refresh token (only the refresher calls this), or None when nobody logged in."""
        sealed = self.connection.hget(keys.schwab_refresh(), "token")
        return self.vault.unseal(sealed, "the Schwab refresh token") if sealed else None

    def is_rejected(self) -> bool:
        return self.connection.hget(keys.schwab_refresh(), "rejected") == "1"

    def status(self, configured: bool = True, now: float | None = None) -> TokenStatus:
        """Where the login stands (``configured``: whether SCHWAB_APP_KEY is set)."""
        now = time.time() if now is None else now
        with self.connection.pipeline(transaction=False) as pipe:
            pipe.hgetall(keys.schwab_refresh())
            pipe.pttl(keys.schwab_access())
            record, access_ttl_ms = pipe.execute()
        errors = {
            "last_error": record.get("last_error") or None,
            "last_error_at": _moment(record.get("last_error_at")),
        }
        if not configured:
            return TokenStatus(TokenState.OFF)
        if not record.get("token"):
            return TokenStatus(TokenState.MISSING, **errors)
        created = float(record["created_at"])
        age = now - created
        if record.get("rejected") == "1":
            state = TokenState.REJECTED
        elif age >= REFRESH_TOKEN_LIFE:
            state = TokenState.EXPIRED
        elif age >= REFRESH_TOKEN_WARN_AGE:
            state = TokenState.EXPIRING
        else:
            state = TokenState.OK
        access_expires = (
            datetime.fromtimestamp(now + access_ttl_ms / 1000, UTC)
            if access_ttl_ms and access_ttl_ms > 0
            else None
        )
        return TokenStatus(
            state,
            logged_in_at=_moment(record["created_at"]),
            age_seconds=round(age, 3),
            refresh_token_expires_at=datetime.fromtimestamp(created + REFRESH_TOKEN_LIFE, UTC),
            access_token_expires_at=access_expires,
            last_refresh_at=_moment(record.get("refreshed_at")),
            **errors,
        )

    # Writers (the login, the refresher; workers only drop a refused token) ---------

    def save_login(self, grant: TokenGrant, now: float | None = None) -> None:
        """Store a fresh login: its refresh token starts a new 7-day life."""
        if not grant.refresh_token:
            raise SchwabNotAuthorized("Schwab's login answer held no refresh token")
        now = time.time() if now is None else now
        with self.connection.pipeline() as pipe:
            pipe.delete(keys.schwab_refresh())
            pipe.hset(
                keys.schwab_refresh(),
                mapping={
                    "token": self.vault.seal(grant.refresh_token),
                    "created_at": repr(now),
                    "refreshed_at": repr(now),
                    "rejected": "0",
                },
            )
            self._set_access(pipe, grant)
            pipe.execute()

    def save_refresh(self, grant: TokenGrant, now: float | None = None) -> None:
        """Store a refreshed access token; the refresh token keeps its creation time."""
        now = time.time() if now is None else now
        fields = {"refreshed_at": repr(now), "last_error": "", "last_error_at": ""}
        if grant.refresh_token:
            fields["token"] = self.vault.seal(grant.refresh_token)
        with self.connection.pipeline() as pipe:
            pipe.hset(keys.schwab_refresh(), mapping=fields)
            self._set_access(pipe, grant)
            pipe.execute()

    def _set_access(self, pipe, grant: TokenGrant) -> None:
        sealed = self.vault.seal(json.dumps({"access_token": grant.access_token}))
        pipe.set(keys.schwab_access(), sealed, px=max(1, int(grant.expires_in * 1000)))

    def mark_rejected(self, error: str, now: float | None = None) -> None:
        """Schwab refused the refresh token: nothing refreshes until the next login."""
        self.record_error(error, now=now, rejected=True)

    def record_error(self, error: str, now: float | None = None, *, rejected: bool = False) -> None:
        """Remember the last failure for the status page (``error`` must hold no secret)."""
        fields = {"last_error": error, "last_error_at": repr(time.time() if now is None else now)}
        if rejected:
            fields["rejected"] = "1"
        self.connection.hset(keys.schwab_refresh(), mapping=fields)

    def drop_access(self, sealed: str) -> bool:
        """Forget the access token Schwab refused, unless it was replaced meanwhile."""
        return bool(self.connection.eval(_DELETE_IF_SAME, 1, keys.schwab_access(), sealed))
