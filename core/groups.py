"""The registry of groups."""

from __future__ import annotations

import redis
from redis.client import Pipeline

from core import keys
from core.connection import reply_text
from core.errors import AlreadyExists, Conflict, InvalidRequest, NotFound
from core.fleet_events import FleetChange, publish
from core.models import NAME_RULE, Group, is_valid_name, to_iso, utcnow

# KEYS: group, group pending. ARGV: when. A group with no job waiting or running is marked
# closing, in one step with the check: from then on no job can be created for it (the job
# creation script refuses a closing group), so its deletion cannot strand an accepted order.
_CLOSE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 'missing' end
if redis.call('LLEN', KEYS[2]) > 0 then return 'busy' end
redis.call('HSET', KEYS[1], 'closing', ARGV[1])
return 'closed'
"""


class GroupRegistry:
    def __init__(self, connection: redis.Redis) -> None:
        self.connection = connection
        self._close = connection.register_script(_CLOSE)

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
            publish(pipe, FleetChange.GROUP_CREATED, name)
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

    def close(self, name: str) -> None:
        """Take no more jobs for ``name``: the first step of deleting it.

        Raises:
            NotFound: no such group.
            Conflict: it has jobs waiting or running (nothing changed).
        """
        verdict = reply_text(
            self._close(keys=[keys.group(name), keys.group_pending(name)], args=[to_iso(utcnow())])
        )
        if verdict == "missing":
            raise NotFound(f"group {name!r} does not exist")
        if verdict == "busy":
            raise Conflict(
                f"group {name!r} still has unfinished jobs; wait for them before deleting it"
            )

    def delete(self, name: str, pipeline: Pipeline | None = None) -> None:
        """Remove the group record (its accounts and jobs are removed by the caller)."""
        pipe = pipeline or self.connection.pipeline()
        pipe.delete(keys.group(name), keys.group_accounts(name), keys.group_pending(name))
        pipe.srem(keys.groups(), name)
        publish(pipe, FleetChange.GROUP_DELETED, name)
        if pipeline is None:
            pipe.execute()
