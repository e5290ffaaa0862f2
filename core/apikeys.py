"""API keys: random bearer tokens stored only as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import redis

from core import keys
from core.errors import AlreadyExists, InvalidRequest, NotFound
from core.models import NAME_RULE, from_iso, is_valid_name, to_iso, utcnow

KEY_PREFIX = "tf_"
# How long an API process trusts a key it verified: a revoked key stops working within this.
VERIFIED_KEY_SECONDS = 5.0


@dataclass(frozen=True)
class ApiKey:
    name: str
    created_at: datetime


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKeyStore:
    def __init__(self, connection: redis.Redis) -> None:
        self.connection = connection

    def create(self, name: str, *, replace: bool = False) -> str:
        """Make a new key called ``name`` and return it; only its hash is kept.

        Raises:
            InvalidRequest: bad name.
            AlreadyExists: a key of that name exists and ``replace`` is false.
        """
        if not is_valid_name(name):
            raise InvalidRequest("invalid key name", errors={"name": [f"must be {NAME_RULE}"]})
        if self.connection.hexists(keys.api_key_names(), name):
            if not replace:
                raise AlreadyExists(f"an API key named {name!r} exists (revoke it first)")
            self.revoke(name)
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        digest = _digest(key)
        record = json.dumps({"name": name, "created_at": to_iso(utcnow())})
        with self.connection.pipeline() as pipe:
            pipe.hset(keys.api_keys(), digest, record)
            pipe.hset(keys.api_key_names(), name, digest)
            pipe.execute()
        return key

    def verify(self, key: str) -> str | None:
        """The name of the key, or None when it is unknown or revoked."""
        if not key.startswith(KEY_PREFIX) or len(key) > 200:
            return None
        record = self.connection.hget(keys.api_keys(), _digest(key))
        return json.loads(record)["name"] if record else None

    def list(self) -> list[ApiKey]:
        records = [json.loads(r) for r in self.connection.hvals(keys.api_keys())]
        return sorted(
            (ApiKey(r["name"], from_iso(r["created_at"])) for r in records), key=lambda k: k.name
        )

    def revoke(self, name: str) -> None:
        """Raises: NotFound: no key of that name."""
        digest = self.connection.hget(keys.api_key_names(), name)
        if digest is None:
            raise NotFound(f"no API key named {name!r}")
        with self.connection.pipeline() as pipe:
            pipe.hdel(keys.api_keys(), digest)
            pipe.hdel(keys.api_key_names(), name)
            pipe.execute()


class VerifiedKeys:
    """Remembers keys verified in the last ``ttl`` seconds, so most requests skip Redis.

    Only good keys are remembered (a bad key is looked up every time), and only for
    ``ttl``: a revoked key is refused again within ``ttl`` seconds everywhere.
    """

    def __init__(
        self, ttl: float = VERIFIED_KEY_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self.clock = clock
        self._verified: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def verify(self, key: str, store: ApiKeyStore) -> str | None:
        """The key's name, from memory when verified within ``ttl``, else from ``store``."""
        digest = _digest(key)
        now = self.clock()
        with self._lock:
            remembered = self._verified.get(digest)
        if remembered and remembered[1] > now:
            return remembered[0]
        name = store.verify(key)
        with self._lock:
            if name is None:
                self._verified.pop(digest, None)
            else:
                if len(self._verified) > 10_000:  # bound the memory a flood of keys can take
                    self._verified.clear()
                self._verified[digest] = (name, now + self.ttl)
        return name
