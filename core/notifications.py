"""Notification targets: where tradefleet tells people that jobs ended, accounts failed, etc.

A target is a signed webhook, a Discord webhook or a Telegram chat, for one group or
the whole fleet (no group), with the events it wants. Its URL (or bot token and chat
id) and its webhook signing secret are sealed with the vault; the record keeps only a
masked form to show. The signing secret is shown once, when the target is created.

Keys (``core.keys``): ``notify_target(id)`` holds one target; ``notify_targets()``
every id; ``notify_fleet()`` and ``notify_group(g)`` the ids by scope, so the order
path learns whether anyone listens to a group with one round trip
(:meth:`TargetRegistry.anyone_listens`) before it publishes anything.
"""

from __future__ import annotations

import json
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from urllib.parse import urlsplit

import redis

from core import keys
from core.errors import InvalidRequest, NotFound
from core.groups import GroupRegistry
from core.models import from_iso, to_iso, utcnow
from core.vault import Vault


class Event(StrEnum):
    """What a target can be told about."""

    JOB_FINISHED = "job_finished"  # a job ended: its state and a per-account summary
    UNKNOWN_RESULT = "unknown_result"  # a job recorded an `unknown` outcome: check the brokerage
    ACCOUNT_FAILED = "account_failed"  # an activation or a holdings read failed
    CODE_NEEDED = "code_needed"  # a 2FA code is needed (not sent yet: see the README)
    SCHWAB_TOKEN = "schwab_token"  # the Schwab login nears its 7-day end (or ended)


# A delivery asked for by POST /notifications/<id>/test; every target gets it.
TEST_EVENT = "test"


class TargetKind(StrEnum):
    WEBHOOK = "webhook"  # JSON POST signed with HMAC-SHA256 (X-Tradefleet-Signature)
    DISCORD = "discord"  # a Discord channel webhook
    TELEGRAM = "telegram"  # a Telegram bot's message to one chat


