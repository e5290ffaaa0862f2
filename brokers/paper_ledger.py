"""The paper ledgers: cash, positions and fills of paper accounts, in Redis.

Numbers follow ``core.money``: cash is whole cents (a buy's cost rounds up, a
sell's proceeds round down, so the ledger never credits money that did not
exist), positions are exact (quantities have at most 6 places), and an order
finer than the rules (a quantity of ``1E-31``) is refused rather than rounded
away. Everything is stored in plain notation, never ``1E-7``.

Orders are applied in batches by one Lua script (:meth:`PaperLedger.fill_many`):
every check and every change of a batch happens in one atomic step, one round
trip for hundreds of accounts. The decimal rules stay in Python: the script is
handed each line's cash change in cents and its quantity in millionths of a
share, and does integer arithmetic only (exact below 2**53: 90 trillion dollars,
9 billion shares). A fill is keyed by ``(job, symbol)`` per account: the script
refuses to apply the same one twice, whatever happens upstream.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal

import redis
from redis.client import Pipeline

from core import keys, money
from core.models import OrderAction, to_iso, utcnow

_CASH_PLACES = 2
_QUANTITY_UNIT = Decimal(10) ** -money.QUANTITY_PLACES
_CENTS = Decimal(100)

# KEYS: per line: account hash, positions hash, fill-id set, fills list.
# ARGV: check only (0/1), then per line: fill id, symbol, side, quantity units, cash change
#       in cents (signed), fill JSON.
# Returns per line: 'ok' | 'dup' | 'closed' | 'cash|<cash>' | 'shares|<held>'.
_FILL_MANY = f"""
local QP = {money.QUANTITY_PLACES}
local function units(text, places)
  if not text then return 0 end
  local sign = 1
  if string.sub(text, 1, 1) == '-' then sign = -1; text = string.sub(text, 2) end
  local whole, frac = string.match(text, '^(%d*)%.?(%d*)$')
  if not whole then return 0 end
  frac = string.sub(frac .. string.rep('0', places), 1, places)
  return sign * ((tonumber(whole) or 0) * 10 ^ places + (tonumber(frac) or 0))
