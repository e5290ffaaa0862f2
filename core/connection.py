"""Redis connections, one pool per URL per process."""

from __future__ import annotations

import functools

import redis

from core.errors import StoreUnavailable

# Errors that mean "Redis is not there right now" rather than a bug of ours.
REDIS_DOWN_ERRORS = (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError)


@functools.cache
def redis_client(url: str) -> redis.Redis:
    """A client for ``url`` with short timeouts, shared by the process.

    Replies are decoded to ``str``. Timeouts are short so that a missing Redis
    turns into a clear ``503`` instead of a hung request.
    """
    return redis.Redis.from_url(
        url,
        decode_responses=True,
        socket_connect_timeout=2,
        socket_timeout=5,
        health_check_interval=15,
        retry_on_timeout=False,
    )


def ping(client: redis.Redis) -> None:
    """Check that Redis answers.

    Raises:
        StoreUnavailable: it does not.
    """
    try:
        client.ping()
    except REDIS_DOWN_ERRORS as exc:
        raise StoreUnavailable(f"Redis is unreachable: {type(exc).__name__}") from None


def reply_text(value: bytes | str) -> str:
    """One string of a script's reply (bytes unless the client decodes responses)."""
    return value.decode() if isinstance(value, bytes) else value


def reply_pairs(flat: list) -> dict[str, str]:
    """A flat HGETALL reply from a script as a dict."""
    items = [reply_text(v) for v in flat]
    return dict(zip(items[::2], items[1::2], strict=True))
