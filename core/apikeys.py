"""API keys: random bearer tokens stored only as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime

import redis

from core import keys
from core.errors import AlreadyExists, InvalidRequest, NotFound
from core.models import NAME_RULE, from_iso, is_valid_name, to_iso, utcnow

KEY_PREFIX = "tf_"


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
