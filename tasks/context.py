"""Per-process resources for tasks: settings and the Redis connection."""

from __future__ import annotations

import redis

from core.connection import redis_client
from core.settings import Settings, get_settings


def settings() -> Settings:
    return get_settings()


def connection() -> redis.Redis:
    return redis_client(get_settings().redis_url)
