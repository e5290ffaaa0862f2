"""Risk rules per group: what an order may be, checked when it is submitted and again
just before a leg places it (a rule changed in between wins).

A group's rules (all optional; a group without rules accepts every valid order):

* ``allowed_symbols`` (empty: any) and ``blocked_symbols``;
* ``max_quantity``: shares per account and symbol in one order;
* ``max_notional``: quantity times the symbol's last quote, per account and symbol;
* ``max_orders_per_day``: orders placed for real (``dry_run`` false) per UTC day;
* ``max_daily_loss``: how far the group's paper accounts may fall in value (cash plus
  positions at the last quotes) since their first check of the UTC day;
* ``trading_hours``: ``"always"`` (the default) or an exchange calendar
  (``"XNYS"``, US equities): orders only while that exchange is open;
* ``kill_switch``: refuse every new order of the group, dry runs included.

A refusal names the rule, its limit and the value that broke it; every refusal is
kept in the group's audit list (newest first, the last ``AUDIT_LENGTH``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from decimal import Decimal

import redis

from core import keys
from core.calendars import calendar, is_open
from core.errors import InvalidRequest, RiskRuleViolation
from core.models import OrderRequest, to_iso, utcnow
from core.quotes import QuoteBook

AUDIT_LENGTH = 1000
ALWAYS = "always"
# One step: count an order placed today unless the limit is reached (then 0).
_COUNT_ORDER = """
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if ARGV[1] ~= '' and used >= tonumber(ARGV[1]) then return -used - 1 end
redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], 2 * 86400)
return used + 1
"""


@dataclass
class RiskRules:
    allowed_symbols: list[str] = field(default_factory=list)
    blocked_symbols: list[str] = field(default_factory=list)
    max_quantity: Decimal | None = None
    max_notional: Decimal | None = None
    max_orders_per_day: int | None = None
    max_daily_loss: Decimal | None = None
    trading_hours: str = ALWAYS
    kill_switch: bool = False

    def to_json(self) -> str:
        data = asdict(self)
        for name in ("max_quantity", "max_notional", "max_daily_loss"):
            data[name] = None if data[name] is None else str(data[name])
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None) -> RiskRules:
        data = json.loads(text) if text else {}
        for name in ("max_quantity", "max_notional", "max_daily_loss"):
            if data.get(name) is not None:
                data[name] = Decimal(data[name])
        return cls(**data)


@dataclass(frozen=True)
class RiskEvent:
    """One refusal, as kept in the audit list."""

    rule: str
    limit: str
    value: str
    message: str
    where: str  # "api" (at submission) or "worker" (before a leg placed it)
    job_id: str
    at: str


class RiskBook:
    """Every group's rules, their checks and their audit list."""

    def __init__(self, connection: redis.Redis) -> None:
        self.connection = connection
        self.quotes = QuoteBook(connection)
        self._count_order = connection.register_script(_COUNT_ORDER)

    def rules(self, group: str) -> RiskRules:
        return RiskRules.from_json(self.connection.get(keys.group_risk(group)))

    def set_rules(self, group: str, rules: RiskRules) -> RiskRules:
        if rules.trading_hours != ALWAYS:
            try:
                calendar(rules.trading_hours)
            except ValueError as unknown:
                raise InvalidRequest(
                    str(unknown),
                    errors={"trading_hours": ["must be 'always' or a calendar such as 'XNYS'"]},
                ) from None
        self.connection.set(keys.group_risk(group), rules.to_json())
        return rules

    def forget(self, group: str) -> None:
        """Drop ``group``'s rules, audit list and today's counters (a deleted group's), so
        a new group of the same name starts with none of them."""
        today = utcnow().date().isoformat()
        self.connection.delete(
            keys.group_risk(group),
            keys.group_risk_events(group),
            keys.group_orders_today(group, today),
            keys.group_equity_at_open(group, today),
        )

    def events(self, group: str, limit: int = 100) -> list[RiskEvent]:
        raw = self.connection.lrange(keys.group_risk_events(group), 0, limit - 1)
        return [RiskEvent(**json.loads(item)) for item in raw]

    def check(
        self,
        group: str,
        order: OrderRequest,
        *,
        job_id: str,
        where: str,
        paper_equity: Callable[[], Decimal] | None = None,
        count: bool = False,
    ) -> None:
        """Refuse ``order`` if a rule of ``group`` forbids it now.

        Args:
            paper_equity: ``() -> Decimal``: the group's paper accounts' value now, for
                ``max_daily_loss`` (not checked without it).
            count: count it against ``max_orders_per_day`` once it passes (at submission).

        Raises:
            RiskRuleViolation: names the rule, its limit and the value; also recorded.
        """
        rules = self.rules(group)
        try:
            _check_rules(rules, order, self.quotes, utcnow())
            if rules.max_daily_loss is not None and paper_equity is not None:
                self._check_daily_loss(group, rules.max_daily_loss, paper_equity())
            if count and rules.max_orders_per_day is not None and not order.dry_run:
                used = self._count_order(
                    keys=[keys.group_orders_today(group, utcnow().date().isoformat())],
                    args=[rules.max_orders_per_day],
                )
                if used < 0:
                    raise _violation("max_orders_per_day", rules.max_orders_per_day, -used - 1)
        except RiskRuleViolation as violation:
            self._audit(group, violation, where=where, job_id=job_id)
            raise

    def _check_daily_loss(self, group: str, limit: Decimal, equity: Decimal) -> None:
        key = keys.group_equity_at_open(group, utcnow().date().isoformat())
        self.connection.set(key, str(equity), nx=True, ex=2 * 86400)
        start = Decimal(self.connection.get(key) or str(equity))
        loss = start - equity
        if loss > limit:
            raise _violation("max_daily_loss", limit, loss)

    def _audit(self, group: str, violation: RiskRuleViolation, *, where: str, job_id: str) -> None:
        detail = violation.errors.get("risk", {})
        event = RiskEvent(
            rule=detail.get("rule", ""),
            limit=detail.get("limit", ""),
            value=detail.get("value", ""),
            message=violation.message,
            where=where,
            job_id=job_id,
            at=to_iso(utcnow()),
        )
        with self.connection.pipeline() as pipe:
            pipe.lpush(keys.group_risk_events(group), json.dumps(asdict(event)))
            pipe.ltrim(keys.group_risk_events(group), 0, AUDIT_LENGTH - 1)
            pipe.execute()


