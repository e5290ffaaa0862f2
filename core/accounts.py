"""The registry of brokerage accounts (never their credentials: see ``vault``)."""

from __future__ import annotations

import json
from typing import Any

import redis
from redis.client import Pipeline

from core import keys
from core.connection import reply_pairs
from core.errors import NotFound
from core.fleet_events import FleetChange, publish
from core.jobs import Write
from core.models import Account, AccountState, to_iso, utcnow

# HSET only if the hash exists, atomically: a deleted account must stay deleted.
_UPDATE_EXISTING = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
"""


# KEYS: the group's account set. ARGV: the account key template ('{name}': the account).
_LIST_GROUP = """
local rows = {}
for _, name in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  rows[#rows + 1] = redis.call('HGETALL', (string.gsub(ARGV[1], '{name}', name)))
end
return rows
"""


class AccountRegistry:
    def __init__(self, connection: redis.Redis) -> None:
        self.connection = connection
        self._update_existing = connection.register_script(_UPDATE_EXISTING)
        self._list_group = connection.register_script(_LIST_GROUP)

    def save(self, account: Account, pipeline: Pipeline | None = None) -> None:
        """Write the account record and list it in its group."""
        pipe = pipeline or self.connection.pipeline()
        pipe.hset(keys.account(account.group, account.name), mapping=account.to_hash())
        pipe.sadd(keys.group_accounts(account.group), account.name)
        if pipeline is None:
            pipe.execute()

    def writes(self, account: Account) -> list[Write]:
        """``save`` as writes to make along with a new job (``JobRegistry.create``)."""
        pairs = [item for pair in account.to_hash().items() for item in pair]
        return [
            Write("HSET", keys.account(account.group, account.name), *pairs),
            Write("SADD", keys.group_accounts(account.group), account.name),
        ]

    def get(self, group: str, name: str) -> Account:
        """Raises: NotFound: no such account in the group."""
        data = self.connection.hgetall(keys.account(group, name))
        if not data:
            raise NotFound(f"account {name!r} does not exist in group {group!r}")
        return Account.from_hash(data)

    def find(self, group: str, name: str) -> Account | None:
        data = self.connection.hgetall(keys.account(group, name))
        return Account.from_hash(data) if data else None

    def find_many(self, group: str, names: list[str]) -> dict[str, Account | None]:
        """Several accounts of a group with one read (None for those that do not exist)."""
        with self.connection.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.hgetall(keys.account(group, name))
            rows = pipe.execute()
        return {
            name: Account.from_hash(row) if row else None
            for name, row in zip(names, rows, strict=True)
        }

    def list_group(self, group: str) -> list[Account]:
        """Every account of the group, by name, read in one round trip."""
        rows = self._list_group(
            keys=[keys.group_accounts(group)], args=[keys.account(group, "{name}")]
        )
        accounts = [Account.from_hash(reply_pairs(row)) for row in rows if row]
        return sorted(accounts, key=lambda a: a.name)

    def active(self, group: str, brokerages: tuple[str, ...] = ()) -> list[Account]:
        """Active accounts of a group, optionally only of some brokerages."""
        return [
            a
            for a in self.list_group(group)
            if a.state is AccountState.ACTIVE and (not brokerages or a.brokerage in brokerages)
        ]

    def set_state(
        self,
        group: str,
        name: str,
        state: AccountState,
        *,
        error: str = "",
        details: dict[str, Any] | None = None,
    ) -> bool:
        """Move an account to ``state``.

        Returns:
            False when the account no longer exists (deleted meanwhile): it is
            not recreated.
        """
        mapping = {"state": state.value, "last_error": error, "updated_at": to_iso(utcnow())}
        if details is not None:
            mapping["details"] = json.dumps(details, sort_keys=True)
        args = [item for pair in mapping.items() for item in pair]
        return bool(self._update_existing(keys=[keys.account(group, name)], args=args))

    def update_details(self, group: str, name: str, updates: dict[str, Any]) -> bool:
        """Merge ``updates`` into the account's details (never secrets: masked numbers, holdings)."""
        account = self.find(group, name)
        if account is None:
            return False
        details = {**account.details, **updates}
        return bool(
            self._update_existing(
                keys=[keys.account(group, name)],
                args=[
                    "details",
                    json.dumps(details, sort_keys=True),
                    "updated_at",
                    to_iso(utcnow()),
                ],
            )
        )

    def delete(self, group: str, name: str, pipeline: Pipeline | None = None) -> None:
        pipe = pipeline or self.connection.pipeline()
        pipe.delete(keys.account(group, name))
        pipe.srem(keys.group_accounts(group), name)
        publish(pipe, FleetChange.ACCOUNT_DELETED, group, name)
        if pipeline is None:
            pipe.execute()