end
local function text(n, places, trim)
  local sign = ''
  if n < 0 then sign = '-'; n = -n end
  local s = string.format('%.0f', n)
  if places > 0 then
    if #s <= places then s = string.rep('0', places - #s + 1) .. s end
    s = string.sub(s, 1, #s - places) .. '.' .. string.sub(s, #s - places + 1)
    if trim then s = string.gsub(string.gsub(s, '0+$', ''), '%.$', '') end
  end
  if s == '0' then sign = '' end
  return sign .. s
end
local check_only = ARGV[1] == '1'
local out = {{}}
for i = 0, (#KEYS / 4) - 1 do
  local account, positions, ids, fills = KEYS[4*i+1], KEYS[4*i+2], KEYS[4*i+3], KEYS[4*i+4]
  local id, symbol, side = ARGV[6*i+2], ARGV[6*i+3], ARGV[6*i+4]
  local quantity, change, fill = tonumber(ARGV[6*i+5]), tonumber(ARGV[6*i+6]), ARGV[6*i+7]
  if redis.call('SISMEMBER', ids, id) == 1 then
    out[#out + 1] = 'dup'
  elseif redis.call('EXISTS', account) == 0 then
    out[#out + 1] = 'closed'
  else
    local cash = units(redis.call('HGET', account, 'cash'), {_CASH_PLACES})
    local held = units(redis.call('HGET', positions, symbol), QP)
    if side == 'buy' and cash + change < 0 then
      out[#out + 1] = 'cash|' .. text(cash, {_CASH_PLACES}, false)
    elseif side == 'sell' and held < quantity then
      out[#out + 1] = 'shares|' .. text(held, QP, true)
    else
      if not check_only then
        if side == 'sell' then quantity = -quantity end
        redis.call('HSET', account, 'cash', text(cash + change, {_CASH_PLACES}, false))
        redis.call('HSET', positions, symbol, text(held + quantity, QP, true))
        redis.call('SADD', ids, id)
        redis.call('RPUSH', fills, fill)
      end
      out[#out + 1] = 'ok'
    end
  end
end
return out
"""


@dataclass(frozen=True)
class Fill:
    fill_id: str
    job_id: str
    symbol: str
    side: str
    quantity: str
    price: str
    at: str


@dataclass(frozen=True)
class OrderLine:
    """One account's order of one symbol at one price."""

    account: str
    symbol: str
    action: OrderAction
    quantity: Decimal
    price: Decimal


class OrderRefused(Exception):
    """The ledger refuses the order; the message says why (shown to the user)."""


class PaperLedger:
    """Cash, positions and fills of paper accounts, changed atomically."""

    def __init__(self, connection: redis.Redis) -> None:
        self.connection = connection
        self._fill_many = connection.register_script(_FILL_MANY)

    def open(self, group: str, account: str, starting_cash: Decimal) -> Decimal:
        """Open the account unless it is open; returns its cash.

        ``starting_cash`` is kept to the cent, rounded down.
        """
        cash = money.format_cash(money.round_cash_proceeds(starting_cash))
        self.connection.hsetnx(keys.paper_account(group, account), "cash", cash)
        return self.cash(group, account)

    def cash(self, group: str, account: str) -> Decimal:
        return Decimal(self.connection.hget(keys.paper_account(group, account), "cash") or "0")

    def positions(self, group: str, account: str) -> dict[str, Decimal]:
        raw = self.connection.hgetall(keys.paper_positions(group, account))
        return {symbol: Decimal(qty) for symbol, qty in sorted(raw.items()) if Decimal(qty) != 0}

    def fills(self, group: str, account: str) -> list[Fill]:
        return [
            Fill(**json.loads(f))
            for f in self.connection.lrange(keys.paper_fills(group, account), 0, -1)
        ]

    def held_many(
        self, group: str, accounts: list[str], symbols: tuple[str, ...]
    ) -> dict[tuple[str, str], Decimal]:
        """What each account holds of each symbol, with one read."""
        with self.connection.pipeline(transaction=False) as pipe:
            for account in accounts:
                pipe.hmget(keys.paper_positions(group, account), list(symbols))
            rows = pipe.execute()
        return {
            (account, symbol): Decimal(held or "0")
            for account, row in zip(accounts, rows, strict=True)
            for symbol, held in zip(symbols, row, strict=True)
        }

    def find_fill(self, group: str, account: str, fill_id: str) -> Fill | None:
        return next((f for f in self.fills(group, account) if f.fill_id == fill_id), None)

    def fill_many(
        self, group: str, job_id: str, lines: list[OrderLine], *, check_only: bool = False
    ) -> list[Fill | OrderRefused]:
        """Apply (or, with ``check_only``, only check) ``lines`` in one atomic step, in order.

        Lines of one account see each other's effect (a second symbol is checked
        against the cash the first one left). A line whose ``(job, symbol)`` fill is
        in the ledger already is not applied again: its recorded fill is returned.

        Returns:
            Per line, the fill (for ``check_only``, the fill it would be), or the
            :class:`OrderRefused` saying why not.
        """
        outcomes: list[Fill | OrderRefused | None] = []
        script_keys: list[str] = []
        script_args: list[str] = [str(int(check_only))]
        sent: list[tuple[int, Fill, Decimal]] = []
        for line in lines:
            refused = _refusal_by_rule(line)
            if refused is not None:
                outcomes.append(refused)
                continue
            fill = Fill(
                fill_id=f"{job_id}|{line.symbol}",
                job_id=job_id,
                symbol=line.symbol,
                side=line.action.value,
                quantity=money.format_decimal(line.quantity),
                price=money.format_price(line.price),
                at=to_iso(utcnow()),
            )
            change = _cash_change(line.action, line.quantity, line.price)
            script_keys += [
                keys.paper_account(group, line.account),
                keys.paper_positions(group, line.account),
                keys.paper_fill_ids(group, line.account),
                keys.paper_fills(group, line.account),
            ]
            script_args += [
                fill.fill_id,
                line.symbol,
                line.action.value,
                str(int(line.quantity / _QUANTITY_UNIT)),
                str(int(change * _CENTS)),
                json.dumps(vars(fill)),
            ]
            sent.append((len(outcomes), fill, change))
            outcomes.append(None)
        replies = self._fill_many(keys=script_keys, args=script_args) if sent else []
        for (position, fill, change), reply in zip(sent, replies, strict=True):
            outcomes[position] = self._outcome(group, lines[position], fill, change, _text(reply))
        return outcomes

    def check(
        self,
        group: str,
        account: str,
        action: OrderAction,
        symbol: str,
        quantity: Decimal,
        price: Decimal,
    ) -> None:
        """Raise :class:`OrderRefused` when the order cannot be filled now."""
        line = OrderLine(account, symbol, action, quantity, price)
        outcome = self.fill_many(group, "check", [line], check_only=True)[0]
        if isinstance(outcome, OrderRefused):
            raise outcome

    def fill(
        self,
        group: str,
        account: str,
        *,
        job_id: str,
        action: OrderAction,
        symbol: str,
        quantity: Decimal,
        price: Decimal,
    ) -> Fill:
        """Apply one fill atomically and return it; an already recorded fill is returned as is.

        Raises:
            OrderRefused: not enough cash or shares, or finer than the rules.
        """
        line = OrderLine(account, symbol, action, quantity, price)
        outcome = self.fill_many(group, job_id, [line])[0]
        if isinstance(outcome, OrderRefused):
            raise outcome
        return outcome

    def wipe(self, group: str, account: str, pipeline: Pipeline | None = None) -> None:
        (pipeline or self.connection).delete(
            keys.paper_account(group, account),
            keys.paper_positions(group, account),
            keys.paper_fills(group, account),
            keys.paper_fill_ids(group, account),
        )

    def _outcome(
        self, group: str, line: OrderLine, fill: Fill, change: Decimal, reply: str
    ) -> Fill | OrderRefused:
        verdict, _, value = reply.partition("|")
        if verdict == "ok":
            return fill
        if verdict == "dup":
            return self.find_fill(group, line.account, fill.fill_id) or fill
        if verdict == "closed":
            return OrderRefused("paper account is not open (activate it first)")
        if verdict == "cash":
            return OrderRefused(
                f"insufficient cash: {money.format_cash(-change)} needed, {value} available"
            )
        return OrderRefused(
            f"insufficient shares: selling {money.format_decimal(line.quantity)} {line.symbol},"
            f" holding {value}"
        )


def _refusal_by_rule(line: OrderLine) -> OrderRefused | None:
    if not money.fits_places(line.quantity, money.QUANTITY_PLACES):
        rule = money.places_rule(money.QUANTITY_PLACES)
        return OrderRefused(f"quantity {money.format_decimal(line.quantity)} must have {rule}")
    if not money.fits_places(line.price, money.PRICE_PLACES):
        rule = money.places_rule(money.PRICE_PLACES)
        return OrderRefused(f"price {money.format_price(line.price)} must have {rule}")
    return None


def _cash_change(action: OrderAction, quantity: Decimal, price: Decimal) -> Decimal:
    """Cash a fill moves: minus the cost rounded up, or plus the proceeds rounded down."""
    if action is OrderAction.BUY:
        return -money.round_cash_cost(quantity * price)
    return money.round_cash_proceeds(quantity * price)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