@dataclass(frozen=True)
class Destination:
    """Where a target delivers. Raw: it holds secrets; never log, store or return it."""

    url: str = ""  # webhook, discord
    bot_token: str = ""  # telegram
    chat_id: str = ""  # telegram
    signing_secret: str = ""  # webhook

    def __repr__(self) -> str:  # never show the values, even in a traceback's locals
        return "Destination(...)"

    def to_json(self) -> str:
        return json.dumps(
            {
                "url": self.url,
                "bot_token": self.bot_token,
                "chat_id": self.chat_id,
                "signing_secret": self.signing_secret,
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> Destination:
        return cls(**json.loads(text))

    def masked(self, kind: TargetKind) -> str:
        """What may be shown of it: the URL's scheme and host, the last characters of ids."""
        if kind is TargetKind.TELEGRAM:
            return f"telegram bot {_tail(self.bot_token)}, chat {_tail(self.chat_id)}"
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.hostname or ''}{_port(parts)}/***"


def _tail(value: str) -> str:
    return "***" + value[-4:] if len(value) > 4 else "***"


def _port(parts) -> str:
    return f":{parts.port}" if parts.port else ""


@dataclass(frozen=True)
class Target:
    """One notification target as stored (its destination sealed)."""

    id: str
    kind: TargetKind
    events: tuple[Event, ...]
    destination: str  # masked: safe to show
    group: str = ""  # empty: fleet-wide
    created_at: datetime = field(default_factory=utcnow)
    sealed: str = field(default="", repr=False)  # the vault's token of the Destination

    def to_hash(self) -> dict[str, str]:
        return {
            "id": self.id,
            "kind": self.kind.value,
            "events": ",".join(e.value for e in self.events),
            "destination": self.destination,
            "group": self.group,
            "created_at": to_iso(self.created_at),
            "sealed": self.sealed,
        }

    @classmethod
    def from_hash(cls, data: dict[str, str]) -> Target:
        return cls(
            id=data["id"],
            kind=TargetKind(data["kind"]),
            events=tuple(Event(e) for e in data["events"].split(",") if e),
            destination=data["destination"],
            group=data.get("group", ""),
            created_at=from_iso(data.get("created_at")) or utcnow(),
            sealed=data.get("sealed", ""),
        )

    def wants(self, event: str) -> bool:
        return event == TEST_EVENT or event in self.events


class TargetRegistry:
    def __init__(self, connection: redis.Redis, vault: Vault) -> None:
        self.connection = connection
        self.vault = vault

    def create(
        self,
        kind: TargetKind,
        destination: Destination,
        *,
        events: tuple[Event, ...],
        group: str = "",
    ) -> tuple[Target, str]:
        """Store a new target; a webhook gets a new signing secret.

        Returns:
            The target, and the webhook's signing secret (empty for other kinds): the
            only time it is shown.

        Raises:
            InvalidRequest: ``group`` names no group, or no event is asked for.
        """
        if group and not GroupRegistry(self.connection).exists(group):
            raise InvalidRequest("no such group", errors={"group": [f"no group {group!r}"]})
        if not events:
            raise InvalidRequest("no events", errors={"events": ["name at least one event"]})
        signing_secret = secrets.token_hex(32) if kind is TargetKind.WEBHOOK else ""
        destination = Destination(
            url=destination.url,
            bot_token=destination.bot_token,
            chat_id=destination.chat_id,
            signing_secret=signing_secret,
        )
        target = Target(
            id=uuid.uuid4().hex,
            kind=kind,
            events=tuple(dict.fromkeys(events)),
            destination=destination.masked(kind),
            group=group,
            sealed=self.vault.seal(destination.to_json()),
        )
        with self.connection.pipeline() as pipe:
            pipe.hset(keys.notify_target(target.id), mapping=target.to_hash())
            pipe.sadd(keys.notify_targets(), target.id)
            pipe.sadd(_scope_key(group), target.id)
            pipe.execute()
        return target, signing_secret

    def get(self, target_id: str) -> Target:
        """Raises: NotFound: no such target."""
        data = self.connection.hgetall(keys.notify_target(target_id)) if target_id else {}
        if not data.get("id"):
            raise NotFound(f"notification target {target_id!r} does not exist")
        return Target.from_hash(data)

    def list_all(self, group: str | None = None) -> list[Target]:
        """Every target (or those of one group, ``""`` for fleet-wide), oldest first."""
        ids = self.connection.smembers(
            keys.notify_targets() if group is None else _scope_key(group)
        )
        return sorted(self._load(ids), key=lambda t: (t.created_at, t.id))

    def delete(self, target_id: str) -> None:
        """Raises: NotFound: no such target."""
        target = self.get(target_id)
        with self.connection.pipeline() as pipe:
            pipe.delete(keys.notify_target(target.id))
            pipe.srem(keys.notify_targets(), target.id)
            pipe.srem(_scope_key(target.group), target.id)
            pipe.execute()

    def delete_group(self, group: str) -> int:
        """Delete every target of ``group`` (a deleted group's); returns how many."""
        ids = self.connection.smembers(keys.notify_group(group))
        with self.connection.pipeline() as pipe:
            for target_id in ids:
                pipe.delete(keys.notify_target(target_id))
                pipe.srem(keys.notify_targets(), target_id)
            pipe.delete(keys.notify_group(group))
            pipe.execute()
        return len(ids)

    def anyone_listens(self, group: str | None) -> bool:
        """Whether a target exists for ``group`` or the whole fleet (``None``: any target)."""
        if group is None:
            return bool(self.connection.scard(keys.notify_targets()))
        with self.connection.pipeline(transaction=False) as pipe:
            pipe.scard(keys.notify_fleet())
            pipe.scard(keys.notify_group(group))
            return any(pipe.execute())

    def listening(self, group: str | None, event: str) -> list[Target]:
        """The targets of ``group`` and the fleet (``None``: every target) wanting ``event``."""
        if group is None:
            ids = self.connection.smembers(keys.notify_targets())
        else:
            ids = self.connection.sunion(keys.notify_fleet(), keys.notify_group(group))
        return [t for t in self._load(ids) if t.wants(event)]

    def destination(self, target: Target) -> Destination:
        """Unseal where ``target`` delivers (only the delivery task calls this).

        Raises:
            VaultError: it cannot be decrypted with the configured keys.
        """
        return Destination.from_json(self.vault.unseal(target.sealed, "a notification target"))

    def _load(self, ids) -> list[Target]:
        ids = sorted(ids)
        with self.connection.pipeline(transaction=False) as pipe:
            for target_id in ids:
                pipe.hgetall(keys.notify_target(target_id))
            rows = pipe.execute()
        return [Target.from_hash(row) for row in rows if row.get("id")]


def _scope_key(group: str) -> str:
    return keys.notify_group(group) if group else keys.notify_fleet()
