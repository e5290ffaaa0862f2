"""Live signals: a group subscribes a strategy to symbols and an interval; after each bar
pull the strategy is evaluated on the stored bars and what it decides on the newest bar is
recorded, once per (subscription, bar).

The decision reads the target position (:mod:`strategies.base`) at the newest bar and at
the one before: entering long is a ``buy``, leaving long a ``sell`` (paper and the
brokerages hold no shorts, so a short target is recorded and traded as flat), anything else
``hold``; before the strategy's warm-up it is ``warmup``. With ``auto_trade`` the caller
(``tasks.signals``) submits the order and records its outcome on the signal.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

import numpy as np
import redis

from core import keys
from core.errors import InvalidRequest, NotFound
from core.models import to_iso, utcnow
from strategies.bars import Bars
from strategies.base import Strategy, evaluate
from strategies.errors import InvalidBacktest
from strategies.registry import get_strategy

SIGNALS_KEPT = 1000  # per group
SIGNAL_TTL_SECONDS = 30 * 86400
# On the job-events channel, so a /ws client of the group hears of each signal (api.stream).
SIGNAL_EVENT = "signal"


@dataclass
class Subscription:
    id: str
    group: str
    strategy: str
    params: dict[str, Any]
    symbols: list[str]
    interval: str
    auto_trade: bool = False
    quantity: str = "1"
    dry_run: bool = True
    created_at: str = field(default_factory=lambda: to_iso(utcnow()))

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Subscription:
        return cls(**json.loads(text))


class Decision(NamedTuple):
    action: str  # buy, sell, hold, warmup
    target: int
    previous: int


@dataclass
class Signal:
    """What one subscription decided on one bar, and what was done about it.

    ``outcome``: ``recorded`` (no trade asked), ``submitted`` (``job_id``), ``refused``
    (a risk rule: ``detail`` names it) or ``failed``.
    """

    id: str  # <subscription>:<bar epoch seconds>
    subscription: str
    group: str
    strategy: str
    symbol: str
    interval: str
    bar: str  # the bar's start (ISO 8601 UTC)
    close: float
    action: str
    target: int
    previous: int
    auto_trade: bool
    outcome: str = "recorded"
    job_id: str = ""
    detail: str = ""
    risk: dict[str, str] = field(default_factory=dict)
    at: str = field(default_factory=lambda: to_iso(utcnow()))

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Signal:
        return cls(**json.loads(text))


def decide(strategy_cls: type[Strategy], params: Mapping[str, Any], bars: Bars) -> Decision:
    """The decision of ``strategy_cls`` with ``params`` on the newest of ``bars``.

    Raises:
        StrategyError: the strategy's code failed.
    """
    targets, warmup, reentries = evaluate(strategy_cls(**dict(params)), bars)
    last = len(bars) - 1
    if last < 1 or last < warmup:
        return Decision("warmup", 0, 0)
    # Before the warm-up the backtester takes no decision: the position there is flat.
    target = max(int(targets[last]), 0)
    previous = max(int(targets[last - 1]), 0) if last - 1 >= warmup else 0
    again = reentries is not None and bool(np.asarray(reentries)[last])
    if target == 1 and (previous != 1 or again):
        return Decision("buy", int(targets[last]), int(targets[last - 1]))
    if previous == 1 and target != 1:
        return Decision("sell", int(targets[last]), int(targets[last - 1]))
    return Decision("hold", int(targets[last]), int(targets[last - 1]))


class SubscriptionBook:
    """Every group's strategy subscriptions."""

    def __init__(self, connection: redis.Redis) -> None:
        self.connection = connection

    def create(
        self,
        group: str,
        *,
        strategy: str,
        symbols: Sequence[str],
        interval: str,
        params: Mapping[str, Any] | None = None,
        auto_trade: bool = False,
        quantity: Any = "1",
        dry_run: bool = True,
    ) -> Subscription:
        """Raises: InvalidRequest naming the field (``strategy``, ``params``, ``quantity``)."""
        try:
            cls = get_strategy(strategy)
            checked = cls.check_params(params or {})
        except InvalidBacktest as exc:
            field_name = "strategy" if "strategy" in exc.errors else "params"
            raise InvalidRequest(
                exc.message, errors={field_name: exc.errors.get("strategy") or exc.errors}
            ) from None
        try:
            amount = Decimal(str(quantity))
        except InvalidOperation:
            amount = Decimal(0)
        if not amount.is_finite() or amount <= 0:
            raise InvalidRequest(
                "quantity must be above 0", errors={"quantity": ["must be above 0"]}
            )
        subscription = Subscription(
            id=uuid.uuid4().hex[:12],
            group=group,
            strategy=cls.name,
            params=checked,
            symbols=list(dict.fromkeys(symbols)),
            interval=interval,
            auto_trade=bool(auto_trade),
            quantity=format(amount, "f"),
            dry_run=bool(dry_run),
        )
        with self.connection.pipeline() as pipe:
            pipe.hset(keys.group_strategies(group), subscription.id, subscription.to_json())
            pipe.sadd(keys.strategy_groups(), group)
            pipe.execute()
        return subscription

    def list_group(self, group: str) -> list[Subscription]:
        raw = self.connection.hvals(keys.group_strategies(group))
        return sorted((Subscription.from_json(r) for r in raw), key=lambda s: s.created_at)

    def get(self, group: str, subscription_id: str) -> Subscription:
        raw = self.connection.hget(keys.group_strategies(group), subscription_id)
        if not raw:
            raise NotFound(f"group {group!r} has no strategy subscription {subscription_id!r}")
        return Subscription.from_json(raw)

    def delete(self, group: str, subscription_id: str | None = None) -> int:
        """Delete one subscription (``NotFound`` if missing) or, without an id, all of the
        group's; returns how many were deleted."""
        if subscription_id is not None:
            self.get(group, subscription_id)
            self.connection.hdel(keys.group_strategies(group), subscription_id)
            removed = 1
        else:
            removed = self.connection.hlen(keys.group_strategies(group))
            self.connection.delete(keys.group_strategies(group))
        if not self.connection.exists(keys.group_strategies(group)):
            self.connection.srem(keys.strategy_groups(), group)
        return removed

    def matching(self, symbol: str, interval: str) -> list[Subscription]:
        """Every group's subscriptions to ``symbol`` at ``interval``."""
        found = []
        for group in sorted(self.connection.smembers(keys.strategy_groups())):
            found += [
                s for s in self.list_group(group) if s.interval == interval and symbol in s.symbols
            ]
        return found