def _check_rules(rules: RiskRules, order: OrderRequest, quotes: QuoteBook, now: datetime) -> None:
    if rules.kill_switch:
        raise _violation("kill_switch", "on", "an order", "the group's kill switch is on")
    for symbol in order.symbols:
        if rules.allowed_symbols and symbol not in rules.allowed_symbols:
            raise _violation("allowed_symbols", ",".join(rules.allowed_symbols), symbol)
        if symbol in rules.blocked_symbols:
            raise _violation("blocked_symbols", ",".join(rules.blocked_symbols), symbol)
    # A sell of everything has no quantity to bound: it only ever reduces what is held.
    if (
        rules.max_quantity is not None
        and not order.sell_all
        and order.quantity > rules.max_quantity
    ):
        raise _violation("max_quantity", rules.max_quantity, order.quantity)
    if rules.max_notional is not None and not order.sell_all:
        for symbol in order.symbols:
            quote = quotes.find(symbol)
            price = order.limit_price or (quote.price if quote else None)
            if price is None:
                raise _violation(
                    "max_notional", rules.max_notional, "unknown", f"no quote for {symbol}"
                )
            notional = order.quantity * price
            if notional > rules.max_notional:
                raise _violation("max_notional", rules.max_notional, notional)
    if rules.trading_hours != ALWAYS and not is_open(rules.trading_hours, now):
        raise _violation("trading_hours", rules.trading_hours, to_iso(now), "the market is closed")


def _violation(rule: str, limit: object, value: object, why: str = "") -> RiskRuleViolation:
    limit_text, value_text = _plain(limit), _plain(value)
    message = f"risk rule {rule} (limit {limit_text}) refuses this order: {value_text}"
    if why:
        message += f" ({why})"
    return RiskRuleViolation(
        message, errors={"risk": {"rule": rule, "limit": limit_text, "value": value_text}}
    )


def _plain(value: object) -> str:
    return format(value, "f") if isinstance(value, Decimal) else str(value)
