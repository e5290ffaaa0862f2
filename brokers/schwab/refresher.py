"""The one Schwab token refresher (run by a beat task, ``tasks.tokens``).

Every call takes the refresher's mutex, **re-reads** the token inside it and
refreshes only when the access token has less than ``margin`` seconds left. A
second refresher racing the first either finds the mutex held or, once it gets
it, finds a fresh token: one refresh reaches Schwab. Workers never call this.
"""

from __future__ import annotations

import logging
from enum import StrEnum

from brokers.schwab.errors import SchwabTokenRejected, SchwabUnavailable
from brokers.schwab.oauth import OAuthClient
from brokers.schwab.tokens import TokenStore
from core import keys
from core.locks import Mutex

log = logging.getLogger(__name__)

# Access tokens last 30 minutes; the beat task runs every minute (SCHWAB_REFRESH_SECONDS)
# and refreshes once fewer than 10 remain, so a Schwab outage has ten tries before workers
# lose access.
REFRESH_MARGIN_SECONDS = 600.0


class RefreshOutcome(StrEnum):
    REFRESHED = "refreshed"
    FRESH = "fresh"  # the access token has more than the margin left: nothing to do
    BUSY = "busy"  # another refresher holds the mutex
    NOT_LOGGED_IN = "not_logged_in"
    REJECTED = "rejected"  # Schwab refused the refresh token (now or before): log in again
    FAILED = "failed"  # Schwab did not answer: the next run tries again


def refresh_if_due(
    store: TokenStore, oauth: OAuthClient, *, margin: float = REFRESH_MARGIN_SECONDS
) -> RefreshOutcome:
    """Refresh the access token if it has less than ``margin`` seconds left."""
    with Mutex(store.connection, keys.schwab_refresh_lock(), ttl=30.0) as held:
        if not held:
            return RefreshOutcome.BUSY
        refresh_token = store.refresh_token()  # re-read inside the mutex
        if refresh_token is None:
            return RefreshOutcome.NOT_LOGGED_IN
        if store.is_rejected():
            return RefreshOutcome.REJECTED
        if store.access_remaining() > margin:
            return RefreshOutcome.FRESH
        try:
            grant = oauth.refresh(refresh_token)
        except SchwabTokenRejected as exc:
            store.mark_rejected(f"refresh refused: {exc.message}")
            log.error("schwab: refresh token refused (%s): log in again", exc.message)
            return RefreshOutcome.REJECTED
        except SchwabUnavailable as exc:
            store.record_error(f"refresh failed: {exc.message}")
            log.warning("schwab: refresh failed (%s); next run tries again", exc.message)
            return RefreshOutcome.FAILED
        store.save_refresh(grant)
        log.info("schwab: access token refreshed (%ss)", int(grant.expires_in))
        return RefreshOutcome.REFRESHED