class SignalBook:
    """Signals, once per (subscription, bar), listed per group newest first.

    Each new signal, and each change of its outcome, is announced on the job-events channel
    as ``{"event": "signal", "group", "id"}`` in the pipeline that writes it.
    """

    def __init__(self, connection: redis.Redis) -> None:
        self.connection = connection

    def record(self, signal: Signal) -> tuple[Signal, bool]:
        """Keep ``signal`` unless one exists for its subscription and bar; returns the kept
        signal and whether it is new."""
        subscription, bar = signal.id.rsplit(":", 1)
        key = keys.signal(subscription, bar)
        if self.connection.set(key, signal.to_json(), nx=True, ex=SIGNAL_TTL_SECONDS):
            with self.connection.pipeline() as pipe:
                pipe.lpush(keys.group_signals(signal.group), signal.id)
                pipe.ltrim(keys.group_signals(signal.group), 0, SIGNALS_KEPT - 1)
                _announce(pipe, signal)
                pipe.execute()
            return signal, True
        return Signal.from_json(self.connection.get(key)), False

    def update(self, signal: Signal) -> None:
        subscription, bar = signal.id.rsplit(":", 1)
        with self.connection.pipeline() as pipe:
            pipe.set(keys.signal(subscription, bar), signal.to_json(), xx=True, keepttl=True)
            _announce(pipe, signal)
            pipe.execute()

    def get(self, signal_id: str) -> Signal:
        """The signal ``signal_id`` (``<subscription>:<bar epoch seconds>``).

        Raises:
            NotFound: no such signal (or it expired).
        """
        subscription, _, bar = signal_id.rpartition(":")
        raw = self.connection.get(keys.signal(subscription, bar)) if subscription else None
        if raw is None:
            raise NotFound(f"no such signal: {signal_id}")
        return Signal.from_json(raw)

    def list(
        self, groups: Sequence[str], symbol: str | None = None, limit: int = 100
    ) -> list[Signal]:
        """The newest signals of ``groups`` (of ``symbol`` only, if given), newest first."""
        found: list[Signal] = []
        for group in groups:
            ids = self.connection.lrange(keys.group_signals(group), 0, SIGNALS_KEPT - 1)
            names = [keys.signal(*i.rsplit(":", 1)) for i in ids]
            for raw in self.connection.mget(names) if names else []:
                if raw:
                    signal = Signal.from_json(raw)
                    if symbol is None or signal.symbol == symbol:
                        found.append(signal)
        found.sort(key=lambda s: (s.bar, s.at), reverse=True)
        return found[:limit]

    def groups(self) -> list[str]:
        return sorted(self.connection.smembers(keys.strategy_groups()))

    def forget_group(self, group: str) -> None:
        """Drop ``group``'s list of signals (a deleted group's; each signal expires)."""
        self.connection.delete(keys.group_signals(group))


def _announce(pipe: redis.client.Pipeline, signal: Signal) -> None:
    event = {"event": SIGNAL_EVENT, "group": signal.group, "id": signal.id}
    pipe.publish(keys.job_events(), json.dumps(event))
