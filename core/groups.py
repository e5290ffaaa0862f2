"""The registry of groups."""

from __future__ import annotations

import redis

from core import keys
from core.errors import AlreadyExists, InvalidRequest, NotFound
from core.models import NAME_RULE, Group, is_valid_name


class GroupRegistry:
    def __init__(self, connection: redis.Redis) -> None:
        self.connection = connection

    def create(self, name: str) -> Group:
        """Register a new group.

        Raises:
            InvalidRequest: the name breaks the naming rule.
            AlreadyExists: a group of that name exists.
        """
        if not is_valid_name(name):
            raise InvalidRequest("invalid group name", errors={"name": [f"must be {NAME_RULE}"]})
        group = Group(name=name)
        # HSETNX on the name field makes creation atomic between API processes.
        if not self.connection.hsetnx(keys.group(name), "name", name):
            raise AlreadyExists(f"group {name!r} already exists")
        with self.connection.pipeline() as pipe:
            pipe.hset(keys.group(name), mapping=group.to_hash())
            pipe.sadd(keys.groups(), name)
            pipe.execute()
        return group

    def get(self, name: str) -> Group:
        """Raises: NotFound: no such group."""
        data = self.connection.hgetall(keys.group(name)) if is_valid_name(name) else {}
        if not data.get("created_at"):
            raise NotFound(f"group {name!r} does not exist")
        return Group.from_hash(data)

    def exists(self, name: str) -> bool:
        return is_valid_name(name) and bool(self.connection.sismember(keys.groups(), name))

    def names(self) -> list[str]:
        return sorted(self.connection.smembers(keys.groups()))

    def list_all(self) -> list[Group]:
        names = self.names()
        with self.connection.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.hgetall(keys.group(name))
            rows = pipe.execute()
        return [Group.from_hash(row) for row in rows if row.get("created_at")]

    def delete(self, name: str, pipeline=None) -> None:
        """Remove the group record (its accounts and jobs are removed by the caller)."""
        pipe = pipeline or self.connection.pipeline()
        pipe.delete(keys.group(name), keys.group_accounts(name), keys.group_pending(name))
        pipe.srem(keys.groups(), name)
        if pipeline is None:
            pipe.execute()
